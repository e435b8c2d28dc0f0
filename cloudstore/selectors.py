"""Reads of the cloud store: the shopper's store pages, staff stock and order lists, takings."""

from __future__ import annotations

import datetime
import math
import zoneinfo
from dataclasses import dataclass

from django.core import signing
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, F, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from cloudstore.models import (
    Campaign,
    Category,
    Coupon,
    Inventory,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    ProductImage,
    Refund,
    ShareLink,
    Sku,
    StockMovement,
)
from members.models import Member
from retail import roles
from retail.models import Brand, Staff, Store

EARTH_RADIUS_M = 6_371_000


# --- shopper pages ----------------------------------------------------------------------------


def _distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def stores_nearest(*, brand: Brand, lat: float, lng: float, limit: int = 10) -> list[tuple[Store, float]]:
    """Open stores of the brand by distance from (lat, lng), nearest first, with metres.

    A bounding box of growing size keeps the candidate set small for brands with thousands of
    stores; the exact great-circle distance orders the candidates."""
    qs = Store.objects.for_brand(brand).filter(status=Store.Status.OPEN, latitude__isnull=False)
    found: list[tuple[Store, float]] = []
    for box_deg in (0.5, 2.0, 8.0, 180.0):
        lat_box = box_deg
        lng_box = min(180.0, box_deg / max(0.01, math.cos(math.radians(lat))))
        cand = qs.filter(
            latitude__range=(lat - lat_box, lat + lat_box),
            longitude__range=(lng - lng_box, lng + lng_box),
        )[:2000]
        found = [(s, _distance_m(lat, lng, float(s.latitude), float(s.longitude))) for s in cand]
        if len(found) >= limit or box_deg == 180.0:
            break
    found.sort(key=lambda x: x[1])
    return found[:limit]


def stores_open(*, brand: Brand) -> QuerySet[Store]:
    return Store.objects.for_brand(brand).filter(status=Store.Status.OPEN).order_by("name")


@dataclass
class StoreItem:
    """One product as the store shows it: the cheapest listed SKU's price and the stock of all."""

    product: Product
    price_fen: int
    available: int
    thumbnail: str


def _price_expr():
    return Coalesce(F("price_fen"), F("sku__list_price_fen"))


def _listed_at(brand: Brand, store: Store):
    """Listed, on-sale stock rows of ``store`` for the product in the outer query."""
    return Inventory.objects.for_brand(brand).filter(
        store=store, listed=True, sku__active=True, sku__product=OuterRef("pk")
    )


def store_products(
    *, brand: Brand, store: Store, category_id: int | None = None, q: str = ""
) -> QuerySet[Product]:
    """Products listed at ``store`` (active, with at least one listed SKU on sale), by name.

    Unannotated on purpose: paginate this, then annotate only the page (``store_product_cards``);
    annotating before the OFFSET would compute every skipped product's price and stock."""
    qs = (
        Product.objects.for_brand(brand)
        .filter(status=Product.Status.ACTIVE)
        .filter(Exists(_listed_at(brand, store)))
        .order_by("name", "id")
    )
    if category_id:
        qs = qs.filter(category_id=category_id)
    if q:
        qs = qs.filter(name__icontains=q[:64])
    return qs


def store_product_cards(*, brand: Brand, store: Store, product_ids: list[int]) -> list[Product]:
    """The given products (in that order) with ``price_fen`` (the lowest price among SKUs in stock,
    or among all when none is), ``available`` (units available) and ``thumb`` (first photo)."""
    inv = _listed_at(brand, store)
    thumb = ProductImage.objects.for_brand(brand).filter(product=OuterRef("pk")).order_by("sort", "id")
    rows = (
        Product.objects.for_brand(brand)
        .filter(pk__in=product_ids)
        .annotate(
            price_fen=Subquery(
                inv.annotate(
                    p=_price_expr(),
                    sold_out=Case(When(on_hand__gt=F("reserved"), then=0), default=1),
                )
                .order_by("sold_out", "p")
                .values("p")[:1]
            ),
            available=Coalesce(
                Subquery(
                    inv.order_by()
                    .values("sku__product")
                    .annotate(a=Sum(F("on_hand") - F("reserved")))
                    .values("a")[:1]
                ),
                0,
            ),
            thumb=Subquery(thumb.values("thumbnail")[:1]),
        )
        .select_related("category")
    )
    by_id = {p.pk: p for p in rows}
    return [by_id[pk] for pk in product_ids if pk in by_id]


