"""The words of a guide's notification, put together in the reader's language when it is shown
(``Notification.message``). Kinds are ``Notification.Kind`` values; this module imports no model,
so that models can use it."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from retail.money import yuan


def _member_name(name: str, member_id: int | None) -> str:
    # Never the member's row id: their name or masked phone (stored with the notification), or
    # a phrase.
    return name or _("a shopper")


def message(kind: str, amount_fen: int, data: dict) -> str:
    """A notification's text in the active language."""
    if kind == "commission":
        n = data.get("orders", 1)
        who = _member_name(data.get("member", ""), data.get("member_id"))
        if n == 1:
            return _("You earned %(amount)s from %(member)s.") % {"amount": yuan(amount_fen), "member": who}
        return ngettext(
            "You earned %(amount)s from %(n)s order (%(member)s and others).",
            "You earned %(amount)s from %(n)s orders (%(member)s and others).",
            n,
        ) % {"amount": yuan(amount_fen), "n": n, "member": who}
    if kind == "clawback":
        return _("%(amount)s of commission was taken back: order %(order)s was refunded.") % {
            "amount": yuan(-amount_fen),
            "order": data.get("order", ""),
        }
    if kind == "statement":
        return _("Your commission for %(period)s, %(amount)s, is in your wallet.") % {
            "amount": yuan(amount_fen),
            "period": data.get("period", ""),
        }
    if kind == "device_offline":
        return _(
            "%(device)s at %(store)s is offline and has not reconnected. Check its power and network."
        ) % {
            "device": data.get("device", ""),
            "store": data.get("store", ""),
        }
    if kind == "device_online":
        return _("%(device)s at %(store)s is back online.") % {
            "device": data.get("device", ""),
            "store": data.get("store", ""),
        }
    if kind == "access_alert":
        return _(
            "%(device)s at %(store)s refused %(n)s faces or PINs within %(minutes)s minutes. "
            "Check who is trying to get in."
        ) % {
            "device": data.get("device", ""),
            "store": data.get("store", ""),
            "n": data.get("refusals", 0),
            "minutes": data.get("minutes", 10),
        }
    if kind == "face_duplicate":
        return _(
            "%(staff)s tried to enroll a face that is already enrolled for %(other)s. The enrollment "
            "was refused: check whether one is punching for the other."
        ) % {"staff": data.get("staff", ""), "other": data.get("other", "")}
    if kind == "punch":
        text = _("Punch recorded at %(time)s, %(store)s.") % {
            "time": data.get("time", ""),
            "store": data.get("store", ""),
        }
        if data.get("offline"):
            text += " " + _("It was sent when the device was back online.")
        return text
    return ""
