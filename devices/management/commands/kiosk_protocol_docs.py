"""Rewrite the generated parts of docs/kiosk-protocol.md from the code, or check that they are current.

`python manage.py kiosk_protocol_docs` rewrites, between their markers, the protocol's constants
(devices/protocol.py), the HMAC worked example (computed by ``services.hello_signature``) and the
JSON Schema of every message a device sends and every message the server sends
(``protocol.DEVICE_MESSAGES``, ``protocol.SERVER_MESSAGES``). `--check` changes nothing and fails if
the document differs: a test runs it, so the vendor's guide cannot drift from the server.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from retail import generated_docs
from retail.generated_docs import begin_marker, end_marker

DOC = Path(settings.BASE_DIR) / "docs" / "kiosk-protocol.md"

# The worked example's inputs (made up, fixed so the document stays the same).
EXAMPLE_SECRET = "Qm9vdHN0cmFwLXNlY3JldC1mb3ItZG9jcy0wMDAwMQ"
EXAMPLE_NONCE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
EXAMPLE_DEVICE = "0b7e6c1a-3f52-4d8e-9a41-6c2d7f80e915"
EXAMPLE_TS = 1796601600123

# One line per message type: what it is for. A type missing here stops the command, so a new
# message cannot reach the schemas without a word about it.
DEVICE_SUMMARIES = {
    "hello": "The first frame: protocol version, device id and proof of the credential.",
    "heartbeat": "Every `heartbeat_interval` seconds; answered by `ack` (`status: ok`).",
    "punch": "A clock-in or clock-out at the device. Stored once; live, answered by `punch_result` "
    "(the PIN checked, never stored).",
    "door_opened": "The door was opened (by face, card, PIN, button, remote command or key).",
    "door_forced": "The door was opened without a grant.",
    "tamper": "The device's tamper switch or case alarm.",
    "identify": "A camera frame for the server to identify; answered by `identify_result`. Only its "
    "size, format and the result are kept.",
    "error": "A fault on the device worth keeping (camera, lock, storage ...).",
    "result": "The answer to a command (`payload.ref` = the command's `id`).",
    "fetch": "Ask for the store's staff list or the device's settings.",
    "event_batch": "Events kept while offline, up to 200 a frame, with their original ids and times.",
}
SERVER_SUMMARIES = {
    "challenge": "Sent at once on connect: the nonce to sign and the versions the server speaks.",
    "welcome": "The answer to a good `hello` (its `id` is the hello's id): the device's identity, "
    "settings and limits.",
    "ack": "The answer to a heartbeat, an event, a batch or a result (`payload.ref` = that frame's id).",
    "error": "A frame was refused (`payload.code`, `payload.ref` = the refused frame's id when it had one).",
    "open_door": "Command: open the door for `seconds`.",
    "reload_config": "Command: the device's settings changed; apply them.",
    "sync": "Command: the staff list changed; fetch it.",
    "show_message": "Command: show `text` on the screen for `seconds`.",
    "ring": "Command: sound the buzzer for `seconds`.",
    "staff_list": "The answer to `fetch` `staff` (its `id` is the fetch's id).",
    "config": "The answer to `fetch` `config` (its `id` is the fetch's id).",
    "identify_result": "The answer to a live `identify` (its `id` and `payload.ref` are the frame's id): "
    "who, when, whether a punch was recorded and the door opened, and what to show.",
    "punch_result": "The answer to a live `punch` (its `id` and `payload.ref` are the punch's id): the "
    "PIN checked, who and when, and what to show.",
}


def _begin(name: str) -> str:
    return begin_marker(name, "kiosk_protocol_docs")


def _end(name: str) -> str:
    return end_marker(name)


def _kib(n: int) -> str:
    return f"{n // 1024} KiB" if n < 1024 * 1024 else f"{n // (1024 * 1024)} MiB"


def constants_section() -> str:
    from devices import protocol

    rows = [
        ("protocol version (`hello.version`)", f"`{protocol.VERSION}`", "`VERSION`"),
        (
            "versions the server accepts",
            ", ".join(f"`{v}`" for v in protocol.SUPPORTED_VERSIONS),
            "`SUPPORTED_VERSIONS`",
        ),
        (
            "largest frame",
            f"{protocol.MAX_FRAME_BYTES} ({_kib(protocol.MAX_FRAME_BYTES)})",
            "`MAX_FRAME_BYTES`",
        ),
        (
            "largest `identify` frame",
            f"{protocol.MAX_IDENTIFY_BYTES} ({_kib(protocol.MAX_IDENTIFY_BYTES)})",
            "`MAX_IDENTIFY_BYTES`",
        ),
        ("events in one `event_batch`", f"1 to {protocol.MAX_BATCH_EVENTS}", "`MAX_BATCH_EVENTS`"),
        (
            "oldest event accepted",
            f"{protocol.MAX_EVENT_AGE_MS} ms ({protocol.MAX_EVENT_AGE_MS // 86_400_000} days)",
            "`MAX_EVENT_AGE_MS`",
        ),
        (
            "furthest ahead an event may be",
            f"{protocol.MAX_EVENT_AHEAD_MS} ms ({protocol.MAX_EVENT_AHEAD_MS // 60_000} minutes)",
            "`MAX_EVENT_AHEAD_MS`",
        ),
        ("event types", ", ".join(f"`{t}`" for t in protocol.EVENT_TYPES), "`EVENT_TYPES`"),
        ("command types", ", ".join(f"`{t}`" for t in protocol.COMMAND_TYPES), "`COMMAND_TYPES`"),
    ]
    lines = ["| what | value | name in devices/protocol.py |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def hmac_example_section() -> str:
    from devices import services

    key = hashlib.sha256(EXAMPLE_SECRET.encode()).hexdigest()
    message = f"{EXAMPLE_NONCE}.{EXAMPLE_DEVICE}.{EXAMPLE_TS}"
    signature = services.hello_signature(
        secret=EXAMPLE_SECRET, nonce=EXAMPLE_NONCE, device_uid=EXAMPLE_DEVICE, ts=EXAMPLE_TS
    )
    return "\n".join(
        [
            "```text",
            f'secret    = "{EXAMPLE_SECRET}"',
            f'nonce     = "{EXAMPLE_NONCE}"',
            f'device    = "{EXAMPLE_DEVICE}"',
            f"ts        = {EXAMPLE_TS}",
            "",
            f"key       = {key}",
            "            (SHA-256 of the secret's UTF-8 bytes: these 32 bytes, shown as hex, are the key)",
            f'message   = "{message}"',
            f"            ({len(message.encode())} bytes of ASCII)",
            f"signature = {signature}",
            "```",
        ]
    )


def _schemas(messages: dict, summaries: dict, prefix: str) -> str:
    missing = sorted(set(messages) - set(summaries))
    if missing:
        raise CommandError(f"no summary for the message type(s) {', '.join(missing)} in kiosk_protocol_docs")
    lines = ["| type | what it is for |", "|---|---|"]
    for name in messages:
        lines.append(f"| [`{name}`](#{prefix}-{name.replace('_', '-')}) | {summaries[name]} |")
    for name, schema in messages.items():
        lines += [
            "",
            f'<a id="{prefix}-{name.replace("_", "-")}"></a>',
            f"#### `{name}`",
            "",
            summaries[name],
            "",
            "```json",
            json.dumps(schema, indent=2, ensure_ascii=False),
            "```",
        ]
    return "\n".join(lines)


def device_messages_section() -> str:
    from devices import protocol

    return _schemas(protocol.DEVICE_MESSAGES, DEVICE_SUMMARIES, "device")


def server_messages_section() -> str:
    from devices import protocol

    return _schemas(protocol.SERVER_MESSAGES, SERVER_SUMMARIES, "server")


SECTIONS = {
    "constants": constants_section,
    "hmac-example": hmac_example_section,
    "device-messages": device_messages_section,
    "server-messages": server_messages_section,
}


def render(text: str) -> str:
    """``text`` with every generated section replaced by what the code produces now."""
    return generated_docs.render(text, SECTIONS, command="kiosk_protocol_docs", doc="docs/kiosk-protocol.md")


class Command(generated_docs.GeneratedDocCommand):
    help = (
        "Rewrite (or --check) the generated constants, HMAC example and message schemas "
        "of docs/kiosk-protocol.md."
    )

    @property
    def path(self):
        return DOC  # read when the command runs (tests point it at a copy)

    command = "kiosk_protocol_docs"

    def render(self, text: str) -> str:
        return render(text)