def store_window(
    *,
    brand: Brand,
    store: Store,
    page: str | int | None,
    per_page: int,
    category_id: int | None = None,
    q: str = "",
) -> Page:
    """One page of the store's goods as cards: three queries (count, page ids, cards) whatever the
    page or the catalogue size."""
    ids = store_products(brand=brand, store=store, category_id=category_id, q=q).values_list("pk", flat=True)
    result = Paginator(ids, per_page).get_page(page)
    result.object_list = store_product_cards(brand=brand, store=store, product_ids=list(result.object_list))
    return result


def store_categories(*, brand: Brand, store: Store) -> QuerySet[Category]:
    """Categories with at least one product on sale at the store (one EXISTS per category)."""
    on_sale = Inventory.objects.for_brand(brand).filter(
        store=store,
        listed=True,
        sku__active=True,
        sku__product__status=Product.Status.ACTIVE,
        sku__product__category=OuterRef("pk"),
    )
    return Category.objects.for_brand(brand).filter(Exists(on_sale)).order_by("sort", "name")


def store_product(*, brand: Brand, store: Store, product_id: int) -> tuple[Product, list[Inventory]] | None:
    """A product page: the product with images, and its SKUs listed at the store with price and stock."""
    product = (
        Product.objects.for_brand(brand)
        .filter(pk=product_id, status=Product.Status.ACTIVE)
        .prefetch_related("images")
        .select_related("category")
        .first()
    )
    if product is None:
        return None
    rows = list(
        Inventory.objects.for_brand(brand)
        .filter(store=store, listed=True, sku__product=product, sku__active=True)
        .select_related("sku")
        .annotate(price=_price_expr())
        .order_by("sku__code")
    )
    if not rows:
        return None
    return product, rows


def cart_lines(*, brand: Brand, store: Store, items: dict[int, int]) -> list[dict]:
    """The shopper's cart priced at the store, one dict per line (inventory, sku, product, quantity,
    price_fen, amount_fen, available)."""
    if not items:
        return []
    rows = (
        Inventory.objects.for_brand(brand)
        .filter(
            store=store, sku_id__in=list(items), listed=True, sku__active=True, sku__product__status="active"
        )
        .select_related("sku__product")
        .annotate(price=_price_expr())
    )
    out = []
    for inv in rows:
        qty = items[inv.sku_id]
        out.append(
            {
                "inventory": inv,
                "sku": inv.sku,
                "product": inv.sku.product,
                "quantity": qty,
                "price_fen": inv.price,
                "amount_fen": inv.price * qty,
                "available": inv.available,
            }
        )
    out.sort(key=lambda x: (x["product"].name, x["sku"].code))
    return out


def member_orders(*, brand: Brand, member: Member) -> QuerySet[Order]:
    return (
        Order.objects.for_brand(brand)
        .filter(member=member)
        .select_related("store")
        .prefetch_related("lines")
        .order_by("-created_at", "-id")
    )


def member_coupons(*, brand: Brand, member: Member) -> QuerySet[Coupon]:
    now = timezone.now()
    return (
        Coupon.objects.for_brand(brand)
        .filter(member=member, status=Coupon.Status.ISSUED, campaign__active=True, campaign__ends_at__gt=now)
        .select_related("campaign")
        .order_by("campaign__ends_at")
    )


# --- catalogue and stock for staff ----------------------------------------------------------------


