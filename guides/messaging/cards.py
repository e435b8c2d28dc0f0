"""Product, coupon and order cards: what the card shows, with the guide's share attribution.

A product or coupon card links to the guide's share link for her store (``share_link_get``): the
shopper who opens it records a touch, so a purchase through it credits her. An order card shows one
of the conversation's member's own orders. Anything of another brand, another member, a product not
on sale at her store, or a campaign she may not issue is refused (ValidationError)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.translation import gettext as _

from cloudstore import selectors as store_selectors
from cloudstore.models import Campaign, Order, ShareLink
from cloudstore.services import promotions
from guides.messaging.models import Conversation, Message
from members import shopper
from retail.models import Brand, Staff, Store
from retail.money import yuan
from retail.tenancy import brand_scope


def _store(staff: Staff) -> Store:
    store = shopper.guide_store(staff)
    if store is None:
        raise ValidationError({"target": _("You need a store to share products and coupons from.")})
    return store


def _target(target_id) -> int:
    if isinstance(target_id, bool) or not isinstance(target_id, int) or not (0 < target_id < 2**63):
        raise ValidationError({"target": _("Choose what to send.")}, code="bad_target")
    return target_id


def _share(brand: Brand, staff: Staff, store: Store, **kw) -> ShareLink:
    try:
        return promotions.share_link_get(brand=brand, guide=staff, store=store, **kw)
    except PermissionDenied as exc:
        raise ValidationError({"target": _("You may not share this.")}) from exc


def product_card(*, brand: Brand, staff: Staff, product_id: int) -> dict:
    store = _store(staff)
    listed = store_selectors.store_products(brand=brand, store=store).filter(pk=product_id)
    if not listed.exists():
        raise ValidationError({"target": _("This product is not on sale at your store.")}, code="bad_target")
    product = store_selectors.store_product_cards(brand=brand, store=store, product_ids=[product_id])[0]
    link = _share(brand, staff, store, kind=ShareLink.Kind.PRODUCT, product=product)
    return {
        "product": product.pk,
        "name": product.name,
        "price_fen": product.price_fen,
        "price": yuan(product.price_fen),
        "image": default_storage.url(product.thumb) if product.thumb else "",
        "store": store.name,
        "code": link.code,
        "url": reverse("share-open", args=[brand.slug, link.code]),
    }


def coupon_summary(campaign: Campaign) -> str:
    if campaign.kind == Campaign.Kind.AMOUNT_OFF:
        off = _("%(amount)s off") % {"amount": yuan(campaign.amount_off_fen)}
    else:
        off = _("%(percent)d%% off") % {"percent": campaign.percent_off}
    if campaign.threshold_fen:
        return _("%(off)s on orders from %(threshold)s") % {
            "off": off,
            "threshold": yuan(campaign.threshold_fen),
        }
    return off


def coupon_card(*, brand: Brand, staff: Staff, campaign_id: int) -> dict:
    store = _store(staff)
    campaign = store_selectors.campaigns_issuable(brand=brand, viewer=staff).filter(pk=campaign_id).first()
    if campaign is None:
        raise ValidationError({"target": _("You cannot send this coupon.")}, code="bad_target")
    link = _share(brand, staff, store, kind=ShareLink.Kind.COUPON, campaign=campaign)
    return {
        "campaign": campaign.pk,
        "name": campaign.name,
        "summary": coupon_summary(campaign),
        "ends_at": campaign.ends_at.isoformat(),
        "code": link.code,
        "url": reverse("share-open", args=[brand.slug, link.code]),
    }


def order_card(*, brand: Brand, conversation: Conversation, order_id: int) -> dict:
    order = Order.objects.for_brand(brand).filter(pk=order_id, member_id=conversation.member_id).first()
    if order is None:
        raise ValidationError({"target": _("This is not one of this member's orders.")}, code="bad_target")
    return {
        "order": order.pk,
        "number": order.number,
        "status": order.status,
        "status_label": str(order.get_status_display()),
        "total_fen": order.total_fen,
        "total": yuan(order.total_fen),
        "url": reverse("shop-order", args=[brand.slug, order.number]),
    }


def build(
    *, brand: Brand, staff: Staff, conversation: Conversation, kind: str, target_id: int | None
) -> dict:
    """The card's data (stored in ``Message.data``) for a card the guide sends."""
    if conversation.brand_id != brand.pk or staff.brand_id != brand.pk:
        raise ValidationError(_("Unknown conversation."))
    target_id = _target(target_id)
    with brand_scope(brand):
        if kind == Message.Kind.PRODUCT:
            return product_card(brand=brand, staff=staff, product_id=target_id)
        if kind == Message.Kind.COUPON:
            return coupon_card(brand=brand, staff=staff, campaign_id=target_id)
        if kind == Message.Kind.ORDER:
            return order_card(brand=brand, conversation=conversation, order_id=target_id)
    raise ValidationError(_("Unknown message."))
