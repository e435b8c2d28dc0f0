"""Unified membership (会员通): one member per person per brand, reachable through any channel
identity; guide bindings, tiers, an append-only points ledger, tags, consent, merges, jobs."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from retail.models import Staff, Store, User
from retail.private_files import PrivateName, private_storage
from retail.tenancy import BrandOwned


class MembershipProgram(BrandOwned):
    """A brand's membership rules (one row per brand, created on first use)."""

    class Expiry(models.TextChoices):
        NEVER = "never", _("Points never expire")
        END_OF_FOLLOWING_YEAR = "end_of_following_year", _("End of the following year")

    class BindingPolicy(models.TextChoices):
        FIRST_GUIDE_KEEPS = "first_guide_keeps", _("The first guide keeps the member")
        LATEST_GUIDE = "latest_guide", _("The latest guide takes the member")

    points_per_yuan = models.PositiveIntegerField(_("points per ¥1 spent"), default=1)
    points_expiry = models.CharField(
        _("points expiry"), max_length=32, choices=Expiry.choices, default=Expiry.END_OF_FOLLOWING_YEAR
    )
    binding_policy = models.CharField(
        _("binding rule"),
        max_length=32,
        choices=BindingPolicy.choices,
        default=BindingPolicy.FIRST_GUIDE_KEEPS,
    )
    binding_ttl_days = models.PositiveIntegerField(
        _("binding expires after (days)"), null=True, blank=True, help_text=_("Empty: never.")
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand"], name="program_one_per_brand")]


class Tier(BrandOwned):
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=64)
    min_spend_fen = models.PositiveBigIntegerField(_("qualifying spend from (fen)"), default=0)

    class Meta:
        ordering = ["min_spend_fen"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="tier_code_unique"),
            models.UniqueConstraint(fields=["brand", "min_spend_fen"], name="tier_threshold_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="tier_brand_id_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Member(BrandOwned):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        MERGED = "merged", _("Merged into another member")
        ERASED = "erased", _("Erased")

    class Gender(models.TextChoices):
        UNKNOWN = "", _("Not given")
        FEMALE = "f", _("Female")
        MALE = "m", _("Male")

    name = models.CharField(_("name"), max_length=64, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True, default="")
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    points_balance = models.BigIntegerField(_("points"), default=0)
    qualifying_spend_fen = models.BigIntegerField(_("qualifying spend (fen)"), default=0)
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    join_store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    join_guide = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The current exclusive guide (专属导购), kept in step with the open GuideBinding.
    guide = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-joined_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="member_brand_id_unique"),
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="member_points_not_negative"),
            models.CheckConstraint(
                condition=Q(qualifying_spend_fen__gte=0), name="member_spend_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "guide", "-joined_at"], name="member_guide_idx"),
            models.Index(fields=["brand", "-joined_at", "-id"], name="member_joined_idx"),
            models.Index(fields=["brand", "tier"], name="member_tier_idx"),
            models.Index(fields=["brand", "last_purchase_at"], name="member_last_purchase_idx"),
        ]

    def __str__(self) -> str:
        """The name, or the masked phone of a member who gave none (never the row id)."""
        from members.labels import member_name

        return member_name(self)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class MemberIdentity(BrandOwned):
    """A channel identity; unique within a brand, so any of them finds the member in one lookup."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        CARD = "card", _("Membership card")
        SHOP = "shop", _("Online-shop account")
        PAYMENT = "payment", _("Payment account")
        WECHAT = "wechat", _("WeChat open id")
        ALIPAY = "alipay", _("Alipay open id")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=64)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "kind", "value"], name="identity_unique_per_brand"),
        ]
        indexes = [models.Index(fields=["brand", "member"], name="identity_member_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class GuideBinding(BrandOwned):
    """History of a member's exclusive guide; the open row (ended_at empty) is the current one."""

    class Reason(models.TextChoices):
        JOIN = "join", _("Joined through the guide")
        EXPIRED_REBIND = "rebind", _("Previous binding expired")
        MEMBER_REQUEST = "member_request", _("Member asked")
        HANDOVER = "handover", _("Hand-over")
        MERGE = "merge", _("Member records merged")
        ADMIN = "admin", _("Set by staff")
        IMPORT = "import", _("Import")
        UNDO = "undo", _("Merge undone")
        ERASED = "erased", _("Member data erased")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="bindings")
    guide = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="bindings")
    started_at = models.DateTimeField(default=timezone.now)
    start_reason = models.CharField(max_length=16, choices=Reason.choices)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "member"],
                condition=Q(ended_at__isnull=True),
                name="binding_one_open_per_member",
            ),
        ]
        indexes = [models.Index(fields=["brand", "guide"], name="binding_guide_idx")]


