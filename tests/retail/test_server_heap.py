"""The ASGI process freezes its start-up heap and collects its youngest generation less often
(retail/server_heap.py), so full collections walk only what the sockets and requests made."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

from django.conf import settings

from retail import server_heap

PROBE = """
import gc, json
before = gc.get_threshold()
import retail.asgi
import django.urls
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "threshold": gc.get_threshold(),
    "before": before,
    "urlconf_loaded": "url_patterns" in django.urls.get_resolver().__dict__,
}))
"""


def test_the_asgi_entry_point_freezes_the_start_up_heap_and_raises_the_young_threshold():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "retail.settings"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["before"][0] == 700  # CPython's default, for comparison
    assert facts["threshold"] == [server_heap.YOUNG_THRESHOLD, *facts["before"][1:]]
    # The app, its models and every URL pattern's views are frozen; almost nothing is left for a
    # full collection to walk.
    assert facts["frozen"] > 50_000
    assert facts["tracked"] < facts["frozen"] / 50
    assert facts["urlconf_loaded"]


def test_settle_keeps_collecting_cycles(monkeypatch):
    monkeypatch.setattr(gc, "freeze", lambda: None)  # leave this test process's heap alone
    threshold = gc.get_threshold()
    try:
        server_heap.settle()
        assert gc.get_threshold()[0] == server_heap.YOUNG_THRESHOLD

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2  # a cycle made after settling is still collected
    finally:
        gc.set_threshold(*threshold)
