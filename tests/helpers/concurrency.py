"""Real concurrent transactions: threads released together, each with its own connection."""

from __future__ import annotations

import threading

from django.db import connection


def race(n, fn):
    """Run fn(i) in n threads released together; returns (results, errors)."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(fn(i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results, errors
