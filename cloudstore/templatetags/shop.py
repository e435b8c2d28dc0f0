"""Template helpers of the cloud store's shopper pages: distances, media URLs, QR codes, payment
labels (money is ``{% load money %}``)."""

from __future__ import annotations

import segno
from django import template
from django.core.files.storage import default_storage
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def distance(metres) -> str:
    """Metres for people: 350 m, 1.2 km, 38 km."""
    if metres in (None, ""):
        return ""
    m = float(metres)
    if m < 1000:
        return _("%(n)s m") % {"n": int(round(m / 10) * 10) if m >= 100 else int(round(m))}
    km = m / 1000
    return _("%(n)s km") % {"n": f"{km:.1f}" if km < 10 else f"{km:.0f}"}


@register.filter
def media_url(name) -> str:
    """The public URL of a stored file name (an annotated thumbnail path), or ''."""
    if not name:
        return ""
    return default_storage.url(str(name))


@register.simple_tag
def qr_code(data: str, scale: int = 4, label: str = "") -> str:
    """An inline, scalable SVG QR code of ``data`` (error correction M, quiet zone kept)."""
    svg = segno.make(data, error="m").svg_inline(
        scale=scale, omitsize=True, svgclass="qr", lineclass="qr-line", title=label or None
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; data is encoded as modules, not text


@register.filter
def payment_provider(name: str) -> str:
    """ "flagship" -> 线上旗舰店, "sim" -> 模拟支付: who took the money, in words."""
    from cloudstore.labels import payment_provider_label

    return payment_provider_label(name)


@register.filter
def payment_method(method: str) -> str:
    """ "alipay" -> 支付宝: how the shopper paid, in words."""
    from cloudstore.labels import payment_method_label

    return payment_method_label(method)
