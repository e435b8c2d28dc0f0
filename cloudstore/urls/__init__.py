"""Pages of the cloud store: shopper pages, payment endpoints, the staff mobile UI and dashboard."""

from cloudstore.urls.pay import urlpatterns as pay_urls
from cloudstore.urls.shop import urlpatterns as shop_urls
from cloudstore.urls.staff import urlpatterns as staff_urls

urlpatterns = [*pay_urls, *shop_urls, *staff_urls]
