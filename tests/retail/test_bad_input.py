"""No server error, whatever the input.

The walk calls every URL pattern (found automatically, like the cross-brand probe) as an
anonymous visitor, a brand admin and a guide, with NUL bytes, absurd numbers and over-long
values in the path and the query string, and with form and JSON bodies of the wrong types.
Every answer must be below 500. Path parameters name real rows of the brand (every kind of
row shares one id, ``ID``), so handlers run past their lookups. API bodies are built from the
OpenAPI schema (plausible values for every field, then one kind of field at a time made bad);
HTML form bodies from the form fields the page renders.
"""

from __future__ import annotations

import datetime
import json
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from members.models import Member
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.shop import as_shopper
from tests.isolation.test_cross_brand import _fill, _params, all_routes

pytestmark = pytest.mark.django_db(transaction=False)

ID = 777
NUL = "a\x00b"
BIGINT = "9223372036854775808"
HUGE = "99999999999999999999"
LONG = "x" * 10_000
BAD_NUMBERS = [BIGINT, "-1", "1e309", HUGE]
BAD_VALUES = [NUL, *BAD_NUMBERS, LONG]
# NUL in a query string is refused before any view runs (one probe per route shows it).
QUERY_VALUES = [BIGINT, "-1", "1e309", LONG]
JSON = "application/json"


# --- one row of every kind, all with the same id -------------------------------------------


