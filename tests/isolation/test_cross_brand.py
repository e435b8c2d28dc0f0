"""Cross-tenant probe: every URL pattern and websocket route, walked automatically.

Brand A's admin (and guide) call every route with brand B's ids and garbage, with every
method. Nothing of brand B may show up in a response, and brand B's rows must be exactly as
they were. New endpoints are covered without being listed here.
"""

from __future__ import annotations

import datetime
import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from retail.api_base import BrandAPIView
from retail.middleware import SESSION_BRAND_KEY
from retail.models import AuditLog, Invitation, Staff, StaffStore, Store
from retail.tenancy import brand_owned_models, rls_bypass
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db(transaction=False)

MARKER = "ZZ机密B"
# Public, brand-less documentation views, the partner token endpoint (the app authenticates
# itself) and a device's pairing and ticket calls (its code or secret names the brand; probed in
# tests/isolation/test_device_socket.py); everything else under /api/ must resolve its brand
# through BrandAPIView.
PUBLIC_API_VIEWS = {
    "SpectacularAPIView",
    "SpectacularSwaggerView",
    "SpectacularRedocView",
    "TokenView",
    "PairView",
    "TicketView",
}
# Public pages that list a brand's stores to anyone who has the brand's link (its store names
# are shop-window information, not tenant data).
PUBLIC_DIRECTORIES = {"shop-stores"}
SKIP_PREFIXES = ("admin/", "static/", "media/")
PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route.lstrip("^").rstrip("$").replace("\\Z", ""), p


def all_routes():
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(SKIP_PREFIXES) or "(?P<format>" in route or "\\.(?P" in route:
            continue
        routes.append((route, pattern))
    return routes


def _fill(route: str, values: dict[str, str]) -> str:
    def sub(m):
        return values.get(m.group("name"), values["*"])

    # Regex routes from DRF routers first, then path converters.
    path = REGEX_GROUP.sub(lambda m: values.get(m.group(1), values["*"]), route)
    path = PARAM.sub(sub, path)
    return "/" + path.replace("^", "").replace("$", "")


def _params(route: str) -> list[str]:
    return REGEX_GROUP.findall(route) + [m.group("name") for m in PARAM.finditer(REGEX_GROUP.sub("", route))]


def _public_brand_page(pattern, params: list[str]) -> bool:
    """A public shopper page addressed by a brand's public slug alone (a `brandless` view, e.g.
    /s/<brand_slug>/login/). For brand B's slug it may show B's public page (200) or send to its
    login (302); like every route it still must not leak B's data or change B's rows."""
    return params == ["brand_slug"] and getattr(pattern.callback, "brandless", False)


@pytest.fixture
def world(brand, other_brand, store, brand_admin, guide):
    """Brand B with explicit high ids, so that no B id is also an A id of another table."""
    b_store = StoreFactory(id=900001, brand=other_brand, code="B01", name=f"{MARKER}门店", address=MARKER)
    b_admin = StaffFactory(id=900002, brand=other_brand, role=Staff.Role.BRAND_ADMIN, name=f"{MARKER}管理员")
    b_guide = StaffFactory(id=900003, brand=other_brand, stores=[b_store], name=f"{MARKER}导购")
    from retail import services
    from retail.events import Actor

    b_invited, link = services.staff_invite(
        brand=other_brand,
        manager=b_admin,
        actor=Actor(user=b_admin.user),
        name=f"{MARKER}新人",
        phone="13511112222",
        role=Staff.Role.GUIDE,
        store_ids=[b_store.pk],
    )
    ids = [b_store.pk, b_admin.pk, b_guide.pk, b_invited.pk, *_b_membership(other_brand, b_guide, b_admin)]
    ids += _b_cloudstore(other_brand, b_store, b_guide, b_admin)
    ids += _b_redpackets(other_brand, b_store, b_guide, b_admin)
    ids += _b_commission(other_brand, b_store, b_guide, b_admin)
    ids += _b_devices(other_brand, b_store, b_admin)
    ids += _b_attendance(other_brand, b_store, b_guide, b_admin)
    ids += _b_messaging(other_brand, b_guide, b_admin)
    _no_sqlite_id_reuse()
    return {"b_ids": ids, "b_brand": other_brand, "b_token": link.rstrip("/").split("/")[-1]}


