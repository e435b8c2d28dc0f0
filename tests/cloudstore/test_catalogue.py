"""Catalogue, photos, store prices, stock changes and bulk updates."""

import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cloudstore import images
from cloudstore.models import Inventory, ProductImage, Sku, StockMovement
from cloudstore.services import catalogue, checkout, inventory
from retail.events import Actor
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.factories import InventoryFactory, SkuFactory, StoreFactory


def jpeg(w=1600, h=1200, exif=True, fmt="JPEG") -> bytes:
    img = Image.new("RGB", (w, h), (200, 120, 90))
    out = io.BytesIO()
    kwargs = {}
    if exif and fmt == "JPEG":
        ex = Image.Exif()
        ex[0x010F] = "SecretCam"  # Make
        ex[0x0112] = 6  # Orientation: rotate 90
        kwargs["exif"] = ex.tobytes()
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def upload(data: bytes, name="p.jpg", ctype="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=ctype)


def test_photo_is_resized_rotated_and_stripped(brand, brand_admin, product):
    img = catalogue.product_image_add(
        brand=brand, staff=brand_admin, actor=Actor(), product=product, upload=upload(jpeg())
    )
    with Image.open(img.image.path) as large:
        assert max(large.size) == images.LARGE_SIDE
        assert large.size == (900, 1200)  # orientation applied: portrait
        assert not large.getexif() and "exif" not in large.info
    with Image.open(img.thumbnail.path) as thumb:
        assert max(thumb.size) == images.THUMB_SIDE
    assert (img.width, img.height) == (900, 1200)


@pytest.mark.parametrize(
    "data",
    [
        b"not an image at all",
        b"GIF89a" + b"\x00" * 100,
        jpeg()[:2000],  # truncated
        jpeg(32, 32, exif=False),  # too small
    ],
)
def test_bad_images_refused(brand, brand_admin, product, settings, data):
    with pytest.raises(ValidationError):
        catalogue.product_image_add(
            brand=brand, staff=brand_admin, actor=Actor(), product=product, upload=upload(data)
        )
    with brand_scope(brand):
        assert not ProductImage.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.jpg"))


def test_oversized_upload_refused(brand, brand_admin, product):
    big = upload(b"\xff\xd8" + b"0" * (images.MAX_UPLOAD_BYTES + 10))
    with pytest.raises(ValidationError):
        catalogue.product_image_add(
            brand=brand, staff=brand_admin, actor=Actor(), product=product, upload=big
        )


def test_decompression_bomb_refused(brand, brand_admin, product):
    out = io.BytesIO()
    Image.new("1", (10000, 10000)).save(out, "PNG")  # 100 MP, tiny file
    with pytest.raises(ValidationError):
        catalogue.product_image_add(
            brand=brand,
            staff=brand_admin,
            actor=Actor(),
            product=product,
            upload=upload(out.getvalue(), "b.png"),
        )


def test_png_with_transparency_becomes_jpeg(brand, brand_admin, product):
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 0, 0, 0)).save(out, "PNG")
    img = catalogue.product_image_add(
        brand=brand, staff=brand_admin, actor=Actor(), product=product, upload=upload(out.getvalue(), "t.png")
    )
    with Image.open(img.image.path) as large:
        assert large.format == "JPEG" and large.getpixel((0, 0)) == (255, 255, 255)


def test_only_admins_edit_the_catalogue(brand, store_manager, product):
    with pytest.raises(PermissionDenied):
        catalogue.sku_save(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            product=product,
            data={"code": "X", "list_price_fen": 100},
        )


def test_sku_code_and_barcode_unique_in_brand(brand, other_brand, brand_admin, product, sku):
    with pytest.raises(ValidationError) as exc:
        catalogue.sku_save(
            brand=brand,
            staff=brand_admin,
            actor=Actor(),
            product=product,
            data={"code": sku.code, "list_price_fen": 100},
        )
    assert "code" in exc.value.error_dict
    SkuFactory(brand=other_brand, code="SAME", barcode="6901234567892")  # another brand may use both
    s = catalogue.sku_save(
        brand=brand,
        staff=brand_admin,
        actor=Actor(),
        product=product,
        data={"code": "SAME", "barcode": "6901234567892", "list_price_fen": 100},
    )
    with pytest.raises(ValidationError) as exc:
        catalogue.sku_save(
            brand=brand,
            staff=brand_admin,
            actor=Actor(),
            product=product,
            data={"code": "OTHER", "barcode": "6901234567892", "list_price_fen": 100},
        )
    assert "barcode" in exc.value.error_dict
    assert s.pk


@pytest.mark.parametrize("price", [-1, 1.5, "100", True, None])
def test_sku_price_must_be_whole_fen(brand, brand_admin, product, price):
    with pytest.raises(ValidationError):
        catalogue.sku_save(
            brand=brand,
            staff=brand_admin,
            actor=Actor(),
            product=product,
            data={"code": "P", "list_price_fen": price},
        )


def test_store_price_set_and_cleared(brand, brand_admin, store, sku, stock):
    inv = catalogue.store_price_set(
        brand=brand, staff=brand_admin, actor=Actor(), store=store, sku=sku, price_fen=100
    )
    assert inv.price_fen == 100
    catalogue.store_price_set(
        brand=brand, staff=brand_admin, actor=Actor(), store=store, sku=sku, price_fen=None
    )
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).price_fen is None
        assert AuditLog.objects.filter(action="inventory.price_set").count() == 2


