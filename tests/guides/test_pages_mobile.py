"""The guide's commission pages on the phone: my performance, a statement, notifications; and the
wallet record of a commission payment linking to its statement.

Assertions read data-testid hooks and English text (``translation.override("en")`` is what the
client gets with ``Accept-Language: en``), not the Chinese wording."""

from __future__ import annotations

import datetime
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from guides.models import Notification, Statement
from guides.services import settlement
from members import services as member_services
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import SkuFactory, StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.commission import external, join, refund, rule
from tests.helpers.packets import top_up

pytestmark = pytest.mark.django_db


class _TestIds(HTMLParser):
    """Collects the text of every element that has a data-testid (nested ones included)."""

    VOID = {"br", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, str | None]] = []
        self.texts: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        name = dict(attrs).get("data-testid")
        self.open.append((tag, name))
        if name is not None:
            self.texts.setdefault(name, [])

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _tag, name in self.open:
            if name is not None and self.texts.get(name) is not None:
                self.texts[name].append(data)


def by_testid(html: str, name: str) -> str:
    """The text inside the (first) element with ``data-testid=name``, whitespace collapsed."""
    parser = _TestIds()
    parser.feed(html)
    assert name in parser.texts, f"no data-testid={name}"
    return " ".join("".join(parser.texts[name]).split())


