"""Every API operation declares the partner scope it needs: walked over every /api/v1/ URL, checked
when a view class is defined, and shown in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from retail.api_base import HANDLED_METHODS, BrandAPIView, BrandGenericView
from retail.partners.scopes import SCOPES

# The caller's own things: a partner app (acting as its service staff) has no wallet, commission
# or red packet share of its own, so these are for staff sessions only.
STAFF_ONLY = {
    "api/v1/me/",
    "api/v1/commission/me/",
    "api/v1/wallet/",
    "api/v1/wallet/records/",
    "api/v1/wallet/records/export/",
    "api/v1/wallet/payout-account/",
    "api/v1/wallet/withdrawals/",
    "api/v1/wallet/withdrawals/<int:pk>/",
    "api/v1/redpackets/packets/<int:pk>/claim/",
}


def _walk(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route, p


def api_views() -> list[tuple[str, type[BrandAPIView]]]:
    out = []
    for route, pattern in _walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None)
        if route.startswith("api/v1/") and cls is not None and issubclass(cls, BrandAPIView):
            out.append((route, cls))
    return out


def _answered(cls) -> set[str]:
    return {m for m in HANDLED_METHODS if callable(getattr(cls, m.lower(), None))}


def test_every_api_operation_has_a_scope_or_is_staff_only():
    views = api_views()
    assert len(views) > 60
    for route, cls in views:
        assert "scopes" in cls.__dict__, f"{route}: {cls.__name__} declares no scopes"
        scopes = cls.scopes
        if not scopes:
            assert route in STAFF_ONLY, f"{route} ({cls.__name__}) is staff-only but not listed as such"
            continue
        assert route not in STAFF_ONLY, route
        assert set(scopes) == _answered(cls), f"{route}: {scopes}"
        for method, scope in scopes.items():
            assert scope in SCOPES, f"{method} {route}: unknown scope {scope}"
            verb = scope.split(":")[1]
            if method in ("PUT", "PATCH", "DELETE"):
                assert verb != "read", f"{method} {route} changes things with a read scope"


def test_the_personal_endpoints_are_staff_only():
    routes = dict(api_views())
    for route in STAFF_ONLY:
        assert routes[route].scopes == {}, route


def test_points_move_with_their_own_scope_and_writes_need_write_scopes():
    routes = dict(api_views())
    assert routes["api/v1/members/<int:pk>/points/earn/"].scopes == {"POST": "points:write"}
    assert routes["api/v1/members/<int:pk>/points/redeem/"].scopes == {"POST": "points:write"}
    assert routes["api/v1/orders/<int:pk>/refunds/"].scopes == {"POST": "orders:write"}
    assert routes["api/v1/orders/<int:pk>/status/"].scopes == {"POST": "orders:write"}
    assert routes["api/v1/members/"].scopes == {"GET": "members:read", "POST": "members:write"}


def test_a_view_without_scopes_is_refused_when_defined():
    with pytest.raises(TypeError, match="must declare scopes"):

        class NoScopes(BrandAPIView):  # noqa: F841
            def get(self, request):
                pass

    class Inherits(BrandAPIView, abstract=True):
        scopes = {"GET": "members:read"}

        def get(self, request):
            pass

    with pytest.raises(TypeError, match="must declare scopes"):  # inherited does not count

        class Child(Inherits):  # noqa: F841
            pass


@pytest.mark.parametrize(
    "scopes",
    [
        {"GET": "members:read"},  # POST has none: a partner would be refused silently
        {"GET": "members:read", "POST": "members:write", "DELETE": "members:write"},  # no delete()
        {"GET": "members:read", "POST": "members:everything"},  # not in the catalogue
    ],
)
def test_scopes_must_match_the_methods_and_the_catalogue(scopes):
    with pytest.raises(TypeError):
        type(
            "Wrong",
            (BrandGenericView,),
            {"scopes": scopes, "get": lambda self, request: None, "post": lambda self, request: None},
        )


def test_an_abstract_base_needs_no_scopes_and_dispatch_is_fixed():
    class _Base(BrandGenericView, abstract=True):
        pass

    class Concrete(_Base):
        scopes = {}

        def get(self, request):
            pass

    assert Concrete.scopes == {}
    with pytest.raises(TypeError, match="dispatch"):

        class Sneaky(BrandAPIView):  # noqa: F841
            scopes = {}

            def dispatch(self, request, *args, **kwargs):
                pass


def test_the_schema_names_each_operations_scope(settings):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    scheme = schema["components"]["securitySchemes"]["oauth2"]
    flow = scheme["flows"]["clientCredentials"]
    assert scheme["type"] == "oauth2" and set(scheme["flows"]) == {"clientCredentials"}
    assert flow["tokenUrl"] == "/api/v1/oauth/token/" and set(flow["scopes"]) == set(SCOPES)
    views = {
        "/" + route.replace("<int:pk>", "{id}").replace("<int:staff_id>", "{staff_id}"): cls
        for route, cls in api_views()
    }
    checked = 0
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/oauth/"):  # the token endpoint: client credentials themselves
            continue
        if path in ("/api/v1/devices/pair/", "/api/v1/devices/ticket/"):  # a device's code or secret
            continue
        cls = views.get(path)
        for method, op in item.items():
            oauth = [r["oauth2"] for r in op.get("security", []) if "oauth2" in r]
            scope = cls.scopes.get(method.upper()) if cls is not None else None
            if scope:
                assert oauth == [[scope]], (method, path, op.get("security"))
                checked += 1
            else:
                assert oauth == [], (method, path)
            assert {"cookieAuth": []} in op["security"], (method, path)
    assert checked > 60
