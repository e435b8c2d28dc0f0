"""Template helpers of the membership pages: masked identities, signed points, QR codes, job names
(money is ``{% load money %}``)."""

from __future__ import annotations

import segno
from django import template
from django.utils.safestring import mark_safe

from members.identities import mask_identity

register = template.Library()


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
