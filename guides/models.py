"""Commission attribution (佣金归属) and settlement.

A paid order is attributed to one guide by the brand's attribution rules in force when it was
paid (exclusive guide, last share-link touch or the guide at the till, in the precedence the
brand chose per channel). Its commission is computed per order line by the commission rules in
force then, in integer fen, and written to an append-only commission ledger (``CommissionEntry``)
under a key unique per brand, so re-running never credits twice. Refunds write clawbacks;
re-attribution writes a reversal and a new credit. At each period end every guide's unsettled
entries are gathered into a ``Statement``; the brand approves the period, and each statement is
paid once as a red packet into the guide's wallet.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cloudstore.models import Category, Order, Sku
from members.models import Member
from retail.models import Staff, Store, validate_timezone
from retail.tenancy import BrandOwned

Channel = Order.Channel

# The order keeps the last touch within 30 days (cloud store issue), so a window can be 1-30 days.
TOUCH_WINDOW_MAX_DAYS = 30


class Precedence(models.TextChoices):
    """Who is credited for an order in one channel, first source that names a guide wins."""

    EXCLUSIVE_TOUCH = "exclusive>touch", _("Exclusive guide, else the last share link")
    TOUCH_EXCLUSIVE = "touch>exclusive", _("Last share link, else the exclusive guide")
    SERVED_EXCLUSIVE = "served>exclusive", _("Guide at the till, else the exclusive guide")
    EXCLUSIVE = "exclusive", _("Exclusive guide only")
    TOUCH = "touch", _("Last share link only")
    NONE = "none", _("No commission in this channel")


class AttributionRule(BrandOwned):
    """One version of a brand's attribution rules; the latest version in force at payment applies.

    Versions are never edited: a change is a new version with its own effective date, and orders
    already attributed keep their result until someone re-attributes a period explicitly."""

    version = models.PositiveIntegerField()
    effective_from = models.DateTimeField(_("in force from"))
    cloud_store = models.CharField(
        _("cloud store"), max_length=20, choices=Precedence.choices, default=Precedence.TOUCH_EXCLUSIVE
    )
    flagship = models.CharField(
        _("online flagship"), max_length=20, choices=Precedence.choices, default=Precedence.EXCLUSIVE_TOUCH
    )
    pos = models.CharField(
        _("store POS"), max_length=20, choices=Precedence.choices, default=Precedence.SERVED_EXCLUSIVE
    )
    touch_window_days = models.PositiveSmallIntegerField(
        _("share link counts for (days)"),
        default=TOUCH_WINDOW_MAX_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(TOUCH_WINDOW_MAX_DAYS)],
    )
    dual_credit_store = models.BooleanField(
        _("credit the guide's store for online orders too"),
        default=True,
        help_text=_("For reports: an online order also counts for the store of the credited guide."),
    )
    exclude_staff_purchases = models.BooleanField(_("no commission on staff purchases"), default=True)
    min_order_fen = models.PositiveBigIntegerField(
        _("no commission below (fen)"), default=0, validators=[MaxValueValidator(10**10)]
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("attribution rules")
        ordering = ["-effective_from", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "version"], name="attrrule_version_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="attrrule_brand_id_unique"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"

    def precedence(self, channel: str) -> str:
        return {
            Channel.CLOUD_STORE: self.cloud_store,
            Channel.FLAGSHIP: self.flagship,
            Channel.POS: self.pos,
        }[channel]


class CommissionRule(BrandOwned):
    """A commission rate for a SKU, a category, a channel or everything, for a span of time.

    For each order line the most specific rule in force at payment applies: SKU, then category,
    then everything; at equal specificity one for the order's channel beats one for any channel,
    then the later ``effective_from`` wins. Percentages are in basis points and round down to the
    fen per line; a fixed amount is per unit; the cap limits one line's commission."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percentage of the amount paid")
        FIXED = "fixed", _("Fixed amount per unit")

    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PERCENT)
    rate_bp = models.PositiveIntegerField(
        _("rate (basis points)"), default=0, validators=[MaxValueValidator(10_000)]
    )
    fixed_fen = models.PositiveBigIntegerField(
        _("amount per unit (fen)"), default=0, validators=[MaxValueValidator(10**9)]
    )
    cap_fen = models.PositiveBigIntegerField(
        _("cap per line (fen)"), null=True, blank=True, validators=[MaxValueValidator(10**10)]
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("category"),
    )
    sku = models.ForeignKey(
        Sku, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU")
    )
    effective_from = models.DateTimeField(_("in force from"))
    effective_to = models.DateTimeField(_("in force until"), null=True, blank=True)
    created_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("commission rule")
        ordering = ["-effective_from", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="commrule_brand_id_unique"),
            models.CheckConstraint(
                condition=Q(sku__isnull=True) | Q(category__isnull=True),
                name="commrule_sku_or_category",
                violation_error_message=_("A rule applies to one SKU or one category, not both."),
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="commrule_span_forward",
                violation_error_message=_("The end must be after the start."),
            ),
            models.CheckConstraint(
                condition=Q(rate_bp__lte=10_000),
                name="commrule_rate_at_most_100pct",
                violation_error_message=_("A rate can be at most 100%%."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def specificity(self) -> int:
        return (4 if self.sku_id else 2 if self.category_id else 0) + (1 if self.channel else 0)


class CommissionSettings(BrandOwned):
    """How often commission is settled, and in which time zone periods start and end."""

    class Period(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        SEMIMONTHLY = "semimonthly", _("Twice a month")
        WEEKLY = "weekly", _("Weekly")

    period = models.CharField(
        _("settlement period"), max_length=12, choices=Period.choices, default="monthly"
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    greeting = models.CharField(_("red packet greeting"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("commission settings")
        constraints = [models.UniqueConstraint(fields=["brand"], name="commsettings_one_per_brand")]

    def __str__(self) -> str:
        return str(_("Commission settings"))


class Attribution(BrandOwned):
    """Who an order is credited to, why, and its commission (one row per paid order)."""

    class Source(models.TextChoices):
        EXCLUSIVE = "exclusive", _("Exclusive guide")
        TOUCH = "touch", _("Share link")
        SERVED = "served", _("Guide at the till")
        NONE = "none", _("Nobody")

    class Excluded(models.TextChoices):
        NO = "", _("Not excluded")
        STAFF_PURCHASE = "staff_purchase", _("Staff purchase")
        BELOW_THRESHOLD = "below_threshold", _("Below the order threshold")
        CHANNEL_OFF = "channel_off", _("No commission in this channel")
        NO_GUIDE = "no_guide", _("No guide to credit")

    # On PostgreSQL each link is checked by a composite (brand, id) foreign key (migration 0002),
    # which also proves the row (and the brand) exists; a second, plain foreign-key check per row,
    # or an index the composite ones already lead with, would only slow bulk attribution down.
    brand = models.ForeignKey(
        "retail.Brand", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="attributions", db_constraint=False, db_index=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    guide = models.ForeignKey(
        Staff,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attributions",
        db_constraint=False,
        db_index=False,
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    excluded = models.CharField(max_length=16, choices=Excluded.choices, blank=True, default="")
    # The store the order counts for in reports: the order's own store, or for an online order
    # with dual credit, the credited guide's store.
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    rule = models.ForeignKey(
        AttributionRule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    paid_at = models.DateTimeField()
    sales_fen = models.BigIntegerField(default=0)
    refunded_fen = models.BigIntegerField(default=0)
    commission_fen = models.BigIntegerField(default=0)
    # Per line: [line id, commission rule id, commission before refunds]. Rule terms never change,
    # so refunds are clawed back by the rule that credited, whatever was added since.
    lines = models.JSONField(default=list)
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        verbose_name = _("attribution")
        ordering = ["-paid_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "order"], name="attribution_one_per_order")]
        indexes = [
            models.Index(fields=["brand", "guide", "paid_at"], name="attribution_guide_idx"),
            models.Index(fields=["brand", "paid_at"], name="attribution_paid_idx"),
        ]


class SettlementPeriod(BrandOwned):
    """One settlement period of a brand: its statements are reviewed, approved and paid together."""

    class Status(models.TextChoices):
        REVIEW = "review", pgettext_lazy("settlement period", "In review")
        APPROVED = "approved", pgettext_lazy("settlement period", "Approved, paying")
        PAID = "paid", pgettext_lazy("settlement period", "Paid")

    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("until"))
    label = models.CharField(_("period"), max_length=32)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REVIEW)
    statements = models.PositiveIntegerField(default=0)
    total_fen = models.BigIntegerField(default=0)
    approved_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approve_key = models.CharField(max_length=160, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("settlement period")
        ordering = ["-start", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "start"], name="period_one_per_start"),
            models.UniqueConstraint(fields=["brand", "id"], name="period_brand_id_unique"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="period_end_after_start"),
        ]

    def __str__(self) -> str:
        return self.label


class Statement(BrandOwned):
    """A guide's commission for one period: the sum of the entries settled in it."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("commission statement", "To approve")
        HELD = "held", pgettext_lazy("commission statement", "Held")
        PAID = "paid", pgettext_lazy("commission statement", "Paid")
        NOTHING = "nothing", pgettext_lazy("commission statement", "Nothing to pay")

    period = models.ForeignKey(SettlementPeriod, on_delete=models.PROTECT, related_name="lines")
    guide = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="statements")
    orders = models.PositiveIntegerField(default=0)
    sales_fen = models.BigIntegerField(default=0)
    earned_fen = models.BigIntegerField(default=0)
    clawback_fen = models.BigIntegerField(default=0)  # <= 0: refunds and re-attributions taken back
    carried_in_fen = models.BigIntegerField(default=0)  # <= 0: debt from an earlier statement
    carried_out_fen = models.BigIntegerField(default=0)  # >= 0: debt moved on to the next statement
    total_fen = models.BigIntegerField(default=0)  # what is paid: never negative
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    hold_reason = models.CharField(_("reason"), max_length=200, blank=True)
    held_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    packet = models.OneToOneField(
        "redpackets.RedPacket", null=True, blank=True, on_delete=models.PROTECT, related_name="statement"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("commission statement")
        ordering = ["period", "guide__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "period", "guide"], name="statement_one_per_guide"),
            models.UniqueConstraint(fields=["brand", "id"], name="statement_brand_id_unique"),
            models.CheckConstraint(condition=Q(total_fen__gte=0), name="statement_total_not_negative"),
            models.CheckConstraint(
                condition=Q(
                    total_fen=models.F("earned_fen")
                    + models.F("clawback_fen")
                    + models.F("carried_in_fen")
                    + models.F("carried_out_fen")
                ),
                name="statement_adds_up",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(packet__isnull=False), name="statement_paid_has_packet"
            ),
        ]
        indexes = [models.Index(fields=["brand", "guide", "-id"], name="statement_guide_idx")]

    def __str__(self) -> str:
        from guides.labels import statement_label

        return statement_label(self)


class CommissionEntry(BrandOwned):
    """Append-only commission ledger of one guide: credits, clawbacks, reversals and carried debt.

    ``key`` is unique per brand and names the business event, so nothing is credited twice.
    ``statement`` is set once, when the entry is settled."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Commission")
        CLAWBACK = "clawback", _("Refund clawback")
        REVERSAL = "reversal", _("Re-attributed away")
        CARRY_OUT = "carry_out", _("Debt carried to the next statement")
        CARRY_IN = "carry_in", _("Debt from the last statement")

    # Links checked by composite (brand, id) foreign keys on PostgreSQL, as for Attribution.
    brand = models.ForeignKey(
        "retail.Brand", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    guide = models.ForeignKey(
        Staff,
        on_delete=models.PROTECT,
        related_name="commission_entries",
        db_constraint=False,
        db_index=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=160)
    amount_fen = models.BigIntegerField()
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    occurred_at = models.DateTimeField()
    statement = models.ForeignKey(
        Statement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        db_index=False,
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("commission entry")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="commentry_key_unique"),
        ]
        indexes = [
            models.Index(
                fields=["brand", "guide", "occurred_at"],
                condition=Q(statement__isnull=True),
                name="commentry_unsettled_idx",
            ),
            models.Index(fields=["brand", "guide", "-occurred_at"], name="commentry_guide_idx"),
            models.Index(fields=["brand", "order"], name="commentry_order_idx"),
            models.Index(fields=["brand", "statement"], name="commentry_statement_idx"),
            models.Index(
                fields=["brand", "guide"],
                condition=Q(notified_at__isnull=True, kind="earn"),
                name="commentry_unnotified_idx",
            ),
        ]


class Reattribution(BrandOwned):
    """An explicit request to attribute a period again under the rules in force now."""

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("re-attribution", "Queued")
        RUNNING = "running", pgettext_lazy("re-attribution", "Running")
        DONE = "done", pgettext_lazy("re-attribution", "Done")

    start = models.DateTimeField(_("paid from"))
    end = models.DateTimeField(_("paid until"))
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    orders = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    delta_fen = models.BigIntegerField(default=0)
    requested_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("re-attribution")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="reattribution_brand_id_unique"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="reattribution_span_forward"),
        ]

    def __str__(self) -> str:
        from guides.labels import reattribution_label

        return reattribution_label(self)


class Notification(BrandOwned):
    """An in-app message to a staff member (commission earned, statement paid, a store's device
    offline)."""

    class Kind(models.TextChoices):
        COMMISSION = "commission", _("Commission earned")
        CLAWBACK = "clawback", _("Commission taken back")
        STATEMENT = "statement", _("Statement paid")
        DEVICE_OFFLINE = "device_offline", _("Device offline")
        DEVICE_ONLINE = "device_online", _("Device back online")
        PUNCH = "punch", _("Punch recorded")
        ACCESS_ALERT = "access_alert", _("Repeated refusals at a device")
        FACE_DUPLICATE = "face_duplicate", _("Face enrolled for two people")

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Who and how many, so the text is put together in the reader's language.
    data = models.JSONField(default=dict)
    link = models.CharField(max_length=200, blank=True)
    amount_fen = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("notification")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "staff", "-created_at"], name="notification_staff_idx")]

    @property
    def message(self) -> str:
        from guides.notification_text import message

        return message(self.kind, self.amount_fen, self.data)


class Event(BrandOwned):
    """Outbox of webhook-ready events: order.attributed, statement.approved, statement.paid."""

    name = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("commission event")
        ordering = ["id"]
        indexes = [models.Index(fields=["brand", "id"], name="guides_event_idx")]


# Messaging (guides/messaging/models.py): defined there, registered with this app here.
from guides.messaging.models import *  # noqa: E402, F403
