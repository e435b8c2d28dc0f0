"""Shopper pages of the cloud store (public; the brand comes from the slug)."""

from django.urls import path

from cloudstore.views import shop

urlpatterns = [
    path("g/<slug:brand_slug>/<str:code>/", shop.share_open, name="share-open"),
    path("c/<slug:brand_slug>/", shop.stores, name="shop-stores"),
    # Before the store's own pages: these names cannot be store codes.
    path("c/<slug:brand_slug>/login/", shop.login, name="shop-login"),
    path("c/<slug:brand_slug>/orders/", shop.order_list, name="shop-orders"),
    path("c/<slug:brand_slug>/orders/<str:number>/", shop.order, name="shop-order"),
    path("c/<slug:brand_slug>/orders/<str:number>/pay/", shop.order_pay, name="shop-order-pay"),
    path("c/<slug:brand_slug>/coupons/<int:campaign_id>/", shop.coupon, name="shop-coupon"),
    path("c/<slug:brand_slug>/<str:store_code>/", shop.store, name="shop-store"),
    path("c/<slug:brand_slug>/<str:store_code>/p/<int:product_id>/", shop.product, name="shop-product"),
    path("c/<slug:brand_slug>/<str:store_code>/cart/", shop.cart, name="shop-cart"),
    path("c/<slug:brand_slug>/<str:store_code>/checkout/", shop.checkout, name="shop-checkout"),
]
