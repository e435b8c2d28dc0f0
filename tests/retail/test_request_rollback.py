"""A request that fails with a server error keeps nothing it wrote: Django turns the view's
exception into a 500 answer inside the request's transaction, and that transaction must roll back
rather than commit the half-done work."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from retail.models import Store
from retail.tenancy import brand_scope
from tests.factories import BrandFactory, StaffFactory
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db


def _write_then_fail(request):
    get_user_model().objects.create(username="half-written")
    raise RuntimeError("the view fails after writing")


def _store_then_fail(request):
    Store.objects.create(brand=request.brand, name="half-written store", code="HALF")
    raise RuntimeError("the view fails after writing")


def _store_then_ok(request):
    Store.objects.create(brand=request.brand, name="kept store", code="KEPT")
    return HttpResponse("ok")


urlpatterns = [
    path("fail/", _write_then_fail),
    path("store-fail/", _store_then_fail),
    path("store-ok/", _store_then_ok),
]


@pytest.fixture
def client_500(settings):
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


def test_an_anonymous_request_that_fails_keeps_nothing(client_500):
    assert client_500.get("/fail/").status_code == 500
    assert not get_user_model().objects.filter(username="half-written").exists()


def test_a_staff_request_that_fails_keeps_nothing_and_one_that_succeeds_keeps_its_rows(client_500):
    brand = BrandFactory()
    login_as(client_500, StaffFactory(brand=brand, role="brand_admin", status="active"))

    assert client_500.get("/store-fail/").status_code == 500
    assert client_500.get("/store-ok/").status_code == 200

    with brand_scope(brand):
        assert list(Store.objects.for_brand(brand).values_list("code", flat=True)) == ["KEPT"]
