"""Red packet events: written in the same transaction as the change (Event, read by the ISV
webhooks) and emitted through the outbox (retail/outbox.py) to their subscribers after commit.
Staff actions also go to the audit log."""

from __future__ import annotations

from redpackets.models import Event, PayoutAccount, RedPacket, Withdrawal
from retail import outbox
from retail.events import Actor, record
from retail.models import Brand


def _emit(name: str, brand_id: int, data: dict, **refs) -> Event:
    ev = Event.objects.create(brand_id=brand_id, name=name, data=data, **refs)
    outbox.emit(brand_id=brand_id, name=name, payload=data)
    return ev


def packet_sent(*, packet: RedPacket, actor: Actor | None) -> Event:
    data = {
        "packet_id": packet.pk,
        "kind": packet.kind,
        "audience": packet.audience,
        "total_fen": packet.total_fen,
        "shares": packet.shares,
        "sender_id": packet.sender_id,
        "source": packet.source,
        "source_ref": packet.source_ref,
        "expires_at": packet.expires_at.isoformat(),
    }
    if packet.sender_id is not None:
        record(
            brand=packet.brand,
            actor=actor,
            action="redpacket.sent",
            target=packet,
            data={"total_fen": packet.total_fen, "shares": packet.shares, "audience": packet.audience},
        )
    return _emit("packet.sent", packet.brand_id, data, packet=packet)


def packet_claimed(*, packet: RedPacket, share) -> Event:
    return _emit(
        "packet.claimed",
        packet.brand_id,
        {
            "packet_id": packet.pk,
            "staff_id": share.staff_id,
            "amount_fen": share.amount_fen,
            "seq": share.seq,
        },
        packet=packet,
    )


def packet_expired(*, packet: RedPacket, refunded_fen: int) -> Event:
    return _emit(
        "packet.expired",
        packet.brand_id,
        {"packet_id": packet.pk, "refunded_fen": refunded_fen, "claimed_count": packet.claimed_count},
        packet=packet,
    )


def withdrawal_finished(*, withdrawal: Withdrawal) -> Event:
    name = "withdrawal.succeeded" if withdrawal.status == Withdrawal.Status.SUCCEEDED else "withdrawal.failed"
    return _emit(
        name,
        withdrawal.brand_id,
        {
            "withdrawal_id": withdrawal.pk,
            "staff_id": withdrawal.staff_id,
            "amount_fen": withdrawal.amount_fen,
            "reference": withdrawal.reference,
            "reason": withdrawal.failure_reason,
        },
        withdrawal=withdrawal,
    )


def payout_account_bound(
    *, brand: Brand, actor: Actor, account: PayoutAccount, replaced: PayoutAccount | None
):
    return record(
        brand=brand,
        actor=actor,
        action="payout_account.rebound" if replaced else "payout_account.bound",
        target=account.staff,
        data={
            "account": account.masked,
            "provider": account.provider,
            **({"replaced": replaced.masked} if replaced else {}),
        },
    )


def payout_account_unbound(*, brand: Brand, actor: Actor, account: PayoutAccount):
    return record(
        brand=brand,
        actor=actor,
        action="payout_account.unbound",
        target=account.staff,
        data={"account": account.masked, "provider": account.provider},
    )


def payout_account_refused(*, brand: Brand, actor: Actor, staff, account_no: str, reason: str):
    masked = PayoutAccount(account_no=account_no).masked
    return record(
        brand=brand,
        actor=actor,
        action="payout_account.refused",
        target=staff,
        data={"account": masked, "reason": reason},
    )


def auto_withdraw_changed(*, brand: Brand, actor: Actor, staff, on: bool):
    return record(brand=brand, actor=actor, action="wallet.auto_withdraw", target=staff, data={"on": on})


def topup_started(*, brand: Brand, actor: Actor, topup):
    return record(
        brand=brand,
        actor=actor,
        action="pool.topup",
        target_repr=topup.reference,
        data={"amount_fen": topup.amount_fen, "reference": topup.reference},
    )


def settings_changed(*, brand: Brand, actor: Actor, changes: dict):
    return record(brand=brand, actor=actor, action="redpackets.settings", data=changes)


def correction_posted(*, brand: Brand, actor: Actor, txn, original):
    return record(
        brand=brand,
        actor=actor,
        action="ledger.correction",
        target=original,
        data={"correction_id": txn.pk, "original_id": original.pk, "memo": txn.memo},
    )
