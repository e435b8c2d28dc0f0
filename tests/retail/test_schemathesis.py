"""The whole OpenAPI schema against the running application: for every operation, generated requests
(valid and invalid) as a brand admin and as a guide of a brand with the demo data, and as a partner
app holding every scope (a Bearer token from the token endpoint). Every answer must be documented
(status and body), and none may be a server error.

Runs in-process over WSGI; each generated request runs in a savepoint that is rolled back, so the
operations do not change each other's world, and generation is derandomized: a run is repeatable.
"""

from __future__ import annotations

import io
import re

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.management import call_command
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.throttling import UserRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client as WsgiClient

from cloudstore.models import Campaign, Order, Product, Sku
from guides.models import CommissionRule, SettlementPeriod, Statement
from members.models import Member
from redpackets.models import RedPacket, TopUp, Withdrawal
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope
from retail.wsgi import application
from tests.helpers.auth import login_as

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


@schemathesis.check
def times_in_utc(ctx, response, case):
    """Every time in an answer is UTC (``…Z``): one convention for the whole API."""
    try:
        body = response.json()
    except ValueError:
        return None
    local = [s for s in _strings(body) if DATETIME.match(s) and not s.endswith("Z")]
    if local:
        raise AssertionError(f"times not in UTC: {local[:3]}")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    times_in_utc,
]
# Per operation and role: enough to reach every branch of validation, few enough for two CI cores.
MAX_EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}
CSRF_TOKEN = "schemathesisCsrfToken0123456789x"  # 32 letters and digits: a valid unmasked secret
# The CSV exports answer text/csv; their content is checked by their own tests.
SKIP = {"/api/v1/redpackets/pool/records/export/", "/api/v1/wallet/records/export/"}

# The first path segments of an operation → the model whose real ids are tried as its {id}.
ID_MODELS = {
    ("stores",): Store,
    ("staff",): Staff,
    ("members",): Member,
    ("products",): Product,
    ("skus",): Sku,
    ("orders",): Order,
    ("campaigns",): Campaign,
    ("redpackets", "pool"): TopUp,
    ("redpackets", "packets"): RedPacket,
    ("redpackets", "wallets"): Staff,
    ("wallet", "withdrawals"): Withdrawal,
    ("commission", "rules"): CommissionRule,
    ("commission", "periods"): SettlementPeriod,
    ("commission", "statements"): Statement,
}


def _real_ids(brand: Brand) -> dict[tuple, list[int]]:
    with brand_scope(brand):
        return {
            key: list(model.objects.for_brand(brand).order_by("pk").values_list("pk", flat=True)[:3])
            for key, model in ID_MODELS.items()
        }


def _ids_for(path: str, real: dict[tuple, list[int]]) -> list[int]:
    parts = path.removeprefix("/api/v1/").split("/")
    for key, ids in real.items():
        if tuple(parts[: len(key)]) == key:
            return ids
    return []


def _session(staff: Staff) -> dict[str, str]:
    client = login_as(Client(), staff)
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF_TOKEN}


def _run(
    operation, mode: GenerationMode, cookies: dict, real: dict, throttle_key: str, headers: dict | None = None
) -> str | None:
    """Generate cases for one operation; the first failure (shrunk) as text, or None."""
    strategy = operation.as_strategy(generation_mode=mode)
    path_params = [p.name for p in operation.path_parameters]
    ids = _ids_for(operation.path, real)
    if path_params and ids and mode is GenerationMode.POSITIVE:
        strategy = st.one_of(
            strategy,
            *(operation.as_strategy(path_parameters={name: i for name in path_params}) for i in ids),
        )

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        cache.delete(throttle_key)  # the per-user throttle is not what is being tested
        with transaction.atomic():
            try:
                response = case.call(headers=headers or {"X-CSRFToken": CSRF_TOKEN}, cookies=cookies)
                case.validate_response(response, checks=CHECKS)
            finally:
                transaction.set_rollback(True)

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:
            return None  # nothing of the operation can be made invalid (no parameter, no body)
        raise
    except (Exception, BaseExceptionGroup) as exc:  # a failing check or a crash, with its operation
        return f"{operation.method.upper()} {operation.path} ({mode.value}):\n{exc}"
    return None


@pytest.fixture
def in_process():
    """Requests over WSGI keep the test's database connection (and transaction), as Django's
    test client does: the request signals do not close it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, in_process):
    call_command("seed_demo", stdout=io.StringIO())
    brand = Brand.objects.get(slug="yueyan")
    with brand_scope(brand):
        admin = Staff.objects.for_brand(brand).get(user__username="yy_admin")
        guide = Staff.objects.for_brand(brand).get(user__username="yy_guide1")
    return brand, {"admin": admin, "guide": guide}


def _partner_token(brand: Brand, admin: Staff) -> tuple[Staff, str]:
    """A partner app of the brand holding every scope (no rate limit in the way), and a token for
    it from the token endpoint: (the app's service staff, the access token)."""
    from retail.partners.scopes import SCOPES
    from retail.partners.services import app_create

    app, secret = app_create(
        brand=brand, actor=admin, name="schemathesis", scopes=list(SCOPES), rate_limit_per_minute=100_000
    )
    # Over WSGI like the cases (Django's test client would put back the signal that closes the
    # test's connection after a request).
    resp = WsgiClient(application).post(
        "/api/v1/oauth/token/",
        data={
            "grant_type": "client_credentials",
            "client_id": app.application.client_id,
            "client_secret": secret,
        },
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert set(resp.get_json()["scope"].split()) == set(SCOPES)
    return app.service_staff, resp.get_json()["access_token"]


def _check_every_operation(brand, caller: Staff, cookies: dict, headers: dict | None = None) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
    # This user's throttle counter, forgotten before each request (not the whole cache: on Redis
    # that is the whole database, shared with other test processes).
    throttle_key = UserRateThrottle.cache_format % {"scope": "user", "ident": caller.user_id}
    real = _real_ids(brand)
    failures = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 80
    for operation in operations:
        if operation.path in SKIP:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _run(operation, mode, cookies, real, throttle_key, headers)
            if failure:
                failures.append(failure)
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("role", ["admin", "guide"])
def test_every_operation_answers_as_documented(world, role):
    brand, people = world
    _check_every_operation(brand, people[role], _session(people[role]))


def test_every_operation_answers_as_documented_to_a_partner_app(world):
    brand, people = world
    service_staff, token = _partner_token(brand, people["admin"])
    _check_every_operation(brand, service_staff, {}, {"Authorization": f"Bearer {token}"})