@pytest.fixture
def world(brand, store, brand_admin, guide):
    """The brand's rows, every one with id ``ID``, so any id parameter finds something."""
    from cloudstore.models import (
        Campaign,
        Category,
        Coupon,
        Inventory,
        Order,
        OrderLine,
        Payment,
        Product,
        ShareLink,
        Sku,
        Touch,
    )
    from guides.models import (
        Attribution,
        AttributionRule,
        CommissionEntry,
        CommissionRule,
        Notification,
        Reattribution,
        SettlementPeriod,
        Statement,
    )
    from members.models import Member, MemberJob, MergeRecord, Tag, Tier
    from redpackets.models import (
        Account,
        PacketRecipient,
        PacketShare,
        PayoutAccount,
        RedPacket,
        TopUp,
        Withdrawal,
    )
    from retail.tenancy import brand_scope

    now = timezone.now()
    day = datetime.timedelta(days=1)
    s = StoreFactory(id=ID, brand=brand, code="S777", name="七七七店")
    g = StaffFactory(id=ID, brand=brand, role=Staff.Role.GUIDE, stores=[s, store], name="七号导购")
    member = MemberFactory(id=ID, brand=brand, name="会员七", phone="13577770000")
    other = MemberFactory(id=ID + 1, brand=brand, name="会员八", phone="13577770001")
    with brand_scope(brand):
        Member.objects.filter(pk=member.pk).update(guide=g)
        Tier.objects.create(id=ID, brand=brand, code="T7", name="七级")
        Tag.objects.create(id=ID, brand=brand, name="七标签")
        MergeRecord.objects.create(
            id=ID, brand=brand, survivor=member, absorbed=other, reason="同一人", created_by=brand_admin.user
        )
        MemberJob.objects.create(
            id=ID, brand=brand, kind="export", status="done", created_by=brand_admin.user
        )
        category = Category.objects.create(id=ID, brand=brand, name="七品类")
        product = Product.objects.create(id=ID, brand=brand, name="七商品", category=category)
        sku = Sku.objects.create(id=ID, brand=brand, product=product, code="SKU7", list_price_fen=100)
        Inventory.objects.create(id=ID, brand=brand, store=s, sku=sku, on_hand=50)
        campaign = Campaign.objects.create(
            id=ID,
            brand=brand,
            name="七活动",
            kind="amount_off",
            amount_off_fen=10,
            starts_at=now - day,
            ends_at=now + 9 * day,
        )
        Coupon.objects.create(id=ID, brand=brand, campaign=campaign, code="C777", member=member)
        link = ShareLink.objects.create(
            id=ID, brand=brand, code="L777", guide=g, kind="store", store=s, target="store"
        )
        Touch.objects.create(id=ID, brand=brand, link=link, guide=g, member=member)
        order = Order.objects.create(
            id=ID,
            brand=brand,
            number="P777",
            channel="pos",
            external_id="E777",
            store=s,
            member=member,
            fulfilment="in_store",
            status="paid",
            subtotal_fen=100,
            total_fen=100,
            paid_fen=100,
            paid_at=now,
        )
        OrderLine.objects.create(
            id=ID, brand=brand, order=order, sku=sku, name="七商品", quantity=1, unit_price_fen=100
        )
        Payment.objects.create(
            id=ID,
            brand=brand,
            order=order,
            provider="pos",
            reference="PAY777",
            amount_fen=100,
            status="succeeded",
        )
        Account.objects.create(brand=brand, kind="pool", balance_fen=0)
        Account.objects.create(brand=brand, kind="funding", balance_fen=0)
        Account.objects.create(brand=brand, kind="wallet", staff=g, balance_fen=0)
        packet = RedPacket.objects.create(
            id=ID,
            brand=brand,
            kind="fixed",
            audience="store",
            sender=brand_admin,
            store=s,
            greeting="七",
            total_fen=100,
            shares=1,
            status="finished",
            claimed_count=1,
            claimed_fen=100,
            key="K777",
            request_hash="x",
            expires_at=now + day,
        )
        Account.objects.create(brand=brand, kind="packet", packet=packet, balance_fen=0)
        PacketRecipient.objects.create(id=ID, brand=brand, packet=packet, staff=g, claimed=True)
        PacketShare.objects.create(
            id=ID, brand=brand, packet=packet, seq=1, amount_fen=100, staff=g, claimed_at=now
        )
        TopUp.objects.create(
            id=ID,
            brand=brand,
            amount_fen=1_000,
            status="pending",
            reference="TOP777",
            key="K777",
            request_hash="x",
            created_by=brand_admin,
        )
        account = PayoutAccount.objects.create(
            id=ID, brand=brand, staff=g, account_no="13577770000", real_name="七号", verified_at=now
        )
        Withdrawal.objects.create(
            id=ID,
            brand=brand,
            staff=g,
            payout_account=account,
            amount_fen=1,
            status="pending",
            reference="WD777",
            key="K777",
            request_hash="x",
        )
        version = AttributionRule.objects.create(id=ID, brand=brand, version=1, effective_from=now - 9 * day)
        rule = CommissionRule.objects.create(
            id=ID, brand=brand, name="七规则", rate_bp=100, effective_from=now - 9 * day
        )
        Attribution.objects.create(
            id=ID,
            brand=brand,
            order=order,
            channel="pos",
            member=member,
            guide=g,
            source="exclusive",
            store=s,
            rule=version,
            paid_at=now,
            sales_fen=100,
            commission_fen=1,
            lines=[[ID, rule.pk, 1]],
        )
        period = SettlementPeriod.objects.create(
            id=ID, brand=brand, start=now - 8 * day, end=now - day, label="七期", statements=1, total_fen=1
        )
        statement = Statement.objects.create(
            id=ID, brand=brand, period=period, guide=g, orders=1, earned_fen=1, total_fen=1, status="held"
        )
        CommissionEntry.objects.create(
            id=ID,
            brand=brand,
            guide=g,
            kind="earn",
            key="K777",
            amount_fen=1,
            order=order,
            member=member,
            occurred_at=now - 2 * day,
            statement=statement,
        )
        Reattribution.objects.create(id=ID, brand=brand, start=now - 9 * day, end=now - day, status="done")
        Notification.objects.create(id=ID, brand=brand, staff=g, kind="commission", amount_fen=1, data={})
    return {"brand": brand, "store": s}


# --- what to send ----------------------------------------------------------------------------


def _valid_params(brand) -> dict[str, str]:
    return {
        "*": str(ID),
        "brand_slug": brand.slug,
        "store_code": "S777",
        "number": "P777",
        "code": "L777",
        "reference": "PAY777",
        "provider_name": "sim",
        "token": "not-a-token",
    }