def login(client, staff):
    """Log in, reading the pages in English (the language cookie the switcher sets)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return login_as(client, staff)


@pytest.fixture
def sales(brand, brand_admin, guide, store, sku):
    """This month for ``guide`` (10 %): a ¥299.00 flagship order and a ¥100.00 till order by 李娜,
    then ¥50.00 of the till order refunded."""
    rule(brand, brand_admin, rate_bp=1000)
    member = join(brand, guide, name="李娜")
    online = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 29900)])
    offline = external(brand, brand_admin, "pos", member=member, store=store, lines=[(sku, 1, 10000)])
    refund(brand, brand_admin, offline, amount_fen=5000)
    return {"member": member, "online": online, "offline": offline}


def close_period(brand, label="2025-05"):
    """Close a period that ends now: every entry so far goes on a statement."""
    now = timezone.now()
    return settlement.period_close(
        brand=brand, start=now - datetime.timedelta(days=30), end=now, label=label, now=now
    )


def statement_of(brand, guide) -> Statement:
    with brand_scope(brand):
        return Statement.objects.select_related("period").get(guide=guide)


# --- my performance -----------------------------------------------------------------------------


def test_performance_shows_the_months_figures(client, brand, guide, sales):
    login(client, guide)
    r = client.get(reverse("performance"))
    assert r.status_code == 200
    html = r.content.decode()
    assert by_testid(html, "sales-online") == "¥299.00"
    assert by_testid(html, "sales-offline") == "¥50.00"  # refunds are taken off
    assert by_testid(html, "sales-total") == "¥349.00"
    assert by_testid(html, "orders-month") == "2 orders"
    assert by_testid(html, "earned-month") == "¥39.90"  # 29.90 + 10.00
    assert by_testid(html, "clawback-month") == "-¥5.00"
    assert by_testid(html, "unsettled") == "¥34.90"
    assert by_testid(html, "members-recruited") == "1"
    assert by_testid(html, "members-recruited-month") == "1"
    assert by_testid(html, "members-now") == "1"
    # The bar: 299 of 349 online is 86 %.
    assert 'class="on" style="width: 86%"' in html and 'class="off" style="width: 14%"' in html
    # Latest entries: the clawback first, each with the member and the order number.
    recent = html[html.index('data-testid="recent"') :]
    assert recent.index('data-kind="clawback"') < recent.index('data-kind="earn"')
    assert "李娜" in recent and sales["online"].number in recent and sales["offline"].number in recent
    assert "+29.90" in recent and "-5.00" in recent
    assert 'data-testid="statements-empty"' in html
    # The bell shows the unread notifications (commission earned, commission taken back).
    with brand_scope(guide.brand):
        unread = Notification.objects.filter(staff=guide, read_at__isnull=True).count()
    assert unread >= 2
    assert by_testid(html, "unread-badge") == str(unread)


def test_a_new_guide_sees_empty_states(client, brand, store):
    newbie = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="新人")
    login(client, newbie)
    html = client.get(reverse("performance")).content.decode()
    assert by_testid(html, "earned-month") == "¥0.00"
    assert by_testid(html, "sales-total") == "¥0.00"
    assert by_testid(html, "members-recruited") == "0"
    assert 'data-testid="recent-empty"' in html and 'data-testid="statements-empty"' in html
    assert 'data-testid="unread-badge"' not in html
    assert "No commission yet" in html


def test_only_my_own_figures(client, brand, guide, sales, store):
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="赵敏")
    login(client, other)
    html = client.get(reverse("performance")).content.decode()
    assert by_testid(html, "earned-month") == "¥0.00"
    assert "李娜" not in html


def test_members_handed_over_count_for_the_new_guide_now(client, brand, brand_admin, guide, store):
    join(brand, guide)
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    member_services.members_handover(
        brand=brand, manager=brand_admin, actor=Actor.system(), from_guide=guide, to_guide=other
    )
    login(client, guide)
    html = client.get(reverse("performance")).content.decode()
    assert (by_testid(html, "members-recruited"), by_testid(html, "members-now")) == ("1", "0")


@pytest.mark.parametrize("role", ["store_manager", "brand_admin"])
def test_managers_and_admins_see_their_own_performance(client, request, role):
    login(client, request.getfixturevalue(role))
    r = client.get(reverse("performance"))
    assert r.status_code == 200 and 'data-testid="commission-month"' in r.content.decode()


def test_pages_need_a_login(client, guide):
    for url in (reverse("performance"), reverse("notifications"), reverse("performance-statement", args=[1])):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/")
    r = client.post(reverse("notifications"))
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_performance_query_count_does_not_grow_with_entries(
    client, brand, brand_admin, guide, store, sku, django_assert_max_num_queries
):
    rule(brand, brand_admin, rate_bp=1000)
    member = join(brand, guide)
    for _ in range(3):
        external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)])
    close_period(brand)
    for _ in range(3):
        external(brand, brand_admin, "pos", member=member, store=store, lines=[(sku, 1, 10000)])
    login(client, guide)
    client.get(reverse("performance"))  # warm the session and caches
    # 25: the page, plus one for the 消息 tab's unread badge in the tab bar.
    with django_assert_max_num_queries(25) as ctx:
        r = client.get(reverse("performance"))
    assert r.status_code == 200
    few = len(ctx.captured_queries)
    for _ in range(5):
        external(brand, brand_admin, "flagship", member=join(brand, guide), lines=[(sku, 1, 10000)])
    with django_assert_max_num_queries(few):
        assert client.get(reverse("performance")).status_code == 200


def test_performance_refuses_writes(client, guide):
    login(client, guide)
    assert client.post(reverse("performance")).status_code == 405


# --- a statement --------------------------------------------------------------------------------


def test_statement_shows_figures_status_and_entries(client, brand, guide, sales):
    close_period(brand, label="2025-05")
    st = statement_of(brand, guide)
    login(client, guide)
    r = client.get(reverse("performance-statement", args=[st.pk]))
    assert r.status_code == 200
    html = r.content.decode()
    assert by_testid(html, "statement-period") == "2025-05"
    assert by_testid(html, "fig-orders") == "2"
    assert by_testid(html, "fig-sales") == "¥349.00"  # net of the refund, as on the performance page
    assert by_testid(html, "fig-earned") == "¥39.90"
    assert by_testid(html, "fig-clawback") == "-¥5.00"
    assert by_testid(html, "fig-total") == "¥34.90"
    assert 'data-status="pending"' in html and 'data-testid="statement-pending"' in html
    entries = html[html.index('data-testid="statement-entries"') :]
    assert entries.count('class="cm-entry"') == 3
    assert sales["offline"].number in entries
    # It is listed on my performance page, with its total and a link.
    html = client.get(reverse("performance")).content.decode()
    assert reverse("performance-statement", args=[st.pk]) in html
    assert by_testid(html, "statement-total") == "¥34.90"
    assert by_testid(html, "unsettled") == "¥0.00"


def test_held_statement_shows_the_reason(client, brand, brand_admin, guide, sales):
    close_period(brand)
    st = statement_of(brand, guide)
    settlement.statement_hold(
        brand=brand, staff=brand_admin, actor=Actor.system(), statement=st, reason="核对退货单"
    )
    login(client, guide)
    html = client.get(reverse("performance-statement", args=[st.pk])).content.decode()
    assert 'data-status="held"' in html
    assert by_testid(html, "hold-reason") == "Reason: 核对退货单"


def test_debt_carried_to_the_next_statement(client, brand, brand_admin, guide, sales):
    close_period(brand, label="2025-04")
    # The online order is refunded in full after settlement: more taken back than earned since.
    refund(brand, brand_admin, sales["online"], amount_fen=29900)
    settlement.period_close(
        brand=brand,
        start=statement_of(brand, guide).period.end,
        end=timezone.now(),
        label="2025-05",
        now=timezone.now(),
    )
    with brand_scope(brand):
        st = Statement.objects.get(guide=guide, period__label="2025-05")
    login(client, guide)
    html = client.get(reverse("performance-statement", args=[st.pk])).content.decode()
    assert 'data-status="nothing"' in html
    assert by_testid(html, "fig-clawback") == "-¥29.90"
    assert by_testid(html, "fig-carried-out") == "¥29.90"
    assert by_testid(html, "fig-total") == "¥0.00"
    assert "¥29.90 is taken off your next statement" in html


def test_someone_elses_statement_is_404(client, brand, guide, sales, store):
    close_period(brand)
    st = statement_of(brand, guide)
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    login(client, other)
    assert client.get(reverse("performance-statement", args=[st.pk])).status_code == 404
    # Not even a brand admin sees someone else's statement on this page (they have the dashboard).
    admin = StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN)
    login(client, admin)
    assert client.get(reverse("performance-statement", args=[st.pk])).status_code == 404


def test_another_brands_statement_is_404(client, brand, guide, other_brand, other_admin):
    other_store = StoreFactory(brand=other_brand, code="HZ009")
    other_guide = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store])
    rule(other_brand, other_admin, rate_bp=1000)
    sku = SkuFactory(brand=other_brand, code="OB-1")
    external(
        other_brand, other_admin, "flagship", member=join(other_brand, other_guide), lines=[(sku, 1, 10000)]
    )
    close_period(other_brand)
    theirs = statement_of(other_brand, other_guide)
    login(client, guide)
    assert client.get(reverse("performance-statement", args=[theirs.pk])).status_code == 404
    login(client, other_guide)  # the owner does see it
    assert client.get(reverse("performance-statement", args=[theirs.pk])).status_code == 200


def test_paid_statement_links_to_the_packet_and_the_wallet_record_links_back(
    client, brand, brand_admin, guide, sales
):
    top_up(brand, brand_admin, 100_000)
    period = close_period(brand)
    settlement.period_approve(brand=brand, staff=brand_admin, actor=Actor.system(), period=period)
    settlement.period_pay(brand=brand, period=period)  # (the approval's task has paid it already)
    st = statement_of(brand, guide)
    assert st.status == "paid" and st.packet_id
    login(client, guide)
    html = client.get(reverse("performance-statement", args=[st.pk])).content.decode()
    assert 'data-status="paid"' in html
    assert reverse("m-wallet-packet", args=[st.packet_id]) in html
    assert client.get(reverse("m-wallet-packet", args=[st.packet_id])).status_code == 200
    # The wallet record of that payment links to the statement.
    records = client.get(reverse("m-wallet-records")).content.decode()
    assert f'href="{reverse("performance-statement", args=[st.pk])}"' in records
    assert f'data-testid="record-statement-{st.pk}"' in records
    # ... and so does the API's record.
    api = client.get("/api/v1/wallet/records/").json()
    assert [row["statement_id"] for row in api["results"]] == [st.pk]
    # The statement-paid notification links to it too.
    with brand_scope(brand):
        note = Notification.objects.get(staff=guide, kind="statement")
    assert note.link == reverse("performance-statement", args=[st.pk])


# --- notifications ------------------------------------------------------------------------------


def test_notifications_list_and_mark_read(client, brand, guide, sales):
    login(client, guide)
    r = client.get(reverse("notifications"))
    assert r.status_code == 200
    html = r.content.decode()
    with brand_scope(brand):
        notes = list(Notification.objects.filter(staff=guide))
    assert notes and all(f'data-testid="notification-{n.pk}"' in html for n in notes)
    # One notification per order: 10 % of the ¥299.00 flagship order and of the ¥100.00 till order.
    assert "You earned ¥29.90 from 李娜." in html and "You earned ¥10.00 from 李娜." in html
    assert "of commission was taken back: order" in html
    assert 'data-read="0"' in html and 'data-testid="mark-read"' in html
    assert f'href="{reverse("performance")}"' in html

    r = client.post(reverse("notifications"))
    assert r.status_code == 302 and r["Location"] == reverse("notifications")
    with brand_scope(brand):
        assert not Notification.objects.filter(staff=guide, read_at__isnull=True).exists()
    html = client.get(reverse("notifications")).content.decode()
    assert 'data-read="0"' not in html and 'data-testid="mark-read"' not in html
    html = client.get(reverse("performance")).content.decode()
    assert 'data-testid="unread-badge"' not in html


def test_marking_read_touches_only_my_notifications(client, brand, guide, sales, store):
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    with brand_scope(brand):
        Notification.objects.create(brand=brand, staff=other, kind="commission", amount_fen=100, data={})
    login(client, guide)
    client.post(reverse("notifications"))
    with brand_scope(brand):
        assert Notification.objects.filter(staff=other, read_at__isnull=True).count() == 1
    # ... and I never see theirs.
    login(client, guide)
    with brand_scope(brand):
        theirs = Notification.objects.get(staff=other)
    html = client.get(reverse("notifications")).content.decode()
    assert f'data-testid="notification-{theirs.pk}"' not in html


def test_mark_read_needs_the_csrf_token(brand, guide, sales):
    from django.test import Client

    client = login_as(Client(enforce_csrf_checks=True), guide)
    assert client.post(reverse("notifications")).status_code == 403
    with brand_scope(brand):
        assert Notification.objects.filter(staff=guide, read_at__isnull=True).exists()


def test_no_notifications_empty_state(client, guide):
    login(client, guide)
    html = client.get(reverse("notifications")).content.decode()
    assert 'data-testid="notifications-empty"' in html and 'data-testid="mark-read"' not in html


@pytest.mark.parametrize("link", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_a_foreign_link_is_not_followed(client, brand, guide, link):
    with brand_scope(brand):
        n = Notification.objects.create(
            brand=brand, staff=guide, kind="commission", amount_fen=100, data={}, link=link
        )
    login(client, guide)
    html = client.get(reverse("notifications")).content.decode()
    assert f'data-testid="notification-{n.pk}"' in html and "evil.example" not in html


# --- entries on the home and me tabs ------------------------------------------------------------


def test_home_and_me_link_to_my_performance_with_the_unread_count(client, brand, guide, sales):
    with brand_scope(brand):
        unread = Notification.objects.filter(staff=guide, read_at__isnull=True).count()
    login(client, guide)
    for name in ("home", "me-tab"):
        html = client.get(reverse(name)).content.decode()
        assert f'href="{reverse("performance")}"' in html
        assert f'data-testid="performance-unread"><span aria-hidden="true">{unread}</span>' in html
    client.post(reverse("notifications"))
    html = client.get(reverse("home")).content.decode()
    assert 'data-testid="performance-unread"' not in html
