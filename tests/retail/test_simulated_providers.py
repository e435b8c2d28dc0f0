"""The simulated payment and payout providers refuse production unless a staging site allows
them, and their cashier is not routed where they are off. Each case loads the settings in a
fresh process with its own environment, as the server would."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from retail import payments
from redpackets import payouts

out = {"enabled": settings.SIMULATED_PROVIDERS_ENABLED}
try:
    resolve("/pay/sim/yueyan/TOPABCDEF0123456789/")
    out["routed"] = True
except Resolver404:
    out["routed"] = False
try:
    reverse("pay-sim", args=["yueyan", "TOPABCDEF0123456789"])
    out["reversible"] = True
except NoReverseMatch:
    out["reversible"] = False
for name, module in (("payment", payments), ("payout", payouts)):
    try:
        module.provider("sim")
        out[name] = "sim"
    except LookupError:
        out[name] = None
print(json.dumps(out))
"""


def run(code_or_args: str | list[str], **env_vars: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DJANGO_ENV",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "PAYMENT_PROVIDER",
            "PAYOUT_PROVIDER",
            "ALLOW_SIMULATED_PROVIDERS",
            "REDIS_URL",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "DATABASE_URL",  # SQLite: these checks are about the providers, not the database role
        }
    }
    env.update(DJANGO_SETTINGS_MODULE="retail.settings", **env_vars)
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "example.com",
}


@pytest.mark.parametrize(
    ("providers", "complaint"),
    [
        ({}, "PAYMENT_PROVIDER"),
        ({"PAYMENT_PROVIDER": "", "PAYOUT_PROVIDER": ""}, "PAYMENT_PROVIDER"),
        ({"PAYMENT_PROVIDER": "sim", "PAYOUT_PROVIDER": "sim"}, "ALLOW_SIMULATED_PROVIDERS"),
        ({"PAYMENT_PROVIDER": "acme", "PAYOUT_PROVIDER": "sim"}, "ALLOW_SIMULATED_PROVIDERS"),
        (
            {"PAYMENT_PROVIDER": "sim", "PAYOUT_PROVIDER": "sim", "ALLOW_SIMULATED_PROVIDERS": "false"},
            "ALLOW_SIMULATED_PROVIDERS",
        ),
    ],
)
def test_production_refuses_to_start_without_named_real_providers(providers, complaint):
    result = run(["manage.py", "check", "--deploy"], **PRODUCTION, **providers)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_a_staging_site_may_allow_the_simulated_providers_explicitly():
    allowed = {"PAYMENT_PROVIDER": "sim", "PAYOUT_PROVIDER": "sim", "ALLOW_SIMULATED_PROVIDERS": "true"}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION, **allowed)
    assert result.returncode == 0, result.stderr
    probe = run(PROBE, **PRODUCTION, **allowed)
    assert json.loads(probe.stdout) == {
        "enabled": True,
        "routed": True,
        "reversible": True,
        "payment": "sim",
        "payout": "sim",
    }


def test_with_the_simulator_off_its_cashier_is_not_routed_and_the_providers_are_gone():
    result = run(PROBE, **PRODUCTION, PAYMENT_PROVIDER="acme", PAYOUT_PROVIDER="acme")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "enabled": False,
        "routed": False,
        "reversible": False,
        "payment": None,
        "payout": None,
    }


def test_the_embedded_default_is_the_simulator():
    result = run(PROBE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["enabled"] is True and json.loads(result.stdout)["routed"] is True


def test_the_simulator_pays_a_refund_key_once_like_a_real_provider(settings):
    """A retry after a timeout whose first call went through answers the same refund again."""
    from retail.payments import SimulatedProvider

    settings.CACHES = {**settings.CACHES, "sim": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    sim = SimulatedProvider()
    sim.start(brand_slug="b", brand_id=1, reference="PAYREFUNDONCE", amount_fen=29900)
    first = sim.refund(reference="PAYREFUNDONCE", amount_fen=10000, refund_key="R1")
    again = sim.refund(reference="PAYREFUNDONCE", amount_fen=10000, refund_key="R1")
    other = sim.refund(reference="PAYREFUNDONCE", amount_fen=5000, refund_key="R2")
    assert first == again != other
    assert sim.record("PAYREFUNDONCE")["refunded_fen"] == 15000


def test_with_the_simulator_off_rows_recorded_with_it_are_finished_by_it_and_its_notices_refused(settings):
    """Where the simulator is off, a row recorded with it comes from a partner app in test mode:
    refunds, polls and transfers of that row go to the simulator; a notice claiming to come from
    the simulator is still refused."""
    from redpackets import payouts
    from retail import payments

    settings.SIMULATED_PROVIDERS_ENABLED = False
    assert payments.recorded("sim").name == "sim"
    assert payouts.recorded("sim").name == "sim"
    with pytest.raises(LookupError):
        payments.provider("sim")
    with pytest.raises(LookupError):
        payouts.provider("sim")
    with pytest.raises(LookupError):
        payments.recorded("acme")
