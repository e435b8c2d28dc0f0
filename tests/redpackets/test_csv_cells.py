"""Red packet records as CSV: a greeting or a name that a spreadsheet would run as a formula is
written as text, while amounts (negative ones too) stay numbers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from retail.models import Staff
from retail.tenancy import brand_scope
from tests.helpers.auth import login_as
from tests.helpers.packets import claim, send
from tests.helpers.pages import csv_rows

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1", "-2", "@x"]


def test_wallet_and_pool_records_write_formula_cells_as_text(client, brand, brand_admin, funded, guides):
    with brand_scope(brand):
        Staff.objects.filter(pk=guides[1].pk).update(name="@SUM(A1)")
        guides[1].refresh_from_db()
    for i, greeting in enumerate(HOSTILE):
        claim(
            brand,
            guides[0],
            send(brand, brand_admin, [guides[0]], amount_each_fen=100 + i, greeting=greeting),
        )
    send(brand, brand_admin, [guides[1]], amount_each_fen=7)
    login_as(client, brand_admin)

    wallet = csv_rows(client.get(reverse("dash-rp-wallet-export", args=[guides[0].pk])))
    details = [r[3] for r in wallet[1:]]
    assert sorted(details) == sorted("'" + g for g in HOSTILE)

    pool = csv_rows(client.get(reverse("dash-rp-pool-export")))
    cells = [c for r in pool[1:] for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert "'" + "Red packet to @SUM(A1)" not in cells  # the name is inside the title, not at its start
    amounts = [r[4] for r in pool[1:]]
    assert "-0.07" in amounts and "-1.00" in amounts  # money out stays a number