def _b_membership(b_brand, b_guide, b_admin) -> list[int]:
    """Brand B's members, tier, tag, merge and job, with their own high ids."""
    from members.models import Member, MemberJob, MergeRecord, Tag, Tier
    from retail.tenancy import brand_scope
    from tests.factories import MemberFactory

    kept = MemberFactory(id=900005, brand=b_brand, name=f"{MARKER}会员", phone="13599990000")
    merged = MemberFactory(id=900006, brand=b_brand, name=f"{MARKER}会员二", phone="13599990001")
    with brand_scope(b_brand):
        Member.objects.filter(pk=kept.pk).update(guide=b_guide)
        tier = Tier.objects.create(id=900007, brand=b_brand, code="B", name=f"{MARKER}等级")
        tag = Tag.objects.create(id=900008, brand=b_brand, name=f"{MARKER}标签")
        merge = MergeRecord.objects.create(
            id=900009, brand=b_brand, survivor=kept, absorbed=merged, reason=MARKER, created_by=b_admin.user
        )
        job = MemberJob.objects.create(
            id=900010, brand=b_brand, kind="export", status="done", message=MARKER, created_by=b_admin.user
        )
    return [kept.pk, merged.pk, tier.pk, tag.pk, merge.pk, job.pk]


def _b_cloudstore(b_brand, b_store, b_guide, b_admin) -> list[int]:
    """Brand B's catalogue, stock, campaign, coupon, share link, touch and a paid order."""
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
    from retail.tenancy import brand_scope

    with brand_scope(b_brand):
        category = Category.objects.create(id=900011, brand=b_brand, name=f"{MARKER}品类")
        product = Product.objects.create(id=900012, brand=b_brand, name=f"{MARKER}商品", category=category)
        sku = Sku.objects.create(id=900013, brand=b_brand, product=product, code="B-SKU", list_price_fen=100)
        inventory = Inventory.objects.create(id=900014, brand=b_brand, store=b_store, sku=sku, on_hand=50)
        now = timezone.now()
        campaign = Campaign.objects.create(
            id=900015,
            brand=b_brand,
            name=f"{MARKER}活动",
            kind="amount_off",
            amount_off_fen=10,
            starts_at=now,
            ends_at=now + datetime.timedelta(days=9),
        )
        coupon = Coupon.objects.create(
            id=900016, brand=b_brand, campaign=campaign, code="BCOUPON", member_id=900005
        )
        link = ShareLink.objects.create(
            id=900017, brand=b_brand, code="BLINK", guide=b_guide, kind="store", store=b_store, target="store"
        )
        touch = Touch.objects.create(id=900018, brand=b_brand, link=link, guide=b_guide, member_id=900005)
        order = Order.objects.create(
            id=900019,
            brand=b_brand,
            number="P900019",
            channel="pos",
            external_id=MARKER,
            store=b_store,
            member_id=900005,
            fulfilment="in_store",
            status="paid",
            subtotal_fen=100,
            total_fen=100,
            paid_fen=100,
            paid_at=now,
        )
        line = OrderLine.objects.create(
            id=900020, brand=b_brand, order=order, sku=sku, name=MARKER, quantity=1, unit_price_fen=100
        )
        Payment.objects.create(
            id=900021,
            brand=b_brand,
            order=order,
            provider="pos",
            reference="B-PAY",
            amount_fen=100,
            status="succeeded",
        )
    return [
        category.pk,
        product.pk,
        sku.pk,
        inventory.pk,
        campaign.pk,
        coupon.pk,
        link.pk,
        touch.pk,
        order.pk,
        line.pk,
    ]


