"""The simulated cashier opens only through the signed, short-lived link the provider handed out:
a stranger who knows (or guesses) a top-up's reference cannot pay it into the pool."""

from __future__ import annotations

import random
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from redpackets.models import Account, TopUp
from redpackets.services import funding
from retail import payments
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.helpers.packets import balance


def start(brand, admin, amount_fen=50_000) -> TopUp:
    return funding.topup_start(
        brand=brand,
        staff=admin,
        actor=Actor.system(),
        amount_fen=amount_fen,
        key=f"t-{random.random()}",
        fingerprint=str(amount_fen),
    )


def cashier(brand, reference: str, token: str | None) -> str:
    url = reverse("pay-sim", args=[brand.slug, reference])
    return f"{url}?{urlencode({'t': token})}" if token is not None else url


def assert_nothing_credited(brand, topup):
    with brand_scope(brand):
        topup.refresh_from_db()
    assert topup.status == TopUp.Status.PENDING
    assert balance(brand, Account.Kind.POOL) == 0
    assert payments.provider("sim").record(topup.reference)["status"] == "pending"


def test_a_stranger_with_a_forged_or_guessed_link_credits_nothing(brand, other_brand, brand_admin):
    topup = start(brand, brand_admin)
    other = start(brand, brand_admin)
    sim = payments.provider("sim")
    valid = topup.pay_url.split("?t=", 1)[1]
    forged = [
        None,  # the reference alone
        "",
        "1893456000:forged-signature",
        valid[:-2] + ("AA" if not valid.endswith("AA") else "BB"),  # tampered signature
        sim.cashier_token(brand_id=brand.pk, reference=other.reference),  # another payment's link
        sim.cashier_token(brand_id=other_brand.pk, reference=topup.reference),  # another brand's
    ]
    stranger = Client(enforce_csrf_checks=False)
    for token in forged:
        url = cashier(brand, topup.reference, token)
        assert stranger.get(url).status_code == 404
        for action in ("pay", "twice", "late"):
            assert stranger.post(url, {"action": action}).status_code == 404
    assert_nothing_credited(brand, topup)


def test_an_expired_link_shows_a_readable_page_and_credits_nothing(client, brand, brand_admin, settings):
    topup = start(brand, brand_admin)
    settings.SIM_CASHIER_LINK_SECONDS = -1  # every link is older than that
    page = client.get(topup.pay_url)
    assert page.status_code == 410
    assert b'data-testid="pay-expired"' in page.content and b'data-testid="sim-pay"' not in page.content
    assert client.post(topup.pay_url, {"action": "pay"}).status_code == 410
    assert_nothing_credited(brand, topup)


@pytest.mark.parametrize("action", ["pay", "twice"])
def test_the_payer_with_the_signed_link_pays_once(brand, brand_admin, action):
    topup = start(brand, brand_admin)
    response = Client().post(topup.pay_url, {"action": action})
    assert response.status_code == 302
    with brand_scope(brand):
        topup.refresh_from_db()
    assert topup.status == TopUp.Status.SUCCEEDED
    assert balance(brand, Account.Kind.POOL) == 50_000
