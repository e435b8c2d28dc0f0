"""Cloud store (云店): catalogue, store inventory and prices, coupons, share links, orders from
every channel with their payments, refunds and status history. Amounts are integer fen."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member
from retail.models import Staff, Store, User
from retail.tenancy import BrandOwned


class Category(BrandOwned):
    name = models.CharField(_("name"), max_length=64)
    sort = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["sort", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="category_name_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="category_brand_id_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Product(BrandOwned):
    class Status(models.TextChoices):
        ACTIVE = "active", _("On sale")
        ARCHIVED = "archived", _("Archived")

    name = models.CharField(_("name"), max_length=120)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    description = models.TextField(_("description"), blank=True, max_length=4000)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["brand", "id"], name="product_brand_id_unique")]
        indexes = [models.Index(fields=["brand", "category"], name="product_category_idx")]

    def __str__(self) -> str:
        return self.name


class ProductImage(BrandOwned):
    """A product photo, re-encoded by Pillow (no metadata) in a large and a thumbnail size."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="products/%Y/%m/", width_field="width", height_field="height")
    thumbnail = models.ImageField(upload_to="products/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    sort = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sort", "id"]


class Sku(BrandOwned):
    """A sellable variant of a product; ``list_price_fen`` is the brand's price."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(_("SKU code"), max_length=64)
    spec = models.CharField(_("specification"), max_length=64, blank=True)
    barcode = models.CharField(_("barcode"), max_length=32, blank=True)
    list_price_fen = models.PositiveBigIntegerField(_("list price (fen)"))
    active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="sku_code_unique"),
            models.UniqueConstraint(
                fields=["brand", "barcode"], condition=~Q(barcode=""), name="sku_barcode_unique"
            ),
            models.UniqueConstraint(fields=["brand", "id"], name="sku_brand_id_unique"),
        ]
        indexes = [models.Index(fields=["brand", "product"], name="sku_product_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.spec}".strip()


class Inventory(BrandOwned):
    """One store's stock and price of one SKU. Available = on hand - reserved (never negative)."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="inventory")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="inventory")
    on_hand = models.BigIntegerField(_("on hand"), default=0)
    reserved = models.BigIntegerField(_("reserved"), default=0)
    price_fen = models.PositiveBigIntegerField(
        _("store price (fen)"), null=True, blank=True, help_text=_("Empty: the brand's list price.")
    )
    low_stock_at = models.PositiveIntegerField(_("low stock at"), default=5)
    listed = models.BooleanField(_("listed in the cloud store"), default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "inventory"
        constraints = [
            models.UniqueConstraint(fields=["brand", "store", "sku"], name="inventory_unique"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="inventory_reserved_not_negative"),
            models.CheckConstraint(condition=Q(on_hand__gte=F("reserved")), name="inventory_not_oversold"),
        ]
        indexes = [models.Index(fields=["brand", "sku"], name="inventory_sku_idx")]

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def is_low(self) -> bool:
        return self.available <= self.low_stock_at


class StockMovement(BrandOwned):
    """Append-only history of every change to a store's stock, with its reason."""

    class Kind(models.TextChoices):
        ADJUST = "adjust", _("Adjustment")
        COUNT = "count", _("Stock count")
        RECEIVE = "receive", _("Goods received")
        IMPORT = "import", _("Bulk update")
        RESERVE = "reserve", _("Reserved by an order")
        RELEASE = "release", _("Reservation released")
        SALE = "sale", _("Sold")
        RETURN = "return", _("Returned by a refund")

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    on_hand_delta = models.BigIntegerField(default=0)
    reserved_delta = models.BigIntegerField(default=0)
    on_hand_after = models.BigIntegerField()
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    order = models.ForeignKey("Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "store", "sku", "-created_at"], name="movement_item_idx")]


class Campaign(BrandOwned):
    """A coupon campaign: what a coupon takes off, from what spend, for how long, how often."""

    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")

    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    amount_off_fen = models.PositiveBigIntegerField(_("amount off (fen)"), default=0)
    percent_off = models.PositiveSmallIntegerField(_("percent off"), default=0)
    max_discount_fen = models.PositiveBigIntegerField(
        _("at most (fen)"), null=True, blank=True, help_text=_("Cap of a percent-off discount.")
    )
    threshold_fen = models.PositiveBigIntegerField(_("minimum spend (fen)"), default=0)
    per_member_limit = models.PositiveIntegerField(_("coupons per member"), default=1)
    total_limit = models.PositiveIntegerField(_("coupons in total"), null=True, blank=True)
    issued_count = models.PositiveIntegerField(default=0)
    starts_at = models.DateTimeField(_("valid from"))
    ends_at = models.DateTimeField(_("valid until"))
    guides_may_issue = models.BooleanField(_("guides may issue"), default=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="campaign_brand_id_unique"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="campaign_dates_ordered"),
            models.CheckConstraint(
                condition=Q(kind="amount_off", amount_off_fen__gt=0)
                | Q(kind="percent_off", percent_off__gte=1, percent_off__lte=99),
                name="campaign_discount_valid",
            ),
            models.CheckConstraint(
                condition=Q(total_limit__isnull=True) | Q(issued_count__lte=F("total_limit")),
                name="campaign_within_total_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def discount_for(self, subtotal_fen: int) -> int:
        """What this campaign takes off ``subtotal_fen`` (0 below the threshold), never more than it."""
        if subtotal_fen < self.threshold_fen or subtotal_fen <= 0:
            return 0
        if self.kind == self.Kind.AMOUNT_OFF:
            off = self.amount_off_fen
        else:
            # Percent off rounds down to the fen: the shopper never gets more than the stated rate.
            off = subtotal_fen * self.percent_off // 100
            if self.max_discount_fen is not None:
                off = min(off, self.max_discount_fen)
        return min(off, subtotal_fen)


class Coupon(BrandOwned):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Ready to use")
        HELD = "held", _("Held by an unpaid order")
        USED = "used", _("Used")
        VOID = "void", _("Void")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(max_length=16)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="coupons"
    )
    issued_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUED)
    order = models.ForeignKey("Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    external_ref = models.CharField(max_length=100, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="coupon_code_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="coupon_brand_id_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["issued", "void"]) | Q(order__isnull=False) | ~Q(external_ref=""),
                name="coupon_use_names_order",
            ),
        ]
        indexes = [models.Index(fields=["brand", "member", "campaign"], name="coupon_member_idx")]

    def __str__(self) -> str:
        return self.code


