"""People see words, never codes: every page of the demo, walked in both languages.

The demo data is seeded, a day of work is done on top of it (settings changed, stock received,
an export, a merge, a cloud store order), and then every GET route is opened as the brand admin,
a store manager, a guide and a shopper, with ids taken from the demo. The visible text (tags,
attributes, scripts and styles stripped) must not contain event codes, snake_case identifiers,
``#id`` references, ``object (n)``, ledger keys, payment provider codes or constraint names.
"""

from __future__ import annotations

import html
import re

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope
from tests.helpers.auth import login_as
from tests.isolation.test_cross_brand import _fill, _params, all_routes

pytestmark = pytest.mark.django_db

# Routes that are not pages a person reads: file downloads, machine callbacks, redirects only.
NOT_PAGES = {
    "healthz",
    "set_language",
    "logout",
    "shopper-logout",
    "pay-notify",
    "payout-notify",
    "dash-members-export",
    "dash-member-import-template",
    "dash-member-job-file",
    "dash-rp-pool-export",
    "dash-rp-wallet-export",
    "m-wallet-records-export",
    "dash-commission-export",
    "dash-member-job-progress",
    "share-open",
}


def _allowed() -> set[str]:
    """Words that look like codes but are what a person must type: the column names and values
    of the member import and store assortment files (the pages that explain the files list them)."""
    from cloudstore.staff_forms import ASSORTMENT_COLUMNS
    from members.jobs import EXPORT_COLUMNS, IMPORT_COLUMNS

    return {"e.g", "i.e", "yes", "no", *IMPORT_COLUMNS, *EXPORT_COLUMNS, *ASSORTMENT_COLUMNS}


SCRIPT_STYLE = re.compile(r"<(script|style|template)\b.*?</\1\s*>", re.S | re.I)
# What a page sets in code type (<code>, <pre>, <kbd>, <samp>) is a code on purpose: the developer
# centre shows scope names, event types, headers and JSON bodies to developers.
CODE_TYPE = re.compile(r"<(code|pre|kbd|samp)\b.*?</\1\s*>", re.S | re.I)
# An element that says it is in English (the developer guide, written in the API's language).
ENGLISH_ELEMENT = re.compile(r"<(?!html\b)(\w+)\b[^>]*\blang=\"en\"[^>]*>.*?</\1\s*>", re.S | re.I)
COMMENT = re.compile(r"<!--.*?-->", re.S)
TAG = re.compile(r"<[^>]*>", re.S)
URL = re.compile(r"(?:https?://|/)[^\s<>\"']*")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")

RAW = {
    "event code": re.compile(r"\b[a-z_]+\.[a-z_]+\b"),
    # "#01" is a lipstick shade, not a row id
    "member number": re.compile(r"#[1-9]\d*"),
    "model default name": re.compile(r"\bobject \(\d+\)"),
    "identifier": re.compile(r"\b[a-z]+_[a-z_]+\b"),
    "ledger key": re.compile(r"\b[a-z_]+:\d+\b"),
    "provider code": re.compile(r"\b(?:sim|alipay|wechat|wxpay|unionpay)\b"),
}


def visible_text(body: str) -> str:
    text = COMMENT.sub(" ", CODE_TYPE.sub(" ", SCRIPT_STYLE.sub(" ", body)))
    text = ENGLISH_ELEMENT.sub(" ", text)
    text = html.unescape(TAG.sub(" ", text))
    text = EMAIL.sub(" ", text)
    return URL.sub(" ", text)


def constraint_names() -> set[str]:
    names = set()
    for model in apps.get_models():
        for c in model._meta.constraints:
            names.add(c.name)
    return names


# On a Chinese page a lowercase English word is a code nobody translated ("join", "pending").
ENGLISH_WORD = re.compile(r"(?<![\w.-])[a-z]{3,}(?![\w.-])")


