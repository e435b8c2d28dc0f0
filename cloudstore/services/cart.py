"""The shopper's cart and what it costs: the cart's rules (one store, limits, what may go in), its
lines priced at the store, and the totals (coupon, delivery) that the cart page, the checkout
page and the order itself all take from ``cart_totals``.

A cart is a plain dict kept by the caller (the shop keeps it in the session):
``{"store": store_id | None, "items": {"<sku id>": quantity}}``."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from cloudstore import selectors
from cloudstore.models import Coupon, Inventory, Order, Product, ProductImage
from cloudstore.services import promotions
from members.models import Member
from retail.models import Brand, Store

MAX_LINES = 50
MAX_QUANTITY = 99


class NotInCart(LookupError):
    """The change names an item that is not in the cart, or not sold at the store."""


def free_shipping_from(brand: Brand) -> int:
    """Subtotal (fen) from which delivery is free; brand setting ``free_shipping_from_fen``."""
    return int(brand.settings.get("free_shipping_from_fen", 9900))


def shipping_fee(brand: Brand, fulfilment: str, subtotal: int) -> int:
    """Delivery fee (fen) of an order: brand setting ``shipping_fee_fen``, free from a subtotal."""
    if fulfilment != Order.Fulfilment.SHIP:
        return 0
    fee = int(brand.settings.get("shipping_fee_fen", 1000))
    return 0 if subtotal >= free_shipping_from(brand) else fee


# --- the cart's rules -------------------------------------------------------------------------------


def cart_clean(raw) -> dict:
    """A stored cart with anything malformed left out: {"store": id | None, "items": {sku: qty}}."""
    if not isinstance(raw, dict):
        return {"store": None, "items": {}}
    items = {}
    raw_items = raw.get("items")
    for key, qty in (raw_items if isinstance(raw_items, dict) else {}).items():
        if str(key).isdigit() and isinstance(qty, int) and 1 <= qty <= MAX_QUANTITY:
            items[str(key)] = qty
    store_id = raw.get("store")
    return {"store": store_id if isinstance(store_id, int) else None, "items": items}


def store_items(cart: dict, store: Store) -> dict[int, int]:
    """The cart's items if the cart belongs to ``store``; nothing otherwise."""
    if cart["store"] != store.pk:
        return {}
    return {int(k): v for k, v in cart["items"].items()}


@dataclass
class CartChange:
    cart: dict
    error: str | None = None
    replaced: bool = False  # this store's cart replaced the one of another store
    replaced_store: Store | None = None


def cart_change(
    *, brand: Brand, store: Store, cart: dict, op: str, sku_id: int, qty: int | None
) -> CartChange:
    """Add (``op`` add), set or remove a SKU of ``store`` in ``cart``; the new cart, or the cart as
    it was with a message saying why not. NotInCart for a SKU not sold at this store (another
    brand's, unknown, unlisted) or, to set or remove, one not in the cart."""
    replaced = None
    cart = {"store": cart["store"], "items": dict(cart["items"])}
    if cart["store"] != store.pk:
        if op != "add":
            raise NotInCart("Not in the cart.")
        if cart["items"]:
            replaced = cart["store"]
        cart = {"store": store.pk, "items": {}}
    key = str(sku_id)
    if op == "remove" or (op == "set" and qty == 0):
        if key not in cart["items"]:
            raise NotInCart("Not in the cart.")
        cart["items"].pop(key)
        return CartChange(cart)
    inv = (
        Inventory.objects.for_brand(brand)
        .filter(
            store=store,
            sku_id=sku_id,
            listed=True,
            sku__active=True,
            sku__product__status=Product.Status.ACTIVE,
        )
        .first()
    )
    if inv is None:
        raise NotInCart("Not sold at this store.")
    if op == "set" and key not in cart["items"]:
        raise NotInCart("Not in the cart.")
    wanted = qty + cart["items"].get(key, 0) if op == "add" else qty
    if inv.available <= 0:
        return CartChange(cart, _("Sold out at this store."))
    if wanted > inv.available:
        return CartChange(cart, _("Only %(n)s left at this store.") % {"n": inv.available})
    if wanted > MAX_QUANTITY:
        return CartChange(cart, _("At most %(n)s of one item.") % {"n": MAX_QUANTITY})
    if key not in cart["items"] and len(cart["items"]) >= MAX_LINES:
        return CartChange(cart, _("At most %(n)s different items per order.") % {"n": MAX_LINES})
    cart["items"][key] = wanted
    if replaced is None:
        return CartChange(cart)
    return CartChange(
        cart, replaced=True, replaced_store=Store.objects.for_brand(brand).filter(pk=replaced).first()
    )


