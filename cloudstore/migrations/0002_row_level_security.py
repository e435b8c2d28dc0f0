from django.db import migrations

from retail.rls import EnableRowLevelSecurity, append_only, same_brand_fk

TABLES = [
    "cloudstore_category",
    "cloudstore_product",
    "cloudstore_productimage",
    "cloudstore_sku",
    "cloudstore_inventory",
    "cloudstore_stockmovement",
    "cloudstore_campaign",
    "cloudstore_coupon",
    "cloudstore_sharelink",
    "cloudstore_touch",
    "cloudstore_order",
    "cloudstore_orderline",
    "cloudstore_payment",
    "cloudstore_refund",
    "cloudstore_orderevent",
]


class Migration(migrations.Migration):
    dependencies = [("cloudstore", "0001_initial")]

    operations = [
        *[EnableRowLevelSecurity(t) for t in TABLES],
        same_brand_fk("cloudstore_product", "category_id", "cloudstore_category"),
        same_brand_fk("cloudstore_productimage", "product_id", "cloudstore_product"),
        same_brand_fk("cloudstore_sku", "product_id", "cloudstore_product"),
        same_brand_fk("cloudstore_inventory", "store_id", "retail_store"),
        same_brand_fk("cloudstore_inventory", "sku_id", "cloudstore_sku"),
        same_brand_fk("cloudstore_stockmovement", "store_id", "retail_store"),
        same_brand_fk("cloudstore_stockmovement", "sku_id", "cloudstore_sku"),
        same_brand_fk("cloudstore_stockmovement", "order_id", "cloudstore_order"),
        same_brand_fk("cloudstore_coupon", "campaign_id", "cloudstore_campaign"),
        same_brand_fk("cloudstore_coupon", "member_id", "members_member"),
        same_brand_fk("cloudstore_coupon", "issued_by_id", "retail_staff"),
        same_brand_fk("cloudstore_coupon", "order_id", "cloudstore_order"),
        same_brand_fk("cloudstore_sharelink", "guide_id", "retail_staff"),
        same_brand_fk("cloudstore_sharelink", "store_id", "retail_store"),
        same_brand_fk("cloudstore_sharelink", "product_id", "cloudstore_product"),
        same_brand_fk("cloudstore_sharelink", "campaign_id", "cloudstore_campaign"),
        same_brand_fk("cloudstore_touch", "link_id", "cloudstore_sharelink"),
        same_brand_fk("cloudstore_touch", "guide_id", "retail_staff"),
        same_brand_fk("cloudstore_touch", "member_id", "members_member"),
        same_brand_fk("cloudstore_order", "store_id", "retail_store"),
        same_brand_fk("cloudstore_order", "member_id", "members_member"),
        same_brand_fk("cloudstore_order", "exclusive_guide_id", "retail_staff"),
        same_brand_fk("cloudstore_order", "share_guide_id", "retail_staff"),
        same_brand_fk("cloudstore_order", "served_by_id", "retail_staff"),
        same_brand_fk("cloudstore_order", "touch_id", "cloudstore_touch"),
        same_brand_fk("cloudstore_order", "coupon_id", "cloudstore_coupon"),
        same_brand_fk("cloudstore_orderline", "order_id", "cloudstore_order"),
        same_brand_fk("cloudstore_orderline", "sku_id", "cloudstore_sku"),
        same_brand_fk("cloudstore_payment", "order_id", "cloudstore_order"),
        same_brand_fk("cloudstore_refund", "order_id", "cloudstore_order"),
        same_brand_fk("cloudstore_orderevent", "order_id", "cloudstore_order"),
        append_only("cloudstore_stockmovement"),
        append_only("cloudstore_orderevent"),
    ]