def raw_codes(text: str, extra: set[str] = frozenset(), lang: str = "en") -> list[str]:
    found, allowed = [], _allowed()
    patterns = {**RAW, "untranslated word": ENGLISH_WORD} if lang == "zh-hans" else RAW
    for label, pattern in patterns.items():
        for m in pattern.finditer(text):
            if m.group(0) not in allowed:
                found.append(f"{label}: {m.group(0)!r} in …{text[max(0, m.start() - 40) : m.end() + 40]!r}")
    found += [f"constraint name: {n!r}" for n in extra if n in text]
    return found


# ---------------------------------------------------------------------------- the demo, and a day


def _day_of_work(brand: Brand) -> dict:
    """What people do on top of the seed, so that every kind of page has something on it."""
    from cloudstore.models import (
        Campaign,
        Order,
        ProductImage,
        ShareLink,
        Sku,
        StockMovement,
    )
    from cloudstore.services import checkout, inventory, order_payments, promotions
    from devices.models import Device
    from guides.models import CommissionRule, SettlementPeriod, Statement
    from guides.services import rules
    from members import codes, jobs, selectors
    from members import services as member_services
    from members.models import Member, Tier
    from redpackets.models import RedPacket, Withdrawal
    from retail import services

    with brand_scope(brand):
        admin = Staff.objects.get(user__username="yy_admin")
        manager = Staff.objects.get(user__username="yy_manager")
        guide = Staff.objects.get(user__username="yy_guide1")
        store = manager.stores.get()
    a = Actor(user=admin.user, ip="10.0.0.1")
    rules.settings_update(brand=brand, staff=admin, actor=a, data={"greeting": "辛苦了！"})
    services.store_update(
        brand=brand, manager=admin, actor=a, store=store, data={"address": "南京西路1618号"}
    )
    invited, link = services.staff_invite(
        brand=brand,
        manager=admin,
        actor=a,
        name="新同事",
        phone="13512345678",
        role=Staff.Role.GUIDE,
        store_ids=[store.pk],
    )
    jobs.export_start(brand=brand, viewer=admin, actor=a, filters=selectors.MemberFilters())
    with brand_scope(brand):
        sku = Sku.objects.filter(inventory__store=store).order_by("pk").first()
        product = sku.product
    inventory.stock_change(
        brand=brand,
        staff=manager,
        actor=Actor(user=manager.user),
        store=store,
        sku=sku,
        kind=StockMovement.Kind.RECEIVE,
        quantity=5,
        reason="到货",
    )
    with brand_scope(brand):
        members = list(Member.objects.filter(guide=guide).order_by("pk"))
    shopper, absorbed = members[0], members[-1]
    merge = member_services.members_merge(
        brand=brand, survivor=shopper, absorbed=absorbed, actor=a, reason="同一个人"
    )
    tag = member_services.tag_create(brand=brand, manager=admin, actor=a, name="爱护肤")
    member_services.member_tags_change(brand=brand, staff=admin, actor=a, member=shopper, add=[tag.pk])
    link_row = promotions.share_link_get(brand=brand, guide=guide, kind=ShareLink.Kind.STORE, store=store)
    cloud = checkout.checkout(
        brand=brand,
        store=store,
        member=shopper,
        items=[(sku.pk, 1)],
        fulfilment=Order.Fulfilment.PICKUP,
        checkout_key="human-labels",
        recipient="李娜",
        phone="18800000001",
    )
    payment, _url = order_payments.payment_start(brand=brand, order=cloud)
    with brand_scope(brand):
        statement = Statement.objects.filter(guide=guide).order_by("pk").first() or Statement.objects.first()
        period = SettlementPeriod.objects.order_by("pk").first()
        rule = CommissionRule.objects.order_by("pk").first()
        packet = RedPacket.objects.filter(recipients__staff=guide).order_by("pk").first()
        sent = RedPacket.objects.filter(sender=admin).order_by("pk").first()
        withdrawal = Withdrawal.objects.filter(staff=guide).order_by("pk").first()
        shop_order = (
            Order.objects.filter(store=store).exclude(pk=cloud.pk).order_by("-refunded_fen", "pk").first()
        )
        flagship = (
            Order.objects.filter(channel=Order.Channel.FLAGSHIP).order_by("-refunded_fen", "pk").first()
        )
        refunded = Order.objects.filter(refunded_fen__gt=0).order_by("pk").first()
        values = {
            "brand_slug": brand.slug,
            "store_id": str(store.pk),
            "store_code": store.code,
            "staff_id": str(guide.pk),
            "member_id": str(shopper.pk),
            "merge_id": str(merge.pk),
            "job_id": str(brand and jobs.MemberJob.objects.order_by("-pk").first().pk),
            "tier_id": str(getattr(Tier.objects.order_by("pk").first(), "pk", 0)),
            "tag_id": str(tag.pk),
            "campaign_id": str(Campaign.objects.order_by("pk").first().pk),
            "product_id": str(product.pk),
            "sku_id": str(sku.pk),
            "image_id": str(ProductImage.objects.filter(product=product).first().pk),
            "category_id": str(product.category_id),
            "order_id": str(shop_order.pk),
            "number": cloud.number,
            "reference": payment.reference,
            "link_id": str(link_row.pk),
            "code": link_row.code,
            "packet_id": str(packet.pk),
            "withdrawal_id": str(withdrawal.pk),
            "provider_name": "sim",
            "device_id": str(Device.objects.order_by("pk").first().pk),
            "*": "0",
        }
        by_route = {
            "invitation-accept": {"token": link.rstrip("/").split("/")[-1]},
            "member-join": {"token": codes.guide_join_token(brand_id=brand.pk, staff_id=guide.pk)},
            "member-join-code": {"token": codes.guide_join_token(brand_id=brand.pk, staff_id=guide.pk)},
            "performance-statement": {"pk": str(statement.pk)},
            "dash-commission-statement": {"pk": str(statement.pk)},
            "dash-commission-hold": {"pk": str(statement.pk)},
            "dash-commission-release": {"pk": str(statement.pk)},
            "dash-commission-settlement": {"pk": str(period.pk)},
            "dash-commission-approve": {"pk": str(period.pk)},
            "dash-commission-rule-end": {"pk": str(rule.pk)},
            "m-rp-packet": {"packet_id": str(sent.pk)},
            "dash-rp-packet": {"packet_id": str(sent.pk)},
            "m-store-order": [{"order_id": str(o.pk)} for o in (shop_order, cloud)],
            "dash-cs-order": [{"order_id": str(o.pk)} for o in (shop_order, flagship, refunded, cloud)],
            "dash-member": [{"member_id": str(m.pk)} for m in (shopper, refunded.member or shopper)],
            "m-store-share": {"link_id": str(link_row.pk)},
            "shop-coupon": {"campaign_id": values["campaign_id"]},
        }
    return {
        "values": values,
        "by_route": by_route,
        "shopper": shopper,
        "admin": admin,
        "manager": manager,
        "guide": guide,
    }


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    brand = Brand.objects.get(slug="yueyan")
    return {"brand": brand, **_day_of_work(brand)}


