"""The kiosk protocol (version 1): every message's JSON Schema, and the checks of incoming frames.

docs/kiosk-protocol.md is written from these schemas (``manage.py kiosk_protocol_docs``), and the
tests check every frame the server sends against them, so the document, the server and the
simulator cannot drift apart."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

VERSION = 1
SUPPORTED_VERSIONS = (1,)

MAX_FRAME_BYTES = 256 * 1024
MAX_IDENTIFY_BYTES = 1024 * 1024
MAX_BATCH_EVENTS = 200
# An event may be up to 30 days old (kept offline) and at most 5 minutes ahead of the server clock
# after the skew measured in hello is taken off.
MAX_EVENT_AGE_MS = 30 * 24 * 3600 * 1000
MAX_EVENT_AHEAD_MS = 5 * 60 * 1000

ID = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$", "description": "Unique per device and message"}
TS = {
    "type": "integer",
    "minimum": 0,
    "maximum": 9007199254740991,
    "description": "Sender's clock, milliseconds since 1970-01-01 UTC",
}
UUID = {
    "type": "string",
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
}
SHORT = {"type": "string", "maxLength": 32}
STAFF_ID = {"type": "integer", "minimum": 1, "maximum": 9223372036854775807}

# The events a device reports: each is stored once per (device, id) and acknowledged by id.
EVENT_TYPES = ("punch", "door_opened", "door_forced", "tamper", "identify", "error")
# Commands the server sends; the device answers each with a ``result``.
COMMAND_TYPES = ("open_door", "reload_config", "sync", "show_message", "ring")


def _obj(properties: dict, required: tuple[str, ...] = (), description: str = "") -> dict:
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


CONFIG = _obj(
    {
        "door_open_seconds": {"type": "integer", "minimum": 1, "maximum": 30},
        "volume": {"type": "integer", "minimum": 0, "maximum": 100},
        "language": {"enum": ["zh-hans", "en"]},
        "door_windows": {
            "type": "array",
            "maxItems": 14,
            "description": "When the door may open for staff; empty: always",
            "items": _obj(
                {
                    "days": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 1, "maximum": 7},
                        "description": "ISO weekdays, Monday = 1",
                    },
                    "start": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                    "end": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                },
                ("days", "start", "end"),
            ),
        },
    },
    ("door_open_seconds", "volume", "language", "door_windows"),
)

# --- device → server: payloads -------------------------------------------------------------------
DEVICE_PAYLOADS: dict[str, dict] = {
    "hello": _obj(
        {
            "version": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "Protocol version"},
            "device": {**UUID, "description": "The device id received at pairing"},
            "auth": {
                "oneOf": [
                    _obj(
                        {
                            "method": {"const": "hmac"},
                            "signature": {
                                "type": "string",
                                "pattern": "^[0-9a-f]{64}$",
                                "description": "hex HMAC-SHA256, key = SHA-256(secret), "
                                "message = nonce + '.' + device + '.' + ts",
                            },
                        },
                        ("method", "signature"),
                    ),
                    _obj(
                        {
                            "method": {"const": "ticket"},
                            "ticket": {"type": "string", "minLength": 20, "maxLength": 100},
                        },
                        ("method", "ticket"),
                    ),
                ]
            },
            "app_version": SHORT,
            "firmware_version": SHORT,
        },
        ("version", "device", "auth"),
    ),
    "heartbeat": _obj(
        {
            "pending_events": {
                "type": "integer",
                "minimum": 0,
                "description": "Events kept offline, not yet sent",
            },
            "uptime_s": {"type": "integer", "minimum": 0},
            "door_closed": {"type": "boolean"},
        }
    ),
    "punch": _obj(
        {
            "method": {"enum": ["face", "pin", "card"]},
            "staff": {**STAFF_ID, "description": "Who punched, when the device knows (from its staff list)"},
            "employee_no": SHORT,
            "pin": {"type": "string", "pattern": "^[0-9]{4,8}$", "description": "Checked, never stored"},
            "card": {"type": "string", "maxLength": 64},
            "reason": {"type": "string", "maxLength": 200, "description": "Why the non-face path was used"},
        },
        ("method",),
    ),
    "door_opened": _obj(
        {
            "method": {"enum": ["face", "card", "pin", "button", "remote", "key"]},
            "staff": STAFF_ID,
            "command": {**UUID, "description": "The open_door command that opened it, if any"},
        },
        ("method",),
    ),
    "door_forced": _obj({"detail": {"type": "string", "maxLength": 200}}),
    "tamper": _obj({"detail": {"type": "string", "maxLength": 200}}),
    "identify": _obj(
        {
            "image": {
                "type": "string",
                "maxLength": MAX_IDENTIFY_BYTES,
                "contentEncoding": "base64",
                "description": "A camera frame, JPEG or PNG, base64; at most 1 MiB in all",
            },
            "format": {"enum": ["jpeg", "png"]},
            "purpose": {"enum": ["punch", "door"]},
        },
        ("image", "format"),
    ),
    "error": _obj(
        {"code": {"type": "string", "maxLength": 64}, "message": {"type": "string", "maxLength": 500}},
        ("code",),
    ),
    "result": _obj(
        {
            "ref": {**UUID, "description": "The command's id"},
            "ok": {"type": "boolean"},
            "error": {"type": "string", "maxLength": 200},
        },
        ("ref", "ok"),
    ),
    "fetch": _obj({"what": {"enum": ["staff", "config"]}}, ("what",)),
}


def _envelope(type_schema: dict, payload: dict) -> dict:
    return {
        "type": "object",
        "properties": {"type": type_schema, "id": ID, "ts": TS, "payload": payload},
        "required": ["type", "id", "ts", "payload"],
        "additionalProperties": False,
    }


EVENT_ENVELOPE = {
    "oneOf": [_envelope({"const": t}, DEVICE_PAYLOADS[t]) for t in EVENT_TYPES if t != "identify"],
    "description": "An event as sent live (identify frames are not kept for replay)",
}
DEVICE_PAYLOADS["event_batch"] = _obj(
    {"events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_EVENTS, "items": EVENT_ENVELOPE}},
    ("events",),
    "Events kept while offline, sent on reconnect with their original ids and times",
)

# --- server → device: payloads (documented, and checked in the tests) ---------------------------
KEPT = {
    "enum": ["stored", "duplicate"],
    "description": "As an ack's: the event kept now, or before (then the answer is the first one's)",
}
MESSAGE_TEXT = {"type": "string", "maxLength": 200, "description": "What to show, in the device's language"}
SERVER_PAYLOADS: dict[str, dict] = {
    "challenge": _obj(
        {
            "nonce": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "server_time": TS,
            "versions": {"type": "array", "items": {"type": "integer"}},
            "auth_timeout_s": {"type": "number"},
        },
        ("nonce", "server_time", "versions", "auth_timeout_s"),
    ),
    "welcome": _obj(
        {
            "device": UUID,
            "name": {"type": "string"},
            "kind": {"enum": ["door", "clock_in", "both"]},
            "store": _obj(
                {"id": STAFF_ID, "name": {"type": "string"}, "timezone": {"type": "string"}},
                ("id", "name", "timezone"),
            ),
            "brand": _obj({"id": STAFF_ID, "name": {"type": "string"}}, ("id", "name")),
            "heartbeat_interval": {"type": "integer", "minimum": 1},
            "server_time": TS,
            "skew_ms": {"type": "integer", "description": "Device clock minus server clock, at hello"},
            "config": CONFIG,
            "config_version": {"type": "integer"},
            "staff_version": {"type": "string"},
            "limits": _obj(
                {
                    "frame_bytes": {"type": "integer"},
                    "identify_bytes": {"type": "integer"},
                    "batch_events": {"type": "integer"},
                    "frames_per_second": {"type": "number"},
                    "burst": {"type": "integer"},
                },
                ("frame_bytes", "identify_bytes", "batch_events", "frames_per_second", "burst"),
            ),
        },
        (
            "device",
            "name",
            "kind",
            "store",
            "brand",
            "heartbeat_interval",
            "server_time",
            "skew_ms",
            "config",
            "config_version",
            "staff_version",
            "limits",
        ),
    ),
    "ack": _obj(
        {
            "ref": {**ID, "description": "The id of the acknowledged message"},
            "status": {"enum": ["ok", "stored", "duplicate", "received"]},
            "stored": {"type": "array", "items": ID},
            "duplicate": {"type": "array", "items": ID},
            "rejected": {
                "type": "array",
                "items": _obj({"id": ID, "code": {"type": "string"}}, ("id", "code")),
            },
            "server_time": TS,
        },
        ("ref", "status"),
    ),
    "error": _obj(
        {
            "code": {
                "enum": [
                    "bad_json",
                    "bad_frame",
                    "too_large",
                    "unknown_type",
                    "out_of_order",
                    "invalid",
                    "bad_time",
                    "rate_limited",
                    "auth_failed",
                    "unsupported_version",
                    "disabled",
                    "unknown_command",
                    "server_error",
                ]
            },
            "message": {"type": "string"},
            "ref": {
                "type": ["string", "null"],
                "description": "The id of the frame at fault, when it had one",
            },
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        ("code", "message"),
    ),
    "open_door": _obj(
        {"seconds": {"type": "integer", "minimum": 1, "maximum": 30}, "reason": {"type": "string"}},
        ("seconds",),
    ),
    "reload_config": _obj(
        {"config": CONFIG, "config_version": {"type": "integer"}}, ("config", "config_version")
    ),
    "sync": _obj({"staff_version": {"type": "string"}}, ("staff_version",)),
    "show_message": _obj(
        {
            "text": {"type": "string", "maxLength": 200},
            "seconds": {"type": "integer", "minimum": 1, "maximum": 300},
        },
        ("text", "seconds"),
    ),
    "ring": _obj({"seconds": {"type": "integer", "minimum": 1, "maximum": 30}}, ("seconds",)),
    "staff_list": _obj(
        {
            "version": {"type": "string"},
            "staff": {
                "type": "array",
                "items": _obj(
                    {"id": STAFF_ID, "name": {"type": "string"}, "employee_no": {"type": "string"}},
                    ("id", "name", "employee_no"),
                ),
            },
        },
        ("version", "staff"),
    ),
    "config": _obj({"config": CONFIG, "config_version": {"type": "integer"}}, ("config", "config_version")),
    "identify_result": _obj(
        {
            "ref": {**ID, "description": "The identify frame's id"},
            "result": {
                "enum": [
                    "punched",
                    "granted",
                    "unknown",
                    "ambiguous",
                    "outside_window",
                    "not_assigned",
                    "bad_frame",
                ],
                "description": "punched: clocked in or out; granted: clocked and the door opened; "
                "unknown: no enrolled face of this store; ambiguous: two people too close to call; "
                "outside_window: a door outside its hours; not_assigned: staff of the brand, not of "
                "this store; bad_frame: no single usable face in the frame",
            },
            "staff": {
                "oneOf": [
                    _obj({"id": STAFF_ID, "name": {"type": "string"}}, ("id", "name")),
                    {"type": "null"},
                ],
                "description": "Who was recognised (null when no one)",
            },
            "time": {"type": "string", "format": "date-time", "description": "In the store's time zone"},
            "punch": {"type": "boolean", "description": "A punch was recorded"},
            "door_opened": {"type": "boolean", "description": "open_door was sent to this device"},
            "message": MESSAGE_TEXT,
            "status": KEPT,
        },
        ("ref", "result", "staff", "time", "punch", "door_opened", "message", "status"),
    ),
    "punch_result": _obj(
        {
            "ref": {**ID, "description": "The punch frame's id"},
            "result": {
                "enum": [
                    "ok",
                    "wrong_pin",
                    "locked",
                    "unknown_staff",
                    "no_pin",
                    "unknown_card",
                    "unverified",
                ],
                "description": "ok: recorded; wrong_pin; locked: too many wrong PINs, 15 minutes; "
                "unknown_staff: no active staff of this store with this number; no_pin: the person set "
                "no PIN; unknown_card: cards name no one; unverified: a face punch without a frame",
            },
            "staff": {
                "oneOf": [
                    _obj({"id": STAFF_ID, "name": {"type": "string"}}, ("id", "name")),
                    {"type": "null"},
                ],
                "description": "Who punched (only when ok)",
            },
            "time": {"type": "string", "format": "date-time", "description": "In the store's time zone"},
            "punch": {"type": "boolean", "description": "A punch was recorded"},
            "door_opened": {"type": "boolean"},
            "message": MESSAGE_TEXT,
            "status": KEPT,
        },
        ("ref", "result", "staff", "time", "punch", "message", "status"),
    ),
}

DEVICE_MESSAGES = {t: _envelope({"const": t}, p) for t, p in DEVICE_PAYLOADS.items()}
SERVER_MESSAGES = {t: _envelope({"const": t}, p) for t, p in SERVER_PAYLOADS.items()}

_VALIDATORS = {t: Draft202012Validator(s) for t, s in DEVICE_MESSAGES.items()}
_SERVER_VALIDATORS = {t: Draft202012Validator(s) for t, s in SERVER_MESSAGES.items()}


class FrameError(Exception):
    """A frame the server answers with an error frame (``code``; ``fields``: path → message)."""

    def __init__(self, code: str, message: str, ref: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.fields = fields or {}


def _path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(frame)"


def check(message: Any) -> dict:
    """The device's message if it is a known, well-formed envelope; FrameError otherwise."""
    if not isinstance(message, dict):
        raise FrameError("bad_frame", "A frame is one JSON object: {type, id, ts, payload}.")
    ref = message.get("id") if isinstance(message.get("id"), str) and len(message["id"]) <= 64 else None
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in _VALIDATORS:
        raise FrameError("unknown_type", "Unknown message type.", ref)
    validator = _VALIDATORS[kind]
    errors = sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path))
    if errors:
        fields = {}
        for e in errors[:5]:
            fields.setdefault(_path(e), e.message[:200])
        raise FrameError("invalid", f"The {kind} message does not match its schema.", ref, fields)
    return message


def check_server(message: dict) -> None:
    """Raise if a frame the server sends breaks its documented schema (used by the tests)."""
    _SERVER_VALIDATORS[message["type"]].validate(message)
