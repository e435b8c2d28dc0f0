"""Template helpers of the membership pages: money in yuan, masked identities, QR codes."""

from __future__ import annotations

from decimal import Decimal

import segno
from django import template
from django.utils.safestring import mark_safe

from members.identities import mask_identity

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """Integer fen as ¥ with two decimals and thousands separators: 123456 -> ¥1,234.56."""
    if fen in (None, ""):
        return "—"
    amount = (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))
    return f"-¥{-amount:,}" if amount < 0 else f"¥{amount:,}"


@register.filter
def masked(value: str, kind: str) -> str:
    return mask_identity(kind, value or "")


@register.filter
def signed(n) -> str:
    """Points with their sign: +200, -50."""
    n = int(n or 0)
    return f"+{n:,}" if n > 0 else f"{n:,}".replace("-", "−")


@register.simple_tag
def qr_svg(data: str, scale: int = 4, label: str = "") -> str:
    """An inline, scalable SVG QR code of ``data`` (error correction M, quiet zone kept)."""
    svg = segno.make(data, error="m").svg_inline(
        scale=scale, omitsize=True, svgclass="qr", lineclass="qr-line", title=label or None
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; data is encoded as modules, not text


@register.filter
def job_label(job) -> str:
    """ "Member export of 2026-12-06 21:22": a job named by what and when, not by its id."""
    from members.labels import job_label as label

    return label(job)
