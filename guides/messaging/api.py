"""REST API of messaging for partner apps (a CRM, a customer-service desk) and brand admins.

Scope ``messages:read``: the brand's conversations (one per member; its guide is the member's
exclusive guide), filtered by member, guide and last activity, in pages; a conversation's
messages, paged by id (``before`` / ``after``); each reading is audited, as in the console.
Scope ``messages:write``: send a text message as the brand to a conversation or to a member
(answered once per ``Idempotency-Key``; another body under the same key is a 409). A brand
message goes through the brand's banned words and reaches the shopper's page live, and their
notice channel when they are not on it.

Staff sessions: brand admins only. Never answered: image files (only whether a message has one).
"""

from __future__ import annotations

from django.db.models import F
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from guides.messaging import safety, sending
from guides.messaging.models import BODY_MAX, Conversation, Message
from members.models import Member
from retail import filters, roles
from retail.api_base import BrandGenericView
from retail.events import Actor
from retail.tenancy import brand_scope

READ, WRITE = "messages:read", "messages:write"


class IsBrandAdmin(permissions.BasePermission):
    message = _("Only brand admins may read conversations.")

    def has_permission(self, request, view):
        return roles.sees_all_stores(view.staff)


# --- filters -------------------------------------------------------------------------------------


class ConversationFilter(filters.SelectorFilterSet):
    member = filters.IdFilter(help_text="Only this member's conversation.")
    guide = filters.IdFilter(help_text="Only conversations of this guide's members (a staff id).")
    updated_after = filters.DateTimeFilter(help_text="Only conversations with a message after this moment.")

    class Meta:
        model = Conversation
        fields: list = []


class MessageFilter(filters.SelectorFilterSet):
    before = filters.IdFilter(help_text="Messages older than this message id (newest first).")
    after = filters.IdFilter(help_text="Messages newer than this message id (oldest first: for syncing).")

    class Meta:
        model = Message
        fields: list = []


# --- serializers ---------------------------------------------------------------------------------


class ConversationSerializer(serializers.ModelSerializer):
    guide = serializers.IntegerField(
        source="member.guide_id", read_only=True, allow_null=True, help_text="The member's exclusive guide."
    )
    blocked = serializers.SerializerMethodField(help_text="The guide blocked the shopper.")

    class Meta:
        model = Conversation
        fields = [
            "id",
            "member",
            "guide",
            "status",
            "last_message_at",
            "last_preview",
            "last_sender",
            "guide_unread",
            "member_unread",
            "guide_read_upto",
            "member_read_upto",
            "blocked",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "member": {"help_text": "The member (one conversation per member)."},
            "status": {"help_text": "merged: the member was merged into another; its messages moved."},
            "last_preview": {"help_text": "The start of the last message."},
            "guide_unread": {"help_text": "The shopper's messages the guide has not read."},
            "member_unread": {"help_text": "Messages to the shopper they have not read."},
            "guide_read_upto": {"help_text": "The guide has read every message up to this id."},
            "member_read_upto": {"help_text": "The shopper has read every message up to this id."},
        }

    def get_blocked(self, obj) -> bool:
        return obj.blocked_at is not None


class MessageSerializer(serializers.ModelSerializer):
    has_image = serializers.SerializerMethodField(help_text="The message carries an image (not served here).")

    class Meta:
        model = Message
        fields = ["id", "conversation", "sender", "staff", "kind", "body", "data", "has_image", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "sender": {
                "help_text": "Who wrote it: the member, the guide, the brand, the auto-reply or the system."
            },
            "staff": {"help_text": "The guide or admin who wrote it (null for the member and the system)."},
            "data": {"help_text": "A card's content (product, coupon, order) or a notice's details."},
        }

    def get_has_image(self, obj) -> bool:
        return bool(obj.image)


class SendSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=BODY_MAX, trim_whitespace=True, help_text="The text (at most 1,000 characters)."
    )


# --- views ---------------------------------------------------------------------------------------


def _conversations(brand):
    return Conversation.objects.for_brand(brand).select_related("member")


class ConversationListView(filters.FilteredListView):
    """The brand's conversations, the latest active first."""

    scopes = {"GET": READ}
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no brand
            return Conversation.unscoped.none()
        values = self.filter_values()
        qs = _conversations(self.brand)
        if "member" in values:
            qs = qs.filter(member_id=values["member"])
        if "guide" in values:
            qs = qs.filter(member__guide_id=values["guide"])
        if "updated_after" in values:
            qs = qs.filter(last_message_at__gt=values["updated_after"])
        return qs.order_by(F("last_message_at").desc(nulls_last=True), "-id")


class _Send:
    def _send(self, request, member: Member) -> Response:
        s = SendSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "")
        sent = sending.send_as_brand(
            brand=self.brand,
            staff=self.staff,
            member=member,
            body=s.validated_data["body"],
            client_id=f"api:{key}"[:40] if key else "",
        )
        code = status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK
        return Response(MessageSerializer(sent.message).data, status=code)


class ConversationMessagesView(_Send, filters.FilteredListView):
    """A conversation's messages: newest first, older pages with ``before``; with ``after``, the
    messages after that id, oldest first. POST sends a text message as the brand."""

    scopes = {"GET": READ, "POST": WRITE}
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    def conversation(self) -> Conversation:
        with brand_scope(self.brand):
            conv = _conversations(self.brand).filter(pk=self.kwargs["pk"]).first()
        if conv is None:
            raise NotFound()
        return conv

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Message.unscoped.none()
        values = self.filter_values()  # a bad filter is a 400 whatever the conversation
        # Reading a conversation's messages is audited, as in the console.
        conv = safety.conversation_open_for_admin(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(self.request),
            conversation_id=self.kwargs["pk"],
        )
        qs = Message.objects.for_brand(self.brand).filter(conversation=conv)
        if "before" in values:
            qs = qs.filter(id__lt=values["before"])
        if "after" in values:
            return qs.filter(id__gt=values["after"]).order_by("id")
        return qs.order_by("-id")

    @extend_schema(
        request=SendSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer},
        filters=False,
        description="Send a text message to the conversation's member as the brand (201; a retry with "
        "the same Idempotency-Key gets the first answer, another body under it a 409).",
    )
    def post(self, request, pk: int):
        conv = self.conversation()
        if conv.status != Conversation.Status.OPEN or not conv.member.is_active:
            raise NotFound()
        return self._send(request, conv.member)


class MemberMessagesView(_Send, BrandGenericView):
    """Send a text message as the brand to a member (their conversation is opened if need be)."""

    scopes = {"POST": WRITE}
    serializer_class = MessageSerializer
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    @extend_schema(
        request=SendSerializer,
        responses={201: MessageSerializer, 200: MessageSerializer},
        description="Send a text message to the member as the brand (201; a retry with the same "
        "Idempotency-Key gets the first answer, another body under it a 409).",
    )
    def post(self, request, pk: int):
        with brand_scope(self.brand):
            member = Member.objects.for_brand(self.brand).filter(pk=pk, status=Member.Status.ACTIVE).first()
        if member is None:
            raise NotFound()
        return self._send(request, member)