def product_list(
    *, brand: Brand, q: str = "", category_id: int | None = None, status: str = ""
) -> QuerySet[Product]:
    qs = (
        Product.objects.for_brand(brand)
        .select_related("category")
        .annotate(sku_count=Count("skus", distinct=True), min_price=Min("skus__list_price_fen"))
        .order_by("name", "id")
    )
    if q:
        qs = qs.filter(Q(name__icontains=q[:64]) | Q(skus__code=q[:64]) | Q(skus__barcode=q[:64])).distinct()
    if category_id:
        qs = qs.filter(category_id=category_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def product_detail(*, brand: Brand, product_id: int) -> Product | None:
    return (
        Product.objects.for_brand(brand)
        .filter(pk=product_id)
        .select_related("category")
        .prefetch_related("images", Prefetch("skus", queryset=Sku.objects.for_brand(brand).order_by("code")))
        .first()
    )


def sku_list(*, brand: Brand, q: str = "") -> QuerySet[Sku]:
    qs = Sku.objects.for_brand(brand).select_related("product").order_by("code")
    if q:
        qs = qs.filter(Q(code__icontains=q[:64]) | Q(barcode=q[:64]) | Q(product__name__icontains=q[:64]))
    return qs


def category_list(*, brand: Brand) -> QuerySet[Category]:
    return Category.objects.for_brand(brand).order_by("sort", "name")


def assortment_missing(*, brand: Brand, store: Store) -> dict:
    """SKUs on sale that the store does not carry yet: how many in all and per category."""
    missing = (
        Sku.objects.for_brand(brand)
        .filter(active=True, product__status=Product.Status.ACTIVE)
        .exclude(pk__in=Inventory.objects.for_brand(brand).filter(store=store).values("sku_id"))
    )
    per_category = dict(
        missing.order_by()
        .values_list("product__category_id")
        .annotate(n=Count("id"))
        .values_list("product__category_id", "n")
    )
    categories = [{"category": c, "missing": per_category.get(c.pk, 0)} for c in category_list(brand=brand)]
    return {"total": sum(per_category.values()), "categories": categories}


def store_stock(*, brand: Brand, store: Store, q: str = "", low_only: bool = False) -> QuerySet[Inventory]:
    """A store's stock rows with SKU and product, lowest availability first when ``low_only``."""
    qs = (
        Inventory.objects.for_brand(brand)
        .filter(store=store)
        .select_related("sku__product")
        .annotate(avail=F("on_hand") - F("reserved"), price=_price_expr())
    )
    if q:
        qs = qs.filter(
            Q(sku__code__icontains=q[:64]) | Q(sku__barcode=q[:64]) | Q(sku__product__name__icontains=q[:64])
        )
    if low_only:
        qs = qs.filter(avail__lte=F("low_stock_at")).order_by("avail", "sku__code")
    else:
        qs = qs.order_by("sku__product__name", "sku__code")
    return qs


def low_stock_count(*, brand: Brand, store: Store) -> int:
    return (
        Inventory.objects.for_brand(brand)
        .filter(store=store, listed=True)
        .annotate(avail=F("on_hand") - F("reserved"))
        .filter(avail__lte=F("low_stock_at"))
        .count()
    )


def stock_movements(*, brand: Brand, store: Store, sku: Sku) -> QuerySet[StockMovement]:
    return (
        StockMovement.objects.for_brand(brand)
        .filter(store=store, sku=sku)
        .select_related("created_by", "order")
        .order_by("-created_at", "-id")
    )


def visible_stores(*, brand: Brand, viewer: Staff) -> QuerySet[Store]:
    qs = Store.objects.for_brand(brand).order_by("code")
    return qs if roles.sees_all_stores(viewer) else qs.filter(pk__in=roles.store_ids(viewer))


# --- orders --------------------------------------------------------------------------------------


@dataclass
class OrderFilters:
    status: str = ""
    channel: str = ""
    store: int | None = None
    member: int | None = None
    number: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    awaiting: str = ""  # "fulfil" | "pickup": what store staff must act on


def order_list(*, brand: Brand, viewer: Staff, filters: OrderFilters | None = None) -> QuerySet[Order]:
    """Orders the viewer may see (a brand admin all; store staff their stores'), newest first."""
    f = filters or OrderFilters()
    qs = Order.objects.for_brand(brand).select_related("store", "member").order_by("-created_at", "-id")
    if not roles.sees_all_stores(viewer):
        qs = qs.filter(store_id__in=roles.store_ids(viewer))
    if f.status:
        qs = qs.filter(status=f.status)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.store:
        qs = qs.filter(store_id=f.store)
    if f.member:
        qs = qs.filter(member_id=f.member)
    if f.number:
        qs = qs.filter(Q(number=f.number.strip()) | Q(external_id=f.number.strip()))
    if f.date_from:
        qs = qs.filter(created_at__date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(created_at__date__lte=f.date_to)
    if f.awaiting == "fulfil":
        qs = qs.filter(status=Order.Status.PAID, fulfilment=Order.Fulfilment.SHIP)
    elif f.awaiting == "pickup":
        qs = qs.filter(status=Order.Status.PAID, fulfilment=Order.Fulfilment.PICKUP)
    return qs


PICKUP_SALT = "cloudstore.pickup"
PICKUP_TOKEN_MAX_AGE = 60 * 60 * 24 * 60


def pickup_code_filter(code: str) -> Q | None:
    """Which order a typed 6-digit pickup code or a scanned pickup QR names; None if it is neither."""
    code = (code or "").strip()
    if code.isdigit() and len(code) == 6:
        return Q(pickup_code=code)
    try:
        data = signing.loads(code, salt=PICKUP_SALT, max_age=PICKUP_TOKEN_MAX_AGE)
        return Q(pk=int(data["o"]), pickup_code=str(data["c"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def pickup_order_get(*, brand: Brand, store: Store, code: str) -> Order | None:
    """The order waiting for pickup at ``store`` that the code names, with its lines and member."""
    match = pickup_code_filter(code)
    if match is None:
        return None
    return (
        Order.objects.for_brand(brand)
        .filter(match, store=store, fulfilment=Order.Fulfilment.PICKUP, status=Order.Status.PAID)
        .select_related("store", "member")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.for_brand(brand).order_by("id")),
            "member__identities",
        )
        .first()
    )


def order_get(*, brand: Brand, viewer: Staff, order_id) -> Order:
    """One order with lines, payments, refunds and events; 404 (DoesNotExist) outside the viewer's stores."""
    return (
        order_list(brand=brand, viewer=viewer)
        .select_related("coupon__campaign", "exclusive_guide", "share_guide", "served_by", "touch")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.for_brand(brand).order_by("id")),
            "payments",
            Prefetch("refunds", queryset=Refund.objects.for_brand(brand).order_by("created_at")),
            Prefetch(
                "events",
                queryset=OrderEvent.objects.for_brand(brand)
                .select_related("actor")
                .order_by("created_at", "id"),
            ),
        )
        .get(pk=order_id)
    )


def takings(*, brand: Brand, store: Store | None, day: datetime.date, tz: str = "Asia/Shanghai") -> dict:
    """A day's takings by channel: orders paid that day, amount paid, refunds made that day."""
    zone = zoneinfo.ZoneInfo(tz)
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = start + datetime.timedelta(days=1)
    orders = Order.objects.for_brand(brand).filter(paid_at__gte=start, paid_at__lt=end)
    refunds = Refund.objects.for_brand(brand).filter(created_at__gte=start, created_at__lt=end)
    if store is not None:
        orders = orders.filter(store=store)
        refunds = refunds.filter(order__store=store)
    by_channel = {
        row["channel"]: row
        for row in orders.values("channel")
        .annotate(count=Count("id"), paid=Sum("paid_fen"))
        .order_by("channel")
    }
    refunded = {
        row["order__channel"]: row["amount"]
        for row in refunds.values("order__channel")
        .annotate(amount=Sum("amount_fen"))
        .order_by("order__channel")
    }
    rows = []
    for value, label in Order.Channel.choices:
        r = by_channel.get(value, {})
        paid, back = r.get("paid") or 0, refunded.get(value) or 0
        rows.append(
            {
                "channel": value,
                "label": label,
                "orders": r.get("count", 0),
                "paid_fen": paid,
                "refunded_fen": back,
                "net_fen": paid - back,
            }
        )
    total = {k: sum(r[k] for r in rows) for k in ("orders", "paid_fen", "refunded_fen", "net_fen")}
    return {"day": day, "rows": rows, "total": total}


def campaign_list(*, brand: Brand) -> QuerySet[Campaign]:
    return (
        Campaign.objects.for_brand(brand)
        .annotate(used=Count("coupons", filter=Q(coupons__status=Coupon.Status.USED)))
        .order_by("-starts_at", "-id")
    )


def campaigns_issuable(*, brand: Brand, viewer: Staff) -> QuerySet[Campaign]:
    now = timezone.now()
    qs = Campaign.objects.for_brand(brand).filter(active=True, starts_at__lte=now, ends_at__gt=now)
    if viewer.role == Staff.Role.GUIDE:
        qs = qs.filter(guides_may_issue=True)
    return qs.order_by("ends_at")


def share_links(*, brand: Brand, guide: Staff) -> QuerySet[ShareLink]:
    return (
        ShareLink.objects.for_brand(brand)
        .filter(guide=guide)
        .select_related("store", "product", "campaign")
        .annotate(touch_count=Count("touches"))
        .order_by("-created_at")
    )
