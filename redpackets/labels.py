"""How red packet codes read in words: audit events and their targets, payout providers."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from redpackets.models import Reconciliation, Transaction
from retail.labels import register_actions, register_group, register_target

PAYOUT_PROVIDERS = {"sim": gettext_lazy("Simulated payout")}


def payout_provider_label(name: str) -> str:
    """Who pays withdrawals out; a provider nobody named reads as a generic phrase."""
    if name in PAYOUT_PROVIDERS:
        return str(PAYOUT_PROVIDERS[name])
    return str(_("Payout provider")) if (name or "").isascii() else name


def _ids(ids: list[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit()]


def _when(at) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def transaction_label(t: Transaction) -> str:
    return f"{t.get_kind_display()} · {_when(t.created_at)}"


def reconciliation_label(r: Reconciliation) -> str:
    return _("Ledger check of %(when)s") % {"when": _when(r.started_at)}


def _describe_transactions(ids: list[str]) -> dict[str, str]:
    return {str(t.pk): transaction_label(t) for t in Transaction.objects.filter(pk__in=_ids(ids))}


def _describe_reconciliations(ids: list[str]) -> dict[str, str]:
    return {str(r.pk): reconciliation_label(r) for r in Reconciliation.objects.filter(pk__in=_ids(ids))}


register_actions(
    {
        "redpacket.sent": gettext_lazy("Red packet sent"),
        "pool.topup": gettext_lazy("Pool top-up started"),
        "redpackets.settings": gettext_lazy("Red packet settings changed"),
        "ledger.correction": gettext_lazy("Ledger correction posted"),
        "ledger.mismatch": gettext_lazy("Ledger check found a mismatch"),
        "payout_account.bound": gettext_lazy("Payout account bound"),
        "payout_account.rebound": gettext_lazy("Payout account replaced"),
        "payout_account.unbound": gettext_lazy("Payout account removed"),
        "payout_account.refused": gettext_lazy("Payout account refused"),
        "wallet.auto_withdraw": gettext_lazy("Automatic withdrawal switched"),
    }
)
register_group(gettext_lazy("Red packets"), "redpacket.", "redpackets.", "pool.", "ledger.")
register_group(gettext_lazy("Wallets"), "payout_account.", "wallet.")
register_target("redpackets.RedPacket", gettext_lazy("red packet"))
register_target("redpackets.Transaction", gettext_lazy("ledger transaction"), _describe_transactions)
register_target("redpackets.Reconciliation", gettext_lazy("ledger check"), _describe_reconciliations)
