"""Messaging models (app label ``guides``; imported by guides/models.py).

One ``Conversation`` per member: its guide is always the member's exclusive guide
(``Member.guide``), so a hand-over moves the conversation with its whole history at once, and a
guide who leaves or hands over loses access in the same transaction. Read and delivery state are
"up to" message ids per side, so marking a conversation read is one UPDATE whatever its length."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member
from retail.models import Staff
from retail.private_files import PrivateName, private_storage
from retail.tenancy import BrandOwned

BODY_MAX = 1000  # characters in one message


class MessagingSettings(BrandOwned):
    """A brand's messaging texts and limits (one row per brand, created on first use)."""

    welcome_template = models.CharField(
        _("welcome message"),
        max_length=300,
        default="您好，我是{guide}，您的专属导购。有任何问题随时在这里找我。",
        help_text=_("Sent when a shopper joins. {guide} is replaced by the guide's name."),
    )
    auto_reply_text = models.CharField(
        _("auto-reply"),
        max_length=300,
        default="我正在店里服务顾客，稍后回复您。",
        help_text=_("Sent once per quiet period when the guide is off shift, not clocked in or busy."),
    )
    mass_cap = models.PositiveSmallIntegerField(
        _("mass messages per member per month"),
        default=4,
        validators=[MinValueValidator(0), MaxValueValidator(31)],
    )
    banned_words = models.TextField(
        _("banned words"), blank=True, default="", help_text=_("One word or phrase per line.")
    )
    # Shopper limits: messages per minute, and one outbound notice per this many minutes.
    shopper_per_minute = models.PositiveSmallIntegerField(
        _("shopper messages per minute"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    notice_every_minutes = models.PositiveIntegerField(
        _("at most one notice to a shopper every (minutes)"),
        default=240,
        validators=[MinValueValidator(10), MaxValueValidator(7 * 24 * 60)],
    )
    outbound_channel = models.CharField(
        _("notice channel"),
        max_length=12,
        choices=[("sms", _("SMS")), ("wechat", _("WeChat template message")), ("off", _("No notices"))],
        default="sms",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("messaging settings")
        constraints = [models.UniqueConstraint(fields=["brand"], name="msgsettings_one_per_brand")]


class GuideChatSettings(BrandOwned):
    """A guide's own chat state: busy, and her auto-reply text (blank: the brand's)."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    busy_since = models.DateTimeField(_("busy since"), null=True, blank=True)
    auto_reply_text = models.CharField(_("my auto-reply"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("guide chat settings")
        constraints = [
            models.UniqueConstraint(fields=["brand", "staff"], name="guidechat_one_per_staff"),
            models.UniqueConstraint(fields=["brand", "id"], name="guidechat_brand_id_unique"),
        ]


class Conversation(BrandOwned):
    """The member's conversation with their exclusive guide (whoever that is now)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Merged into another member's")

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_preview = models.CharField(max_length=80, blank=True)
    last_sender = models.CharField(max_length=8, blank=True)
    # Unread counts (messages of the other side since the side last read) and read/delivered marks.
    guide_unread = models.PositiveIntegerField(default=0)
    member_unread = models.PositiveIntegerField(default=0)
    guide_read_upto = models.BigIntegerField(default=0)
    member_read_upto = models.BigIntegerField(default=0)
    member_delivered_upto = models.BigIntegerField(default=0)
    # Auto-reply: the quiet period it was last sent in ('' after the guide writes).
    auto_reply_key = models.CharField(max_length=64, blank=True)
    # Safety: a guide may block the shopper; the brand's admins see reports.
    blocked_at = models.DateTimeField(null=True, blank=True)
    blocked_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Outbound notices (SMS / WeChat template) to a shopper who is not on the page.
    last_notice_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("conversation")
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "member"], name="conversation_one_per_member"),
            models.UniqueConstraint(fields=["brand", "id"], name="conversation_brand_id_unique"),
        ]
        indexes = [models.Index(fields=["brand", "-last_message_at"], name="conversation_recent_idx")]


