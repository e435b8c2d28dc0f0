"""Red packets and wallets on a double-entry ledger.

Money lives in accounts; it only moves in ledger transactions whose entries sum to zero, in
integer fen. Entries and transactions are append-only. Each account caches its balance (with
a database check that it stays >= 0 where that matters); reconciliation proves the cache
equals the sum of its entries.

Accounts per brand: the funding pool, one wallet per staff member, one account per red packet
(its unclaimed money), withdrawals in progress, and two provider clearing accounts (money that
came in from the payment provider, money paid out through the payout provider) whose balances
mirror the outside world and may go negative.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from retail.models import Staff, Store, User
from retail.tenancy import BrandOwned


class AppendOnly(BrandOwned):
    """Rows written once: updating or deleting one is refused here and by a database trigger."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__} rows are append-only")


FEN_LIMIT = [MinValueValidator(1), MaxValueValidator(10**10)]


class Settings(BrandOwned):
    """A brand's red packet and withdrawal limits, in fen."""

    packet_max_fen = models.PositiveBigIntegerField(
        _("largest packet"), validators=FEN_LIMIT, default=500_000
    )
    share_max_fen = models.PositiveBigIntegerField(_("largest share"), validators=FEN_LIMIT, default=20_000)
    daily_send_max_fen = models.PositiveBigIntegerField(
        _("sent per sender per day"), validators=FEN_LIMIT, default=2_000_000
    )
    max_shares = models.PositiveIntegerField(
        _("most shares per packet"),
        validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        default=2_000,
    )
    withdraw_min_fen = models.PositiveBigIntegerField(
        _("smallest withdrawal"), validators=FEN_LIMIT, default=100
    )
    withdraw_daily_max_fen = models.PositiveBigIntegerField(
        _("withdrawn per person per day"), validators=FEN_LIMIT, default=500_000
    )
    withdraw_daily_count = models.PositiveIntegerField(
        _("withdrawals per person per day"),
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        default=10,
    )
    default_expiry_hours = models.PositiveIntegerField(
        _("packets expire after (hours)"),
        validators=[MinValueValidator(1), MaxValueValidator(720)],
        default=24,
    )
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        verbose_name = _("red packet settings")
        verbose_name_plural = _("red packet settings")
        constraints = [
            models.UniqueConstraint(
                fields=["brand"],
                name="redpackets_settings_one_per_brand",
                violation_error_message=_("The brand already has red packet settings."),
            ),
            models.CheckConstraint(
                condition=Q(max_shares__gte=1),
                name="redpackets_settings_shares_pos",
                violation_error_message=_("A red packet needs at least one share."),
            ),
            models.CheckConstraint(
                condition=Q(default_expiry_hours__gte=1, default_expiry_hours__lte=24 * 30),
                name="redpackets_settings_expiry_range",
                violation_error_message=_("Red packets expire after 1 hour to 30 days."),
            ),
        ]


