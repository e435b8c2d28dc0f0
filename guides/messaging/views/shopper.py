"""The shopper's chat with their exclusive guide (/s/<brand_slug>/chat/): reached from the member
card and by a signed link (``links.chat_link``) that logs that member in at that brand.

Public pages: the brand comes from the URL slug and the member from the shopper's session, never
from a staff login, so these views are ``brandless`` and open the brand's scope themselves."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guides.messaging import conversations, history, links, sending, wire
from guides.messaging.consumers import MEMBER_KINDS
from guides.messaging.models import Message
from guides.messaging.views import common
from members import shopper
from members.models import Member
from retail.middleware import brandless
from retail.tenancy import brand_scope


def _login_needed(request, brand, *, json: bool = False):
    if json:
        return common.bad(_("Please log in again."), "login", 403)
    return redirect("shopper-login", brand.slug)


def _token_login(request, brand, token: str) -> bool:
    """Log in the member the signed token names (this brand's, unforged, not expired)."""
    member_id = links.chat_token_read(token, brand=brand)
    if member_id is None:
        return False
    member = Member.objects.for_brand(brand).filter(pk=member_id).first()
    if member is None or member.status == Member.Status.ERASED:
        return False
    if shopper.member_id(request, brand) != member.pk:
        shopper.login(request, brand, member)
    return True


@brandless
@never_cache
@require_http_methods(["GET"])
def chat(request, brand_slug: str):
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        token = request.GET.get("t")
        if token is not None:
            if not _token_login(request, brand, token) and shopper.current_member(request, brand) is None:
                messages.info(
                    request, _("This link has expired. Log in with your phone to see your messages.")
                )
                return redirect("shopper-login", brand.slug)
            # The token leaves the address bar (and the history, and any Referer).
            return redirect("shopper-chat", brand.slug)
        member = shopper.current_member(request, brand)
        if member is None:
            return _login_needed(request, brand)
        conv = conversations.conversation_for_member(brand=brand, member=member)
        conversations.conversation_read(brand=brand, conversation=conv, side="member")
        conv.refresh_from_db()
        rows, more = history.messages_page(brand=brand, conversation=conv)
        return render(
            request,
            "guides/messaging/shopper/chat.html",
            {
                "brand": brand,
                "member": member,
                "guide": member.guide,
                "conv": conv,
                "chat_state": {
                    "side": "member",
                    "conversation": conv.pk,
                    "messages": [common.message_json(m) for m in rows],
                    "more": more,
                    "state": wire.conversation(conv, side="member"),
                    "socket": f"/ws/s/{brand.slug}/chat/",
                },
            },
        )


def _member_conversation(request, brand):
    member = shopper.current_member(request, brand)
    if member is None:
        return None, None
    return member, conversations.conversation_for_member(brand=brand, member=member)


@brandless
@never_cache
@require_GET
def chat_history(request, brand_slug: str):
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member, conv = _member_conversation(request, brand)
        if member is None:
            return _login_needed(request, brand, json=True)
        before = request.GET.get("before")
        before_id = common.positive_int(before) if before else None
        if before and before_id is None:
            return common.bad(_("Unknown message."), "bad_before")
        rows, more = history.messages_page(brand=brand, conversation=conv, before=before_id)
        return JsonResponse({"messages": [common.message_json(m) for m in rows], "more": more})


@brandless
@require_POST
def chat_send(request, brand_slug: str):
    """Send text without the socket (the page falls back to this)."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member, _conv = _member_conversation(request, brand)
        if member is None:
            return _login_needed(request, brand, json=True)
        try:
            fields = common.send_fields(request, MEMBER_KINDS)
            with transaction.atomic():
                sent = sending.send_as_member(
                    brand=brand, member=member, body=fields["body"], client_id=fields["client_id"]
                )
        except (ValidationError, PermissionDenied) as exc:
            return common.refused(exc)
        return JsonResponse({"message": common.message_json(sent.message)})


@brandless
@require_POST
def chat_image(request, brand_slug: str):
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member, _conv = _member_conversation(request, brand)
        if member is None:
            return _login_needed(request, brand, json=True)
        try:
            client_id = common.client_id_of(request)
            image = common.chat_image(request)
            with transaction.atomic():
                sent = sending.send_as_member(
                    brand=brand, member=member, kind=Message.Kind.IMAGE, image=image, client_id=client_id
                )
        except (ValidationError, PermissionDenied) as exc:
            return common.refused(exc)
        return JsonResponse({"message": common.message_json(sent.message)})


@brandless
@require_GET
def chat_image_file(request, brand_slug: str, message_id: int) -> HttpResponse:
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member, conv = _member_conversation(request, brand)
        if member is None:
            raise Http404("No such image.")
        msg = history.message_with_image(brand=brand, conversation=conv, message_id=message_id)
        if msg is None:
            raise Http404("No such image.")
        return common.image_response(request, msg)