def _b_redpackets(b_brand, b_store, b_guide, b_admin) -> list[int]:
    """Brand B's pool, a packet with a claimed share, a payout account, a withdrawal and a top-up."""
    from redpackets.models import (
        Account,
        Entry,
        PacketRecipient,
        PacketShare,
        PayoutAccount,
        RedPacket,
        TopUp,
        Transaction,
        Withdrawal,
    )
    from retail.tenancy import brand_scope

    now = timezone.now()
    with brand_scope(b_brand):
        pool = Account.objects.create(id=900101, brand=b_brand, kind="pool", balance_fen=900)
        funding = Account.objects.create(id=900102, brand=b_brand, kind="funding", balance_fen=-1_000)
        wallet = Account.objects.create(
            id=900103, brand=b_brand, kind="wallet", staff=b_guide, balance_fen=100
        )
        packet = RedPacket.objects.create(
            id=900104,
            brand=b_brand,
            kind="fixed",
            audience="store",
            sender=b_admin,
            store=b_store,
            greeting=MARKER,
            total_fen=100,
            shares=1,
            claimed_count=1,
            claimed_fen=100,
            status="finished",
            key=MARKER,
            request_hash="x",
            expires_at=now + datetime.timedelta(hours=1),
        )
        Account.objects.create(id=900105, brand=b_brand, kind="packet", packet=packet, balance_fen=0)
        PacketRecipient.objects.create(id=900106, brand=b_brand, packet=packet, staff=b_guide, claimed=True)
        share = PacketShare.objects.create(
            id=900107, brand=b_brand, packet=packet, seq=1, amount_fen=100, staff=b_guide, claimed_at=now
        )
        topup = TopUp.objects.create(
            id=900108,
            brand=b_brand,
            amount_fen=1_000,
            status="succeeded",
            reference="TOPB900108",
            key=MARKER,
            request_hash="x",
            created_by=b_admin,
            completed_at=now,
        )
        txn = Transaction.objects.create(
            id=900109, brand=b_brand, kind="topup", key="topup:b", memo=MARKER, topup=topup
        )
        Entry.objects.bulk_create(
            [
                Entry(
                    id=900110,
                    brand=b_brand,
                    transaction=txn,
                    account=funding,
                    amount_fen=-1_000,
                    balance_after_fen=-1_000,
                ),
                Entry(
                    id=900111,
                    brand=b_brand,
                    transaction=txn,
                    account=pool,
                    amount_fen=1_000,
                    balance_after_fen=1_000,
                ),
            ]
        )
        account = PayoutAccount.objects.create(
            id=900112,
            brand=b_brand,
            staff=b_guide,
            account_no="13599990000",
            real_name=MARKER,
            verified_at=now,
        )
        withdrawal = Withdrawal.objects.create(
            id=900113,
            brand=b_brand,
            staff=b_guide,
            payout_account=account,
            amount_fen=1,
            status="pending",
            reference="WDB900113",
            key=MARKER,
            request_hash="x",
        )
    assert wallet and share
    return [packet.pk, topup.pk, withdrawal.pk, account.pk, share.pk, pool.pk]


def _b_commission(b_brand, b_store, b_guide, b_admin) -> list[int]:
    """Brand B's rules, an attributed order with its entry, a period with a statement, a run, a notice."""
    import datetime

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
    from retail.tenancy import brand_scope

    now = timezone.now()
    day = datetime.timedelta(days=1)
    with brand_scope(b_brand):
        version = AttributionRule.objects.create(
            id=900201, brand=b_brand, version=1, effective_from=now - 9 * day, note=MARKER
        )
        rule = CommissionRule.objects.create(
            id=900202, brand=b_brand, name=MARKER, rate_bp=100, effective_from=now - 9 * day
        )
        att = Attribution.objects.create(
            id=900203,
            brand=b_brand,
            order_id=900019,
            channel="pos",
            member_id=900005,
            guide=b_guide,
            source="exclusive",
            store=b_store,
            rule=version,
            paid_at=now,
            sales_fen=100,
            commission_fen=1,
            lines=[[900020, rule.pk, 1]],
        )
        period = SettlementPeriod.objects.create(
            id=900204,
            brand=b_brand,
            start=now - 8 * day,
            end=now - day,
            label=MARKER,
            statements=1,
            total_fen=1,
        )
        statement = Statement.objects.create(
            id=900205,
            brand=b_brand,
            period=period,
            guide=b_guide,
            orders=1,
            earned_fen=1,
            total_fen=1,
            status="held",
            hold_reason=MARKER,
        )
        entry = CommissionEntry.objects.create(
            id=900206,
            brand=b_brand,
            guide=b_guide,
            kind="earn",
            key=MARKER,
            amount_fen=1,
            order_id=900019,
            member_id=900005,
            occurred_at=now - 2 * day,
            statement=statement,
        )
        run = Reattribution.objects.create(
            id=900207, brand=b_brand, start=now - 9 * day, end=now - day, reason=MARKER, status="done"
        )
        note = Notification.objects.create(
            id=900208, brand=b_brand, staff=b_guide, kind="commission", amount_fen=1, data={"member": MARKER}
        )
    return [version.pk, rule.pk, att.pk, period.pk, statement.pk, entry.pk, run.pk, note.pk]