class ShareLink(BrandOwned):
    """A guide's share of a product, a store page or a coupon campaign; the code carries attribution."""

    class Kind(models.TextChoices):
        PRODUCT = "product", _("Product")
        STORE = "store", _("Store page")
        COUPON = "coupon", _("Coupon")

    code = models.CharField(max_length=16)
    guide = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="share_links")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # "store", "product:<id>" or "coupon:<id>": one link per guide, store and target.
    target = models.CharField(max_length=32)
    opens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="sharelink_code_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="sharelink_brand_id_unique"),
            models.UniqueConstraint(
                fields=["brand", "guide", "store", "target"], name="sharelink_one_per_target"
            ),
        ]


class Touch(BrandOwned):
    """A shopper opened a guide's share link: the input of last-touch commission attribution."""

    link = models.ForeignKey(ShareLink, on_delete=models.PROTECT, related_name="touches")
    guide = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="touches"
    )
    visitor = models.CharField(max_length=40, blank=True)
    # The member's exclusive guide when they opened it, if another guide's: the touch is kept
    # for reporting, but does not take the member away from that guide.
    exclusive_guide = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "id"], name="touch_brand_id_unique")]
        indexes = [
            models.Index(fields=["brand", "member", "-created_at"], name="touch_member_idx"),
            models.Index(fields=["brand", "guide", "-created_at"], name="touch_guide_idx"),
        ]