def _client(demo, viewer: str, lang: str) -> Client:
    client = Client()
    if viewer == "shopper":
        from members import shopper

        session = client.session
        session[shopper.SESSION_KEY] = {str(demo["brand"].pk): demo["shopper"].pk}
        session.save()
    else:
        login_as(client, demo[viewer])
    client.cookies["django_language"] = lang
    return client


def _pages():
    for route, pattern in all_routes():
        if route.startswith("api/") or pattern.name in NOT_PAGES:
            continue
        yield route, pattern


def _walk(demo, viewer: str, lang: str, constraints: set[str]) -> tuple[int, list[str]]:
    client = _client(demo, viewer, lang)
    problems, seen = [], set()
    for route, pattern in _pages():
        variants = demo["by_route"].get(pattern.name, [{}])
        for extra in variants if isinstance(variants, list) else [variants]:
            values = {**demo["values"], **extra}
            url = _fill(route, values) if _params(route) else _fill(route, {"*": ""})
            resp = client.get(url)
            if resp.status_code != 200 or "html" not in resp.get("Content-Type", ""):
                continue  # not this viewer's page, or not a page (a form posts here)
            seen.add(pattern.name)
            body = resp.content.decode("utf-8", "replace")
            problems += [f"{url}: {p}" for p in raw_codes(visible_text(body), constraints, lang)]
    return seen, problems


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_no_page_shows_a_raw_code(demo, lang):
    from retail.models import AuditLog

    # what the audit log keeps of its targets is already words (every target model names itself)
    kept = AuditLog.unscoped.filter(brand=demo["brand"]).values_list("action", "target_repr")
    assert not [(a, r) for a, r in kept if RAW["model default name"].search(r)]
    constraints = constraint_names()
    problems, pages = [], set()
    for viewer in ("admin", "manager", "guide", "shopper"):
        seen, found = _walk(demo, viewer, lang, constraints)
        assert len(seen) > 5, viewer
        pages |= seen
        problems += [f"{viewer}: {p}" for p in found]
    # the walk reached the pages where codes used to show
    assert {
        "dash-audit",
        "dashboard",
        "dash-member",
        "dash-cs-order",
        "dash-rp-wallet",
        "notifications",
    } <= pages
    assert {"shop-order", "shopper-data", "performance-statement", "m-store-order"} <= pages
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------- audit words


