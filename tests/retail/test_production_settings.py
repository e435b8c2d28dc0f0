"""Production settings take the secret key exactly as given. Each case loads the settings in a
fresh process with its own environment, as the server would."""

from __future__ import annotations

import pytest

from tests.retail.test_simulated_providers import PRODUCTION, run

SIMULATED = {"PAYMENT_PROVIDER": "sim", "PAYOUT_PROVIDER": "sim", "ALLOW_SIMULATED_PROVIDERS": "true"}
READ_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


@pytest.mark.parametrize(
    "key",
    [
        # Random keys from get_random_secret_key() use $ too; one may start with it.
        "$z&(4aol)vm-w$q+0jm32h%pcrwh8=!*hqm=+frw16^@et4*@mxxxxxxxxxxxxxxxxxx",
        r"plain-key-with-\$-escape-and-$dollar-signs-long-enough-for-the-deploy-check-0123",
    ],
)
def test_the_secret_key_is_taken_verbatim(key):
    env = {**PRODUCTION, **SIMULATED, "SECRET_KEY": key}
    result = run(READ_KEY, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == key
    check = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("unset", [True, False])
def test_production_refuses_a_missing_or_empty_secret_key(unset):
    env = {**PRODUCTION, **SIMULATED}
    env.pop("SECRET_KEY")
    result = run(READ_KEY, **env) if unset else run(READ_KEY, **env, SECRET_KEY="")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr
