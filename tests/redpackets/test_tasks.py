"""The scheduled side of red packets: the minutely beat task expires packets and resolves
withdrawals and top-ups; the nightly one reconciles every brand, provider records included."""

import datetime

import pytest
from django.test import TestCase
from django.utils import timezone

from redpackets import tasks
from redpackets.models import Event, Reconciliation, RedPacket, TopUp, Withdrawal
from redpackets.services import accounts, funding, withdrawals
from retail import payments
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.helpers.packets import balance, bind, claim, fill_wallet, send
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


def test_the_minutely_task_expires_packets_and_resolves_what_is_pending(
    brand, funded, brand_admin, guides, payout_sim
):
    p = send(brand, brand_admin, guides[:3], amount_each_fen=1_000, expires_in_hours=1)
    claim(brand, guides[0], p)
    fill_wallet(brand, brand_admin, guides[1], 5_000)
    bound = bind(brand, guides[1])
    payout_sim.behave(bound.account_no, "late")
    with TestCase.captureOnCommitCallbacks(execute=True):
        w = withdrawals.withdrawal_request(
            brand=brand, staff=guides[1], amount_fen=2_000, key="w", fingerprint="f"
        )
    topup = funding.topup_start(
        brand=brand, staff=brand_admin, actor=Actor.system(), amount_fen=700, key="t", fingerprint="f"
    )
    payments.provider("sim").settle(topup.reference, "succeeded")  # paid, but its notice never came
    an_hour_ago = timezone.now() - datetime.timedelta(hours=2)
    with brand_scope(brand):
        RedPacket.objects.filter(pk=p.pk).update(expires_at=an_hour_ago)
        Withdrawal.objects.filter(pk=w.pk).update(created_at=an_hour_ago, last_attempt_at=an_hour_ago)
        TopUp.objects.filter(pk=topup.pk).update(created_at=an_hour_ago)
    pool_before = balance(brand, "pool")

    tasks.minutely()
    tasks.minutely()  # a rerun changes nothing

    assert refresh(p).status == "expired" and refresh(p).refunded_fen == 2_000
    assert refresh(w).status == "succeeded"
    assert refresh(topup).status == "succeeded"
    assert balance(brand, "pool") == pool_before + 2_000 + 700
    with brand_scope(brand):
        assert Event.objects.filter(name="packet.expired").count() == 1
        assert Event.objects.filter(name="withdrawal.succeeded").count() == 1


def test_the_nightly_task_reconciles_and_finds_a_provider_disagreement(
    brand, other_brand, funded, brand_admin, guide, payout_sim
):
    fill_wallet(brand, brand_admin, guide, 5_000)
    bind(brand, guide)
    with TestCase.captureOnCommitCallbacks(execute=True):
        w = withdrawals.withdrawal_request(
            brand=brand, staff=guide, amount_fen=2_000, key="w", fingerprint="f"
        )
    assert refresh(w).status == "succeeded"
    tasks.nightly()
    with brand_scope(brand):
        assert Reconciliation.objects.get().ok
    with brand_scope(other_brand):
        assert Reconciliation.objects.get().ok
    # The provider's record says otherwise (it reversed the transfer): reported.
    record = payout_sim.record(w.reference)
    record["status"] = "failed"
    payout_sim._save(w.reference, record)
    tasks.nightly()
    with brand_scope(brand):
        run = Reconciliation.objects.order_by("-id").first()
    assert not run.ok
    assert run.problems == [
        {"check": "provider_status", "withdrawal_id": w.pk, "ours": "succeeded", "theirs": "failed"}
    ]


def test_a_failed_withdrawal_is_an_event_too(brand, funded, brand_admin, guide, payout_sim):
    fill_wallet(brand, brand_admin, guide, 5_000)
    payout_sim.behave(bind(brand, guide).account_no, "fail")
    with TestCase.captureOnCommitCallbacks(execute=True):
        w = withdrawals.withdrawal_request(
            brand=brand, staff=guide, amount_fen=2_000, key="w", fingerprint="f"
        )
    with brand_scope(brand):
        ev = Event.objects.get(name="withdrawal.failed")
    assert ev.withdrawal_id == w.pk and ev.data["amount_fen"] == 2_000 and ev.data["reason"]
    assert accounts.payout_account_get(brand=brand, staff=guide) is not None


def test_beat_runs_both(settings):
    schedule = {e["task"]: e["schedule"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["redpackets.tasks.minutely"] == 60.0
    assert "redpackets.tasks.nightly" in schedule
    from celery import current_app

    assert {"redpackets.tasks.minutely", "redpackets.tasks.nightly"} <= set(current_app.tasks)
