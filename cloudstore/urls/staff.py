"""Staff pages of the cloud store: guide and store manager mobile UI, brand dashboard."""

from django.urls import path

from cloudstore.views import dashboard, staff

urlpatterns = [
    # Guide and store manager mobile UI
    path("m/store/", staff.store_entry, name="m-store"),
    path("m/store/shares/", staff.share_list, name="m-store-shares"),
    path("m/store/shares/<int:link_id>/", staff.share_detail, name="m-store-share"),
    path("m/store/<int:store_id>/", staff.store_hub, name="m-store-hub"),
    path("m/store/<int:store_id>/goods/", staff.goods, name="m-store-goods"),
    path(
        "m/store/<int:store_id>/goods/<int:product_id>/share/",
        staff.share_product,
        name="m-store-share-product",
    ),
    path("m/store/<int:store_id>/share/store/", staff.share_store, name="m-store-share-store"),
    path("m/store/<int:store_id>/share/coupon/", staff.share_coupon, name="m-store-share-coupon"),
    path("m/store/<int:store_id>/stock/", staff.stock, name="m-store-stock"),
    path("m/store/<int:store_id>/stock/<int:sku_id>/", staff.stock_item, name="m-store-stock-item"),
    path("m/store/<int:store_id>/orders/", staff.order_list, name="m-store-orders"),
    path("m/store/<int:store_id>/orders/<int:order_id>/", staff.order_detail, name="m-store-order"),
    path(
        "m/store/<int:store_id>/orders/<int:order_id>/advance/",
        staff.order_advance,
        name="m-store-order-advance",
    ),
    path("m/store/<int:store_id>/pickup/", staff.pickup, name="m-store-pickup"),
    path("m/store/<int:store_id>/takings/", staff.takings, name="m-store-takings"),
    # Brand dashboard: catalogue, store prices and stock
    path("dashboard/catalogue/", dashboard.product_list, name="dash-cs-products"),
    path("dashboard/catalogue/new/", dashboard.product_new, name="dash-cs-product-new"),
    path("dashboard/catalogue/<int:product_id>/", dashboard.product_edit, name="dash-cs-product"),
    path("dashboard/catalogue/<int:product_id>/skus/", dashboard.sku_edit, name="dash-cs-sku-new"),
    path("dashboard/catalogue/<int:product_id>/skus/<int:sku_id>/", dashboard.sku_edit, name="dash-cs-sku"),
    path("dashboard/catalogue/<int:product_id>/photos/", dashboard.photo_add, name="dash-cs-photo-add"),
    path(
        "dashboard/catalogue/<int:product_id>/photos/<int:image_id>/delete/",
        dashboard.photo_delete,
        name="dash-cs-photo-delete",
    ),
    path("dashboard/catalogue/categories/", dashboard.category_list, name="dash-cs-categories"),
    path(
        "dashboard/catalogue/categories/<int:category_id>/", dashboard.category_list, name="dash-cs-category"
    ),
    path("dashboard/catalogue/stores/", dashboard.store_pick, name="dash-cs-stores"),
    path("dashboard/catalogue/stores/<int:store_id>/", dashboard.store_stock, name="dash-cs-store-stock"),
    path(
        "dashboard/catalogue/stores/<int:store_id>/assortment/",
        dashboard.store_assortment,
        name="dash-cs-store-assortment",
    ),
    path(
        "dashboard/catalogue/stores/<int:store_id>/prices/<int:sku_id>/",
        dashboard.store_price,
        name="dash-cs-store-price",
    ),
    # Brand dashboard: campaigns
    path("dashboard/campaigns/", dashboard.campaign_list, name="dash-cs-campaigns"),
    path("dashboard/campaigns/new/", dashboard.campaign_edit, name="dash-cs-campaign-new"),
    path("dashboard/campaigns/<int:campaign_id>/", dashboard.campaign_edit, name="dash-cs-campaign"),
    # Brand dashboard: orders, refunds, takings
    path("dashboard/orders/", dashboard.order_list, name="dash-cs-orders"),
    path("dashboard/orders/takings/", dashboard.takings_report, name="dash-cs-takings"),
    path("dashboard/orders/<int:order_id>/", dashboard.order_detail, name="dash-cs-order"),
    path("dashboard/orders/<int:order_id>/refund/", dashboard.order_refund, name="dash-cs-order-refund"),
]
