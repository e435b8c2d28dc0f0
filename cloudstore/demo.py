"""Demo catalogue for `seed_demo`: categories, products with photos, SKUs, stock and prices in
every store, and a coupon campaign. Idempotent: a brand that has products is left alone."""

from __future__ import annotations

import datetime
import io
import random

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageDraw

from cloudstore import images
from cloudstore.models import Campaign, Category, Inventory, Product, ProductImage, Sku
from retail.models import Brand, Store

CATALOGUES = {
    "yueyan": [
        (
            "护肤",
            [
                (
                    "玻尿酸保湿精华",
                    "深层补水，清爽不黏腻。",
                    [("30ml", 19900), ("50ml", 29900)],
                    (140, 190, 230),
                ),
                ("烟酰胺亮肤面霜", "提亮肤色，温和修护。", [("50g", 25900)], (240, 200, 160)),
                (
                    "氨基酸洁面乳",
                    "温和清洁，洗后不紧绷。",
                    [("100g", 8900), ("150g", 11900)],
                    (200, 230, 200),
                ),
                ("修护舒缓面膜", "敏感肌适用，一盒五片。", [("5片", 12900)], (230, 180, 200)),
            ],
        ),
        (
            "彩妆",
            [
                (
                    "丝绒哑光口红",
                    "持久显色，不拔干。",
                    [("#01 正红", 15900), ("#02 豆沙", 15900)],
                    (200, 60, 80),
                ),
                (
                    "轻薄透气粉底液",
                    "自然遮瑕，控油持妆。",
                    [("象牙白", 22900), ("自然色", 22900)],
                    (230, 200, 170),
                ),
                ("防水纤长睫毛膏", "根根分明，不晕染。", [("黑色", 12900)], (60, 60, 70)),
            ],
        ),
        (
            "香氛",
            [
                (
                    "白茶淡香水",
                    "清新白茶，温柔木质尾调。",
                    [("30ml", 39900), ("50ml", 55900)],
                    (235, 230, 210),
                ),
            ],
        ),
    ],
    "senhuo": [
        (
            "生鲜",
            [
                ("有机鲜牛奶", "每日鲜送，3.6g蛋白。", [("950ml", 1990)], (240, 240, 250)),
                ("智利车厘子", "JJ级，果径28mm+。", [("500g", 6990), ("1kg", 12990)], (150, 20, 40)),
            ],
        ),
        (
            "粮油",
            [
                ("五常大米", "当季新米，软糯香甜。", [("5kg", 5990)], (245, 240, 220)),
                ("压榨花生油", "一级压榨，浓香。", [("1.8L", 4590)], (240, 200, 80)),
            ],
        ),
    ],
}


def _photo(color: tuple[int, int, int], seed: int) -> bytes:
    """A simple product shot: a soft backdrop and a bottle in the product's colour."""
    rnd = random.Random(seed)
    img = Image.new("RGB", (900, 900), (248, 246, 243))
    draw = ImageDraw.Draw(img)
    for y in range(900):
        shade = 248 - y // 30
        draw.line([(0, y), (900, y)], fill=(shade, shade - 2, shade - 5))
    w = rnd.randint(220, 300)
    h = rnd.randint(420, 520)
    x0, y0 = (900 - w) // 2, 830 - h
    draw.ellipse([x0 - 40, 800, x0 + w + 40, 860], fill=(225, 222, 218))
    draw.rounded_rectangle([x0, y0, x0 + w, 830], radius=48, fill=color)
    draw.rounded_rectangle([x0 + w // 3, y0 - 90, x0 + 2 * w // 3, y0 + 10], radius=16, fill=(70, 70, 78))
    draw.rounded_rectangle(
        [x0 + 30, y0 + h // 3, x0 + w - 30, y0 + h // 3 + 120], radius=12, fill=(255, 255, 255)
    )
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def seed_catalogue(brand: Brand, stores: list[Store]) -> bool:
    """Create the demo catalogue of ``brand`` (caller holds an rls_bypass or the brand's scope)."""
    spec = CATALOGUES.get(brand.slug)
    if not spec or Product.unscoped.filter(brand=brand).exists():
        return False
    n = 0
    for sort, (cat_name, products) in enumerate(spec):
        category = Category.unscoped.create(brand=brand, name=cat_name, sort=sort)
        for name, description, skus, color in products:
            n += 1
            product = Product.unscoped.create(
                brand=brand, name=name, description=description, category=category
            )
            upload = ContentFile(_photo(color, n), name="demo.jpg")
            large, thumb = images.process_upload(upload)
            photo = ProductImage(brand=brand, product=product)
            photo.image.save(large.name, large, save=False)
            photo.thumbnail.save(thumb.name, thumb, save=False)
            photo.save()
            for i, (spec_name, price) in enumerate(skus):
                sku = Sku.unscoped.create(
                    brand=brand,
                    product=product,
                    code=f"{brand.slug[:2].upper()}{n:03d}-{i + 1}",
                    spec=spec_name,
                    list_price_fen=price,
                    barcode=f"69{brand.pk:03d}{n:03d}{i:02d}{n % 10}",
                )
                for k, store in enumerate(stores):
                    Inventory.unscoped.create(
                        brand=brand,
                        store=store,
                        sku=sku,
                        on_hand=(n * 7 + k * 3 + i) % 40 + (2 if k else 0),
                        # The flagship-area store sells a little cheaper.
                        price_fen=price - price // 10 if k == 1 else None,
                    )
    now = timezone.now()
    Campaign.unscoped.create(
        brand=brand,
        name="新客满200减30",
        kind=Campaign.Kind.AMOUNT_OFF,
        amount_off_fen=3000,
        threshold_fen=20000,
        per_member_limit=1,
        starts_at=now - datetime.timedelta(days=1),
        ends_at=now + datetime.timedelta(days=60),
    )
    Campaign.unscoped.create(
        brand=brand,
        name="会员9折券",
        kind=Campaign.Kind.PERCENT_OFF,
        percent_off=10,
        max_discount_fen=5000,
        per_member_limit=2,
        starts_at=now - datetime.timedelta(days=1),
        ends_at=now + datetime.timedelta(days=30),
    )
    return True
