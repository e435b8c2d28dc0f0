"""Partner rows under row-level security, the call log's selectors and its purge."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from retail.partners import selectors, tasks
from retail.partners.models import PartnerCall
from retail.tenancy import SETTING_APP, brand_scope, db_settings
from tests.helpers.partners import make_app

pytestmark = pytest.mark.django_db


def _ids(sql: str) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(sql)
        return [r[0] for r in cur.fetchall()]


@pytest.mark.postgres
def test_partner_apps_are_visible_to_their_brand_or_by_their_own_application_only(
    brand, brand_admin, other_brand
):
    app, _secret = make_app(brand, brand_admin)
    with brand_scope(brand):
        assert _ids("SELECT id FROM partners_partnerapp") == [app.pk]
    with brand_scope(other_brand):
        assert _ids("SELECT id FROM partners_partnerapp") == []
    with db_settings({SETTING_APP: str(app.application_id)}):
        assert _ids("SELECT id FROM partners_partnerapp") == [app.pk]
        assert _ids("SELECT id FROM retail_staff") == []  # nothing else comes with it
    with db_settings({SETTING_APP: str(app.application_id + 1)}):
        assert _ids("SELECT id FROM partners_partnerapp") == []


def _call(app, *, status=200, method="GET", days_ago=0):
    with brand_scope(app.brand_id):
        return PartnerCall.objects.create(
            brand_id=app.brand_id,
            app=app,
            method=method,
            path="/api/v1/stores/",
            status=status,
            at=timezone.now() - datetime.timedelta(days=days_ago),
        )


def test_call_list_filters_and_app_usage_counts_per_day(brand, brand_admin):
    app, _s = make_app(brand, brand_admin)
    other, _s2 = make_app(brand, brand_admin, name="ERP")
    _call(app)
    _call(app, status=404)
    _call(app, status=201, method="POST", days_ago=1)
    _call(other)
    with brand_scope(brand):
        assert len(selectors.call_list(brand)) == 4
        assert len(selectors.call_list(brand, app=app)) == 3
        assert [c.status for c in selectors.call_list(brand, app=app, status="error")] == [404]
        assert [c.status for c in selectors.call_list(brand, method="post")] == [201]
        assert [a.pk for a in selectors.app_list(brand)] == [other.pk, app.pk]
        assert selectors.app_get(brand, app.pk) == app
    usage = selectors.app_usage(brand, app, days=7)
    assert len(usage) == 7 and usage[-1]["day"] == timezone.localdate()
    assert (usage[-1]["calls"], usage[-1]["errors"]) == (2, 1)
    assert usage[-2]["calls"] == 1 and sum(d["calls"] for d in usage[:-2]) == 0


def test_old_calls_are_purged(brand, brand_admin, settings):
    settings.PARTNER_CALL_RETENTION_DAYS = 90
    app, _s = make_app(brand, brand_admin)
    kept = _call(app, days_ago=89)
    _call(app, days_ago=91)
    tasks.purge_calls()
    with brand_scope(brand):
        assert list(PartnerCall.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize("key", ["a\x00b", "k\u202e\x1b[31m"])
def test_a_call_with_control_characters_in_its_key_gets_a_4xx_and_is_logged_clean(brand, brand_admin, key):
    """The activity log keeps what it can store: a NUL in the Idempotency-Key once made the log's
    insert fail after the answer and turned a 400 into a 500."""
    import json

    from django.test import Client

    from tests.helpers.partners import bearer, get_token

    app, secret = make_app(brand, brand_admin, scopes=("members:write",))
    client = Client(raise_request_exception=False)
    token = get_token(client, app, secret)
    body = {"identities": [{"kind": "phone", "value": "13800000001"}], "consent": True}
    resp = client.post(
        "/api/v1/members/",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        **bearer(token),
    )
    assert resp.status_code in (200, 201, 400), resp.content
    with brand_scope(brand):
        logged = PartnerCall.objects.for_brand(brand).get(app=app, method="POST")
    assert logged.status == resp.status_code
    assert "\x00" not in logged.idempotency_key and "\u202e" not in logged.idempotency_key