def _b_devices(b_brand, b_store, b_admin) -> list[int]:
    """Brand B's paired device with an event, a command, a pairing code and a ticket."""
    from devices.models import Device, DeviceCommand, DeviceEvent, DeviceTicket, PairingCode
    from retail.tenancy import brand_scope

    now = timezone.now()
    with brand_scope(b_brand):
        device = Device.objects.create(
            id=900301,
            brand=b_brand,
            store=b_store,
            name=f"{MARKER}考勤机",
            location=MARKER,
            status="offline",
            secret_hash="b" * 64,
            credential_version=1,
            paired_at=now,
            created_by=b_admin,
        )
        event = DeviceEvent.objects.create(
            id=900302,
            brand=b_brand,
            device=device,
            event_id="b-1",
            type="punch",
            device_time=now,
            occurred_at=now,
            payload={"note": MARKER},
        )
        command = DeviceCommand.objects.create(
            id=900303, brand=b_brand, device=device, name="show_message", payload={"text": MARKER}
        )
        code = PairingCode.objects.create(
            id=900304,
            brand=b_brand,
            device=device,
            code_hash="c" * 64,
            expires_at=now + datetime.timedelta(minutes=10),
        )
        DeviceTicket.objects.create(
            id=900305,
            brand=b_brand,
            device=device,
            token_hash="d" * 64,
            credential_version=1,
            expires_at=now + datetime.timedelta(minutes=1),
        )
    return [device.pk, event.pk, command.pk, code.pk]


def _b_attendance(b_brand, b_store, b_guide, b_admin) -> list[int]:
    """Brand B's face attendance: a policy, a consent text and consent, an encoding, a PIN, a shift,
    a schedule, a punch, a day record with a correction and an access record."""
    import numpy as np

    from attendance import crypto
    from attendance.models import (
        AccessRecord,
        AttendancePolicy,
        ConsentText,
        Correction,
        DayRecord,
        FaceConsent,
        FaceEncoding,
        Punch,
        Schedule,
        ShiftTemplate,
        StaffPin,
    )
    from retail.tenancy import brand_scope

    now = timezone.now()
    today = timezone.localdate()
    with brand_scope(b_brand):
        policy = AttendancePolicy.objects.create(id=900401, brand=b_brand)
        text = ConsentText.objects.create(id=900402, brand=b_brand, version=1, title=MARKER, body=MARKER)
        consent = FaceConsent.objects.create(id=900403, brand=b_brand, staff=b_guide, text=text)
        ciphertext, key_id = crypto.encrypt(np.full(crypto.DIMENSIONS, 0.05))
        encoding = FaceEncoding.objects.create(
            id=900404, brand=b_brand, staff=b_guide, ciphertext=ciphertext, key_id=key_id, source="phone"
        )
        pin = StaffPin.objects.create(id=900405, brand=b_brand, staff=b_guide, pin_hash="x")
        shift = ShiftTemplate.objects.create(
            id=900406,
            brand=b_brand,
            store=b_store,
            name=f"{MARKER}早班",
            start=datetime.time(9),
            end=datetime.time(18),
        )
        schedule = Schedule.objects.create(
            id=900407, brand=b_brand, staff=b_guide, store=b_store, date=today, shift=shift
        )
        punch = Punch.objects.create(
            id=900408,
            brand=b_brand,
            staff=b_guide,
            store=b_store,
            source="phone_pin",
            occurred_at=now,
            reason=MARKER,
        )
        day = DayRecord.objects.create(
            id=900409, brand=b_brand, staff=b_guide, store=b_store, date=today, status="late", late_minutes=7
        )
        correction = Correction.objects.create(
            id=900410, brand=b_brand, day=day, by=b_admin, reason=MARKER, before={}, after={}
        )
        access = AccessRecord.objects.create(
            id=900411, brand=b_brand, device_id=900301, staff=b_guide, result="unknown"
        )
    return [
        policy.pk,
        text.pk,
        consent.pk,
        encoding.pk,
        pin.pk,
        shift.pk,
        schedule.pk,
        punch.pk,
        day.pk,
        correction.pk,
        access.pk,
    ]