# --- the cart priced ----------------------------------------------------------------------------------


@dataclass
class PricedCart:
    """The cart's lines priced at the store (dicts of ``selectors.cart_lines`` with ``thumb`` and
    ``short``), and whether items no longer sold there were left out (``dropped``)."""

    lines: list[dict] = field(default_factory=list)
    dropped: bool = False

    @property
    def items(self) -> dict[str, int]:
        return {str(ln["sku"].pk): ln["quantity"] for ln in self.lines}

    @property
    def short(self) -> bool:
        return any(ln["short"] for ln in self.lines)

    @property
    def amounts(self) -> list[tuple[int, int]]:
        return [(ln["quantity"], ln["amount_fen"]) for ln in self.lines]


def _thumbs(brand: Brand, product_ids) -> dict[int, str]:
    """The first photo's thumbnail of each product, in one query."""
    out: dict[int, str] = {}
    rows = (
        ProductImage.objects.for_brand(brand)
        .filter(product_id__in=list(product_ids))
        .order_by("product_id", "sort", "id")
        .values_list("product_id", "thumbnail")
    )
    for pid, thumb in rows:
        out.setdefault(pid, thumb)
    return out


def cart_priced(*, brand: Brand, store: Store, items: dict[int, int]) -> PricedCart:
    """The cart's items priced at ``store``, with each product's thumbnail and a flag on lines
    asking for more than the store has."""
    lines = selectors.cart_lines(brand=brand, store=store, items=items) if items else []
    thumbs = _thumbs(brand, {ln["product"].pk for ln in lines}) if lines else {}
    for ln in lines:
        ln["thumb"] = thumbs.get(ln["product"].pk, "")
        ln["short"] = ln["quantity"] > ln["available"]
    return PricedCart(lines, dropped=len(lines) != len(items))


# --- totals -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """What an order of these lines costs (fen)."""

    count: int
    subtotal: int
    discount: int
    shipping: int
    ship: bool
    free_from: int
    coupon: Coupon | None = None
    coupon_error: str = ""

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.shipping

    @property
    def free_missing(self) -> int:
        return max(0, self.free_from - self.subtotal)


def cart_totals(
    *,
    brand: Brand,
    amounts: list[tuple[int, int]],
    fulfilment: str = Order.Fulfilment.PICKUP,
    member: Member | None = None,
    coupon_code: str = "",
    strict: bool = False,
) -> Totals:
    """The totals of lines given as (quantity, amount in fen): the member's coupon off the
    subtotal, then delivery. A coupon that does not apply raises ValidationError when ``strict``
    (placing the order); otherwise (showing the cart) it counts for nothing and says why."""
    subtotal = sum(amount for _qty, amount in amounts)
    coupon, discount, coupon_error = None, 0, ""
    if coupon_code and member is not None:
        try:
            coupon = promotions.coupon_find(brand=brand, code=coupon_code)
            discount = promotions.coupon_check(coupon, member=member, subtotal_fen=subtotal)
        except ValidationError as exc:
            if strict:
                raise
            coupon, coupon_error = None, " ".join(exc.messages)
    return Totals(
        count=sum(qty for qty, _amount in amounts),
        subtotal=subtotal,
        discount=discount,
        shipping=shipping_fee(brand, fulfilment, subtotal),
        ship=fulfilment == Order.Fulfilment.SHIP,
        free_from=free_shipping_from(brand),
        coupon=coupon,
        coupon_error=coupon_error,
    )
