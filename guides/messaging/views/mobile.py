"""The guide's 消息 tab: her conversations, one conversation (history, live messages, text, images,
cards, canned replies, the member panel), and the JSON endpoints its page uses.

A conversation that is not hers (another guide's member, another brand's id, a member handed
over) answers 404; every write goes through ``sending`` (her access is checked there again)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cloudstore import selectors as store_selectors
from cloudstore.models import Order
from guides.messaging import conversations, history, sending, wire
from guides.messaging import selectors as chat_selectors
from guides.messaging.cards import coupon_summary
from guides.messaging.consumers import GUIDE_KINDS
from guides.messaging.models import Conversation, Message
from guides.messaging.views import common
from members import shopper
from members.labels import member_name
from members.models import Member
from retail.money import yuan
from retail.pages import staff_required

PICK_SIZE = 20
MAX_PAGE = 1000


def _conversation(request, pk: int) -> Conversation:
    try:
        return conversations.guide_conversation(brand=request.brand, staff=request.staff, pk=pk)
    except PermissionDenied as exc:
        raise Http404("No such conversation.") from exc


@staff_required
@require_GET
def inbox(request):
    """Her conversations, latest first, with unread badges; search by name or phone digits."""
    q = request.GET.get("q", "")[:64].strip()
    page = min(common.positive_int(request.GET.get("page")) or 1, MAX_PAGE)
    rows, more = history.guide_inbox(
        brand=request.brand, staff=request.staff, q=q, offset=(page - 1) * history.INBOX_SIZE
    )
    return render(
        request,
        "guides/messaging/m/inbox.html",
        {"tab": "messages", "rows": rows, "q": q, "page": page, "more": more},
    )


@staff_required
@require_POST
def open_member(request, member_id: int):
    """Open (or start) the conversation with one of her own members."""
    member = Member.objects.for_brand(request.brand).filter(pk=member_id, guide=request.staff).first()
    if member is None or not member.is_active:
        raise Http404("Not your member.")
    conv = conversations.conversation_for_member(brand=request.brand, member=member)
    return redirect("m-chat", conv.pk)


def _messages_json(rows) -> list[dict]:
    return [common.message_json(m) for m in rows]


def _panel(request, conv: Conversation) -> dict:
    """The member panel's data (its template is included beside the chat)."""
    try:
        panel = chat_selectors.member_panel(brand=request.brand, staff=request.staff, member=conv.member)
    except PermissionDenied:
        return {}
    return {**panel, "conversation_id": conv.pk}


@staff_required
@require_GET
def conversation(request, pk: int):
    """One conversation: opening it marks it read."""
    conv = _conversation(request, pk)
    conversations.conversation_read(brand=request.brand, conversation=conv, side="guide")
    conv.refresh_from_db()
    rows, more = history.messages_page(brand=request.brand, conversation=conv)
    member = conv.member
    return render(
        request,
        "guides/messaging/m/conversation.html",
        {
            "tab": "messages",
            "conv": conv,
            "member": member,
            "member_label": member_name(member),
            "panel": _panel(request, conv),
            "canned": chat_selectors.canned_replies(brand=request.brand, staff=request.staff),
            "chat_state": {
                "side": "guide",
                "conversation": conv.pk,
                "messages": _messages_json(rows),
                "more": more,
                "state": wire.conversation(conv, side="guide"),
                "socket": "/ws/chat/",
            },
        },
    )


@staff_required
@require_GET
def conversation_history(request, pk: int):
    """Earlier messages: ``?before=<message id>``."""
    conv = _conversation(request, pk)
    before = request.GET.get("before")
    before_id = common.positive_int(before) if before else None
    if before and before_id is None:
        return common.bad(_("Unknown message."), "bad_before")
    rows, more = history.messages_page(brand=request.brand, conversation=conv, before=before_id)
    return JsonResponse({"messages": _messages_json(rows), "more": more})


@staff_required
@require_POST
def send(request, pk: int):
    """Send text or a card without the socket (the page falls back to this)."""
    _conversation(request, pk)
    try:
        fields = common.send_fields(request, GUIDE_KINDS)
        with transaction.atomic():
            sent = sending.send_as_guide(
                brand=request.brand,
                staff=request.staff,
                conversation_id=pk,
                body=fields["body"],
                kind=fields["kind"],
                client_id=fields["client_id"],
                target_id=fields["target"],
            )
    except (ValidationError, PermissionDenied) as exc:
        return common.refused(exc)
    return JsonResponse({"message": common.message_json(sent.message, staff_name=request.staff.name)})


@staff_required
@require_POST
def send_image(request, pk: int):
    """An image, checked and re-encoded like a product photo, kept private to the conversation."""
    _conversation(request, pk)
    try:
        client_id = common.client_id_of(request)
        image = common.chat_image(request)
        with transaction.atomic():
            sent = sending.send_as_guide(
                brand=request.brand,
                staff=request.staff,
                conversation_id=pk,
                kind=Message.Kind.IMAGE,
                image=image,
                client_id=client_id,
            )
    except (ValidationError, PermissionDenied) as exc:
        return common.refused(exc)
    return JsonResponse({"message": common.message_json(sent.message, staff_name=request.staff.name)})


@staff_required
@require_GET
def image_file(request, pk: int, message_id: int):
    conv = _conversation(request, pk)
    msg = history.message_with_image(brand=request.brand, conversation=conv, message_id=message_id)
    if msg is None:
        raise Http404("No such image.")
    return common.image_response(request, msg)


@staff_required
@require_GET
def pick(request, pk: int, what: str):
    """What the card pickers list: products on sale at her store, coupons she may issue, the
    member's own orders."""
    conv = _conversation(request, pk)
    brand, staff = request.brand, request.staff
    items: list[dict] = []
    if what == "products":
        store = shopper.guide_store(staff)
        if store is not None:
            q = request.GET.get("q", "").replace("\x00", "")[:64].strip()
            page = store_selectors.store_window(brand=brand, store=store, page=1, per_page=PICK_SIZE, q=q)
            items = [
                {
                    "id": p.pk,
                    "title": p.name,
                    "sub": yuan(p.price_fen),
                    "image": default_storage.url(p.thumb) if p.thumb else "",
                }
                for p in page.object_list
            ]
    elif what == "coupons":
        if shopper.guide_store(staff) is not None:
            items = [
                {"id": c.pk, "title": c.name, "sub": coupon_summary(c), "image": ""}
                for c in store_selectors.campaigns_issuable(brand=brand, viewer=staff)[:PICK_SIZE]
            ]
    elif what == "orders":
        orders = (
            Order.objects.for_brand(brand).filter(member_id=conv.member_id).order_by("-created_at", "-id")
        )
        items = [
            {
                "id": o.pk,
                "title": o.number,
                "sub": f"{o.get_status_display()} · {yuan(o.total_fen)}",
                "image": "",
            }
            for o in orders[:PICK_SIZE]
        ]
    else:
        raise Http404("Nothing to pick.")
    return JsonResponse({"items": items})