def _b_messaging(b_brand, b_guide, b_admin) -> list[int]:
    """Brand B's messaging: settings, a guide's chat settings, the kept member's conversation with a
    message (an image too), a canned reply, a note, a mass message, a quota and a report."""
    from guides.messaging.models import (
        Broadcast,
        CannedReply,
        Conversation,
        GuideChatSettings,
        GuideNote,
        MassQuota,
        Message,
        MessagingSettings,
        ShopperReport,
    )
    from retail.tenancy import brand_scope

    now = timezone.now()
    with brand_scope(b_brand):
        settings_row = MessagingSettings.objects.create(
            id=900501, brand=b_brand, welcome_template=f"{MARKER}{{guide}}", auto_reply_text=MARKER
        )
        chat = GuideChatSettings.objects.create(
            id=900502, brand=b_brand, staff=b_guide, auto_reply_text=MARKER
        )
        conv = Conversation.objects.create(
            id=900503, brand=b_brand, member_id=900005, last_preview=MARKER, last_message_at=now
        )
        message = Message.objects.create(
            id=900504, brand=b_brand, conversation=conv, sender="member", body=MARKER, client_id="b-1"
        )
        image = Message.objects.create(
            id=900505,
            brand=b_brand,
            conversation=conv,
            sender="guide",
            staff=b_guide,
            kind="image",
            image="chat/b-secret.jpg",
        )
        canned = CannedReply.objects.create(id=900506, brand=b_brand, title=MARKER, body=MARKER)
        note = GuideNote.objects.create(
            id=900507, brand=b_brand, staff=b_guide, member_id=900005, body=MARKER
        )
        broadcast = Broadcast.objects.create(
            id=900508, brand=b_brand, created_by=b_admin, body=MARKER, segment={"guide": b_guide.pk}
        )
        quota = MassQuota.objects.create(
            id=900509, brand=b_brand, member_id=900005, month=now.date().replace(day=1), count=1
        )
        report = ShopperReport.objects.create(
            id=900510, brand=b_brand, conversation=conv, staff=b_guide, reason=MARKER
        )
    return [
        settings_row.pk,
        chat.pk,
        conv.pk,
        message.pk,
        image.pk,
        canned.pk,
        note.pk,
        broadcast.pk,
        quota.pk,
        report.pk,
    ]


def _no_sqlite_id_reuse():
    """SQLite gives a new row max(id) + 1, so a row brand A creates while probing could take the
    id right after one of B's high ids and make that id A's; start A's new rows far above them."""
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("UPDATE sqlite_sequence SET seq = 5000000")


def _text(value) -> str:
    """A column's value as text; binary columns (memoryview) by their bytes, not the view's address."""
    return bytes(value).hex() if isinstance(value, memoryview | bytes) else str(value)


