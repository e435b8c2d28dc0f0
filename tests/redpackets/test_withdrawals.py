"""Payout accounts and withdrawals against a provider that misbehaves on purpose: every withdrawal
ends succeeded or failed-and-refunded, never both, never neither."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.utils import timezone

from redpackets import payouts
from redpackets.models import Account, Event, PayoutAccount, Transaction, Withdrawal
from redpackets.services import accounts, limits, reconcile, withdrawals
from retail.events import Actor
from retail.idempotency import IdempotencyConflict
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.helpers.packets import balance, bind, claim, fill_wallet, new_account_no, send
from tests.helpers.tenancy import refresh

K = Account.Kind
W = Withdrawal.Status


@pytest.fixture
def rich_guide(brand, funded, brand_admin, guide):
    """A guide with ¥100 in the wallet and a bound account."""
    fill_wallet(brand, brand_admin, guide, 10_000)
    bind(brand, guide)
    return guide


def withdraw(brand, staff, amount, key=None, **kw):
    """Request a withdrawal and run what follows its commit (the hand-over to the provider)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return withdrawals.withdrawal_request(
            brand=brand,
            staff=staff,
            amount_fen=amount,
            key=key or f"w-{amount}-{timezone.now().timestamp()}",
            fingerprint=str(amount),
            **kw,
        )


def ending_count(brand, w) -> int:
    with brand_scope(brand):
        return Transaction.objects.filter(withdrawal=w, key=f"end:{w.pk}").count()


def assert_settled_once(brand, w, status):
    w = refresh(w)
    assert w.status == status
    assert ending_count(brand, w) == 1
    assert balance(brand, K.PAYOUT_PENDING) == 0
    run = reconcile.reconcile(brand=brand)
    assert run.ok, run.problems
    return w


# --- payout accounts --------------------------------------------------------------------------------


def test_bind_needs_the_staff_records_name(brand, guide, payout_sim):
    with pytest.raises(ValidationError) as exc:
        accounts.payout_account_bind(
            brand=brand, staff=guide, actor=Actor.system(), account_no=new_account_no(), real_name="李四"
        )
    assert exc.value.error_dict["real_name"][0].code == "name_mismatch"
    with brand_scope(brand):
        assert not PayoutAccount.objects.exists()
        assert AuditLog.unscoped.filter(action="payout_account.refused").count() == 1


def test_bind_needs_the_provider_to_confirm_the_holder(brand, guide, payout_sim):
    someone_elses = new_account_no()
    payout_sim.register_account(someone_elses, "赵六")
    closed = new_account_no()
    payout_sim.register_account(closed, None)
    for no in (someone_elses, closed, "not-an-account"):
        with pytest.raises(ValidationError):
            accounts.payout_account_bind(
                brand=brand, staff=guide, actor=Actor.system(), account_no=no, real_name=guide.name
            )
    mine = new_account_no()
    payout_sim.register_account(mine, guide.name)
    bound = accounts.payout_account_bind(
        brand=brand, staff=guide, actor=Actor.system(), account_no=mine, real_name=f" {guide.name} "
    )
    assert bound.real_name == guide.name and bound.verified_at is not None


def test_bind_rebind_unbind_are_audited(brand, guide, payout_sim):
    first = bind(brand, guide)
    second = bind(brand, guide)
    assert refresh(first).unbound_at is not None and second.unbound_at is None
    assert accounts.payout_account_unbind(brand=brand, staff=guide, actor=Actor.system()).pk == second.pk
    assert accounts.payout_account_get(brand=brand, staff=guide) is None
    with brand_scope(brand):
        actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["payout_account.bound", "payout_account.rebound", "payout_account.unbound"]


# --- withdrawals --------------------------------------------------------------------------------------


def test_instant_success(brand, rich_guide, payout_sim):
    w = withdraw(brand, rich_guide, 3_000)
    assert_settled_once(brand, w, W.SUCCEEDED)
    assert balance(brand, rich_guide) == 7_000
    assert balance(brand, K.PAID_OUT) == 3_000
    record = payout_sim.record(w.reference)
    assert record["status"] == "succeeded" and record["amount_fen"] == 3_000
    with brand_scope(brand):
        assert Event.objects.filter(name="withdrawal.succeeded", withdrawal=w).count() == 1


def test_failure_returns_the_money(brand, rich_guide, payout_sim):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "fail")
    w = withdraw(brand, rich_guide, 3_000)
    w = assert_settled_once(brand, w, W.FAILED)
    assert w.failure_reason
    assert balance(brand, rich_guide) == 10_000
    assert balance(brand, K.PAID_OUT) == 0