class Order(BrandOwned):
    class Channel(models.TextChoices):
        CLOUD_STORE = "cloud_store", _("Cloud store")
        FLAGSHIP = "flagship", _("Online flagship")
        POS = "pos", _("Store POS")

    class Fulfilment(models.TextChoices):
        SHIP = "ship", _("Ship from store")
        PICKUP = "pickup", _("Pick up in store")
        IN_STORE = "in_store", _("Bought in store")
        ONLINE = "online", _("Shipped by the online shop")

    class Status(models.TextChoices):
        CREATED = "created", _("Awaiting payment")
        PAID = "paid", _("Paid")
        FULFILLED = "fulfilled", _("Shipped")
        PICKED_UP = "picked_up", _("Picked up")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")

    number = models.CharField(_("order number"), max_length=24)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    external_id = models.CharField(_("external order id"), max_length=64, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    # Attribution inputs, snapshotted when the order is placed: the member's exclusive guide and
    # the guide whose share link the shopper opened last (the commission rules decide later).
    exclusive_guide = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    touch = models.ForeignKey(Touch, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    share_guide = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    served_by = models.ForeignKey(
        Staff,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="POS cashier/guide",
    )
    fulfilment = models.CharField(_("fulfilment"), max_length=16, choices=Fulfilment.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CREATED)
    subtotal_fen = models.BigIntegerField(default=0)
    discount_fen = models.BigIntegerField(default=0)
    shipping_fen = models.BigIntegerField(default=0)
    total_fen = models.BigIntegerField(default=0)
    paid_fen = models.BigIntegerField(default=0)
    refunded_fen = models.BigIntegerField(default=0)
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    points_earned = models.BigIntegerField(default=0)
    points_reversed = models.BigIntegerField(default=0)
    pickup_code = models.CharField(max_length=8, blank=True)
    recipient = models.CharField(_("recipient"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    checkout_key = models.CharField(max_length=64, blank=True)
    reserved_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "number"], name="order_number_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="order_brand_id_unique"),
            models.UniqueConstraint(
                fields=["brand", "channel", "external_id"],
                condition=~Q(external_id=""),
                name="order_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["brand", "checkout_key"], condition=~Q(checkout_key=""), name="order_checkout_once"
            ),
            models.UniqueConstraint(
                fields=["brand", "store", "pickup_code"],
                condition=Q(status="paid", fulfilment="pickup"),
                name="order_pickup_code_open_unique",
            ),
            models.CheckConstraint(
                condition=Q(total_fen=F("subtotal_fen") - F("discount_fen") + F("shipping_fen")),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(condition=Q(total_fen__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_fen__gte=0) & Q(refunded_fen__lte=F("paid_fen")),
                name="order_refund_within_paid",
            ),
            models.CheckConstraint(condition=Q(paid_fen__lte=F("total_fen")), name="order_paid_within_total"),
        ]
        indexes = [
            models.Index(fields=["brand", "store", "status", "-created_at"], name="order_store_idx"),
            models.Index(fields=["brand", "member", "-created_at"], name="order_member_idx"),
            models.Index(fields=["brand", "-created_at"], name="order_created_idx"),
            models.Index(fields=["brand", "paid_at"], name="order_paid_idx"),
            models.Index(
                fields=["reserved_until"], condition=Q(status="created"), name="order_awaiting_payment_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def refundable_fen(self) -> int:
        return self.paid_fen - self.refunded_fen

    @property
    def net_fen(self) -> int:
        """What the shopper paid and kept paid: paid less refunded."""
        return self.paid_fen - self.refunded_fen

    @property
    def partly_refunded(self) -> bool:
        return 0 < self.refunded_fen < self.paid_fen

    @property
    def restockable(self) -> bool:
        """Its goods came out of a store's stock, so returned goods can go back there."""
        return self.store_id is not None and self.channel != self.Channel.FLAGSHIP


class OrderLine(BrandOwned):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price_fen = models.PositiveBigIntegerField()
    # This line's share of the order discount, so a partial refund returns what was really paid.
    discount_fen = models.BigIntegerField(default=0)
    refunded_quantity = models.PositiveIntegerField(default=0)
    refunded_fen = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=F("quantity")), name="line_refund_within_quantity"
            ),
            models.CheckConstraint(
                condition=Q(discount_fen__gte=0) & Q(discount_fen__lte=F("unit_price_fen") * F("quantity")),
                name="line_discount_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["brand", "order"], name="line_order_idx")]

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity - self.discount_fen


class Payment(BrandOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Failed")
        REFUNDED = "refunded", _("Returned (order no longer payable)")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=16)
    method = models.CharField(max_length=32, blank=True)
    reference = models.CharField(max_length=64)
    # For payments an ISV reports (POS, flagship): the reference in their own system.
    external_reference = models.CharField(max_length=64, blank=True)
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    notifications = models.PositiveIntegerField(default=0)
    # A payment to give back (status refunded) whose return the provider has not confirmed yet.
    return_pending = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "provider", "reference"], name="payment_reference_unique"
            ),
            # One collected payment per cloud-store order (an ISV's split tender is several).
            models.UniqueConstraint(
                fields=["brand", "order"],
                condition=Q(status="succeeded") & ~Q(provider__in=["pos", "flagship"]),
                name="payment_one_success_per_order",
            ),
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="payment_amount_not_negative"),
        ]


class Refund(BrandOwned):
    class Transfer(models.TextChoices):
        """The money's way back to the payer through the payment provider."""

        NONE = "none", _("Not through us")  # an ISV's order: its own system pays back
        PENDING = "pending", _("Being returned")
        SENT = "sent", _("Returned to the payer")
        FAILED = "failed", _("Return failed, tried again")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    amount_fen = models.BigIntegerField()
    restock = models.BooleanField(default=True)
    reason = models.CharField(_("internal note"), max_length=200)  # staff only
    shopper_note = models.CharField(_("message to the shopper"), max_length=200, blank=True)
    lines = models.JSONField(default=list)
    points_reversed = models.BigIntegerField(default=0)
    provider_reference = models.CharField(max_length=64, blank=True)
    transfer = models.CharField(max_length=8, choices=Transfer.choices, default=Transfer.NONE)
    transfer_error = models.CharField(max_length=200, blank=True)
    # Set while a sender holds the provider call (a lease: a sender that died is replaced later).
    transfer_claimed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "key"], name="refund_key_unique"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_amount_positive"),
        ]


class OrderEvent(BrandOwned):
    """Append-only: every status change, payment notification and refund of an order.

    Also the outbox other apps read (commission attribution, webhooks): ``kind`` names the event."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status changed")
        PAYMENT = "payment", _("Payment notice")
        REFUND = "refund", _("Refund")
        NOTE = "note", _("Note")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["brand", "order"], name="orderevent_order_idx")]