class _QueryNames:
    """Records the names looked up in any QueryDict while active (what a view reads from GET)."""

    def __init__(self, monkeypatch):
        from django.utils.datastructures import MultiValueDict

        self.names: set[str] | None = None
        recorder = self

        def wrap(original):
            def method(qd, key, *args, **kwargs):
                if recorder.names is not None and isinstance(key, str):
                    recorder.names.add(key)
                return original(qd, key, *args, **kwargs)

            return method

        for name in ("get", "getlist", "__getitem__", "__contains__"):
            monkeypatch.setattr(MultiValueDict, name, wrap(getattr(MultiValueDict, name)))

    def __enter__(self):
        self.names = set()
        return self.names

    def __exit__(self, *exc):
        self.names = None


class _Forms(HTMLParser):
    """The POST forms of a page: action and fields (name, kind, a plausible value)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            method = (a.get("method") or "get").lower()
            self.forms.append({"action": a.get("action"), "post": method == "post", "fields": {}})
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind == "file":
                fields[name] = ("file", "")
            elif kind in ("checkbox", "radio"):
                fields.setdefault(name, ("choice", a.get("value") or "on"))
            elif kind == "number":
                fields[name] = ("number", a.get("value") or a.get("min") or "1")
            else:
                fields[name] = (kind, a.get("value") or _plausible_text(kind))
        elif tag == "textarea" and name:
            fields[name] = ("text", "x")
        elif tag == "select" and name:
            fields[name] = ("choice", "")
            self._select = name
        elif tag == "option" and self._select:
            kind, value = fields[self._select]
            if not value and a.get("value"):
                fields[self._select] = (kind, a["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _plausible_text(kind: str) -> str:
    today = timezone.localdate()
    return {
        "date": today.isoformat(),
        "datetime-local": f"{today.isoformat()}T10:00",
        "time": "10:00",
        "month": today.strftime("%Y-%m"),
        "email": "a@example.com",
        "tel": "13800000000",
        "url": "https://example.com/",
        "password": "Str0ng-pass!",
    }.get(kind, "x")


def _form_bodies(fields: dict) -> list[tuple[str, dict]]:
    """A plausible body, then one kind of field at a time made bad."""
    base = {name: value for name, (kind, value) in fields.items() if kind != "file"}
    texts = [n for n, (k, _) in fields.items() if k not in ("number", "choice", "file", "hidden")]
    numbers = [n for n, (k, _) in fields.items() if k in ("number", "choice", "hidden")]
    out = [("plausible", base)]
    for bad in (LONG, NUL):
        out.append((f"text={bad[:12]!r}", {**base, **dict.fromkeys(texts, bad)}))
    for bad in (BIGINT, "-1", "1e309"):
        out.append((f"numbers={bad}", {**base, **dict.fromkeys(numbers, bad)}))
    out.append(("everything long", dict.fromkeys(base, "9" * 5000)))
    return out


GENERIC_FORM = {"name": NUL, "amount_fen": BIGINT, "id": "-1", "page": HUGE, "q": LONG, "store": "1e309"}
GENERIC_JSON = {
    "name": ["list"],
    "amount_fen": "not a number",
    "id": {"nested": {"object": 1}},
    "store_ids": [BIGINT, None],
    "kind": None,
    "note": LONG,
}


# --- API bodies from the OpenAPI schema ------------------------------------------------------


@pytest.fixture(scope="module")
def api_schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    ops = []
    for path, methods in schema["paths"].items():
        regex = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")
        ops.append((regex, methods))
    return {"ops": ops, "components": schema.get("components", {}).get("schemas", {})}


def _resolve(schema_node: dict, components: dict, depth=0) -> dict:
    while "$ref" in schema_node and depth < 20:
        schema_node = components[schema_node["$ref"].split("/")[-1]]
        depth += 1
    if "allOf" in schema_node:
        merged: dict = {"type": "object", "properties": {}}
        for part in schema_node["allOf"]:
            part = _resolve(part, components, depth + 1)
            merged["properties"].update(part.get("properties", {}))
            for k in ("type", "enum", "format", "items"):
                if k in part:
                    merged[k] = part[k]
        return merged
    if "oneOf" in schema_node or "anyOf" in schema_node:
        options = schema_node.get("oneOf") or schema_node.get("anyOf")
        return _resolve(
            next((o for o in options if o.get("type") != "null"), options[0]), components, depth + 1
        )
    return schema_node


def _plausible(node: dict, components: dict, bad: dict, depth=0):
    """A value for a schema node; leaves of the type named in ``bad`` get ``bad``'s value."""
    node = _resolve(node, components)
    kind = node.get("type")
    if "enum" in node:
        kind = "enum"
    if kind == "object" or "properties" in node:
        if depth > 4:
            return {}
        return {
            k: _plausible(v, components, bad, depth + 1)
            for k, v in node.get("properties", {}).items()
            if not v.get("readOnly")
        }
    if kind == "array":
        return [_plausible(node.get("items", {}), components, bad, depth + 1)]
    if kind in bad:
        return bad[kind]
    if kind == "enum":
        return next((v for v in node["enum"] if v not in (None, "")), None)
    if kind == "integer":
        return 1
    if kind == "number":
        return "1.00"
    if kind == "boolean":
        return True
    fmt = node.get("format")
    if fmt == "date":
        return timezone.localdate().isoformat()
    if fmt == "date-time":
        return timezone.now().isoformat()
    if fmt == "email":
        return "a@example.com"
    if fmt == "uri":
        return "https://example.com/"
    return "x"