def test_stock_change_kinds_and_history(brand, store_manager, store, sku, stock):
    a = Actor(user=store_manager.user)
    inventory.stock_change(
        brand=brand,
        staff=store_manager,
        actor=a,
        store=store,
        sku=sku,
        kind="receive",
        quantity=5,
        reason="到货",
    )
    inventory.stock_change(
        brand=brand,
        staff=store_manager,
        actor=a,
        store=store,
        sku=sku,
        kind="adjust",
        quantity=-2,
        reason="破损",
    )
    inv = inventory.stock_change(
        brand=brand,
        staff=store_manager,
        actor=a,
        store=store,
        sku=sku,
        kind="count",
        quantity=11,
        reason="月度盘点",
    )
    assert inv.on_hand == 11
    with brand_scope(brand):
        moves = list(
            StockMovement.objects.filter(sku=sku)
            .order_by("id")
            .values_list("kind", "on_hand_delta", "on_hand_after")
        )
    assert moves == [("receive", 5, 15), ("adjust", -2, 13), ("count", -2, 11)]


def test_stock_cannot_drop_below_reserved(brand, store_manager, store, sku, stock, member):
    checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 4)], fulfilment="pickup", checkout_key="k"
    )
    with pytest.raises(ValidationError):
        inventory.stock_change(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            store=store,
            sku=sku,
            kind="count",
            quantity=3,
            reason="盘点",
        )
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).on_hand == 10


def test_stock_change_needs_a_reason_and_the_right_store(brand, store_manager, guide, store, sku, stock):
    with pytest.raises(ValidationError):
        inventory.stock_change(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            store=store,
            sku=sku,
            kind="adjust",
            quantity=1,
            reason=" ",
        )
    with pytest.raises(PermissionDenied):
        inventory.stock_change(
            brand=brand,
            staff=guide,
            actor=Actor(),
            store=store,
            sku=sku,
            kind="adjust",
            quantity=1,
            reason="x",
        )
    elsewhere = StoreFactory(brand=brand, code="BJ01")
    with pytest.raises(PermissionDenied):
        inventory.stock_change(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            store=elsewhere,
            sku=sku,
            kind="adjust",
            quantity=1,
            reason="x",
        )


def test_bulk_update_creates_and_updates(brand, brand_admin, store, sku, stock):
    other = SkuFactory(brand=brand, code="NEW-1")
    result = inventory.inventory_bulk_update(
        brand=brand,
        staff=brand_admin,
        actor=Actor(),
        reason="ERP",
        rows=[
            {"store": store.code, "sku": sku.code, "on_hand": 30, "price_fen": 19900},
            {"store": store.code, "sku": other.code, "on_hand": 7, "low_stock_at": 2},
        ],
    )
    assert (result.created, result.updated, result.errors) == (1, 1, [])
    with brand_scope(brand):
        rows = {i.sku_id: i for i in Inventory.objects.filter(store=store)}
        assert (rows[sku.pk].on_hand, rows[sku.pk].price_fen) == (30, 19900)
        assert (rows[other.pk].on_hand, rows[other.pk].low_stock_at) == (7, 2)
        assert StockMovement.objects.filter(kind="import").count() == 2


def test_bulk_update_is_all_or_nothing(brand, brand_admin, store, sku, stock, member):
    checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 4)], fulfilment="pickup", checkout_key="k"
    )
    other = SkuFactory(brand=brand, code="NEW-1")
    result = inventory.inventory_bulk_update(
        brand=brand,
        staff=brand_admin,
        actor=Actor(),
        reason="ERP",
        rows=[
            {"store": store.code, "sku": other.code, "on_hand": 7},
            {"store": store.code, "sku": sku.code, "on_hand": 2},  # below the 4 reserved
        ],
    )
    assert [e["row"] for e in result.errors] == [1]
    with brand_scope(brand):
        assert not Inventory.objects.filter(sku=other).exists()
        assert Inventory.objects.get(pk=stock.pk).on_hand == 10


def test_bulk_update_reports_unknown_and_foreign_codes(
    brand, other_brand, brand_admin, store_manager, store, sku
):
    foreign = InventoryFactory(brand=other_brand, on_hand=1)
    elsewhere = StoreFactory(brand=brand, code="BJ01")
    result = inventory.inventory_bulk_update(
        brand=brand,
        staff=store_manager,
        actor=Actor(),
        reason="",
        rows=[
            {"store": foreign.store.code, "sku": sku.code, "on_hand": 1},
            {"store": store.code, "sku": foreign.sku.code, "on_hand": 1},
            {"store": elsewhere.code, "sku": sku.code, "on_hand": 1},
            {"store": store.code, "sku": sku.code, "on_hand": 1},
            {"store": store.code, "sku": sku.code, "on_hand": 2},
        ],
    )
    assert [(e["row"], e["field"]) for e in result.errors] == [
        (0, "store"),
        (1, "sku"),
        (2, "store"),
        (4, "sku"),
    ]
    with brand_scope(brand):
        assert not Inventory.objects.exists()
    with brand_scope(other_brand):
        assert Inventory.objects.get(pk=foreign.pk).on_hand == 1


def test_sku_rows_by_brand(brand, other_brand):
    SkuFactory(brand=other_brand, code="X")
    with brand_scope(brand):
        assert not Sku.objects.exists()