class Account(BrandOwned):
    class Kind(models.TextChoices):
        POOL = "pool", _("Funding pool")
        WALLET = "wallet", _("Wallet")
        PACKET = "packet", _("Red packet")
        PAYOUT_PENDING = "payout_pending", _("Withdrawals in progress")
        FUNDING = "funding", _("Payment provider (top-ups)")
        PAID_OUT = "paid_out", _("Payout provider (withdrawals)")

    # Clearing accounts mirror money outside the platform; every other balance is >= 0.
    EXTERNAL = (Kind.FUNDING, Kind.PAID_OUT)

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    packet = models.OneToOneField(
        "RedPacket", on_delete=models.PROTECT, null=True, blank=True, related_name="account"
    )
    balance_fen = models.BigIntegerField(_("balance"), default=0)
    # Wallets only: move everything claimed straight on to the bound payout account.
    auto_withdraw = models.BooleanField(_("automatic withdrawal"), default=False)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("account")
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="redpackets_account_brand_id"),
            models.UniqueConstraint(
                fields=["brand", "kind"],
                condition=Q(kind__in=["pool", "payout_pending", "funding", "paid_out"]),
                name="redpackets_account_singletons",
            ),
            models.UniqueConstraint(
                fields=["brand", "staff"], condition=Q(kind="wallet"), name="redpackets_one_wallet_per_staff"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["funding", "paid_out"]) | Q(balance_fen__gte=0),
                name="redpackets_account_not_negative",
            ),
            models.CheckConstraint(
                condition=(Q(kind="wallet") & Q(staff__isnull=False) & Q(packet__isnull=True))
                | (Q(kind="packet") & Q(staff__isnull=True) & Q(packet__isnull=False))
                | (~Q(kind__in=["wallet", "packet"]) & Q(staff__isnull=True) & Q(packet__isnull=True)),
                name="redpackets_account_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Transaction(AppendOnly):
    """One balanced movement of money: its entries sum to zero (checked again at commit)."""

    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up")
        PACKET_SEND = "packet_send", _("Red packet sent")
        PACKET_CLAIM = "packet_claim", _("Red packet claimed")
        PACKET_EXPIRE = "packet_expire", _("Unclaimed money returned")
        WITHDRAWAL = "withdrawal", _("Withdrawal")
        WITHDRAWAL_SUCCEEDED = "withdrawal_succeeded", _("Withdrawal paid")
        WITHDRAWAL_REFUNDED = "withdrawal_refunded", _("Failed withdrawal returned")
        CORRECTION = "correction", _("Correction")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    # Unique per brand: the same business event can never be posted twice.
    key = models.CharField(max_length=160)
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    packet = models.ForeignKey(
        "RedPacket", on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    share = models.ForeignKey(
        "PacketShare", on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    withdrawal = models.ForeignKey(
        "Withdrawal", on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    topup = models.ForeignKey("TopUp", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("ledger transaction")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="redpackets_txn_key_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="redpackets_txn_brand_id"),
        ]

    def __str__(self) -> str:
        from redpackets.labels import transaction_label

        return transaction_label(self)


class Entry(AppendOnly):
    """One leg of a transaction: ``amount_fen`` added to (or, negative, taken from) an account."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount_fen = models.BigIntegerField()
    # The account's balance right after this entry (entries of one account are written in order,
    # under the account's row lock).
    balance_after_fen = models.BigIntegerField()
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="redpackets_entry_not_zero"),
            models.UniqueConstraint(
                fields=["brand", "transaction", "account"], name="redpackets_entry_one_leg_per_account"
            ),
        ]
        indexes = [models.Index(fields=["brand", "account", "-id"], name="redpackets_entry_account_idx")]


class TopUp(BrandOwned):
    """Money a brand admin puts into the pool, through the payment provider."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting payment")
        SUCCEEDED = "succeeded", _("Credited")
        FAILED = "failed", _("Failed")

    amount_fen = models.PositiveBigIntegerField(_("amount"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=16, default="sim")
    reference = models.CharField(max_length=64, unique=True)
    key = models.CharField(max_length=160)
    request_hash = models.CharField(max_length=64)
    pay_url = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("top-up")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="redpackets_topup_key_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="redpackets_topup_brand_id"),
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="redpackets_topup_positive"),
        ]
        indexes = [models.Index(fields=["brand", "status", "created_at"])]


class RedPacket(BrandOwned):
    class Kind(models.TextChoices):
        FIXED = "fixed", _("Same amount each")
        LUCKY = "lucky", _("Lucky (random shares)")

    class Audience(models.TextChoices):
        PERSON = "person", _("One person")
        STORE = "store", _("A store's staff")
        GROUP = "group", _("Chosen people")

    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("red packet status", "Open")
        FINISHED = "finished", _("All claimed")
        EXPIRED = "expired", pgettext_lazy("red packet status", "Expired")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Sent by a manager")
        COMMISSION = "commission", _("Commission")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.FIXED)
    audience = models.CharField(_("to"), max_length=8, choices=Audience.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    source_ref = models.CharField(max_length=64, blank=True)
    sender = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    greeting = models.CharField(_("greeting"), max_length=60)
    total_fen = models.PositiveBigIntegerField(_("total"))
    shares = models.PositiveIntegerField(_("shares"))
    claimed_count = models.PositiveIntegerField(default=0)
    claimed_fen = models.PositiveBigIntegerField(default=0)
    refunded_fen = models.PositiveBigIntegerField(default=0)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    key = models.CharField(max_length=160)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("red packet")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="redpackets_packet_key_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="redpackets_packet_brand_id"),
            models.CheckConstraint(condition=Q(shares__gte=1), name="redpackets_packet_shares_pos"),
            # Every share is at least 1 fen.
            models.CheckConstraint(
                condition=Q(total_fen__gte=models.F("shares")), name="redpackets_packet_fen_per_share"
            ),
            models.CheckConstraint(
                condition=Q(claimed_count__lte=models.F("shares")), name="redpackets_packet_not_overclaimed"
            ),
            models.CheckConstraint(
                condition=Q(
                    claimed_fen__lte=models.F("total_fen") - models.F("refunded_fen"),
                ),
                name="redpackets_packet_money_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(sender__isnull=False) | Q(source="commission"),
                name="redpackets_packet_has_sender",
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "status", "expires_at"]),
            models.Index(fields=["brand", "sender", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.greeting

    @property
    def remaining_fen(self) -> int:
        return self.total_fen - self.claimed_fen - self.refunded_fen


class PacketRecipient(BrandOwned):
    """Who may claim a packet (fixed when it is sent)."""

    packet = models.ForeignKey(RedPacket, on_delete=models.PROTECT, related_name="recipients")
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    # Set when this person claimed, so "packets to open" is one indexed query.
    claimed = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("red packet recipient")
        constraints = [
            models.UniqueConstraint(fields=["brand", "packet", "staff"], name="redpackets_recipient_unique"),
        ]
        indexes = [models.Index(fields=["brand", "staff", "claimed"])]


class PacketShare(BrandOwned):
    """One share of a packet, its amount fixed at sending; claimed by at most one person."""

    packet = models.ForeignKey(RedPacket, on_delete=models.PROTECT, related_name="share_rows")
    seq = models.PositiveIntegerField()
    amount_fen = models.PositiveBigIntegerField()
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_key = models.CharField(max_length=160, blank=True)

    class Meta:
        verbose_name = _("red packet share")
        ordering = ["packet", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "packet", "seq"], name="redpackets_share_seq_unique"),
            # One claim per person per packet.
            models.UniqueConstraint(
                fields=["brand", "packet", "staff"],
                condition=Q(staff__isnull=False),
                name="redpackets_one_claim_each",
            ),
            models.UniqueConstraint(
                fields=["brand", "claim_key"], condition=~Q(claim_key=""), name="redpackets_claim_key_unique"
            ),
            models.UniqueConstraint(fields=["brand", "id"], name="redpackets_share_brand_id"),
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="redpackets_share_at_least_1_fen"),
            models.CheckConstraint(
                condition=Q(staff__isnull=True, claimed_at__isnull=True)
                | Q(staff__isnull=False, claimed_at__isnull=False),
                name="redpackets_share_claim_complete",
            ),
        ]
        indexes = [models.Index(fields=["brand", "staff", "-claimed_at"])]


