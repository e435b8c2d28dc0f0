"""The red packet pages of the brand dashboard: the pool with top-ups through the simulated cashier,
records, CSV export and the ledger check; sending; the packets; staff wallets; the limits.

Assertions read data-testid hooks and form errors, not wording (the Chinese comes separately)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from redpackets.models import Account, PacketRecipient, Reconciliation, RedPacket, Settings, TopUp, Withdrawal
from redpackets.services import funding, withdrawals
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.packets import balance, bind, claim, fill_wallet, send, top_up
from tests.helpers.pages import count, csv_rows, key

POOL = reverse("dash-rp-pool")
SEND = reverse("dash-rp-send")
PACKETS = reverse("dash-rp-packets")
WALLETS = reverse("dash-rp-wallets")
SETTINGS = reverse("dash-rp-settings")
EXPORT = reverse("dash-rp-pool-export")
RECONCILE = reverse("dash-rp-reconcile")


@pytest.fixture
def packet(funded, brand, brand_admin, guides):
    """A fixed packet of ¥8.88 each to two guides, one of whom claimed."""
    p = send(brand, brand_admin, guides[:2], amount_each_fen=888)
    claim(brand, guides[0], p)
    return p


# --- who may see what -----------------------------------------------------------------------------


def test_every_page_opens_for_a_brand_admin(client, brand, brand_admin, packet, guides):
    login_as(client, brand_admin)
    for url in (
        POOL,
        SEND,
        PACKETS,
        reverse("dash-rp-packet", args=[packet.pk]),
        WALLETS,
        reverse("dash-rp-wallet", args=[guides[0].pk]),
        SETTINGS,
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"redpackets-dash.css" in response.content, url
        assert b'data-testid="nav-redpackets"' in response.content, url
    for url in (EXPORT, reverse("dash-rp-wallet-export", args=[guides[0].pk])):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/csv")


def test_guides_are_refused_everywhere(client, brand, guide, packet):
    login_as(client, guide)
    urls = [
        POOL,
        SEND,
        PACKETS,
        reverse("dash-rp-packet", args=[packet.pk]),
        WALLETS,
        reverse("dash-rp-wallet", args=[guide.pk]),
        reverse("dash-rp-wallet-export", args=[guide.pk]),
        SETTINGS,
        EXPORT,
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(POOL, {"amount": "10", "key": key()}).status_code == 403
    assert client.post(RECONCILE).status_code == 403
    assert client.post(SEND, {"kind": "fixed", "audience": "person", "person": guide.pk}).status_code == 403
    assert count(brand, TopUp) == 1  # the fixture's own
    assert count(brand, Reconciliation) == 0


def test_store_managers_send_and_follow_packets_but_not_the_pool(
    client, brand, store_manager, packet, guides
):
    login_as(client, store_manager)
    for url in (POOL, WALLETS, reverse("dash-rp-wallet", args=[guides[0].pk]), SETTINGS, EXPORT):
        assert client.get(url).status_code == 403, url
    assert client.post(RECONCILE).status_code == 403
    assert client.get(SEND).status_code == 200
    assert client.get(PACKETS).status_code == 200
    # The admin's packet to two guides is not the manager's, even inside their store.
    assert client.get(reverse("dash-rp-packet", args=[packet.pk])).status_code == 404


def test_another_brands_packets_and_staff_are_not_found(
    client, brand, brand_admin, other_brand, other_admin, funded
):
    other_guide = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, name="别家导购")
    top_up(other_brand, other_admin, 10_000)
    theirs = send(other_brand, other_admin, [other_guide], amount_each_fen=100)
    login_as(client, brand_admin)
    assert client.get(reverse("dash-rp-packet", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("dash-rp-wallet", args=[other_guide.pk])).status_code == 404
    assert client.get(reverse("dash-rp-wallet-export", args=[other_guide.pk])).status_code == 404
    listing = client.get(PACKETS).content.decode()
    assert f'data-testid="packet-{theirs.pk}"' not in listing


# --- the pool and top-ups -------------------------------------------------------------------------


def test_a_top_up_goes_through_the_cashier_and_lands_in_the_pool(client, brand, brand_admin):
    login_as(client, brand_admin)
    assert client.get(POOL).context["overview"]["pool_fen"] == 0
    response = client.post(POOL, {"amount": "1,234.56", "key": key()})
    with brand_scope(brand):
        topup = TopUp.objects.get()
    assert topup.amount_fen == 123456 and topup.status == TopUp.Status.PENDING
    assert response.status_code == 302 and response["Location"] == topup.pay_url

    cashier = client.get(topup.pay_url)
    assert cashier.status_code == 200 and b'data-testid="sim-pay"' in cashier.content
    paid = client.post(topup.pay_url, {"action": "pay"})
    assert paid.status_code == 302 and paid["Location"] == POOL

    page = client.get(POOL)
    assert page.context["overview"]["pool_fen"] == 123456
    assert "¥1,234.56" in page.content.decode()
    assert [t.status for t in page.context["topups"]] == [TopUp.Status.SUCCEEDED]
    assert [r.amount_fen for r in page.context["records"]] == [123456]


def test_a_double_submitted_top_up_is_started_once(client, brand, brand_admin):
    login_as(client, brand_admin)
    form = {"amount": "500", "key": key()}
    first = client.post(POOL, form)
    second = client.post(POOL, form)
    assert count(brand, TopUp) == 1
    assert first["Location"] == second["Location"]
    # Once paid, sending the same form again starts nothing and says so.
    client.post(first["Location"], {"action": "pay"})
    third = client.post(POOL, form)
    assert third.status_code == 302 and third["Location"] == POOL
    assert count(brand, TopUp) == 1
    assert balance(brand, Account.Kind.POOL) == 50000


def test_the_same_key_with_another_amount_is_refused_with_a_fresh_key(client, brand, brand_admin):
    login_as(client, brand_admin)
    k = key()
    client.post(POOL, {"amount": "500", "key": k})
    response = client.post(POOL, {"amount": "600", "key": k})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    assert response.context["form"]["key"].value() != k
    assert count(brand, TopUp) == 1


@pytest.mark.parametrize(
    "amount",
    ["", "abc", "1.234", "-5", "0", "0.00", "1000000.01", "99999999999999", "1e5", "NaN", "Infinity"],
)
def test_bad_top_up_amounts_are_form_errors(client, brand, brand_admin, amount):
    login_as(client, brand_admin)
    response = client.post(POOL, {"amount": amount, "key": key()})
    assert response.status_code == 400
    assert response.context["form"].errors.get("amount")
    assert count(brand, TopUp) == 0


def test_a_top_up_without_its_key_is_refused(client, brand, brand_admin):
    login_as(client, brand_admin)
    for bad in ("", "not-a-uuid"):
        assert client.post(POOL, {"amount": "5", "key": bad}).status_code == 400
    assert count(brand, TopUp) == 0


def test_the_pool_shows_where_the_money_is_and_pages_its_records(
    client, brand, brand_admin, funded, guides, payout_sim
):
    fill_wallet(brand, brand_admin, guides[0], 5000)
    send(brand, brand_admin, guides[1:3], amount_each_fen=300)
    bind(brand, guides[0])
    withdrawals.withdrawal_request(brand=brand, staff=guides[0], amount_fen=1000, key="w1", fingerprint="w1")
    for i in range(25):
        send(brand, brand_admin, [guides[3]], amount_each_fen=1, key=f"many-{i}")
    login_as(client, brand_admin)
    page = client.get(POOL)
    where = {w["key"]: w["fen"] for w in page.context["where"]}
    assert sum(where.values()) == page.context["overview"]["topped_up_fen"] == 1_000_000
    assert where["packets"] == 600 + 25 and where["wallets"] == 4000
    assert where["withdrawing"] + where["paid"] == 1000
    first = page.context["records"]
    assert len(first) == 20 and first[0].amount_fen == -1
    older = page.context["records_older"]
    assert older == first[-1].id
    rest = client.get(POOL, {"before": older}).context["records"]
    assert len(rest) == 8  # 28 pool movements: the top-up, 27 packets
    assert rest[-1].amount_fen == 1_000_000
    assert client.get(POOL, {"before": "x"}).status_code == 200


def test_the_pool_exports_its_records_as_csv(client, brand, brand_admin, funded, guides):
    send(brand, brand_admin, [guides[0]], amount_each_fen=1234)
    login_as(client, brand_admin)
    response = client.get(EXPORT)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"] and ".csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert len(rows[0]) == 7  # time, type, what, details, amount, balance after, transaction
    assert [r[4] for r in rows[1:]] == ["-12.34", "10000.00"]
    assert [r[5] for r in rows[1:]] == ["9987.66", "10000.00"]


def test_running_the_ledger_check_records_a_run(client, brand, brand_admin, funded):
    login_as(client, brand_admin)
    response = client.post(RECONCILE)
    assert response.status_code == 302 and response["Location"] == POOL + "#reconciliation"
    with brand_scope(brand):
        run = Reconciliation.objects.get()
    assert run.ok
    page = client.get(POOL)
    assert page.context["run"] == run
    assert b'data-testid="reconcile-ok"' in page.content


def test_a_failed_ledger_check_lists_its_problems_in_words(client, brand, brand_admin):
    with brand_scope(brand):
        Reconciliation.objects.create(
            brand=brand,
            ok=False,
            problems=[
                {"check": "balances_sum_to_zero", "total_fen": 150},
                {"check": "packet_account", "packet_id": 7, "balance_fen": 100, "expected": 50},
                {"check": "provider_status", "withdrawal_id": 3, "ours": "succeeded", "theirs": None},
                {"check": "something_new", "x": 1},
            ],
        )
    login_as(client, brand_admin)
    page = client.get(POOL, HTTP_ACCEPT_LANGUAGE="en")
    problems = page.context["problems"]
    assert len(problems) == 4
    assert "¥1.50" in problems[0] and "#7" not in problems[1] and "¥0.50" in problems[1]
    assert "something_new" not in problems[3] and "succeeded" not in problems[2]
    assert b'data-testid="reconcile-problems"' in page.content


# --- sending --------------------------------------------------------------------------------------


def send_form(**data) -> dict:
    form = {
        "kind": "fixed",
        "audience": "person",
        "amount_each": "",
        "total": "",
        "shares": "",
        "greeting": "辛苦了",
        "expires_in_hours": "24",
        "key": key(),
    }
    form.update(data)
    return form


def test_a_fixed_packet_to_one_person(client, brand, brand_admin, funded, guides):
    login_as(client, brand_admin)
    response = client.post(SEND, send_form(person=guides[0].pk, amount_each="6.66"))
    with brand_scope(brand):
        packet = RedPacket.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dash-rp-packet", args=[packet.pk])
    assert (packet.kind, packet.audience, packet.total_fen, packet.shares) == ("fixed", "person", 666, 1)
    assert packet.key == f"page:{brand_admin.pk}:" + packet.key.split(":")[-1]
    page = client.get(response["Location"])
    assert page.status_code == 200 and page.context["recipients"][0]["name"] == guides[0].name


def test_a_lucky_packet_to_a_store_with_fewer_shares(client, brand, brand_admin, store, funded, guides):
    login_as(client, brand_admin)
    response = client.post(
        SEND,
        send_form(
            kind="lucky", audience="store", store=store.pk, total="100", shares="3", expires_in_hours="2"
        ),
    )
    assert response.status_code == 302
    with brand_scope(brand):
        packet = RedPacket.objects.get()
        assert PacketRecipient.objects.filter(packet=packet).count() == 5
    assert (packet.kind, packet.store_id, packet.total_fen, packet.shares) == ("lucky", store.pk, 10000, 3)
    assert (packet.expires_at - packet.created_at).total_seconds() == 2 * 3600
    assert balance(brand, Account.Kind.POOL) == 1_000_000 - 10000


def test_a_group_packet_to_chosen_people(client, brand, brand_admin, funded, guides):
    login_as(client, brand_admin)
    response = client.post(
        SEND, send_form(audience="group", people=[guides[1].pk, guides[2].pk], amount_each="1")
    )
    assert response.status_code == 302
    with brand_scope(brand):
        packet = RedPacket.objects.get()
        names = set(PacketRecipient.objects.filter(packet=packet).values_list("staff_id", flat=True))
    assert names == {guides[1].pk, guides[2].pk} and packet.total_fen == 200


def test_a_double_submitted_send_form_sends_once(client, brand, brand_admin, funded, guides):
    login_as(client, brand_admin)
    form = send_form(person=guides[0].pk, amount_each="10")
    first = client.post(SEND, form)
    second = client.post(SEND, form)
    assert first["Location"] == second["Location"]
    assert count(brand, RedPacket) == 1
    assert balance(brand, Account.Kind.POOL) == 1_000_000 - 1000


@pytest.mark.parametrize(
    "data, field",
    [
        ({"amount_each": "1.234"}, "amount_each"),
        ({"amount_each": "-1"}, "amount_each"),
        ({"amount_each": "abc"}, "amount_each"),
        ({"amount_each": ""}, "amount_each"),
        ({"amount_each": "99999999999"}, "amount_each"),
        ({"amount_each": "201"}, "amount_each"),  # above the ¥200 share cap
        ({"kind": "lucky", "total": ""}, "total"),
        ({"kind": "odd"}, "kind"),
        ({"audience": "everyone"}, "audience"),
        ({"person": ""}, "person"),
        ({"person": "abc"}, "person"),
        ({"shares": "0"}, "shares"),
        ({"shares": "2"}, "shares"),  # more shares than people
        ({"expires_in_hours": "0"}, "expires_in_hours"),
        ({"expires_in_hours": "721"}, "expires_in_hours"),
        ({"greeting": "长" * 61}, "greeting"),
    ],
)
def test_bad_send_input_is_a_form_error_and_sends_nothing(
    client, brand, brand_admin, funded, guides, data, field
):
    login_as(client, brand_admin)
    form = send_form(person=guides[0].pk, amount_each="1")
    form.update(data)
    response = client.post(SEND, form)
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert b"field-error" in response.content
    assert count(brand, RedPacket) == 0


def test_another_brands_people_and_stores_cannot_be_chosen(
    client, brand, brand_admin, other_brand, funded, guides
):
    their_store = StoreFactory(brand=other_brand, code="X1", name="别家门店")
    their_guide = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[their_store])
    login_as(client, brand_admin)
    cases = [
        (send_form(person=their_guide.pk, amount_each="1"), "person"),
        (send_form(audience="group", people=[guides[0].pk, their_guide.pk], amount_each="1"), "people"),
        (send_form(audience="store", store=their_store.pk, amount_each="1"), "store"),
    ]
    for form, field in cases:
        response = client.post(SEND, form)
        assert response.status_code == 400
        assert response.context["form"].errors.get(field)
    assert count(brand, RedPacket) == 0


def test_service_refusals_land_on_the_right_field(client, brand, brand_admin, guides):
    top_up(brand, brand_admin, 500)  # ¥5 in the pool
    login_as(client, brand_admin)
    response = client.post(SEND, send_form(person=guides[0].pk, amount_each="6"))
    assert response.status_code == 400
    assert response.context["form"].errors["amount_each"]  # the pool is short
    response = client.post(
        SEND, send_form(kind="lucky", audience="group", people=[g.pk for g in guides[:2]], total="6")
    )
    assert response.context["form"].errors["total"]
    assert count(brand, RedPacket) == 0


def test_a_store_manager_sends_only_to_their_stores(client, brand, store, store_manager, funded, guides):
    elsewhere = StoreFactory(brand=brand, code="BJ9", name="北京店")
    outsider = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[elsewhere])
    login_as(client, store_manager)
    page = client.get(SEND)
    assert [v for v, _label in page.context["form"].fields["store"].choices if v] == [store.pk]
    people = {v for v, _label in page.context["form"].fields["people"].choices}
    assert outsider.pk not in people and guides[0].pk in people
    assert (
        client.post(SEND, send_form(audience="store", store=elsewhere.pk, amount_each="1")).status_code == 400
    )
    assert client.post(SEND, send_form(person=outsider.pk, amount_each="1")).status_code == 400
    assert count(brand, RedPacket) == 0
    ok = client.post(SEND, send_form(audience="store", store=store.pk, amount_each="1"))
    assert ok.status_code == 302
    with brand_scope(brand):
        packet = RedPacket.objects.get()
    assert packet.sender_id == store_manager.pk
    # The manager sees it in the list and opens it.
    listing = client.get(PACKETS)
    assert [p.pk for p in listing.context["page"].object_list] == [packet.pk]
    assert client.get(ok["Location"]).status_code == 200


def test_the_send_page_shows_the_pool_and_the_limits(client, brand, brand_admin, funded, guides):
    send(brand, brand_admin, [guides[0]], amount_each_fen=2500)
    login_as(client, brand_admin)
    page = client.get(SEND)
    assert page.context["pool_fen"] == 1_000_000 - 2500
    assert page.context["sent_today_fen"] == 2500
    assert page.context["left_today_fen"] == 2_000_000 - 2500
    assert page.context["form"]["expires_in_hours"].value() == 24
    content = page.content.decode()
    assert "¥9,975.00" in content and "¥5,000.00" in content  # pool; largest packet


# --- packets --------------------------------------------------------------------------------------


def test_the_packet_list_filters_by_status(client, brand, brand_admin, funded, guides):
    open_one = send(brand, brand_admin, guides[:2], amount_each_fen=100)
    done = send(brand, brand_admin, [guides[2]], amount_each_fen=100)
    claim(brand, guides[2], done)
    login_as(client, brand_admin)
    everything = client.get(PACKETS)
    assert [p.pk for p in everything.context["page"].object_list] == [done.pk, open_one.pk]
    row = everything.context["page"].object_list[1]
    assert row.recipient_count == 2
    assert everything.context["page"].object_list[0].recipient_name == guides[2].name
    finished = client.get(PACKETS, {"status": "finished"})
    assert [p.pk for p in finished.context["page"].object_list] == [done.pk]
    assert client.get(PACKETS, {"status": "bogus"}).status_code == 200
    assert client.get(PACKETS, {"page": "999"}).status_code == 200


def test_the_packet_page_shows_claims_and_who_is_waiting(client, brand, brand_admin, packet, guides):
    login_as(client, brand_admin)
    page = client.get(reverse("dash-rp-packet", args=[packet.pk]))
    assert [c["name"] for c in page.context["claims"]] == [guides[0].name]
    assert {r["name"]: r["claimed"] for r in page.context["recipients"]} == {
        guides[0].name: True,
        guides[1].name: False,
    }
    assert b'data-testid="packet-status"' in page.content


# --- staff wallets --------------------------------------------------------------------------------


def test_the_wallet_list_searches_and_shows_balances(client, brand, brand_admin, funded, guides, payout_sim):
    fill_wallet(brand, brand_admin, guides[0], 1200)
    fill_wallet(brand, brand_admin, guides[1], 3400)
    bind(brand, guides[1])
    withdrawals.withdrawal_request(brand=brand, staff=guides[1], amount_fen=400, key="w", fingerprint="w")
    login_as(client, brand_admin)
    page = client.get(WALLETS)
    rows = list(page.context["page"].object_list)
    assert rows[0] == guides[1] and rows[0].has_payout_account
    assert rows[1].balance_fen == 1200
    found = client.get(WALLETS, {"q": guides[0].name})
    assert [s.pk for s in found.context["page"].object_list] == [guides[0].pk]
    by_name = client.get(WALLETS, {"order": "name"})
    names = [s.name for s in by_name.context["page"].object_list]
    assert names == sorted(names)


def test_a_staff_wallet_page_and_its_export(client, brand, brand_admin, funded, guides, payout_sim):
    claim(
        brand,
        guides[0],
        send(brand, brand_admin, [guides[0]], amount_each_fen=2000, greeting="=HYPERLINK(1)"),
    )
    bound = bind(brand, guides[0], account_no="13912345678")
    withdrawals.withdrawal_request(brand=brand, staff=guides[0], amount_fen=500, key="w", fingerprint="w")
    login_as(client, brand_admin)
    page = client.get(reverse("dash-rp-wallet", args=[guides[0].pk]))
    assert page.context["o"]["balance_fen"] == 1500
    content = page.content.decode()
    assert bound.masked in content and "13912345678" not in content
    assert len(page.context["withdrawals"]) == 1
    assert [r.amount_fen for r in page.context["records"]][-1] == 2000
    rows = csv_rows(client.get(reverse("dash-rp-wallet-export", args=[guides[0].pk])))
    assert rows[-1][4] == "20.00" and rows[1][4] == "-5.00"
    assert rows[-1][3] == "'=HYPERLINK(1)"  # a formula-looking greeting stays text
    # Someone without a wallet yet: an empty page and a header-only export.
    page = client.get(reverse("dash-rp-wallet", args=[guides[4].pk]))
    assert page.status_code == 200 and page.context["records"] == []
    assert len(csv_rows(client.get(reverse("dash-rp-wallet-export", args=[guides[4].pk])))) == 1


# --- limits ---------------------------------------------------------------------------------------


def settings_form(**data) -> dict:
    form = {
        "packet_max": "5000.00",
        "share_max": "200.00",
        "daily_send_max": "20000",
        "max_shares": "2000",
        "default_expiry_hours": "24",
        "withdraw_min": "1",
        "withdraw_daily_max": "5000",
        "withdraw_daily_count": "10",
    }
    form.update(data)
    return form


def test_the_limits_are_shown_in_yuan_and_saved_in_fen(client, brand, brand_admin):
    login_as(client, brand_admin)
    page = client.get(SETTINGS)
    assert page.context["form"]["packet_max"].value() == "5000.00"
    response = client.post(
        SETTINGS, settings_form(packet_max="8888.88", share_max="66.6", default_expiry_hours="48")
    )
    assert response.status_code == 302
    with brand_scope(brand):
        row = Settings.objects.get()
    assert (row.packet_max_fen, row.share_max_fen, row.default_expiry_hours) == (888888, 6660, 48)
    assert client.get(SEND).context["form"]["expires_in_hours"].value() == 48


@pytest.mark.parametrize(
    "data, field",
    [
        ({"packet_max": "1.234"}, "packet_max"),
        ({"packet_max": "0"}, "packet_max"),
        ({"packet_max": "-1"}, "packet_max"),
        ({"packet_max": "abc"}, "packet_max"),
        ({"packet_max": "100000000.01"}, "packet_max"),
        ({"share_max": "6000"}, "share_max"),  # above the largest packet
        ({"max_shares": "0"}, "max_shares"),
        ({"max_shares": "1.5"}, "max_shares"),
        ({"default_expiry_hours": "721"}, "default_expiry_hours"),
        ({"withdraw_daily_count": "1001"}, "withdraw_daily_count"),
        ({"withdraw_min": "6000"}, "withdraw_min"),
    ],
)
def test_bad_limits_are_field_errors_and_change_nothing(client, brand, brand_admin, data, field):
    login_as(client, brand_admin)
    client.get(SETTINGS)
    response = client.post(SETTINGS, settings_form(**data))
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    with brand_scope(brand):
        row = Settings.objects.get()
    assert (row.packet_max_fen, row.max_shares, row.default_expiry_hours) == (500_000, 2000, 24)


# --- query counts ---------------------------------------------------------------------------------


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_the_pool_page_has_a_constant_query_count(client, brand, brand_admin, funded, guides, payout_sim):
    def activity(n):
        for _i in range(n):
            p = send(brand, brand_admin, guides[:2], amount_each_fen=10)
            claim(brand, guides[0], p)
            funding.topup_start(
                brand=brand,
                staff=brand_admin,
                actor=Actor.system(),
                amount_fen=100,
                key=key(),
                fingerprint="f",
            )

    login_as(client, brand_admin)
    activity(5)
    few = queries(client, POOL)
    activity(45)
    assert queries(client, POOL) == few


def test_the_wallet_list_has_a_constant_query_count(client, brand, brand_admin, store, funded, payout_sim):
    def people(n):
        for i in range(n):
            s = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name=f"员工{i}")
            fill_wallet(brand, brand_admin, s, 200 + i)
            if i % 2:
                bind(brand, s)
                withdrawals.withdrawal_request(
                    brand=brand, staff=s, amount_fen=100, key=key(), fingerprint="w"
                )

    login_as(client, brand_admin)
    people(5)
    few = queries(client, WALLETS)
    people(45)
    assert queries(client, WALLETS) == few
    assert count(brand, Withdrawal) > 20


def test_the_packet_list_has_a_constant_query_count(client, brand, brand_admin, store, funded, guides):
    login_as(client, brand_admin)
    for _i in range(3):
        send(brand, brand_admin, guides[:3], amount_each_fen=10)
    few = queries(client, PACKETS)
    for _i in range(20):
        send(brand, brand_admin, guides[:1], amount_each_fen=10, audience="store", store_id=store.pk)
    assert queries(client, PACKETS) == few
