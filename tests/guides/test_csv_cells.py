"""The commission report as CSV: a guide's or a store's name that a spreadsheet would run as a
formula is written as text; the money columns stay numbers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from retail.models import Staff, Store
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.auth import login_as
from tests.helpers.commission import external, on_the_books, rule
from tests.helpers.pages import csv_rows

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1", "-2", "@x"]


def test_the_commission_report_writes_formula_names_as_text(client, brand, brand_admin, store, sku):
    rule(brand, brand_admin, rate_bp=500)
    for name in HOSTILE:
        guide = on_the_books(StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name=name))
        external(brand, brand_admin, "pos", store=store, served_by=guide, lines=[(sku, 1, 10000)])
    with brand_scope(brand):
        Store.objects.filter(pk=store.pk).update(name="-1+1")
    login_as(client, brand_admin)

    by_guide = csv_rows(client.get(reverse("dash-commission-export"), {"by": "guide"}))
    assert sorted(r[0] for r in by_guide[1:]) == sorted("'" + n for n in HOSTILE)
    assert {r[-1] for r in by_guide[1:]} == {"5.00"}

    by_store = csv_rows(client.get(reverse("dash-commission-export"), {"by": "store"}))
    assert [r[0] for r in by_store[1:]] == ["'-1+1"]