class PayoutAccount(BrandOwned):
    """A staff member's real-name-verified account at the payout provider."""

    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=16, default="sim")
    account_no = models.CharField(_("account"), max_length=64)
    real_name = models.CharField(_("real name"), max_length=64)
    verified_at = models.DateTimeField()
    bound_at = models.DateTimeField(default=dj_timezone.now)
    unbound_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("payout account")
        ordering = ["-bound_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "staff"],
                condition=Q(unbound_at__isnull=True),
                name="redpackets_one_bound_account",
            ),
            models.UniqueConstraint(fields=["brand", "id"], name="redpackets_payout_account_brand_id"),
        ]

    def __str__(self) -> str:
        return self.masked

    @property
    def masked(self) -> str:
        no = self.account_no
        if "@" in no:
            name, _at, domain = no.partition("@")
            return f"{name[:2]}***@{domain}"
        return f"{no[:3]}****{no[-4:]}" if len(no) > 7 else f"***{no[-2:]}"


class Withdrawal(BrandOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Processing")
        SUCCEEDED = "succeeded", pgettext_lazy("withdrawal status", "Paid")
        FAILED = "failed", _("Failed, returned to wallet")

    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    payout_account = models.ForeignKey(PayoutAccount, on_delete=models.PROTECT, related_name="withdrawals")
    amount_fen = models.PositiveBigIntegerField(_("amount"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    automatic = models.BooleanField(default=False)
    provider = models.CharField(max_length=16, default="sim")
    reference = models.CharField(max_length=64, unique=True)
    key = models.CharField(max_length=160)
    request_hash = models.CharField(max_length=64)
    attempts = models.PositiveIntegerField(default=0)
    failure_reason = models.CharField(max_length=200, blank=True)
    provider_reference = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("withdrawal")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="redpackets_withdrawal_key_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="redpackets_withdrawal_brand_id"),
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="redpackets_withdrawal_positive"),
            models.CheckConstraint(
                condition=Q(status="pending", completed_at__isnull=True)
                | (~Q(status="pending") & Q(completed_at__isnull=False)),
                name="redpackets_withdrawal_completed_when_final",
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "status", "last_attempt_at"]),
            models.Index(fields=["brand", "staff", "-created_at"]),
        ]


class Event(AppendOnly):
    """Outbox of webhook-ready events (packet sent, claimed, expired; withdrawal settled)."""

    name = models.CharField(max_length=40)
    packet = models.ForeignKey(RedPacket, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    withdrawal = models.ForeignKey(
        Withdrawal, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("red packet event")
        ordering = ["id"]
        indexes = [models.Index(fields=["brand", "id"])]


class Reconciliation(BrandOwned):
    """One run of the ledger check: what was compared and every mismatch found."""

    started_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    checked = models.JSONField(default=dict)
    problems = models.JSONField(default=list)

    class Meta:
        verbose_name = _("reconciliation")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        from redpackets.labels import reconciliation_label

        return reconciliation_label(self)