def _snapshot(brand):
    with rls_bypass(reason="isolation test snapshot"):
        out = {}
        for model in brand_owned_models():
            out[model.__name__] = sorted(
                tuple(sorted((k, _text(v)) for k, v in row.items()))
                for row in model.unscoped.filter(brand=brand).values()
            )
        out["AuditLog"] = AuditLog.unscoped.filter(brand=brand).count()
        return out


def _probe(client: Client, url: str):
    responses = []
    for method in ("get", "post", "patch", "put", "delete"):
        resp = getattr(client, method)(
            url,
            {"name": "x", "store_ids": [900001], "brand": 900000},
            content_type="application/json",
        )
        responses.append((method, resp))
    return responses


# The routes are probed in slices, so that parallel test workers share the walk.
SLICES = 6


def _partner_client(client, brand, admin):
    """``client`` sending the Bearer token of a partner app of ``brand`` holding every scope (the
    token from the token endpoint; no rate limit in the way of the walk)."""
    from retail.partners.scopes import SCOPES
    from retail.partners.services import app_create

    app, secret = app_create(
        brand=brand, actor=admin, name="walker", scopes=list(SCOPES), rate_limit_per_minute=100_000
    )
    resp = Client().post(
        "/api/v1/oauth/token/",
        {"grant_type": "client_credentials", "client_id": app.application.client_id, "client_secret": secret},
    )
    assert resp.status_code == 200, resp.content
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {resp.json()['access_token']}"
    return client


@pytest.mark.parametrize("part", range(SLICES), ids=lambda i: f"slice{i + 1}of{SLICES}")
@pytest.mark.parametrize("viewer", ["brand_admin", "guide", "partner"])
def test_every_route_refuses_other_brand_ids(client, world, viewer, part, request, brand, brand_admin):
    """Brand A's admin and guide (sessions), and a partner app of brand A (its token: the API
    only), ask for brand B's ids."""
    partner = viewer == "partner"
    staff = None if partner else request.getfixturevalue(viewer)
    if partner:
        _partner_client(client, brand, brand_admin)
    else:
        login_as(client, staff)
    before = _snapshot(world["b_brand"])
    probed = 0
    for route, pattern in all_routes()[part::SLICES]:
        if partner and not route.startswith("api/"):
            continue
        params = _params(route)
        allowed = (400, 403, 404, 405)
        if _public_brand_page(pattern, params):
            allowed = (200, 302, *allowed)
        if not params:
            urls = [_fill(route, {"*": ""})]
        else:
            urls = [_fill(route, {"*": str(i)}) for i in world["b_ids"]]
            urls.append(_fill(route, {"*": "garbage", "brand_slug": world["b_brand"].slug}))
        for url in urls:
            if not partner:
                login_as(client, staff)  # a probed route may have logged us out (POST /logout/)
            for method, resp in _probe(client, url):
                probed += 1
                raw = b"".join(resp.streaming_content) if resp.streaming else resp.content
                body = raw.decode("utf-8", "replace")
                b_directory = pattern.name in PUBLIC_DIRECTORIES and world["b_brand"].slug in url
                if not b_directory:
                    assert MARKER not in body, f"{method.upper()} {url} leaked brand B data"
                if params:
                    assert resp.status_code in allowed, (
                        f"{method.upper()} {url} answered {resp.status_code} for another brand's id"
                    )
                assert resp.status_code < 500, f"{method.upper()} {url} crashed"
    assert probed > 100 // SLICES
    assert _snapshot(world["b_brand"]) == before


def test_the_slices_cover_every_route():
    routes = all_routes()
    sliced = [r for part in range(SLICES) for r, _ in routes[part::SLICES]]
    assert sorted(sliced) == sorted(r for r, _ in routes)


def test_every_api_view_resolves_its_brand_through_the_base(world):
    for route, pattern in all_routes():
        if not route.startswith("api/"):
            continue
        cls = getattr(pattern.callback, "cls", None)
        assert cls is not None, route
        if cls.__name__ in PUBLIC_API_VIEWS:
            continue
        assert issubclass(cls, BrandAPIView), f"{route} ({cls.__name__}) must derive from BrandAPIView"


