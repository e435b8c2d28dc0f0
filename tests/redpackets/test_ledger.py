"""The ledger itself: balanced postings only, no negative balances, append-only history,
corrections as new transactions, and a reconciliation that finds any tampering."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from redpackets.models import Account, Entry, Reconciliation, Transaction
from redpackets.services import ledger, reconcile
from retail.events import Actor
from retail.models import AuditLog
from retail.notify import ConsoleSender
from retail.tenancy import brand_scope
from tests.helpers.packets import balance, claim, send

K = Account.Kind


def test_topped_up_pool_is_a_balanced_transaction(brand, funded):
    with brand_scope(brand):
        txn = Transaction.objects.get(kind=Transaction.Kind.TOPUP)
        legs = sorted((e.account.kind, e.amount_fen) for e in txn.entries.select_related("account"))
    assert legs == [(K.FUNDING, -1_000_000), (K.POOL, 1_000_000)]
    assert balance(brand, K.POOL) == 1_000_000


def test_unbalanced_posting_is_refused(brand, funded):
    pool = ledger.account(brand, K.POOL)
    out = ledger.account(brand, K.PAID_OUT)
    with brand_scope(brand), pytest.raises(ledger.Unbalanced), transaction.atomic():
        ledger.post(brand=brand, kind="correction", key="x1", legs=[(pool, -100), (out, 99)])
    with brand_scope(brand), pytest.raises(ledger.Unbalanced), transaction.atomic():
        ledger.post(brand=brand, kind="correction", key="x2", legs=[(pool, -100)])
    assert balance(brand, K.POOL) == 1_000_000


def test_a_balance_cannot_go_negative(brand, funded):
    pool = ledger.account(brand, K.POOL)
    out = ledger.account(brand, K.PAID_OUT)
    with brand_scope(brand), pytest.raises(ValidationError) as exc, transaction.atomic():
        ledger.post(brand=brand, kind="correction", key="x", legs=[(pool, -1_000_001), (out, 1_000_001)])
    assert exc.value.error_dict["amount_fen"][0].code == "insufficient_funds"
    # The database refuses it too, whatever the code does.
    with brand_scope(brand), pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=pool.pk).update(balance_fen=-1)
    assert balance(brand, K.POOL) == 1_000_000


def test_history_is_append_only(brand, funded):
    with brand_scope(brand):
        entry = Entry.objects.first()
        txn = Transaction.objects.first()
        with pytest.raises(ValueError):
            entry.save()
        with pytest.raises(ValueError):
            txn.delete()


@pytest.mark.postgres
def test_database_refuses_edits_and_unbalanced_entries(brand, funded):
    with brand_scope(brand):
        entry = Entry.objects.first()
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            Entry.objects.filter(pk=entry.pk).update(amount_fen=1)
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM redpackets_transaction WHERE id = %s", [entry.transaction_id])
        out = ledger.account(brand, K.PAID_OUT)
        with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
            Entry.objects.bulk_create(
                [
                    Entry(
                        brand=brand,
                        transaction_id=entry.transaction_id,
                        account=out,
                        amount_fen=5,
                        balance_after_fen=5,
                    )
                ]
            )


def test_correction_reverses_with_a_new_transaction(brand, funded, brand_admin):
    with brand_scope(brand):
        original = Transaction.objects.get(kind=Transaction.Kind.TOPUP)
    fix = ledger.correct(
        brand=brand, original=original, memo="duplicate bank transfer", actor=Actor(brand_admin.user)
    )
    assert fix.corrects_id == original.pk
    assert balance(brand, K.POOL) == 0
    with pytest.raises(ValidationError):
        ledger.correct(brand=brand, original=original, memo="again", actor=None)
    assert balance(brand, K.POOL) == 0
    assert reconcile.reconcile(brand=brand).problems == [
        # A reversed top-up leaves the funding account and the credited top-up apart: reported.
        {"check": "topups_credited", "topups_fen": 1_000_000, "funding_fen": 0}
    ]


def test_reconciliation_passes_on_real_activity(brand, funded, brand_admin, guide):
    p = send(brand, brand_admin, [guide], amount_each_fen=888)
    claim(brand, guide, p)
    run = reconcile.reconcile(brand=brand)
    assert run.ok, run.problems
    assert run.checked["transactions"] == 3


def test_reconciliation_finds_a_tampered_balance_and_reports_it(
    brand, funded, brand_admin, guide, django_capture_on_commit_callbacks, settings
):
    settings.ADMINS = [("ops", "ops@example.com")]
    brand_admin.user.phone = "+8613800000001"
    brand_admin.user.save()
    p = send(brand, brand_admin, [guide], amount_each_fen=888)
    claim(brand, guide, p)
    with brand_scope(brand):
        wallet = Account.objects.get(kind=K.WALLET, staff=guide)
        Account.objects.filter(pk=wallet.pk).update(balance_fen=9_999)
    with django_capture_on_commit_callbacks(execute=True):
        run = reconcile.reconcile(brand=brand)
    assert not run.ok
    checks = {p["check"] for p in run.problems}
    assert checks == {"balance_equals_entries", "balances_sum_to_zero"}
    drift = next(p for p in run.problems if p["check"] == "balance_equals_entries")
    assert drift["balance_fen"] == 9_999 and drift["entries_fen"] == 888
    # Brand finance (the admins) are told, and the platform operator has an entry of its own.
    assert [m["phone"] for m in ConsoleSender.outbox if brand.name in m["text"]] == ["+8613800000001"]
    assert "Ledger mismatch: yueyan" in mail.outbox[0].subject
    with brand_scope(brand):
        assert AuditLog.unscoped.filter(brand=brand, action="ledger.mismatch").exists()
        assert Reconciliation.objects.count() == 1


def test_operator_sees_every_brands_reconciliations_read_only(client, django_user_model, brand, other_brand):
    reconcile.reconcile(brand=brand)
    reconcile.reconcile(brand=other_brand)
    operator = django_user_model.objects.create_superuser(
        "operator", password="x-Strong-1", phone="13000000000"
    )
    client.force_login(operator)
    resp = client.get("/admin/redpackets/reconciliation/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert brand.name in body and other_brand.name in body
    assert client.get("/admin/redpackets/withdrawal/add/").status_code == 403