class Message(BrandOwned):
    """One message. Images are private files, served only to the conversation's two sides (and
    audited admins)."""

    class Sender(models.TextChoices):
        MEMBER = "member", _("Member")
        GUIDE = "guide", _("Guide")
        BRAND = "brand", _("Brand")
        AUTO = "auto", _("Auto-reply")
        SYSTEM = "system", _("System")

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        PRODUCT = "product", _("Product card")
        COUPON = "coupon", _("Coupon card")
        ORDER = "order", _("Order card")
        NOTICE = "notice", _("Notice")

    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="messages")
    sender = models.CharField(max_length=8, choices=Sender.choices)
    staff = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    image = models.FileField(storage=private_storage, upload_to=PrivateName("chat"), blank=True)
    files_expire_at = models.DateTimeField(null=True, blank=True)
    # The sender's own id for the message: a resent frame or a double tap stores it once.
    client_id = models.CharField(max_length=40, blank=True)
    broadcast = models.ForeignKey(
        "guides.Broadcast", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="message_brand_id_unique"),
            models.UniqueConstraint(
                fields=["brand", "conversation", "sender", "client_id"],
                condition=~Q(client_id=""),
                name="message_client_id_once",
            ),
        ]
        indexes = [models.Index(fields=["brand", "conversation", "-id"], name="message_conv_idx")]


class CannedReply(BrandOwned):
    """快捷回复: the brand's (staff null) and each guide's own."""

    staff = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=40)
    body = models.CharField(_("text"), max_length=BODY_MAX)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("canned reply")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["brand", "id"], name="cannedreply_brand_id_unique")]


class GuideNote(BrandOwned):
    """A guide's own note about a member, shown beside the chat (only to that guide)."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    body = models.CharField(_("note"), max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("guide note")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "id"], name="guidenote_brand_id_unique")]
        indexes = [models.Index(fields=["brand", "staff", "member"], name="guidenote_member_idx")]


class Broadcast(BrandOwned):
    """群发: a mass message by a guide to her own members, or by the brand to a segment."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    created_by = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    # A guide's broadcast reaches only her own members; the brand's reaches its segment.
    guide_only = models.BooleanField(default=False)
    kind = models.CharField(max_length=8, choices=Message.Kind.choices, default=Message.Kind.TEXT)
    body = models.CharField(_("text"), max_length=BODY_MAX, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Segment: {"tags": [ids], "tier": id, "store": id, "guide": id, "bought_within_days": n,
    #           "not_bought_days": n}
    segment = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    send_at = models.DateTimeField(_("send at"), default=timezone.now)
    # Delivery statistics, written by the send.
    matched = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    skipped_cap = models.PositiveIntegerField(default=0)
    skipped_muted = models.PositiveIntegerField(default=0)
    read = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The send walks the audience in member-id order: the last member done, and how long the
    # current sender holds it (a send whose worker died is taken up again from the cursor).
    cursor = models.BigIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("mass message")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "id"], name="broadcast_brand_id_unique")]
        indexes = [models.Index(fields=["status", "send_at"], name="broadcast_due_idx")]


class MassQuota(BrandOwned):
    """How many mass messages a member received in a month (the cap across all senders)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()  # the first day of the month, in the brand's time
    count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("mass message quota")
        constraints = [
            models.UniqueConstraint(fields=["brand", "member", "month"], name="massquota_once"),
        ]


class ShopperReport(BrandOwned):
    """A guide reported a shopper's conversation to the brand."""

    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=300)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("shopper report")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "id"], name="shopperreport_brand_id_unique")]


__all__ = [
    "BODY_MAX",
    "Broadcast",
    "CannedReply",
    "Conversation",
    "GuideChatSettings",
    "GuideNote",
    "MassQuota",
    "Message",
    "MessagingSettings",
    "ShopperReport",
]
