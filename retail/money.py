"""Money: amounts are integer fen everywhere; yuan exist only at the edges (forms, pages, files).

This is the one home of fen ↔ yuan. Conversions go through ``Decimal`` built from the integer's
digits, never through float, so every amount converts exactly however large it is.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from django import forms
from django.utils.translation import gettext_lazy as _

MAX_FEN = 10**10  # the models' ceiling for any amount: a hundred million yuan
MAX_YUAN = Decimal("100000000.00")  # MAX_FEN in yuan: far above any real price
BLANK = "—"  # what a page shows for a missing amount

# An amount written plainly: no exponents ("1e5"), NaN or infinity.
PLAIN_AMOUNT = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?|[+-]?\.[0-9]+")


def fen_to_yuan(fen: int | None) -> Decimal | None:
    """Integer fen as yuan with two decimals, exactly: 29900 -> Decimal("299.00"); None stays None.

    ``str()`` of the result is the text a yuan input shows ("299.00", "-0.05")."""
    if fen is None:
        return None
    if isinstance(fen, float):
        raise TypeError("amounts in fen are integers, not floats")
    return Decimal(f"{int(fen)}E-2")


def yuan_input(fen: int | None) -> str:
    """Integer fen as the text a yuan input shows: 29900 -> "299.00"; None -> ""."""
    return "" if fen is None else str(fen_to_yuan(fen))


def yuan_to_fen(value: Decimal | str | int) -> int:
    """Yuan to integer fen, exactly: Decimal("59.9") or "59.9" -> 5990.

    Forms allow at most two decimals; a finer amount is rounded to the nearest fen (half to
    even). Floats, NaN and infinity raise (TypeError, ValueError)."""
    if isinstance(value, float):
        raise TypeError("amounts in yuan are Decimal or text, not floats")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount in yuan: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount in yuan: {value!r}")
    with localcontext() as ctx:
        ctx.prec = max(28, len(amount.as_tuple().digits) + 3)  # enough digits: never rounds whole fen
        return int(amount.scaleb(2).to_integral_value(rounding=ROUND_HALF_EVEN))


def _fen(value) -> int | None:
    """An amount in fen from a template or a report value (int, numeric text), or None."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def yuan(fen, blank: str = BLANK) -> str:
    """Integer fen for people: 1234 -> "¥12.34", 123456 -> "¥1,234.56", -5 -> "-¥0.05".

    A missing or unreadable amount is ``blank`` ("—")."""
    n = _fen(fen)
    if n is None:
        return blank
    amount = fen_to_yuan(abs(n))
    return f"-¥{amount:,}" if n < 0 else f"¥{amount:,}"


def yuan_short(fen) -> str:
    """Like ``yuan`` but whole yuan lose their ".00" (chart axes): 120000 -> "¥1,200"."""
    text = yuan(fen)
    return text[:-3] if text.endswith(".00") else text


class YuanField(forms.DecimalField):
    """An amount typed in yuan ("299.00", "¥1,299", "59.9"), cleaned to integer fen.

    At most two decimals, between ``min_fen`` and ``max_fen`` (or ``min_value``/``max_value`` in
    yuan). ``error_messages`` override the messages below (a page's own example amount)."""

    def __init__(self, *, min_fen: int = 0, max_fen: int = MAX_FEN, error_messages=None, **kwargs):
        kwargs.setdefault("min_value", fen_to_yuan(min_fen))
        kwargs.setdefault("max_value", fen_to_yuan(max_fen))
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}),
        )
        messages = {
            "invalid": _("Enter an amount in yuan, e.g. 299.00."),
            "max_decimal_places": _("Use at most 2 decimals (fen)."),
            **(error_messages or {}),
        }
        super().__init__(max_digits=11, decimal_places=2, error_messages=messages, **kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace(",", "").replace("¥", "").replace("￥", "")
            if value and not PLAIN_AMOUNT.fullmatch(value):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)

    def clean(self, value):
        amount = super().clean(value)
        return None if amount is None else yuan_to_fen(amount)