API_MUTATIONS = [
    ("plausible", {}),
    ("int=bigint", {"integer": int(BIGINT), "number": 1e308}),
    ("int=-1", {"integer": -1, "number": -1}),
    ("int=string", {"integer": "abc", "number": "abc", "boolean": "abc"}),
    ("int=list", {"integer": [1, 2], "number": [1], "boolean": [True]}),
    ("int=object", {"integer": {"a": {"b": 1}}, "number": {"a": 1}}),
    ("string=long", {"string": LONG}),
    ("string=nul", {"string": NUL}),
    ("string=list", {"string": ["a", "b"], "enum": ["a"]}),
    ("all=null", {k: None for k in ("integer", "number", "string", "boolean", "enum")}),
]


def _api_bodies(schema: dict, path: str, method: str) -> list[tuple[str, object]]:
    for regex, methods in schema["ops"]:
        if regex.match(path) and method in methods:
            content = methods[method].get("requestBody", {}).get("content", {})
            node = next(iter(content.values()), {}).get("schema")
            if node is None:
                break
            comps = schema["components"]
            bodies = [(name, _plausible(node, comps, bad)) for name, bad in API_MUTATIONS]
            resolved = _resolve(node, comps)
            if isinstance(bodies[0][1], dict) and "required" in resolved:
                required = {k: v for k, v in bodies[0][1].items() if k in resolved["required"]}
                bodies.append(("required fields only", required))
            return [*bodies, ("body=list", [1, "a", None]), ("body=string", "a"), ("body=null", None)]
    return []


# --- the walk -------------------------------------------------------------------------------


class _Walker:
    def __init__(self, client: Client, staff, schema, failures: list[str], shopper=None):
        self.client = client
        self.staff = staff
        self.shopper = shopper  # (brand, member): the member's session on the shopper pages
        self.schema = schema
        self.failures = failures
        self.errors: list[BaseException] = []
        self.count = 0
        self.seen_forms: set = set()

    def _login(self):
        if self.staff is not None:
            login_as(self.client, self.staff)  # a probed route may have logged us out
        elif self.shopper is not None:
            as_shopper(self.client, *self.shopper)

    def call(self, method: str, url: str, *, what: str = "", data=None, content_type=None, query=None):
        from django.core.signals import got_request_exception

        def record(sender, request=None, **kwargs):
            import sys

            self.errors.append(sys.exc_info()[1])

        kwargs = {}
        if content_type is not None:
            kwargs["content_type"] = content_type
        self.errors.clear()
        got_request_exception.connect(record)
        try:
            if method == "get":
                resp = self.client.get(url, query or {})
            elif content_type == "application/json":
                resp = getattr(self.client, method)(url, json.dumps(data), content_type=content_type)
            else:
                resp = getattr(self.client, method)(url, data or {}, **kwargs)
        finally:
            got_request_exception.disconnect(record)
        self.count += 1
        if resp.status_code >= 500:
            error = repr(self.errors[0])[:200] if self.errors else ""
            shown = url if len(url) < 120 else url[:100] + "…"
            q = {k: (v if len(str(v)) < 30 else str(v)[:20] + "…") for k, v in (query or {}).items()}
            self.failures.append(f"{method.upper()} {shown} {q or ''} {what} -> {resp.status_code} {error}")
        if resp.status_code in (301, 302) and self.staff is not None and "/login" in resp.get("Location", ""):
            self._login()
        return resp


