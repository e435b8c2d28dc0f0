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
from tests.conftest import login_as
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
    """Words that look like codes but are what a person must type: the column names of the
    member import file (the page that explains the file lists them)."""
    from members.jobs import EXPORT_COLUMNS, IMPORT_COLUMNS

    return {"e.g", "i.e", *IMPORT_COLUMNS, *EXPORT_COLUMNS}


SCRIPT_STYLE = re.compile(r"<(script|style|template)\b.*?</\1\s*>", re.S | re.I)
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
    text = COMMENT.sub(" ", SCRIPT_STYLE.sub(" ", body))
    text = html.unescape(TAG.sub(" ", text))
    text = EMAIL.sub(" ", text)
    return URL.sub(" ", text)


def constraint_names() -> set[str]:
    names = set()
    for model in apps.get_models():
        for c in model._meta.constraints:
            names.add(c.name)
    return names


def raw_codes(text: str, extra: set[str] = frozenset()) -> list[str]:
    found, allowed = [], _allowed()
    for label, pattern in RAW.items():
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
    from cloudstore.services import inventory, orders, promotions
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
    cloud = orders.checkout(
        brand=brand,
        store=store,
        member=shopper,
        items=[(sku.pk, 1)],
        fulfilment=Order.Fulfilment.PICKUP,
        checkout_key="human-labels",
        recipient="李娜",
        phone="18800000001",
    )
    payment, _url = orders.payment_start(brand=brand, order=cloud)
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
def demo(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
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
            problems += [f"{url}: {p}" for p in raw_codes(visible_text(body), constraints)]
    return seen, problems


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_no_page_shows_a_raw_code(demo, lang):
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
