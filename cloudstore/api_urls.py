"""The cloud store's REST API (mounted under /api/v1/): catalogue, inventory, orders, coupons and
campaigns."""

from django.urls import path

from cloudstore.api import catalogue, inventory, orders, promotions

urlpatterns = [
    path("products/", catalogue.ProductListView.as_view(), name="product-list"),
    path("products/<int:pk>/", catalogue.ProductDetailView.as_view(), name="product-detail"),
    path("skus/", catalogue.SkuListView.as_view(), name="sku-list"),
    path("skus/<int:pk>/", catalogue.SkuDetailView.as_view(), name="sku-detail"),
    path("inventory/", inventory.InventoryView.as_view(), name="api-inventory"),
    path("inventory/bulk/", inventory.InventoryBulkView.as_view(), name="api-inventory-bulk"),
    path("orders/", orders.OrderListView.as_view(), name="order-list"),
    path("orders/<int:pk>/", orders.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:pk>/status/", orders.OrderStatusView.as_view(), name="order-set-status"),
    path("orders/<int:pk>/refunds/", orders.OrderRefundsView.as_view(), name="order-refunds"),
    path("coupons/", promotions.CouponIssueView.as_view(), name="api-coupon-issue"),
    path("coupons/validate/", promotions.CouponValidateView.as_view(), name="api-coupon-validate"),
    path("coupons/redeem/", promotions.CouponRedeemView.as_view(), name="api-coupon-redeem"),
    path("campaigns/", promotions.CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/", promotions.CampaignDetailView.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/issue/", promotions.CampaignIssueView.as_view(), name="campaign-issue"),
]
