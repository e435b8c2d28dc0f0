"""The garbage collector in a long-lived ASGI process.

A full collection walks every tracked object and stops the event loop while it does: with the
app loaded (about 180,000 objects) and a thousand chat sockets open, that is a pause of a few
hundred milliseconds, every fifteen seconds or so under chat traffic. Two settings keep it out
of the way:

* the heap built at start-up (modules, models, URL patterns, settings) lives as long as the
  process, so it is frozen: collections no longer walk it;
* the youngest generation is collected every ``YOUNG_THRESHOLD`` allocations instead of 700,
  so the objects of a message in flight mostly die before a collection and are not promoted
  toward the full collections that promoted objects trigger.

Cycles are still collected; only how often and over what changes.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Load what a first request would load, then freeze the start-up heap and raise the young
    generation's threshold. Called once, at the end of ``retail.asgi``."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module now, not on a request)
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