class PointsEntry(BrandOwned):
    """Append-only points ledger. Each entry names its source event and is applied at most once.

    Positive entries are lots: ``remaining`` is what is still unspent, consumed oldest-expiring
    first by redemptions and by expiry.
    """

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted")
        MERGE_IN = "merge_in", _("Merged in")
        MERGE_OUT = "merge_out", _("Merged out")
        REVERSE = "reverse", _("Reversed by a refund")

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="points_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    source = models.CharField(_("source event"), max_length=128)
    request_hash = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    remaining = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "source"], name="points_source_applied_once"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="points_balance_after_not_negative"
            ),
            models.CheckConstraint(condition=Q(remaining__gte=0), name="points_remaining_not_negative"),
            models.CheckConstraint(
                condition=Q(remaining__lte=F("amount")) | Q(remaining=0), name="points_remaining_within_lot"
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="points_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["brand", "member", "-created_at"], name="points_member_idx"),
            models.Index(
                fields=["brand", "expires_at"], condition=Q(remaining__gt=0), name="points_open_lots_idx"
            ),
        ]


class Tag(BrandOwned):
    class Group(models.TextChoices):
        VALUE = "value", _("Value")
        PREFERENCE = "preference", _("Brand preference")
        PRICE = "price", _("Price sensitivity")
        PROMOTION = "promotion", _("Promotion preference")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=32)
    group = models.CharField(_("group"), max_length=16, choices=Group.choices, default=Group.OTHER)

    class Meta:
        ordering = ["group", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="tag_name_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="tag_brand_id_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TagRule(BrandOwned):
    """Tag members automatically: ``field`` compared with ``value``, applied by a scheduled task."""

    class Field(models.TextChoices):
        SPEND = "qualifying_spend_fen", _("Qualifying spend (fen)")
        POINTS = "points_balance", _("Points balance")
        DAYS_SINCE_PURCHASE = "days_since_purchase", _("Days since last purchase")

    class Op(models.TextChoices):
        GTE = "gte", "≥"
        LTE = "lte", "≤"

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(max_length=32, choices=Field.choices)
    op = models.CharField(max_length=4, choices=Op.choices)
    value = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "tag"], name="tagrule_one_per_tag")]


class MemberTag(BrandOwned):
    class Source(models.TextChoices):
        STAFF = "staff", _("Staff")
        IMPORT = "import", _("Import")
        RULE = "rule", _("Rule")
        API = "api", _("API")
        MERGE = "merge", _("Merge")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="member_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="member_tags")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.STAFF)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "member", "tag"], name="membertag_unique")]
        indexes = [models.Index(fields=["brand", "tag"], name="membertag_tag_idx")]


class ConsentRecord(BrandOwned):
    """Every grant or withdrawal of marketing consent, with time and source."""

    class Source(models.TextChoices):
        JOIN_PAGE = "join_page", _("Join page")
        MEMBER_PAGE = "member_page", _("Member page")
        STAFF = "staff", _("Staff")
        API = "api", _("API")
        IMPORT = "import", _("Import")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    granted = models.BooleanField()
    source = models.CharField(max_length=16, choices=Source.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # The versions of the brand's privacy policy and member agreement (MemberPolicy) in force
    # when the member agreed; empty where the brand had none or the record came another way.
    privacy_version = models.PositiveIntegerField(null=True, blank=True)
    terms_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]


class MemberPolicy(BrandOwned):
    """One version of a text members agree to when they join: the brand's privacy policy or its
    member agreement. A version is never edited; a change is a new version, the newest in force."""

    class Kind(models.TextChoices):
        PRIVACY = "privacy", _("Privacy policy")
        TERMS = "terms", _("Member agreement")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    version = models.PositiveIntegerField(_("version"))
    body = models.TextField(_("text"))
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "kind", "version"], name="memberpolicy_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="memberpolicy_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"


class MergeRecord(BrandOwned):
    """Two member records found to be one person: why, what moved, and whether it was undone."""

    survivor = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="merges_in")
    absorbed = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="merges_out")
    reason = models.CharField(max_length=200)
    evidence_kind = models.CharField(max_length=16, blank=True)
    evidence_value = models.CharField(max_length=64, blank=True)
    moved = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]


class MemberJob(BrandOwned):
    """A CSV import or export running on Celery; progress is also mirrored in the cache.

    The files hold personal data: they live in the private storage under random names and
    are deleted at ``files_expire_at``. The worker holds a lease it renews as it goes; a job
    whose lease ran out (its worker died) is re-queued or failed by ``jobs.jobs_sweep``.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", _("Import")
        EXPORT = "export", _("Export")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        RETRYING = "retrying", _("Retrying")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to=PrivateName("member-jobs"), storage=private_storage, blank=True)
    result_file = models.FileField(upload_to=PrivateName("member-jobs"), storage=private_storage, blank=True)
    files_expire_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        from members.labels import job_label

        return job_label(self)
