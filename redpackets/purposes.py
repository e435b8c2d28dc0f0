"""Pool top-ups are paid through the cloud store's payment provider: their notices and their
page on the simulated cashier are routed here by reference prefix."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from redpackets.models import TopUp
from redpackets.services import funding
from retail import payments
from retail.models import Brand
from retail.tenancy import brand_scope


def _sim_page(brand: Brand, reference: str) -> dict | None:
    with brand_scope(brand):
        topup = TopUp.objects.filter(reference=reference).first()
    if topup is None:
        return None
    return {
        "amount_fen": topup.amount_fen,
        "title": _("Top-up of %(brand)s's red packet pool") % {"brand": brand.name},
        "reference": topup.reference,
        "back_url": reverse("dash-rp-pool"),
    }


payments.NOTICE_HANDLERS[funding.REFERENCE_PREFIX] = funding.topup_notice
payments.SIM_PAGES[funding.REFERENCE_PREFIX] = _sim_page