def _recorded_actions() -> set[str]:
    """Every audit action the code records: the literal codes passed as ``action=`` (and the few
    built from a kind), found in the source so that a new event cannot slip past this test."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    codes = set()
    for app in ("retail", "members", "cloudstore", "redpackets", "guides"):
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text()
            codes |= set(re.findall(r'action=\s*"([a-z_]+\.[a-z_]+)"', source))
            for a, b in re.findall(r'"([a-z_]+\.[a-z_]+)" if \w+ else "([a-z_]+\.[a-z_]+)"', source):
                codes |= {a, b}
    from cloudstore.models import StockMovement
    from members.models import MemberJob

    codes |= {
        f"stock.{k}"
        for k in (StockMovement.Kind.ADJUST, StockMovement.Kind.RECEIVE, StockMovement.Kind.COUNT)
    }
    codes |= {f"member.{k}_started" for k in MemberJob.Kind.values}
    return codes


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_every_recorded_action_has_a_label_in_both_languages(lang):
    from django.utils import translation

    from retail.labels import action_label, known_actions

    codes = _recorded_actions()
    assert {"payout_account.bound", "commission.period_approved", "pool.topup", "stock.receive"} <= codes
    missing = codes - set(known_actions())
    assert not missing, f"audit actions without a label: {sorted(missing)}"
    with translation.override(lang):
        for code in codes:
            label = action_label(code)
            assert label and not RAW["event code"].search(label), code
            if lang == "zh-hans":
                assert re.search(r"[\u4e00-\u9fff]", label), f"{code}: {label!r} is not translated"


def test_an_unknown_action_reads_as_a_phrase_not_a_code():
    from django.utils import translation

    from retail.labels import action_label

    with translation.override("zh-hans"):
        assert action_label("stock.teleported") == "库存：其他操作"
        assert action_label("quantum.entangled") == "其他操作"
    with translation.override("en"):
        assert action_label("quantum.entangled") == "Other change"


def test_audit_targets_are_named_in_words(client, brand, brand_admin):
    """A commission settings change and a member's entry name their targets in words; a
    member without a name appears by masked phone and an erased one as such."""
    from guides.services import rules
    from members import services as member_services
    from retail.models import AuditLog

    a = Actor(user=brand_admin.user)
    rules.settings_update(brand=brand, staff=brand_admin, actor=a, data={"greeting": "加油"})
    joined = member_services.member_join(brand=brand, phone="13912345678", guide=None, consent=True)
    gone = member_services.member_join(
        brand=brand, phone="13912340000", guide=None, consent=True, name="赵六"
    )
    member_services.member_erase(brand=brand, member=gone.member, actor=a, source="staff")
    login_as(client, brand_admin)
    body = client.get("/dashboard/audit/").content.decode()
    text = visible_text(body)
    assert "修改佣金设置" in text and "佣金设置" in text
    assert "CommissionSettings" not in text and "object (" not in text
    assert "139****5678" in text and f"#{joined.member.pk}" not in text
    assert "已删除的会员" in text and "赵六" not in text
    with brand_scope(brand):
        assert AuditLog.objects.filter(action="member.erased", target_repr__contains="赵六").count() == 0
    client.cookies["django_language"] = "en"
    text = visible_text(client.get("/dashboard/audit/").content.decode())
    assert "Commission settings changed" in text and "Erased member" in text
    assert not raw_codes(text)


def test_audit_filter_offers_every_area_and_filters_by_it(client, brand, brand_admin):
    from guides.services import rules

    rules.settings_update(
        brand=brand, staff=brand_admin, actor=Actor(user=brand_admin.user), data={"greeting": "x"}
    )
    login_as(client, brand_admin)
    page = client.get("/dashboard/audit/", {"action": "commission."}).content.decode()
    assert '<option value="commission." selected>佣金</option>' in page
    assert "修改佣金设置" in visible_text(page)
    other = client.get("/dashboard/audit/", {"action": "store."}).content.decode()
    assert "修改佣金设置" not in visible_text(other)


# ---------------------------------------------------------------------------- constraints

# Models that forms and services validate with their constraints (full_clean).
FORM_VALIDATED = ["retail.Store", "retail.Staff", "redpackets.Settings", "guides.CommissionRule"]


def test_constraints_a_form_can_trip_have_a_message():
    for label in FORM_VALIDATED:
        model = apps.get_model(label)
        for c in model._meta.constraints:
            if c.name.endswith(("_brand_id_unique", "_brand_id")):
                continue  # composite-key targets: the brand and id are never typed in
            assert c.violation_error_message != c.default_violation_error_message, c.name


def test_store_form_says_what_is_wrong_with_the_location(client, brand_admin):
    login_as(client, brand_admin)
    data = {
        "code": "GZ001",
        "name": "广州天河店",
        "latitude": "23.132",
        "longitude": "",
        "geofence_radius_m": "300",
        "timezone": "Asia/Shanghai",
        "opens_at": "10:00",
        "closes_at": "22:00",
        "status": "open",
    }
    response = client.post("/dashboard/stores/new/", data)
    body = response.content.decode()
    assert response.status_code == 400
    assert "store_lat_lng_together" not in body
    assert "请同时填写纬度和经度，或都不填。" in body
    client.cookies["django_language"] = "en"
    body = client.post("/dashboard/stores/new/", data).content.decode()
    assert "Give both latitude and longitude, or neither." in body


def test_staff_employee_number_clash_is_said_in_words(brand, brand_admin, store):
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from retail import services

    a = Actor(user=brand_admin.user)
    services.staff_invite(
        brand=brand,
        manager=brand_admin,
        actor=a,
        name="甲",
        phone="13511110001",
        role="guide",
        store_ids=[store.pk],
        employee_no="E01",
    )
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        services.staff_invite(
            brand=brand,
            manager=brand_admin,
            actor=a,
            name="乙",
            phone="13511110002",
            role="guide",
            store_ids=[store.pk],
            employee_no="E01",
        )
    said = " ".join(m for ms in exc.value.message_dict.values() for m in ms)
    assert "staff_employee_no_unique_per_brand" not in said and "工号" in said


# ---------------------------------------------------------------------------- commission messages


@pytest.fixture
def commission(brand, brand_admin, guide):
    """A guide credited for an order of a member who gave no name; the push outbox emptied."""
    from guides.push import LogPush
    from tests.factories import ProductFactory, SkuFactory
    from tests.helpers.commission import LONG_AGO, external, join, on_the_books, rule

    on_the_books(guide)
    rule(brand, brand_admin, rate_bp=1000)
    sku = SkuFactory(
        brand=brand, product=ProductFactory(brand=brand, name="精华"), code="HA-50", list_price_fen=10000
    )
    member = join(brand, guide, phone="15812345678", name="", since=LONG_AGO)
    LogPush.outbox.clear()
    external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)])
    return member


def _note(brand, guide):
    from guides.models import Notification

    with brand_scope(brand):
        return Notification.objects.get(staff=guide, kind="commission")


def test_commission_notice_names_the_member_by_masked_phone_never_by_id(brand, guide, commission):
    from django.utils import translation

    from guides.services import notify

    notify.notify_commissions(brand=brand)
    note = _note(brand, guide)
    with translation.override("zh-hans"):
        assert note.message == "你从158****5678的订单获得佣金 ¥10.00。"
    with translation.override("en"):
        assert note.message == "You earned ¥10.00 from 158****5678."
    # an older notice kept only the member's id: it reads as "a shopper", not the id
    with translation.override("zh-hans"):
        from guides.notification_text import message

        text = message("commission", 500, {"orders": 1, "member_id": 30, "member": ""})
    assert text == "你从一位顾客的订单获得佣金 ¥5.00。"


def test_push_is_written_in_the_recipients_language(client, brand, guide, commission):
    from guides.push import LogPush
    from guides.services import notify

    notify.notify_commissions(brand=brand)
    zh = [p for p in LogPush.outbox if p["staff"] == guide.pk][-1]
    assert zh["title"] == "佣金" and zh["body"] == "你从158****5678的订单获得佣金 ¥10.00。", zh

    # the guide switches to English: the next push is in English
    login_as(client, guide)
    client.post("/i18n/setlang/", {"language": "en", "next": "/m/"})
    guide.user.refresh_from_db()
    assert guide.user.language == "en"
    from guides.services.notify import _push

    note = _note(brand, guide)
    LogPush.outbox.clear()
    _push(brand, [note])
    en = LogPush.outbox[-1]
    assert en["title"] == "Commission" and en["body"].startswith("You earned"), en


# ---------------------------------------------------------------------------- points history


def test_points_history_says_where_points_came_from(demo):
    """Orders by number, refunds by the order refunded, merges by the other member; the
    ledger's keys ("order:60", "refund:3", "merge:…") never show."""
    from cloudstore.models import Order
    from members.models import PointsEntry

    brand = demo["brand"]
    with brand_scope(brand):
        reversal = PointsEntry.objects.filter(source__startswith="refund:").first()
        refunded = (
            Order.objects.filter(refunds__pk=int(reversal.source.split(":")[1])).first() if reversal else None
        )
        kept = demo["shopper"]
        keys = list(PointsEntry.objects.filter(member=kept).values_list("source", flat=True))
    assert any(k.startswith("order:") for k in keys) and any(k.startswith("merge:") for k in keys)
    client = _client(demo, "admin", "zh-hans")
    text = visible_text(client.get(f"/dashboard/members/{kept.pk}/").content.decode())
    assert "合并转入" in text and "来自 " in text
    assert "订单 F" in text
    assert not re.search(r"\b(?:order|refund|merge):\d+", text)
    if reversal is not None:
        text = visible_text(client.get(f"/dashboard/members/{reversal.member_id}/").content.decode())
        assert f"订单 {refunded.number} 的退款" in text, text
    client = _client(demo, "admin", "en")
    text = visible_text(client.get(f"/dashboard/members/{kept.pk}/").content.decode())
    assert "From " in text and "Order F" in text


def test_ledger_check_findings_name_withdrawals_and_packets_not_ids(demo):
    from redpackets.models import Reconciliation, RedPacket, Withdrawal
    from redpackets.views.dashboard import problem_text

    brand = demo["brand"]
    with brand_scope(brand):
        w = Withdrawal.objects.first()
        packet = RedPacket.objects.first()
        Reconciliation.objects.create(brand=brand, ok=False)
        findings = [
            {"check": "provider_status", "withdrawal_id": w.pk, "ours": "pending", "theirs": "failed"},
            {"check": "packet_account", "packet_id": packet.pk, "balance_fen": 100, "expected": 50},
            {"check": "something_new", "x": 1},
        ]
        from django.utils import translation

        with translation.override("zh-hans"):
            texts = [problem_text(f) for f in findings]
    assert w.reference in texts[0] and "“处理中”" in texts[0] and f"#{w.pk}" not in texts[0]
    assert packet.greeting in texts[1] and f"#{packet.pk}" not in texts[1]
    assert "something_new" not in texts[2]
    for t in texts:
        assert not raw_codes(t, lang="zh-hans"), t