def test_brand_base_cannot_be_skipped():
    with pytest.raises(TypeError):

        class Sneaky(BrandAPIView):  # noqa: F841
            def initial(self, request, *args, **kwargs):
                pass


def test_session_pointing_at_another_brand_gets_nothing(client, world, guide):
    """A forged session brand id (user not on that brand's staff) gives no brand at all."""
    login_as(client, guide)
    session = client.session
    session[SESSION_BRAND_KEY] = world["b_brand"].pk
    session.save()
    for route, _ in all_routes():
        if _params(route):
            continue
        resp = client.get(_fill(route, {"*": ""}))
        assert MARKER not in resp.content.decode("utf-8", "replace"), route
        assert resp.status_code in (200, 302, 400, 403, 404, 405), route


def test_brand_bs_devices_are_in_the_walk(world):
    """The REST routes of devices (and the console's) are walked with B's device, event and command."""
    assert {900301, 900302, 900303} <= set(world["b_ids"])
    routes = {route for route, _ in all_routes()}
    assert {"api/v1/devices/<int:pk>/", "api/v1/devices/<int:pk>/events/", "api/v1/device-events/"} <= routes


def test_brand_bs_attendance_is_in_the_walk(world):
    """Attendance's pages and API are walked with B's shift, schedule, punch, day record and more."""
    assert set(range(900401, 900412)) <= set(world["b_ids"])


def test_brand_bs_messaging_is_in_the_walk(world):
    """Messaging's pages, API and every new model are walked with B's rows: settings, conversation,
    messages, canned reply, note, mass message, quota and report."""
    from guides.messaging import models as messaging

    assert set(range(900501, 900511)) <= set(world["b_ids"])
    with rls_bypass(reason="isolation test"):
        for name in messaging.__all__:
            model = getattr(messaging, name)
            if isinstance(model, type):
                assert model.unscoped.filter(brand=world["b_brand"]).exists(), name
    routes = {route for route, _ in all_routes()}
    assert {"api/v1/conversations/", "api/v1/conversations/<int:pk>/messages/"} <= routes


def _ws_routes():
    """The browser sockets (the device routes take no session: tests/isolation/test_device_socket.py)."""
    from retail.routing import websocket_urlpatterns

    return ["/" + str(p.pattern).lstrip("^").rstrip("$") for p in websocket_urlpatterns]


def _ws_path(route: str, slug: str) -> str:
    """A socket route with its brand slug filled in (the shopper's chat: /ws/s/<brand_slug>/chat/)."""
    return PARAM.sub(lambda m: slug, route)


@pytest.mark.usefixtures("in_memory_channel_layer")
@pytest.mark.parametrize("path", _ws_routes())
def test_every_websocket_route_refuses_a_session_for_another_brand(world, guide, path):
    from retail.asgi import application

    client = Client()
    login_as(client, guide)
    session = client.session
    session[SESSION_BRAND_KEY] = world["b_brand"].pk
    session.save()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()

    async def run():
        comm = WebsocketCommunicator(
            application,
            _ws_path(path, world["b_brand"].slug),
            headers=[(b"cookie", cookie), (b"host", b"localhost"), (b"origin", b"http://localhost")],
        )
        connected, code = await comm.connect()
        await comm.disconnect()
        return connected, code

    connected, code = async_to_sync(run)()
    # A staff session is no shopper's: at brand B's shopper socket it is no credential at all.
    assert not connected and code == (4401 if _params(path) else 4403)


@pytest.mark.usefixtures("in_memory_channel_layer")
@pytest.mark.parametrize("path", _ws_routes())
def test_every_websocket_route_refuses_anonymous(path):
    from retail.asgi import application

    async def run():
        comm = WebsocketCommunicator(
            application,
            _ws_path(path, "some-brand"),
            headers=[(b"host", b"localhost"), (b"origin", b"http://localhost")],
        )
        connected, code = await comm.connect()
        await comm.disconnect()
        return connected, code

    connected, code = async_to_sync(run)()
    assert not connected and code == 4401


# Keep the imported models referenced: they are what the snapshot covers.
_COVERED = (Store, Staff, StaffStore, Invitation)
