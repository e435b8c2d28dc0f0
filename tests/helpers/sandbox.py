"""What each test, and each pytest-xdist worker, keeps to itself: cache keys, channel-layer
groups, media and simulator files. Databases are per worker already (pytest-django names them
``test_<name>_gw<n>``)."""

from __future__ import annotations

import os
import uuid

# "gw0", "gw1", ... in a pytest-xdist worker; "" in a serial run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def keep_workers_apart(settings) -> None:
    """Give this worker its own Redis keys (caches, channel layer) and simulator files.

    ``settings`` is django.conf.settings, changed in place before any cache or layer is opened."""
    if not WORKER:
        return
    for conf in settings.CACHES.values():
        if conf["BACKEND"].endswith("FileBasedCache"):
            conf["LOCATION"] = f"{conf['LOCATION']}-{WORKER}"
        conf["KEY_PREFIX"] = f"{conf.get('KEY_PREFIX') or 'test'}:{WORKER}"
    for layer in settings.CHANNEL_LAYERS.values():
        if "prefix" in layer.get("CONFIG", {}):
            layer["CONFIG"]["prefix"] = f"{layer['CONFIG']['prefix']}:{WORKER}"


def fresh_cache_keys(settings) -> None:
    """Point every cache at keys no other test uses (same backends: Redis when configured).

    One-time codes, cool-downs, throttles, job progress and the simulated providers' records live
    there. ``settings`` is pytest-django's fixture, so the change ends with the test."""
    settings.CACHES = {
        name: {**conf, "KEY_PREFIX": f"t-{WORKER or 'main'}-{uuid.uuid4().hex[:12]}"}
        for name, conf in settings.CACHES.items()
    }