def _routes_with_urls(brand):
    valid = _valid_params(brand)
    for route, pattern in all_routes():
        params = _params(route)
        yield route, pattern, params, _fill(route, valid)


def _bad_paths(route: str, params: list[str], valid: dict) -> list[tuple[str, str]]:
    """The route with one parameter at a time made bad (only the ones the pattern accepts)."""
    from django.urls import Resolver404, resolve

    out = []
    for name in params:
        for bad in [*BAD_VALUES, "9" * 5000]:
            url = _fill(route, {**valid, name: bad.replace("\x00", "%00")})
            try:
                resolve(url.replace("%00", "\x00"))
            except Resolver404:
                continue
            out.append((f"{name}={bad[:12]!r}", url))
    return out


def _refused(resp) -> bool:
    """Turned away before the view looks at its input (not logged in, role not allowed)."""
    if resp.status_code in (301, 302):
        return "/login" in resp.get("Location", "")
    return resp.status_code in (401, 403)


def walk(walker: _Walker, brand) -> None:
    valid = _valid_params(brand)
    for route, _pattern, params, url in _routes_with_urls(brand):
        if url in ("/logout/",) or url.endswith("/logout/"):
            continue
        walker._login()
        with walker.names as names:
            resp = walker.call("get", url)
        walker.call("get", url + "?q=a%00b&page=1", what="raw NUL in query")
        generic = walker.call("post", url, what="generic form", data=GENERIC_FORM)
        walker.call("post", url, what="generic json", data=GENERIC_JSON, content_type=JSON)
        if _refused(resp) and _refused(generic):
            continue  # this viewer is turned away whatever it sends: nothing further to reach
        # 1. Path parameters: NUL, absurd numbers, over-long values.
        for what, bad_url in _bad_paths(route, params, valid):
            walker.call("get", bad_url, what=what)
            walker.call("post", bad_url, what=what, data=GENERIC_FORM)
        # 2. Query parameters the view reads (and the paging ones of a list).
        if resp.status_code == 200:
            names |= {"page", "page_size"}
        if resp.status_code in (200, 400):
            # Each name gets the bigint and one of the others in turn (the walk stays quick).
            for i, name in enumerate(sorted(names)[:20]):
                for bad in (BIGINT, QUERY_VALUES[1 + (i + len(url)) % (len(QUERY_VALUES) - 1)]):
                    walker.call("get", url, query={name: bad}, what="query")
        # 3. Bodies: JSON built from the API schema; HTML forms from the page.
        if url.startswith("/api/"):
            for method in ("post", "put", "patch"):
                for what, body in _api_bodies(walker.schema, url, method):
                    walker.call(method, url, what=what, data=body, content_type=JSON)
            continue
        forms = []
        if resp.status_code == 200 and resp.get("Content-Type", "").startswith("text/html"):
            parser = _Forms()
            parser.feed(resp.content.decode("utf-8", "replace"))
            forms = [f for f in parser.forms if f["post"] and f["fields"]]
        for form in forms[:3]:
            action = form["action"] or url
            if not action.startswith("/") or action.startswith("//"):
                continue
            seen = (action.split("?")[0], frozenset(form["fields"]))
            if seen in walker.seen_forms:  # the language switcher on every page, ...
                continue
            walker.seen_forms.add(seen)
            for what, body in _form_bodies(form["fields"]):
                walker._login()
                walker.call("post", action, what=f"form {what}", data=body)


@pytest.mark.parametrize("viewer", ["anonymous", "brand_admin", "guide", "shopper"])
def test_every_route_answers_bad_input_without_a_server_error(
    world, viewer, request, api_schema, monkeypatch
):
    """``shopper``: a member signed in on the brand's shopper pages (chat, shop, member card)."""
    staff = None if viewer in ("anonymous", "shopper") else request.getfixturevalue(viewer)
    member = None
    if viewer == "shopper":
        with brand_scope(world["brand"]):
            member = Member.objects.get(pk=ID)
    client = Client(raise_request_exception=False)
    failures: list[str] = []
    walker = _Walker(client, staff, api_schema, failures, (world["brand"], member) if member else None)
    walker.names = _QueryNames(monkeypatch)
    walk(walker, world["brand"])
    assert walker.count > 500
    assert not failures, f"{len(failures)} server errors ({connection.vendor}):\n" + "\n".join(failures)


# --- the cases that used to answer 500, named ------------------------------------------------


def test_red_packet_without_greeting_is_sent_with_the_default(as_admin, brand, store):
    resp = as_admin.post(
        "/api/v1/redpackets/packets/",
        {"kind": "fixed", "audience": "store", "store_id": store.pk, "amount_each_fen": 100},
        content_type=JSON,
        headers={"Idempotency-Key": "no-greeting"},
    )
    assert resp.status_code < 500
    if resp.status_code >= 400:  # an empty pool: refused in the error shape, never a crash
        assert set(resp.json()["error"]) == {"code", "message", "fields"}
        assert "greeting" not in resp.json()["error"]["fields"]


@pytest.mark.parametrize("page", [BIGINT, HUGE, "-1", "1e309", "abc", "9" * 5000])
def test_absurd_page_numbers_on_lists(as_admin, page):
    client = as_admin
    client.raise_request_exception = False
    for url in ("/api/v1/redpackets/packets/", "/api/v1/members/", "/api/v1/stores/"):
        for param in ("page", "page_size"):
            resp = client.get(url, {param: page})
            assert resp.status_code in (200, 400, 404), (url, param, resp.status_code)
            if resp.status_code != 200:
                assert set(resp.json()["error"]) == {"code", "message", "fields"}


def test_page_number_reader():
    from retail.pagination import page_number, positive_int

    assert page_number(None) == 1 and page_number("abc") == 1 and page_number("-1") == 1
    assert page_number("0") == 1 and page_number("3") == 3 and page_number("1e309") == 1
    assert page_number(BIGINT) == page_number("9" * 5000) == 100_000
    assert page_number("٣") == 1  # a non-ASCII digit is not a page number
    assert positive_int(BIGINT) is None and positive_int(str(2**63 - 1)) == 2**63 - 1
    assert positive_int("0") is None and positive_int("12") == 12 and positive_int("-1") is None


@pytest.mark.parametrize(
    "url", ["/c/{slug}/?q=a%00b", "/g/{slug}/a%00b/", "/s/{slug}/?next=%00", "/login/?next=/m/%00"]
)
def test_nul_in_the_address_of_public_pages_is_a_readable_400(client, brand, url):
    client.raise_request_exception = False
    resp = client.get(url.format(slug=brand.slug))
    assert resp.status_code == 400
    assert "网址中含有不允许的字符" in resp.content.decode()


def test_nul_in_an_api_query_is_a_400_in_the_error_shape(as_admin):
    resp = as_admin.get("/api/v1/members/?q=a%00b")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "bad_request"


def test_deeply_nested_json_is_a_parse_error(as_admin):
    for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, "[" * 70 + "]" * 70):
        resp = as_admin.post("/api/v1/members/", body, content_type=JSON)
        assert resp.status_code == 400, resp.content[:200]
        assert resp.json()["error"]["code"] == "parse_error"


def test_deeply_nested_json_to_the_bulk_stock_endpoint_is_a_parse_error(as_admin):
    body = '{"rows": ' + "[" * 100_000 + "]" * 100_000 + "}"
    resp = as_admin.post("/api/v1/inventory/bulk/", body, content_type=JSON)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "parse_error"


def test_json_numbers_out_of_range_are_a_parse_error(as_admin):
    for body in ('{"name": 1e309}', '{"name": NaN}', '{"name": ' + "9" * 5000 + "}"):
        resp = as_admin.post("/api/v1/members/", body, content_type=JSON)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "parse_error"