def test_late_success_is_resolved_by_the_poll(brand, rich_guide, payout_sim):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "late")
    w = withdraw(brand, rich_guide, 3_000)
    assert refresh(w).status == W.PENDING
    assert balance(brand, rich_guide) == 7_000 and balance(brand, K.PAYOUT_PENDING) == 3_000
    assert withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0) == 1
    assert_settled_once(brand, w, W.SUCCEEDED)


def test_late_failure_is_resolved_by_the_poll(brand, rich_guide, payout_sim):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "late_fail")
    w = withdraw(brand, rich_guide, 3_000)
    withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0)
    assert_settled_once(brand, w, W.FAILED)
    assert balance(brand, rich_guide) == 10_000


def test_timeout_after_the_provider_acted(brand, rich_guide, payout_sim):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "timeout")
    w = withdraw(brand, rich_guide, 3_000)
    assert refresh(w).status == W.PENDING
    withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0)
    assert_settled_once(brand, w, W.SUCCEEDED)
    assert refresh(w).attempts == 1  # asked, not sent again


def test_timeout_before_the_provider_acted_is_sent_again_once(brand, rich_guide, payout_sim):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "timeout_lost")
    w = withdraw(brand, rich_guide, 3_000)
    assert refresh(w).status == W.PENDING and payout_sim.record(w.reference) is None
    withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0)
    w = assert_settled_once(brand, w, W.SUCCEEDED)
    assert w.attempts == 2
    assert balance(brand, K.PAID_OUT) == 3_000


def test_a_transfer_the_provider_never_received_is_given_up_and_refunded(
    brand, rich_guide, payout_sim, monkeypatch
):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "timeout_lost")
    sim = payouts.provider("sim")

    def lost(**kw):
        raise payouts.PayoutTimeout("lost on the way")

    monkeypatch.setattr(sim, "transfer", lost)
    w = withdraw(brand, rich_guide, 3_000)
    withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0)
    assert refresh(w).status == W.PENDING  # sent again, still nothing at the provider
    with brand_scope(brand):
        Withdrawal.objects.filter(pk=w.pk).update(
            attempts=withdrawals.GIVE_UP_ATTEMPTS, created_at=timezone.now() - datetime.timedelta(hours=2)
        )
    withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0)
    w = assert_settled_once(brand, w, W.FAILED)
    assert "never received" in w.failure_reason
    assert balance(brand, rich_guide) == 10_000


def test_duplicate_callbacks_over_the_webhook_apply_once(brand, rich_guide, payout_sim, client):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "twice")
    w = withdraw(brand, rich_guide, 3_000)
    assert refresh(w).status == W.PENDING
    body, sig = payout_sim.signed_notice(w.reference)
    url = f"/pay/payout-notify/{brand.slug}/sim/"
    for _ in range(2):
        r = client.post(url, body, content_type="application/json", HTTP_X_SIGNATURE=sig)
        assert r.status_code == 200 and r.json()["status"] == "succeeded"
    assert_settled_once(brand, w, W.SUCCEEDED)
    # A late poll changes nothing either.
    withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0)
    assert ending_count(brand, w) == 1 and balance(brand, K.PAID_OUT) == 3_000


def test_webhook_refuses_forged_malformed_foreign_and_oversized(
    brand, other_brand, rich_guide, payout_sim, client
):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "twice")
    w = withdraw(brand, rich_guide, 3_000)
    body, sig = payout_sim.signed_notice(w.reference)
    url = f"/pay/payout-notify/{brand.slug}/sim/"
    assert (
        client.post(url, body, content_type="application/json", HTTP_X_SIGNATURE="0" * 64).status_code == 400
    )
    forged = body.replace(b'"succeeded"', b'"failed"')
    assert client.post(url, forged, content_type="application/json", HTTP_X_SIGNATURE=sig).status_code == 400
    junk = b"{not json"
    assert (
        client.post(
            url, junk, content_type="application/json", HTTP_X_SIGNATURE=payout_sim.sign(junk)
        ).status_code
        == 400
    )
    other = f"/pay/payout-notify/{other_brand.slug}/sim/"
    assert client.post(other, body, content_type="application/json", HTTP_X_SIGNATURE=sig).status_code == 400
    assert (
        client.post(
            f"/pay/payout-notify/{brand.slug}/nope/", body, content_type="application/json"
        ).status_code
        == 400
    )
    assert client.post(url, b"x" * 20_000, content_type="application/json").status_code == 413
    assert client.get(url).status_code == 405
    assert refresh(w).status == W.PENDING and balance(brand, K.PAYOUT_PENDING) == 3_000


