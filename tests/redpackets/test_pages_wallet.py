"""The wallet and red packet mobile pages: who sees what, opening a packet (once, however often the
form is posted), binding a payout account, the two-step withdrawal, the automatic switch, records
and their CSV, and the managers' send form. Bad input answers with form errors and writes nothing."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override

from redpackets import selectors
from redpackets.models import Account, PacketShare, PayoutAccount, RedPacket, Withdrawal
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.helpers.auth import login_as
from tests.helpers.packets import balance, bind, claim, fill_wallet, new_account_no, send, top_up
from tests.helpers.pages import count, key
from tests.helpers.tenancy import refresh

K = Account.Kind
BAD_AMOUNTS = ["abc", "1.234", "-5", "0", "0.00", "1e30", "99999999999999999999", "NaN", "Infinity", " "]


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def body(resp) -> str:
    return resp.content.decode()


@pytest.fixture
def packet(brand, funded, brand_admin, guide, guides):
    """A lucky packet of ¥88.88 for the guide and two others."""
    return send(brand, brand_admin, [guide, *guides[:2]], kind="lucky", total_fen=8_888, greeting="辛苦了")


# --- who sees what --------------------------------------------------------------------------------


def test_wallet_pages_render_for_a_guide(client, brand, funded, brand_admin, guide, packet):
    fill_wallet(brand, brand_admin, guide, 5_000)
    login_as(client, guide)
    resp = client.get(reverse("m-wallet"))
    assert resp.status_code == 200
    text = body(resp)
    assert 'data-testid="wallet-balance"><span class="cur">¥</span>50.00<' in text
    assert f'data-testid="to-open-{packet.pk}"' in text
    for name in ("m-wallet-records", "m-wallet-account"):
        assert client.get(reverse(name)).status_code == 200
    assert client.get(reverse("m-wallet-packet", args=[packet.pk])).status_code == 200
    # Without a payout account, withdrawing starts with binding one.
    resp = client.get(reverse("m-wallet-withdraw"))
    assert resp.status_code == 302
    assert resp["Location"] == f"{reverse('m-wallet-account')}?next={reverse('m-wallet-withdraw')}"
    bind(brand, guide)
    assert client.get(reverse("m-wallet-withdraw")).status_code == 200


@pytest.mark.parametrize("role", ["store_manager", "brand_admin"])
def test_manager_pages_render_for_managers(client, brand, funded, store, guides, role, request):
    manager = request.getfixturevalue(role)
    p = send(brand, manager, guides[:2], kind="lucky", total_fen=500)
    claim(brand, guides[0], p)
    login_as(client, manager)
    resp = client.get(reverse("m-rp-sent"))
    assert resp.status_code == 200 and f'data-testid="sent-{p.pk}"' in body(resp)
    assert client.get(reverse("m-rp-send")).status_code == 200
    resp = client.get(reverse("m-rp-packet", args=[p.pk]))
    assert resp.status_code == 200
    assert 'data-testid="claimed-count">1/2' in body(resp)
    # A manager has a wallet too.
    assert client.get(reverse("m-wallet")).status_code == 200


def test_guides_get_403_on_manager_pages(client, brand, funded, store_manager, guide, guides):
    p = send(brand, store_manager, [guide, guides[0]], amount_each_fen=100)
    login_as(client, guide)
    for url in (reverse("m-rp-sent"), reverse("m-rp-send"), reverse("m-rp-packet", args=[p.pk])):
        assert client.get(url).status_code == 403
    resp = client.post(
        reverse("m-rp-send"), {"kind": "fixed", "audience": "store", "store": "1", "key": key()}
    )
    assert resp.status_code == 403
    assert count(brand, RedPacket) == 1


def test_another_brands_packets_and_withdrawals_are_404(
    client, brand, other_brand, funded, brand_admin, other_admin, guide, guides, payout_sim
):
    from tests.factories import StaffFactory

    top_up(other_brand, other_admin, 100_000)
    b_guide = StaffFactory(brand=other_brand, name="外人")
    b_packet = send(other_brand, other_admin, [b_guide], amount_each_fen=500)
    claim(other_brand, b_guide, b_packet)
    bind(other_brand, b_guide)
    from redpackets.services import withdrawals

    b_w = withdrawals.withdrawal_request(
        brand=other_brand, staff=b_guide, amount_fen=200, key="w", fingerprint="f"
    )
    # And a colleague's withdrawal in the same brand.
    fill_wallet(brand, brand_admin, guides[0], 500)
    bind(brand, guides[0])
    mate_w = withdrawals.withdrawal_request(
        brand=brand, staff=guides[0], amount_fen=200, key="w2", fingerprint="f"
    )

    login_as(client, guide)
    assert client.get(reverse("m-wallet-packet", args=[b_packet.pk])).status_code == 404
    assert client.post(reverse("m-wallet-packet", args=[b_packet.pk]), {"key": key()}).status_code == 404
    assert client.get(reverse("m-wallet-withdrawal", args=[b_w.pk])).status_code == 404
    assert client.get(reverse("m-wallet-withdrawal", args=[mate_w.pk])).status_code == 404
    login_as(client, brand_admin)
    assert client.get(reverse("m-rp-packet", args=[b_packet.pk])).status_code == 404
    assert client.get(reverse("m-wallet-withdrawal", args=[b_w.pk])).status_code == 404
    assert count(other_brand, PacketShare, staff__isnull=False) == 1


def test_a_packet_for_others_is_404_for_a_guide(client, brand, funded, brand_admin, guide, guides):
    p = send(brand, brand_admin, guides[:2], amount_each_fen=100)
    login_as(client, guide)
    assert client.get(reverse("m-wallet-packet", args=[p.pk])).status_code == 404
    assert client.post(reverse("m-wallet-packet", args=[p.pk]), {"key": key()}).status_code == 404
    assert count(brand, PacketShare, staff=guide) == 0


def test_home_and_me_show_the_wallet_entry_with_one_query(client, brand, funded, brand_admin, guide, packet):
    fill_wallet(brand, brand_admin, guide, 1_234)
    login_as(client, guide)
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(reverse("home"))
    assert resp.status_code == 200
    text = body(resp)
    assert 'data-testid="wallet-entry-balance">¥12.34<' in text
    assert 'data-testid="wallet-to-open">1<' in text
    assert 'data-testid="rp-send-link"' not in text  # guides do not send
    assert len([q for q in ctx.captured_queries if "redpackets_" in q["sql"]]) == 1
    resp = client.get(reverse("me-tab"))
    assert 'data-testid="wallet-entry-balance">¥12.34<' in body(resp)


def test_managers_see_the_send_entry_on_home(client, brand, store_manager):
    login_as(client, store_manager)
    assert 'data-testid="rp-send-link"' in body(client.get(reverse("home")))


# --- opening a packet ------------------------------------------------------------------------------


def test_claiming_through_the_page_moves_money_once(client, brand, guide, packet):
    login_as(client, guide)
    url = reverse("m-wallet-packet", args=[packet.pk])
    resp = client.get(url)
    assert 'data-testid="open-button"' in body(resp)
    form = {"key": key()}
    first = client.post(url, form)
    assert first.status_code == 302 and first["Location"] == f"{url}?opened=1"
    second = client.post(url, form)  # the same form, posted again
    assert second.status_code == 302
    third = client.post(url, {"key": key()})  # a fresh page, opened again
    assert third.status_code == 302
    with brand_scope(brand):
        share = PacketShare.objects.get(packet=packet, staff=guide)
    assert count(brand, PacketShare, packet=packet, staff__isnull=False) == 1
    assert balance(brand, guide) == share.amount_fen
    resp = client.get(f"{url}?opened=1")
    text = body(resp)
    assert 'data-state="claimed"' in text and "rp-stage fresh" in text
    assert f'data-countup="{share.amount_fen}"' in text
    assert f'data-testid="claim-{guide.pk}"' in text
    # Later visits show the result straight away, without the reveal.
    assert "rp-stage fresh" not in body(client.get(url))


def test_best_luck_shows_once_a_lucky_packet_is_finished(client, brand, guide, guides, packet):
    claim(brand, guides[0], packet)
    claim(brand, guides[1], packet)
    login_as(client, guide)
    url = reverse("m-wallet-packet", args=[packet.pk])
    client.post(url, {"key": key()})
    text = body(client.get(url))
    assert text.count('data-testid="best-luck"') == 1
    assert "3/3" in text


def test_too_slow_and_expired_states(client, brand, funded, brand_admin, guide, guides):
    first_come = send(brand, brand_admin, [guide, guides[0]], amount_each_fen=100, shares=1)
    claim(brand, guides[0], first_come)
    login_as(client, guide)
    url = reverse("m-wallet-packet", args=[first_come.pk])
    resp = client.get(url)
    assert 'data-state="empty"' in body(resp) and 'data-testid="open-button"' not in body(resp)
    assert client.post(url, {"key": key()}).status_code == 302
    assert count(brand, PacketShare, staff=guide) == 0

    late = send(brand, brand_admin, [guide], amount_each_fen=100)
    with brand_scope(brand):
        RedPacket.objects.filter(pk=late.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    url = reverse("m-wallet-packet", args=[late.pk])
    assert 'data-state="expired"' in body(client.get(url))
    assert client.post(url, {"key": key()}).status_code == 302
    assert count(brand, PacketShare, staff=guide) == 0
    assert balance(brand, guide) == 0


def test_the_sender_sees_the_packet_but_cannot_open_it(client, brand, funded, store_manager, guide):
    p = send(brand, store_manager, [guide], amount_each_fen=100)
    login_as(client, store_manager)
    url = reverse("m-wallet-packet", args=[p.pk])
    resp = client.get(url)
    assert resp.status_code == 200 and 'data-state="not_for_you"' in body(resp)
    assert client.post(url, {"key": key()}).status_code == 403
    assert count(brand, PacketShare, staff__isnull=False) == 0


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "x" * 300])
def test_claim_with_a_bad_key_writes_nothing(client, brand, guide, packet, bad):
    login_as(client, guide)
    resp = client.post(reverse("m-wallet-packet", args=[packet.pk]), {"key": bad})
    assert resp.status_code == 400
    assert count(brand, PacketShare, staff=guide) == 0


# --- payout account --------------------------------------------------------------------------------


def test_bind_shows_the_name_mismatch_and_then_binds(client, brand, guide, payout_sim):
    login_as(english(client), guide)
    url = reverse("m-wallet-account")
    resp = client.get(url)
    assert 'value="王芳"' in body(resp)  # the real name is filled in from the staff record
    account_no = new_account_no()
    resp = client.post(url, {"account_no": account_no, "real_name": "王小芳"})
    assert resp.status_code == 400
    with override("en"):
        expected = gettext("The real name must be the name on your staff record (%(name)s).") % {
            "name": "王芳"
        }
    assert expected in body(resp)
    assert count(brand, PayoutAccount) == 0

    # The provider says the account belongs to someone else.
    other_no = new_account_no()
    payout_sim.register_account(other_no, "李四")
    resp = client.post(url, {"account_no": other_no, "real_name": "王芳"})
    assert resp.status_code == 400
    with override("en"):
        assert gettext("The provider says this account is not in your name.") in body(resp)
    assert count(brand, PayoutAccount) == 0

    resp = client.post(
        url, {"account_no": account_no, "real_name": "王芳", "next": reverse("m-wallet-withdraw")}
    )
    assert resp.status_code == 302 and resp["Location"] == reverse("m-wallet-withdraw")
    with brand_scope(brand):
        bound = PayoutAccount.objects.get(staff=guide, unbound_at__isnull=True)
    assert bound.account_no == account_no
    resp = client.get(url)
    assert f'data-testid="bound-account-no">{bound.masked}<' in body(resp)


@pytest.mark.parametrize("bad", ["", "12345", "not an email", "x" * 80])
def test_bind_refuses_bad_account_numbers(client, brand, guide, bad):
    login_as(client, guide)
    resp = client.post(reverse("m-wallet-account"), {"account_no": bad, "real_name": "王芳"})
    assert resp.status_code == 400
    assert count(brand, PayoutAccount) == 0


def test_unbind(client, brand, guide):
    bind(brand, guide)
    login_as(client, guide)
    assert 'data-testid="unbind-confirm"' in body(client.get(reverse("m-wallet-account")))
    assert client.get(reverse("m-wallet-account-unbind")).status_code == 405
    resp = client.post(reverse("m-wallet-account-unbind"))
    assert resp.status_code == 302
    assert count(brand, PayoutAccount, unbound_at__isnull=True) == 0
    assert 'data-testid="no-account"' in body(client.get(reverse("m-wallet-account")))


# --- withdrawals -----------------------------------------------------------------------------------


@pytest.fixture
def ready(brand, funded, brand_admin, guide, payout_sim):
    """The guide holds ¥50.00 and has a bound account."""
    fill_wallet(brand, brand_admin, guide, 5_000)
    return bind(brand, guide)


def _confirm_screen(client, amount="12.34", **extra):
    resp = client.post(reverse("m-wallet-withdraw"), {"step": "amount", "amount": amount, **extra})
    assert resp.status_code == 200, body(resp)
    assert 'data-testid="withdraw-confirm"' in body(resp)
    return resp


def _hidden(resp, name: str) -> str:
    text = body(resp)
    start = text.index(f'name="{name}" value="') + len(f'name="{name}" value="')
    return text[start : text.index('"', start)]


def test_withdraw_with_confirmation_creates_one_withdrawal(client, brand, guide, ready):
    login_as(client, guide)
    resp = _confirm_screen(client, "12.34")
    assert ready.masked in body(resp)
    assert 'data-testid="confirm-amount"><span class="cur">¥</span>12.34<' in body(resp)
    assert count(brand, Withdrawal) == 0  # the amount step writes nothing
    form = {"step": "confirm", "amount_fen": _hidden(resp, "amount_fen"), "key": _hidden(resp, "key")}
    assert form["amount_fen"] == "1234"
    first = client.post(reverse("m-wallet-withdraw"), form)
    assert first.status_code == 302
    second = client.post(reverse("m-wallet-withdraw"), form)  # confirmed twice
    assert second.status_code == 302 and second["Location"] == first["Location"]
    with brand_scope(brand):
        w = Withdrawal.objects.get()
    assert (w.amount_fen, w.staff_id, w.automatic) == (1_234, guide.pk, False)
    assert first["Location"] == reverse("m-wallet-withdrawal", args=[w.pk])
    assert balance(brand, guide) == 5_000 - 1_234

    # Pending: the status polls every 3 s (htmx answers with the status block alone).
    resp = client.get(first["Location"])
    assert 'data-status="pending"' in body(resp) and 'hx-trigger="every 3s"' in body(resp)
    partial = client.get(first["Location"], HTTP_HX_REQUEST="true")
    assert 'data-testid="withdrawal-status"' in body(partial) and "<html" not in body(partial)


def test_withdraw_all_goes_to_the_confirmation(client, brand, guide, ready):
    login_as(client, guide)
    resp = client.post(reverse("m-wallet-withdraw"), {"step": "amount", "all": "1"})
    assert resp.status_code == 200
    assert _hidden(resp, "amount_fen") == "5000"


def test_a_paid_withdrawal_shows_paid(client, brand, guide, ready, django_capture_on_commit_callbacks):
    login_as(client, guide)
    resp = _confirm_screen(client, "20")
    form = {"step": "confirm", "amount_fen": _hidden(resp, "amount_fen"), "key": _hidden(resp, "key")}
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(reverse("m-wallet-withdraw"), form)
    resp = client.get(resp["Location"])
    assert 'data-status="succeeded"' in body(resp) and "hx-trigger" not in body(resp)


@pytest.mark.parametrize(
    ("amount", "code_text"),
    [
        ("0.50", "The smallest withdrawal is %(min)s."),
        ("50.01", "Your wallet holds only %(balance)s."),
        ("1000", "Your wallet holds only %(balance)s."),
    ],
)
def test_withdraw_refuses_below_minimum_and_above_balance(client, brand, guide, ready, amount, code_text):
    login_as(english(client), guide)
    resp = client.post(reverse("m-wallet-withdraw"), {"step": "amount", "amount": amount})
    assert resp.status_code == 400
    assert 'data-testid="amount-error"' in body(resp)
    with override("en"):
        assert gettext(code_text).split("%")[0] in body(resp)
    assert count(brand, Withdrawal) == 0
    assert balance(brand, guide) == 5_000


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_withdraw_bad_amounts_write_nothing(client, brand, guide, ready, amount):
    login_as(client, guide)
    resp = client.post(reverse("m-wallet-withdraw"), {"step": "amount", "amount": amount})
    assert resp.status_code == 400
    assert 'data-testid="amount-error"' in body(resp)
    assert count(brand, Withdrawal) == 0


@pytest.mark.parametrize(
    "form",
    [
        {"amount_fen": "12.5", "key": "k"},
        {"amount_fen": "-100", "key": None},
        {"amount_fen": "0", "key": None},
        {"amount_fen": "99999999999999999999", "key": None},
        {"amount_fen": "1000", "key": "not-a-key"},
        {"amount_fen": "1000"},
        {"amount_fen": "9999", "key": None},  # more than the balance
        {"amount_fen": "50", "key": None},  # below the minimum
    ],
)
def test_withdraw_confirm_with_bad_input_writes_nothing(client, brand, guide, ready, form):
    login_as(client, guide)
    data = {"step": "confirm", **{k: (v if v is not None else key()) for k, v in form.items()}}
    resp = client.post(reverse("m-wallet-withdraw"), data)
    assert resp.status_code == 400
    assert count(brand, Withdrawal) == 0
    assert balance(brand, guide) == 5_000


def test_a_key_reused_for_another_amount_is_refused(client, brand, guide, ready):
    login_as(client, guide)
    k = key()
    assert (
        client.post(
            reverse("m-wallet-withdraw"), {"step": "confirm", "amount_fen": "1000", "key": k}
        ).status_code
        == 302
    )
    resp = client.post(reverse("m-wallet-withdraw"), {"step": "confirm", "amount_fen": "2000", "key": k})
    assert resp.status_code == 400
    assert count(brand, Withdrawal) == 1


# --- automatic withdrawal --------------------------------------------------------------------------


def test_auto_switch_refused_before_a_first_withdrawal_by_hand_then_allowed(
    client, brand, guide, ready, django_capture_on_commit_callbacks
):
    login_as(english(client), guide)
    resp = client.get(reverse("m-wallet"))
    assert ' disabled data-testid="auto-switch"' in body(resp)
    resp = client.post(reverse("m-wallet-auto"), {"on": "1"}, follow=True)
    with override("en"):
        assert gettext(
            "Make your first withdrawal to this account by hand; then you can switch on automatic withdrawal."
        ) in body(resp)
    with brand_scope(brand):
        assert not Account.objects.get(kind=K.WALLET, staff=guide).auto_withdraw

    # The first withdrawal by hand arrives; now the switch works.
    resp = _confirm_screen(client, "10")
    form = {"step": "confirm", "amount_fen": _hidden(resp, "amount_fen"), "key": _hidden(resp, "key")}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("m-wallet-withdraw"), form)
    assert selectors.wallet_overview(brand=brand, staff=guide)["can_auto_withdraw"]
    resp = client.post(reverse("m-wallet-auto"), {"on": "1"})
    assert resp.status_code == 302 and resp["Location"] == reverse("m-wallet")
    with brand_scope(brand):
        assert Account.objects.get(kind=K.WALLET, staff=guide).auto_withdraw
    assert 'class="wl-switch on"' in body(client.get(reverse("m-wallet")))
    client.post(reverse("m-wallet-auto"), {"on": "0"})
    with brand_scope(brand):
        assert not Account.objects.get(kind=K.WALLET, staff=guide).auto_withdraw


@pytest.mark.parametrize("data", [{}, {"on": "maybe"}, {"on": "2"}])
def test_auto_switch_bad_input_changes_nothing(client, brand, guide, data):
    login_as(client, guide)
    resp = client.post(reverse("m-wallet-auto"), data)
    assert resp.status_code == 302
    assert count(brand, AuditLog, action="wallet.auto_withdraw") == 0
    assert client.get(reverse("m-wallet-auto")).status_code == 405


# --- records and the CSV ---------------------------------------------------------------------------


def test_records_page_and_keyset_more(client, brand, funded, brand_admin, guide, monkeypatch):
    from redpackets.views import wallet as wallet_views

    monkeypatch.setattr(wallet_views, "RECORDS_PAGE", 3)
    for fen in (101, 102, 103, 104, 105):
        fill_wallet(brand, brand_admin, guide, fen)
    login_as(client, guide)
    resp = client.get(reverse("m-wallet-records"))
    text = body(resp)
    assert text.count('class="wl-record"') == 3
    assert "+1.05" in text and "+1.01" not in text
    assert 'data-testid="records-more"' in text
    with brand_scope(brand):
        wallet = Account.objects.get(kind=K.WALLET, staff=guide)
    rows = selectors.account_records(brand=brand, account=wallet, limit=10)
    more = client.get(reverse("m-wallet-records"), {"before": rows[2].id}, HTTP_HX_REQUEST="true")
    assert more.status_code == 200 and "<html" not in body(more)
    assert body(more).count('class="wl-record"') == 2 and "+1.01" in body(more)
    assert 'data-testid="records-more"' not in body(more)
    for junk in ("abc", "-1", "0", "9" * 40):
        assert client.get(reverse("m-wallet-records"), {"before": junk}).status_code == 200


def test_records_export_is_a_csv_with_a_header_and_the_rows(client, brand, funded, brand_admin, guide):
    fill_wallet(brand, brand_admin, guide, 1_234)
    fill_wallet(brand, brand_admin, guide, 66)
    login_as(client, guide)
    resp = client.get(reverse("m-wallet-records-export"))
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert "attachment" in resp["Content-Disposition"]
    text = b"".join(resp.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 3
    assert len(rows[0]) == 7 and not rows[0][4].replace(".", "").isdigit()  # the header
    assert [r[4] for r in rows[1:]] == ["0.66", "12.34"]  # newest first
    assert [r[5] for r in rows[1:]] == ["13.00", "12.34"]


def test_an_empty_wallet_has_an_empty_records_page_and_a_header_only_csv(client, guide):
    login_as(client, guide)
    assert client.get(reverse("m-wallet-records")).status_code == 200
    text = b"".join(client.get(reverse("m-wallet-records-export")).streaming_content).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 1


# --- sending ---------------------------------------------------------------------------------------


def _send_form(**over) -> dict:
    form = {
        "kind": "lucky",
        "audience": "store",
        "total": "66.66",
        "greeting": "周末辛苦了",
        "expires_in_hours": "24",
        "key": key(),
    }
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def test_manager_sends_a_lucky_packet_to_the_store_once(
    client, brand, funded, store, store_manager, guide, guides
):
    login_as(client, store_manager)
    resp = client.get(reverse("m-rp-send"))
    assert f'<option value="{store.pk}" selected>' in body(resp)
    form = _send_form(store=str(store.pk))
    first = client.post(reverse("m-rp-send"), form)
    assert first.status_code == 302
    second = client.post(reverse("m-rp-send"), form)  # sent twice
    assert second.status_code == 302 and second["Location"] == first["Location"]
    with brand_scope(brand):
        p = RedPacket.objects.get()
    assert (p.kind, p.audience, p.store_id, p.total_fen, p.shares, p.sender_id) == (
        "lucky",
        "store",
        store.pk,
        6_666,
        6,  # the guide and five more; not the sender
        store_manager.pk,
    )
    assert first["Location"] == reverse("m-rp-packet", args=[p.pk])
    assert balance(brand, K.POOL) == 1_000_000 - 6_666


def test_the_same_send_form_changed_after_sending_is_refused(
    client, brand, funded, store, store_manager, guides
):
    login_as(english(client), store_manager)
    form = _send_form(store=str(store.pk))
    assert client.post(reverse("m-rp-send"), form).status_code == 302
    resp = client.post(reverse("m-rp-send"), {**form, "total": "77.77"})
    assert resp.status_code == 400
    with override("en"):
        assert gettext("This form was already sent with other details. Check them and send again.") in body(
            resp
        )
    assert form["key"] not in body(resp)  # a new key: sending it now makes a second packet on purpose
    assert count(brand, RedPacket) == 1


def test_fixed_packet_to_chosen_people_with_fewer_shares(client, brand, funded, store_manager, guides):
    login_as(client, store_manager)
    form = _send_form(
        kind="fixed",
        audience="group",
        total=None,
        amount_each="8.80",
        shares="2",
        staff_ids=[str(g.pk) for g in guides[:3]],
    )
    resp = client.post(reverse("m-rp-send"), form)
    assert resp.status_code == 302, body(resp)
    with brand_scope(brand):
        p = RedPacket.objects.get()
        assert p.recipients.count() == 3
    assert (p.kind, p.total_fen, p.shares) == ("fixed", 1_760, 2)


def test_a_store_manager_cannot_send_to_people_outside_their_stores(
    client, brand, funded, store_manager, brand_admin
):
    from tests.factories import StaffFactory, StoreFactory

    elsewhere = StaffFactory(brand=brand, stores=[StoreFactory(brand=brand)], name="别店")
    login_as(client, store_manager)
    for form in (
        _send_form(audience="person", person=str(elsewhere.pk)),
        _send_form(audience="group", staff_ids=[str(elsewhere.pk)]),
        _send_form(audience="person", person=str(brand_admin.pk)),
    ):
        assert client.post(reverse("m-rp-send"), form).status_code == 400
    assert count(brand, RedPacket) == 0


@pytest.mark.parametrize("total", BAD_AMOUNTS)
def test_send_with_bad_amounts_writes_nothing(client, brand, funded, store, store_manager, guides, total):
    login_as(client, store_manager)
    resp = client.post(reverse("m-rp-send"), _send_form(store=str(store.pk), total=total))
    assert resp.status_code == 400
    assert count(brand, RedPacket) == 0
    assert balance(brand, K.POOL) == 1_000_000


@pytest.mark.parametrize(
    "over",
    [
        {"kind": "nope"},
        {"audience": "everyone"},
        {"shares": "0"},
        {"shares": "-2"},
        {"shares": "abc"},
        {"expires_in_hours": "0"},
        {"expires_in_hours": "721"},
        {"greeting": "长" * 61},
        {"key": "again"},
        {"key": None},
        {"store": "999999"},
        {"store": None},
        {"shares": "50"},  # more shares than people
        {"total": "5000.01"},  # over the largest packet
        {"total": "0.05", "shares": "6"},  # less than a fen each
    ],
)
def test_send_with_bad_input_writes_nothing(client, brand, funded, store, store_manager, guides, over):
    login_as(client, store_manager)
    resp = client.post(reverse("m-rp-send"), _send_form(**{"store": str(store.pk), **over}))
    assert resp.status_code == 400
    assert count(brand, RedPacket) == 0
    assert balance(brand, K.POOL) == 1_000_000


def test_service_errors_show_on_the_right_field(client, brand, brand_admin, store, store_manager, guides):
    top_up(brand, brand_admin, 1_000)  # ¥10 in the pool
    login_as(english(client), store_manager)
    resp = client.post(reverse("m-rp-send"), _send_form(store=str(store.pk), total="20"))
    assert resp.status_code == 400
    with override("en"):
        assert gettext("The pool does not hold enough money for this packet.") in body(resp)
    assert count(brand, RedPacket) == 0


def test_sent_list_pages(client, brand, funded, store_manager, guides):
    for _ in range(3):
        send(brand, store_manager, guides[:1], amount_each_fen=100)
    login_as(client, store_manager)
    for page in ("1", "2", "abc", "-1", "99999999"):
        assert client.get(reverse("m-rp-sent"), {"page": page}).status_code == 200


def test_status_page_lists_claims_and_recipients(client, brand, funded, store_manager, guides):
    p = send(brand, store_manager, guides[:3], kind="lucky", total_fen=300)
    claim(brand, guides[1], p)
    login_as(client, store_manager)
    text = body(client.get(reverse("m-rp-packet", args=[p.pk])))
    assert 'data-testid="claimed-count">1/3' in text
    assert f'data-testid="claim-{guides[1].pk}"' in text
    assert text.count('<li class="done">') == 1
    p = refresh(p)
    assert p.claimed_count == 1
