"""The payout provider's callback: signed notices that a withdrawal succeeded or failed."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from redpackets import payouts
from redpackets.services import withdrawals
from retail.middleware import brandless
from retail.models import Brand

MAX_NOTICE_BYTES = 16 * 1024


def _error(code: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


@brandless
@csrf_exempt
@require_POST
def notify(request, brand_slug: str, provider_name: str):
    """Webhook: a payout provider's signed notice (any number of times; applied once)."""
    brand = Brand.objects.filter(slug=brand_slug).first()
    if brand is None:
        raise Http404
    body = request.body[: MAX_NOTICE_BYTES + 1]
    if len(body) > MAX_NOTICE_BYTES:
        return _error("payload_too_large", "Too large.", 413)
    try:
        w = withdrawals.withdrawal_notice(
            brand=brand,
            provider_name=provider_name,
            body=body,
            signature=request.headers.get("X-Signature", ""),
        )
    except (LookupError, payouts.SignatureError):
        return _error("bad_notice", "Unknown provider or bad signature.")
    except ValidationError as exc:
        return _error(getattr(exc, "code", None) or "invalid", " ".join(exc.messages))
    return JsonResponse({"reference": w.reference, "status": w.status})
