"""The API's list filters (django-filter FilterSets, retail/filters.py): a bad value on any filtered
list is a 400 in the one error shape naming the parameter; another brand's ids find nothing; every
filter is bounded and documented."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from cloudstore.services import external_orders
from members.models import Tag
from retail import filters
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import (
    CategoryFactory,
    InventoryFactory,
    MemberFactory,
    ProductFactory,
    SkuFactory,
    StaffFactory,
)
from tests.helpers.api import api_error

pytestmark = pytest.mark.django_db

LONG = "x" * 200

BAD_VALUES = [
    ("/api/v1/stores/", "q", LONG),
    ("/api/v1/stores/", "status", "bogus"),
    ("/api/v1/staff/", "q", LONG),
    ("/api/v1/staff/", "role", "boss"),
    ("/api/v1/staff/", "status", "bogus"),
    ("/api/v1/staff/", "store_id", "abc"),
    ("/api/v1/staff/", "store_id", "0"),
    ("/api/v1/staff/", "store_id", "9223372036854775808"),
    ("/api/v1/audit-log/", "action", LONG),
    ("/api/v1/members/", "q", LONG),
    ("/api/v1/members/", "tag", "-1"),
    ("/api/v1/members/", "tier", "abc"),
    ("/api/v1/members/", "store", "1.5"),
    ("/api/v1/members/", "guide", "1e309"),
    ("/api/v1/members/", "joined_from", "2024-13-01"),
    ("/api/v1/members/", "joined_to", "1999-12-31"),
    ("/api/v1/members/", "purchased_from", "yesterday"),
    ("/api/v1/members/", "purchased_to", "2101-01-01"),
    ("/api/v1/products/", "q", LONG),
    ("/api/v1/products/", "category", "-2"),
    ("/api/v1/products/", "status", "bogus"),
    ("/api/v1/skus/", "q", LONG),
    ("/api/v1/orders/", "status", "bogus"),
    ("/api/v1/orders/", "channel", "mail"),
    ("/api/v1/orders/", "store", "abc"),
    ("/api/v1/orders/", "member", "0"),
    ("/api/v1/orders/", "number", LONG),
    ("/api/v1/orders/", "date_from", "0279-05-01"),
    ("/api/v1/orders/", "date_to", "2026-02-30"),
    ("/api/v1/inventory/", "store", LONG),
    ("/api/v1/inventory/", "low", "maybe"),
    ("/api/v1/commission/rules/", "active", "maybe"),
    ("/api/v1/commission/statements/", "period", "abc"),
    ("/api/v1/commission/statements/", "guide", "-3"),
    ("/api/v1/commission/statements/", "status", "bogus"),
    ("/api/v1/webhooks/endpoints/", "app", "abc"),
    ("/api/v1/webhooks/endpoints/", "app", "9223372036854775808"),
    ("/api/v1/webhooks/deliveries/", "endpoint", "-1"),
    ("/api/v1/webhooks/deliveries/", "status", "bogus"),
    ("/api/v1/devices/", "store", "abc"),
    ("/api/v1/devices/", "status", "broken"),
    ("/api/v1/devices/", "kind", "camera"),
    ("/api/v1/devices/", "q", LONG),
    ("/api/v1/devices/<int:pk>/events/", "type", "explosion"),
    ("/api/v1/devices/<int:pk>/events/", "since", "yesterday"),
    ("/api/v1/devices/<int:pk>/events/", "until", "2101-01-01T00:00:00Z"),
    ("/api/v1/device-events/", "device", "-1"),
    ("/api/v1/device-events/", "store", "0"),
    ("/api/v1/device-events/", "type", "explosion"),
    ("/api/v1/device-events/", "since", "1999-12-31T00:00:00Z"),
    ("/api/v1/device-events/", "until", "2026-02-30T00:00:00Z"),
    ("/api/v1/attendance/punches/", "store", "abc"),
    ("/api/v1/attendance/punches/", "staff", "-1"),
    ("/api/v1/attendance/punches/", "source", "telepathy"),
    ("/api/v1/attendance/punches/", "since", "yesterday"),
    ("/api/v1/attendance/punches/", "until", "2026-13-01T00:00:00Z"),
    ("/api/v1/attendance/punches/", "offline", "maybe"),
    ("/api/v1/attendance/day-records/", "store", "x"),
    ("/api/v1/attendance/day-records/", "staff", "0"),
    ("/api/v1/attendance/day-records/", "date_from", "2026-02-30"),
    ("/api/v1/attendance/day-records/", "date_to", "last week"),
    ("/api/v1/attendance/day-records/", "status", "asleep"),
    ("/api/v1/attendance/day-records/", "corrected", "perhaps"),
    ("/api/v1/attendance/shifts/", "store", "0"),
    ("/api/v1/attendance/shifts/", "active", "sometimes"),
    ("/api/v1/attendance/schedules/", "store", "-5"),
    ("/api/v1/attendance/schedules/", "staff", "abc"),
    ("/api/v1/attendance/schedules/", "date_from", "2026-00-10"),
    ("/api/v1/attendance/schedules/", "date_to", "tomorrow"),
    ("/api/v1/attendance/schedules/", "shift", "9223372036854775808"),
    ("/api/v1/conversations/", "member", "abc"),
    ("/api/v1/conversations/", "guide", "-1"),
    ("/api/v1/conversations/", "updated_after", "yesterday"),
    ("/api/v1/conversations/<int:pk>/messages/", "before", "0"),
    ("/api/v1/conversations/<int:pk>/messages/", "after", "9223372036854775808"),
]


# Parameters a list requires, sent along with the bad one.
REQUIRED = {"/api/v1/inventory/": {"store": "S0000"}}


def _filtered_lists() -> dict[str, type]:
    """Every URL (under /api/v1/) whose view is a FilteredListView, with its view class."""
    found = {}

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "view_class", None)
                if view is not None and issubclass(view, filters.FilteredListView):
                    found["/" + prefix + str(p.pattern)] = view

    walk(get_resolver().url_patterns, "")
    return found


@pytest.mark.parametrize("path, name, value", BAD_VALUES)
def test_a_bad_filter_value_is_a_400_naming_the_parameter(as_admin, path, name, value):
    # A list under an object (its id in the path) checks its filters before it looks the object up.
    url = path.replace("<int:pk>", "1")
    err = api_error(as_admin.get(url, {**REQUIRED.get(path, {}), name: value}), 400, "invalid")
    assert set(err["fields"]) == {name}, err
    assert err["message"]


def test_every_filtered_list_and_filter_is_checked_with_a_bad_value():
    lists = _filtered_lists()
    assert set(lists) == {path for path, _name, _value in BAD_VALUES}
    for path, view in lists.items():
        checked = {name for p, name, _value in BAD_VALUES if p == path}
        assert checked == set(view.filterset_class.base_filters), path


def test_bad_filter_values_are_answered_in_the_requests_language(as_admin):
    err = api_error(as_admin.get("/api/v1/staff/", {"role": "boss"}, HTTP_ACCEPT_LANGUAGE="en"), 400)
    assert "boss" in err["fields"]["role"][0]
    zh = api_error(as_admin.get("/api/v1/staff/", {"role": "boss"}, HTTP_ACCEPT_LANGUAGE="zh-hans"), 400)
    assert zh["fields"]["role"] != err["fields"]["role"]


def test_too_many_tags_and_valid_values_pass(as_admin):
    many = [str(i) for i in range(1, 22)]
    api_error(as_admin.get("/api/v1/members/", {"tag": many}), 400, "invalid")
    ok = as_admin.get(
        "/api/v1/members/",
        {"tag": ["1", "2"], "joined_from": "2024-01-01", "joined_to": "2024-12-31", "q": ""},
    )
    assert ok.status_code == 200, ok.content
    assert as_admin.get("/api/v1/orders/", {"status": "paid", "channel": "pos"}).status_code == 200


def test_another_brands_ids_in_filters_find_nothing(
    as_admin, brand, store, brand_admin, other_brand, other_store, other_admin
):
    guide = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    MemberFactory(brand=brand)
    category = CategoryFactory(brand=brand)
    product = ProductFactory(brand=brand, category=category)
    other_guide = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store])
    other_member = MemberFactory(brand=other_brand, phone="13800000009")
    other_category = CategoryFactory(brand=other_brand)
    other_product = ProductFactory(brand=other_brand, category=other_category)
    with brand_scope(other_brand):
        other_tag = Tag.unscoped.create(brand=other_brand, name="VIP")
    for b, s, staff, member, p, ext in (
        (brand, store, brand_admin, None, product, "OURS"),
        (other_brand, other_store, other_admin, other_member, other_product, "THEIRS"),
    ):
        sku = SkuFactory(brand=b, product=p)
        InventoryFactory(brand=b, store=s, sku=sku)
        data = {
            "external_id": ext,
            "store": s.code,
            "lines": [{"sku": sku.code, "quantity": 1, "unit_price_fen": 100}],
            "payments": [{"amount_fen": 100}],
            "status": "paid",
        }
        if member is not None:
            data["member"] = {"kind": "phone", "value": "13800000009"}
        external_orders.order_external_create(
            brand=b, staff=staff, actor=Actor(), channel="pos", data=data, fingerprint=ext
        )

    def count(path, **params):
        resp = as_admin.get(path, params)
        assert resp.status_code == 200, resp.content
        return resp.json()["count"]

    # Without the filter each list shows the brand's own rows, and only those.
    assert count("/api/v1/staff/") == 2
    assert count("/api/v1/members/") == 1
    assert count("/api/v1/products/") == 1
    assert count("/api/v1/orders/") == 1
    assert count("/api/v1/staff/", store_id=store.pk) == 1
    assert count("/api/v1/members/", guide=guide.pk) == 0
    # Another brand's ids narrow the brand's rows to nothing; they never reach the other brand's.
    assert count("/api/v1/staff/", store_id=other_store.pk) == 0
    assert count("/api/v1/members/", store=other_store.pk) == 0
    assert count("/api/v1/members/", guide=other_guide.pk) == 0
    assert count("/api/v1/members/", tag=other_tag.pk) == 0
    assert count("/api/v1/products/", category=other_category.pk) == 0
    assert count("/api/v1/orders/", store=other_store.pk) == 0
    assert count("/api/v1/orders/", member=other_member.pk) == 0
    assert count("/api/v1/orders/", number="THEIRS") == 0
    assert count("/api/v1/products/", category=category.pk) == 1
    # Lists whose filter names an object answer 404 for another brand's (as for its id in a path).
    api_error(as_admin.get("/api/v1/inventory/", {"store": other_store.code}), 404)


def test_every_filter_is_bounded_and_documented():
    kernel = (
        filters.CharFilter,
        filters.ChoiceFilter,
        filters.BooleanFilter,
        filters.DateFilter,
        filters.DateTimeFilter,
        filters.NumberFilter,
        filters.IdListFilter,
    )
    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    for path, view in _filtered_lists().items():
        for name, f in view.filterset_class.base_filters.items():
            assert isinstance(f, kernel), f"{view.__name__}.{name} is not one of retail.filters' filters"
        item = schema["paths"][path.replace("<int:pk>", "{id}")]
        documented = {p["name"] for p in item["get"].get("parameters", [])}
        assert set(view.filterset_class.base_filters) <= documented, path
        assert "ordering" not in documented, path
