"""What the guide's and the shopper's chat views share: reading a send, answering JSON, images."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import images as product_images
from guides.messaging import wire
from guides.messaging.models import Message
from retail import private_files

CLIENT_ID_MAX = 40


def bad(message: str, code: str = "invalid", status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def refused(exc: Exception) -> JsonResponse:
    if isinstance(exc, PermissionDenied):
        return bad(str(exc) or _("Not allowed."), "forbidden", 403)
    code = getattr(exc, "code", None) or "invalid"
    return bad(" ".join(str(m) for m in exc.messages), str(code))


def positive_int(value) -> int | None:
    """A positive id from a query or a JSON value, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        n = int(value)
        return n if n > 0 else None
    return None


def send_fields(request, kinds) -> dict:
    """kind, body, client_id and target of a posted message (a JSON object or a form)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise ValidationError(_("Send a JSON object."), code="bad_json") from exc
        if not isinstance(data, dict):
            raise ValidationError(_("Send a JSON object."), code="bad_json")
    else:
        data = request.POST
    kind = data.get("kind") or Message.Kind.TEXT
    body = data.get("body", "")
    client_id = data.get("client_id", "")
    if kind not in kinds:
        raise ValidationError(_("Unknown message."), code="bad_kind")
    if not isinstance(body, str) or "\x00" in body:
        raise ValidationError(_("Write a message."), code="bad_body")
    if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX or "\x00" in client_id:
        raise ValidationError(_("Unknown message."), code="bad_client_id")
    target = None
    if kind in (Message.Kind.PRODUCT, Message.Kind.COUPON, Message.Kind.ORDER):
        target = positive_int(data.get("target"))
        if target is None:
            raise ValidationError(_("Choose what to send."), code="bad_target")
    return {"kind": kind, "body": body, "client_id": client_id, "target": target}


def chat_image(request):
    """The uploaded image (field ``image``), checked and re-encoded like a product photo, as the
    JPEG to store; ValidationError says why not."""
    upload = request.FILES.get("image")
    if upload is None:
        raise ValidationError(_("Choose an image."), code="no_image")
    large, _thumb = product_images.process_upload(upload)
    large.name = "chat.jpg"
    return large


def client_id_of(request) -> str:
    value = request.POST.get("client_id", "")
    if len(value) > CLIENT_ID_MAX or "\x00" in value:
        raise ValidationError(_("Unknown message."), code="bad_client_id")
    return value


def message_json(msg: Message, *, staff_name: str = "") -> dict:
    return wire.message(msg, staff_name=staff_name or (msg.staff.name if msg.staff_id and msg.staff else ""))


def image_response(request, msg: Message):
    """A chat image for one of the conversation's two sides (the caller checked who asks): shown
    inline, never sniffed, kept only in the viewer's own cache; an expired one is gone (410)."""
    if msg.files_expire_at is not None and msg.files_expire_at <= timezone.now():
        return private_files.gone(request)
    try:
        fh = msg.image.open("rb")
    except FileNotFoundError:
        return private_files.gone(request)
    response = FileResponse(fh, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = 'inline; filename="image.jpg"'
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
