"""The catalogue of public webhook event types.

Each app lists its own in ``<app>/webhooks.py`` as ``EVENTS = [EventType(...)]``; the modules are
named in ``settings.WEBHOOK_EVENT_MODULES`` and imported on first use, so the kernel imports no
app. An event type has a public ``name`` (what partners subscribe to), the internal outbox event
it comes from (``source``), a JSON Schema (draft 2020-12) of its ``data`` and a ``build`` function
that turns the outbox payload into that public ``data`` inside the transaction of the change.

``data`` is stable public JSON: ids and numbers, money in integer fen (``*_fen``), times in ISO
8601 UTC (``…Z``); no phone number in clear, no internal note.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The test event every endpoint can be sent (services.send_test_event); never from the outbox.
PING = "ping"


@dataclass(frozen=True)
class EventType:
    name: str
    source: str
    description: str | Promise
    schema: dict
    # build(brand_id, payload) -> data, or None when there is nothing to send (the row is gone).
    build: Callable[[int, dict], dict | None] = field(compare=False)


def iso(moment: datetime.datetime | None) -> str | None:
    """A moment in ISO 8601, UTC, as the API answers it (``2026-01-31T08:00:00Z``)."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


# --- JSON Schema pieces the apps' schemas share -----------------------------------------------------

ID = {"type": "integer", "minimum": 1}
NULLABLE_ID = {"type": ["integer", "null"], "minimum": 1}
FEN = {"type": "integer", "description": "An amount in fen (1/100 yuan)."}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def data_schema(properties: dict, *, title: str) -> dict:
    """A closed object schema (every property required) of an event's ``data``."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": title,
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _ping_build(brand_id: int, payload: dict) -> dict:
    return {"endpoint_id": payload["endpoint_id"], "message": payload.get("message", "ping")}


PING_EVENT = EventType(
    name=PING,
    source="",
    description=_("A test event sent on request, to check that an endpoint receives and verifies."),
    schema=data_schema({"endpoint_id": ID, "message": {"type": "string"}}, title="ping"),
    build=_ping_build,
)


@functools.cache
def _load() -> tuple[dict[str, EventType], dict[str, tuple[EventType, ...]]]:
    by_name: dict[str, EventType] = {}
    for path in settings.WEBHOOK_EVENT_MODULES:
        for event in import_module(path).EVENTS:
            if event.name in by_name or event.name == PING:
                raise ImproperlyConfiguredEvent(f"webhook event type {event.name!r} is declared twice")
            by_name[event.name] = event
    by_source: dict[str, list[EventType]] = {}
    for event in by_name.values():
        by_source.setdefault(event.source, []).append(event)
    return by_name, {k: tuple(v) for k, v in by_source.items()}


class ImproperlyConfiguredEvent(RuntimeError):
    pass


def event_types() -> dict[str, EventType]:
    """Every public event type partners can subscribe to, by name (not ``ping``)."""
    return dict(_load()[0])


def for_source(source: str) -> tuple[EventType, ...]:
    """The public event types an internal outbox event becomes (usually none or one)."""
    return _load()[1].get(source, ())


def get(name: str) -> EventType:
    if name == PING:
        return PING_EVENT
    return _load()[0][name]
