"""The payment provider's side of the web: the webhook providers call with signed notices, and
the simulated provider's own cashier page (what a payer sees on the provider's site).

The cashier stands for the provider's hosted page: like a real one, it opens only through the
signed, short-lived link the provider handed out when the payment started, never by a
reference alone, so nobody completes someone else's payment by guessing."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from cloudstore.models import Order, Payment
from cloudstore.services import order_payments
from members import shopper
from retail import payments
from retail.middleware import brandless
from retail.models import Brand
from retail.tenancy import brand_scope

MAX_NOTICE_BYTES = 16 * 1024


def _deliver(brand: Brand, provider_name: str, body: bytes, signature: str) -> tuple[int, dict]:
    try:
        notice = payments.provider(provider_name).parse_notice(body, signature)
    except (LookupError, payments.SignatureError):
        return 400, {
            "error": {"code": "bad_notice", "message": "Unknown provider or bad signature.", "fields": {}}
        }
    if notice.brand_id != brand.pk:
        return 400, {"error": {"code": "bad_notice", "message": "Notice for another brand.", "fields": {}}}
    handle = payments.handler_for(notice.reference) or order_payments.payment_notice
    try:
        payment = handle(brand=brand, provider_name=provider_name, notice=notice)
    except ValidationError as exc:
        code = getattr(exc, "code", None) or next(
            (e.code for errs in getattr(exc, "error_dict", {}).values() for e in errs), "invalid"
        )
        return 400, {"error": {"code": code or "invalid", "message": " ".join(exc.messages), "fields": {}}}
    return 200, {"reference": payment.reference, "status": payment.status}


@brandless
@csrf_exempt
@require_POST
def notify(request, brand_slug: str, provider_name: str):
    """Webhook: a provider's signed payment notice (any number of times; applied once)."""
    brand = Brand.objects.filter(slug=brand_slug).first()
    if brand is None:
        raise Http404
    body = request.body[: MAX_NOTICE_BYTES + 1]
    if len(body) > MAX_NOTICE_BYTES:
        return JsonResponse(
            {"error": {"code": "payload_too_large", "message": "Too large.", "fields": {}}}, status=413
        )
    status, data = _deliver(brand, provider_name, body, request.headers.get("X-Signature", ""))
    return JsonResponse(data, status=status)


@brandless
@require_http_methods(["GET", "POST"])
def simulator(request, brand_slug: str, reference: str):
    """The simulated provider's cashier: pay, fail, pay with the notice held back, or pay with the
    notice sent twice."""
    brand = shopper.brand_for_slug(brand_slug)
    sim = payments.provider("sim")
    record = sim.record(reference)
    if record is None or record["brand_id"] != brand.pk:
        raise Http404
    link = sim.cashier_check(brand_id=brand.pk, reference=reference, token=request.GET.get("t", ""))
    if link == "bad":
        raise Http404
    expired = link == "expired"
    page = next((fn for prefix, fn in payments.SIM_PAGES.items() if reference.startswith(prefix)), None)
    if page is not None:
        return _other_purpose(request, brand, sim, record, page(brand, reference), expired)
    with brand_scope(brand):
        payment = Payment.objects.select_related("order").filter(provider="sim", reference=reference).first()
        if payment is None:
            raise Http404
        order: Order = payment.order
    context = {"brand": brand, "order": order, "payment": payment, "record": record, "expired": expired}
    if expired:
        return render(request, "shop/pay_sim.html", context, status=410)
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("pay", "fail", "late", "twice"):
            return HttpResponse(status=400)
        sim.settle(reference, "failed" if action == "fail" else "succeeded")
        if action != "late":
            body, sig = sim.signed_notice(reference)
            for _n in range(2 if action == "twice" else 1):
                _deliver(brand, "sim", body, sig)
        return redirect("shop-order", brand.slug, order.number)
    return render(request, "shop/pay_sim.html", context)


def _other_purpose(request, brand: Brand, sim, record: dict, purpose: dict | None, expired: bool):
    """The cashier for a registered purpose (a pool top-up): same buttons, its own labels."""
    if purpose is None:
        raise Http404
    context = {"brand": brand, "record": record, "purpose": purpose, "expired": expired}
    if expired:
        return render(request, "shop/pay_sim.html", context, status=410)
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("pay", "fail", "late", "twice"):
            return HttpResponse(status=400)
        sim.settle(purpose["reference"], "failed" if action == "fail" else "succeeded")
        if action != "late":
            body, sig = sim.signed_notice(purpose["reference"])
            for _n in range(2 if action == "twice" else 1):
                _deliver(brand, "sim", body, sig)
        return redirect(purpose["back_url"])
    return render(request, "shop/pay_sim.html", context)