def test_notice_with_another_amount_is_refused(brand, rich_guide, payout_sim):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "late")
    w = withdraw(brand, rich_guide, 3_000)
    wrong = payouts.PayoutResult(brand.pk, w.reference, "succeeded", 30_000)
    with pytest.raises(ValidationError):
        withdrawals.withdrawal_apply(brand=brand, result=wrong, provider_name="sim")
    assert refresh(w).status == W.PENDING


def test_rules_minimum_balance_limits_and_account(brand, funded, brand_admin, guide, payout_sim):
    fill_wallet(brand, brand_admin, guide, 10_000)
    with pytest.raises(ValidationError) as exc:
        withdraw(brand, guide, 1_000)
    assert exc.value.code == "no_payout_account"
    bind(brand, guide)
    limits.settings_update(
        brand=brand,
        staff=brand_admin,
        actor=Actor.system(),
        data={"withdraw_min_fen": 500, "withdraw_daily_max_fen": 6_000, "withdraw_daily_count": 2},
    )
    for amount, code in (
        (499, "below_minimum"),
        (10_001, "daily_limit"),
        (0, None),
        (-1, None),
        (True, None),
    ):
        with pytest.raises(ValidationError) as exc:
            withdraw(brand, guide, amount)
        if code:
            assert exc.value.error_dict["amount_fen"][0].code == code
    withdraw(brand, guide, 5_000)
    with pytest.raises(ValidationError) as exc:
        withdraw(brand, guide, 1_001)
    assert exc.value.error_dict["amount_fen"][0].code == "daily_limit"
    withdraw(brand, guide, 1_000)
    with pytest.raises(ValidationError) as exc:
        withdraw(brand, guide, 500)
    assert exc.value.error_dict["amount_fen"][0].code == "daily_limit"  # the count
    assert balance(brand, guide) == 4_000


def test_cannot_withdraw_more_than_the_wallet_holds(brand, rich_guide, payout_sim):
    with pytest.raises(ValidationError) as exc:
        withdraw(brand, rich_guide, 10_001)
    assert exc.value.error_dict["amount_fen"][0].code == "insufficient_funds"
    with brand_scope(brand):
        assert not Withdrawal.objects.exists()


def test_withdrawal_is_idempotent(brand, rich_guide, payout_sim):
    a = withdraw(brand, rich_guide, 1_000, key="same")
    b = withdraw(brand, rich_guide, 1_000, key="same")
    assert a.pk == b.pk and b.replayed
    with pytest.raises(IdempotencyConflict):
        withdraw(brand, rich_guide, 2_000, key="same")
    assert balance(brand, rich_guide) == 9_000


def test_automatic_withdrawal_after_a_first_one_by_hand(brand, rich_guide, brand_admin, payout_sim):
    with pytest.raises(ValidationError) as exc:
        accounts.auto_withdraw_set(brand=brand, staff=rich_guide, actor=Actor.system(), on=True)
    assert exc.value.code == "first_withdrawal_by_hand"
    withdraw(brand, rich_guide, 1_000)
    accounts.auto_withdraw_set(brand=brand, staff=rich_guide, actor=Actor.system(), on=True)
    p = send(brand, brand_admin, [rich_guide], amount_each_fen=2_500)
    with TestCase.captureOnCommitCallbacks(execute=True):
        claim(brand, rich_guide, p)  # the task runs (eagerly here) after the claim commits
    # Everything in the wallet went on to the account automatically.
    assert balance(brand, rich_guide) == 0
    with brand_scope(brand):
        auto = Withdrawal.objects.get(automatic=True)
    assert auto.amount_fen == 9_000 + 2_500 and auto.status == W.SUCCEEDED
    # Rebinding switches it off until a withdrawal by hand reaches the new account.
    bind(brand, rich_guide)
    assert not accounts.can_auto_withdraw(brand=brand, staff=rich_guide)
    with brand_scope(brand):
        assert not Account.objects.get(kind=K.WALLET, staff=rich_guide).auto_withdraw
    assert reconcile.reconcile(brand=brand).ok


def test_only_the_first_final_word_ends_a_withdrawal(brand, rich_guide, payout_sim):
    payout_sim.behave(accounts.payout_account_get(brand=brand, staff=rich_guide).account_no, "twice")
    w = withdraw(brand, rich_guide, 1_000)
    word = payouts.PayoutResult(brand.pk, w.reference, "succeeded", 1_000)
    first = withdrawals.withdrawal_apply(brand=brand, result=word, provider_name="sim")
    again = withdrawals.withdrawal_apply(brand=brand, result=word, provider_name="sim")
    # (what a poll counts: a poll that lost the race to a callback ended nothing)
    assert getattr(first, "ended_now", False) and not getattr(again, "ended_now", False)
    assert withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0) == 0
    assert ending_count(brand, w) == 1
