"""A Python client generated from the OpenAPI schema (openapi-python-client) runs a partner's whole
integration against a live server: token → member upsert → order push → refund → the order.paid
and order.refunded webhooks received by a small receiver and verified with the developer guide's
sample (docs/samples/verify_webhook.py)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import shutil
import subprocess
import sys
import threading
import typing
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from retail.events import Actor
from retail.partners import services as partner_services
from tests.factories import InventoryFactory, ProductFactory, SkuFactory, StoreFactory
from tests.helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "retail_partner_client"
SCOPES = ["members:read", "members:write", "orders:read", "orders:write", "webhooks:manage"]

pytestmark = pytest.mark.skipif(
    not GENERATOR.exists() and shutil.which("openapi-python-client") is None,
    reason="openapi-python-client is not installed (pip install -e '.[dev]')",
)


def verify_sample():
    spec = importlib.util.spec_from_file_location(
        "verify_webhook_sample", ROOT / "docs/samples/verify_webhook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The client package generated from the schema the server serves (``manage.py spectacular``)."""
    work = tmp_path_factory.mktemp("client")
    served = work / "served.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(served))
    schema = work / "schema.json"
    schema.write_text(served.read_text())
    config = work / "config.yml"
    config.write_text(json.dumps({"post_hooks": [], "package_name_override": PACKAGE}))
    out = work / "src" / PACKAGE
    exe = str(GENERATOR) if GENERATOR.exists() else shutil.which("openapi-python-client")
    proc = subprocess.run(
        [exe, "generate", "--path", str(schema), "--output-path", str(out), "--meta", "none",
         "--config", str(config)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and (out / "client.py").exists(), proc.stdout + proc.stderr
    sys.path.insert(0, str(out.parent))
    try:
        package = importlib.import_module(PACKAGE)
        yield package
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def operation(package, operation_id: str):
    """The generated module of one operation (``api/<tag>/<operation_id>.py``)."""
    api = importlib.import_module(f"{package.__name__}.api")
    for tag in pkgutil.iter_modules(api.__path__):
        try:
            return importlib.import_module(f"{api.__name__}.{tag.name}.{operation_id}")
        except ModuleNotFoundError:
            continue
    raise AssertionError(f"the generated client has no operation {operation_id}")


def body_model(module, data: dict):
    """The operation's JSON request model, filled from ``data`` by the generated ``from_dict``."""
    hint = typing.get_type_hints(module.sync_detailed)["body"]
    candidates = typing.get_args(hint) or (hint,)
    model = next(c for c in candidates if hasattr(c, "from_dict"))
    return model.from_dict(data)


def call(package, client, operation_id: str, data: dict | None = None, **kwargs):
    module = operation(package, operation_id)
    if data is not None:
        kwargs["body"] = body_model(module, data)
    response = module.sync_detailed(client=client, **kwargs)
    return response.status_code, json.loads(response.content or b"null")


class Receiver:
    """A webhook receiver on 127.0.0.1 keeping each request's headers and raw body."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/retail"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(body) for _h, body in self.requests]


@pytest.fixture
def partner_app(brand, brand_admin):
    app, secret = partner_services.app_create(
        brand=brand, actor=Actor(user=brand_admin.user), name="Acme POS", scopes=SCOPES
    )
    return app, secret


def test_partner_scenario_with_a_client_generated_from_the_schema(
    generated, live_server, settings, brand, partner_app
):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    store = StoreFactory(brand=brand, code="SH001", name="南京西路店")
    sku = SkuFactory(brand=brand, product=ProductFactory(brand=brand, name="丝绒口红"), code="LIP-01")
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=10)
    app, secret = partner_app
    client_mod = importlib.import_module(f"{generated.__name__}.client")
    anonymous = client_mod.Client(base_url=live_server.url, raise_on_unexpected_status=False)

    # 1. Token: client credentials, HTTP Basic (through the generated operation when the schema
    #    describes the form-encoded token endpoint, else plain httpx).
    try:
        token_op = operation(generated, "oauth_token")
    except AssertionError:
        token_op = None
    if token_op is not None and "body" in typing.get_type_hints(token_op.sync_detailed):
        httpx_client = anonymous.get_httpx_client()
        httpx_client.auth = httpx.BasicAuth(app.client_id, secret)
        status, token = call(generated, anonymous, "oauth_token", {"grant_type": "client_credentials"})
    else:
        r = httpx.post(
            f"{live_server.url}/api/v1/oauth/token/",
            data={"grant_type": "client_credentials"},
            auth=(app.client_id, secret),
        )
        status, token = r.status_code, r.json()
    assert status == 200, token
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert set(token["scope"].split()) == set(SCOPES)
    api = client_mod.AuthenticatedClient(
        base_url=live_server.url, token=token["access_token"], raise_on_unexpected_status=False
    )

    with Receiver() as receiver:
        # 2. Subscribe a webhook endpoint as the app itself (webhooks:manage).
        status, endpoint = call(
            generated,
            api,
            "webhooks_endpoints_create",
            {"url": receiver.url, "event_types": ["order.paid", "order.refunded"], "description": "POS sync"},
        )
        assert status == 201, endpoint
        signing_secret = endpoint["secret"]

        # 3. Member upsert: created, then found again by the same identity.
        member_body = {
            "identities": [{"kind": "phone", "value": "+86 138 0013 8000"}],
            "name": "李娜",
            "consent": True,
        }
        status, member = call(
            generated, api, "members_create", member_body, idempotency_key=f"member-{uuid.uuid4()}"
        )
        assert status == 201 and member["created"] is True, member
        status, again = call(generated, api, "members_create", member_body)
        assert status == 200 and again["id"] == member["id"] and again["created"] is False, again

        # 4. Order push: a paid POS order for the member (idempotent on channel + external id).
        order_body = {
            "channel": "pos",
            "external_id": "POS-SH001-000123",
            "store": "SH001",
            "member": {"kind": "phone", "value": "13800138000"},
            "lines": [{"sku": "LIP-01", "quantity": 2, "unit_price_fen": 9900}],
            "payments": [{"method": "wechat", "amount_fen": 19800, "reference": "T123"}],
            "status": "paid",
        }
        status, order = call(generated, api, "orders_create", order_body)
        assert status == 201, order
        assert order["member"]["id"] == member["id"] and order["paid_fen"] == 19800
        status, replay = call(generated, api, "orders_create", order_body)
        assert status == 200 and replay["id"] == order["id"]

        # 5. Refund one of the two units (Idempotency-Key required).
        line = order["lines"][0]["id"]
        refund_key = f"refund-{uuid.uuid4()}"
        refund_body = {"lines": [{"line": line, "quantity": 1}], "reason": "returned at the till"}
        status, refunded = call(
            generated, api, "orders_refunds_create", refund_body, id=order["id"], idempotency_key=refund_key
        )
        assert status == 201, refunded
        assert refunded["refunded_fen"] == 9900 and refunded["status"] == "paid"

        # 6. The webhooks arrive, signed with the endpoint's secret; the guide's sample verifies them.
        wait_until(
            lambda: {"order.paid", "order.refunded"} <= {e["type"] for e in receiver.events()},
            timeout=30,
            what="the order.paid and order.refunded webhooks",
        )
        sample = verify_sample()
        for headers, body in receiver.requests:
            assert headers["content-type"].startswith("application/json")
            assert headers["user-agent"] == "SmartGuideRetail-Webhooks/1"
            sample.verify_signature(body, headers["retail-signature"], signing_secret)
            event = json.loads(body)
            assert headers["retail-event-id"] == event["id"] and headers["retail-event-type"] == event["type"]
            assert event["livemode"] is True
            with pytest.raises(sample.SignatureError):
                sample.verify_signature(body, headers["retail-signature"], "whsec_not_the_secret")
        by_type = {e["type"]: e for e in receiver.events()}
        assert json.dumps(by_type["order.paid"]["data"]).find(str(order["id"])) >= 0
        assert json.dumps(by_type["order.refunded"]["data"]).find(str(order["id"])) >= 0

        # 7. The app sees its deliveries in the log, succeeded.
        status, log = call(generated, api, "webhooks_deliveries_list")
        assert status == 200, log
        rows = log["results"] if isinstance(log, dict) else log
        assert {r["status"] for r in rows} == {"succeeded"} and len(rows) >= 2
