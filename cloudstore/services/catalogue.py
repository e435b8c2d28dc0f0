"""Writes of the catalogue: categories, products, SKUs, photos and per-store prices."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events, images
from cloudstore.models import Category, Inventory, Product, ProductImage, Sku
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

MAX_IMAGES = 9


def _admin(brand: Brand, staff: Staff) -> None:
    roles.require(brand, staff, roles.can_manage_stores(staff))


def _save(obj, unique_message: dict[str, str]) -> None:
    obj.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationError(unique_message) from exc


def category_save(
    *, brand: Brand, staff: Staff, actor: Actor, data: dict[str, Any], category: Category | None = None
) -> Category:
    _admin(brand, staff)
    with brand_scope(brand):
        category = category or Category(brand=brand)
        category.name = (data.get("name") or "").strip()
        category.sort = data.get("sort", category.sort) or 0
        _save(category, {"name": _("A category with this name exists.")})
        events.audit(brand=brand, actor=actor, action="category.saved", target=category)
        return category


def product_save(
    *, brand: Brand, staff: Staff, actor: Actor, data: dict[str, Any], product: Product | None = None
) -> Product:
    """Create or edit a product (name, category, description, status)."""
    _admin(brand, staff)
    with brand_scope(brand):
        product = product or Product(brand=brand)
        for field in ("name", "description", "status"):
            if field in data:
                setattr(product, field, (data[field] or "").strip() if field != "status" else data[field])
        if "category" in data:
            cat = data["category"]
            if cat is not None and cat.brand_id != brand.pk:
                raise ValidationError({"category": _("Unknown category.")})
            product.category = cat
        _save(product, {"name": _("Could not save the product.")})
        events.audit(brand=brand, actor=actor, action="product.saved", target=product)
        return product


def sku_save(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    product: Product,
    data: dict[str, Any],
    sku: Sku | None = None,
) -> Sku:
    """Create or edit a SKU: code and barcode are unique in the brand; price in fen."""
    _admin(brand, staff)
    if product.brand_id != brand.pk:
        raise ValidationError({"product": _("Unknown product.")})
    price = data.get("list_price_fen", getattr(sku, "list_price_fen", None))
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise ValidationError({"list_price_fen": _("Give the price as a whole number of fen (0 or more).")})
    with brand_scope(brand):
        sku = sku or Sku(brand=brand, product=product)
        sku.product = product
        for field in ("code", "spec", "barcode"):
            if field in data:
                setattr(sku, field, (data[field] or "").strip())
        if "active" in data:
            sku.active = bool(data["active"])
        sku.list_price_fen = price
        clash = Sku.objects.filter(code=sku.code).exclude(pk=sku.pk).exists()
        if clash:
            raise ValidationError({"code": _("Another SKU has this code.")})
        if sku.barcode and Sku.objects.filter(barcode=sku.barcode).exclude(pk=sku.pk).exists():
            raise ValidationError({"barcode": _("Another SKU has this barcode.")})
        _save(sku, {"code": _("Another SKU has this code or barcode.")})
        events.audit(brand=brand, actor=actor, action="sku.saved", target=sku, data={"price_fen": price})
        return sku


def product_image_add(*, brand: Brand, staff: Staff, actor: Actor, product: Product, upload) -> ProductImage:
    """Validate, resize and strip a photo; a product keeps at most nine."""
    _admin(brand, staff)
    large, thumb = images.process_upload(upload)
    with brand_scope(brand):
        Product.objects.select_for_update().get(pk=product.pk)
        count = ProductImage.objects.filter(product=product).count()
        if count >= MAX_IMAGES:
            raise ValidationError({"image": _("A product has at most 9 photos.")})
        img = ProductImage(brand=brand, product=product, sort=count)
        img.image.save(large.name, large, save=False)
        img.thumbnail.save(thumb.name, thumb, save=False)
        img.save()
        events.audit(brand=brand, actor=actor, action="product.image_added", target=product)
        return img


def product_image_delete(*, brand: Brand, staff: Staff, actor: Actor, image: ProductImage) -> None:
    _admin(brand, staff)
    with brand_scope(brand):
        files = [image.image.name, image.thumbnail.name]
        storage = image.image.storage
        image.delete()
        events.audit(brand=brand, actor=actor, action="product.image_deleted", target=image.product)
        transaction.on_commit(lambda: [storage.delete(f) for f in files if f])


def store_price_set(
    *, brand: Brand, staff: Staff, actor: Actor, store: Store, sku: Sku, price_fen: int | None
) -> Inventory:
    """Set (or clear, with None) a store's own price for a SKU."""
    _admin(brand, staff)
    if price_fen is not None and (
        not isinstance(price_fen, int) or isinstance(price_fen, bool) or price_fen < 0
    ):
        raise ValidationError({"price_fen": _("Give the price as a whole number of fen (0 or more).")})
    if store.brand_id != brand.pk or sku.brand_id != brand.pk:
        raise ValidationError(_("Unknown store or SKU."))
    with brand_scope(brand):
        inv, _created = Inventory.objects.get_or_create(brand=brand, store=store, sku=sku)
        old = inv.price_fen
        Inventory.objects.filter(pk=inv.pk).update(price_fen=price_fen, updated_at=timezone.now())
        inv.price_fen = price_fen
        events.audit(
            brand=brand,
            actor=actor,
            action="inventory.price_set",
            target=sku,
            data={"store": store.code, "old": old, "new": price_fen},
        )
        return inv
