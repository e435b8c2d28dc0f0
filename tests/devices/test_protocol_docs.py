"""docs/kiosk-protocol.md cannot drift from the code: its constants, HMAC worked example and message
schemas are what ``manage.py kiosk_protocol_docs`` generates from devices/protocol.py, and the
hand-written parts are checked here against the code (error codes, close codes, settings) and
recomputed independently (the HMAC recipe, the recorded session)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from devices import channels, protocol
from devices.management.commands import kiosk_protocol_docs as docs


def _text() -> str:
    return docs.DOC.read_text()


def _section(number: int) -> str:
    """The text of section ``number`` ("## <number>. ..."), up to the next section."""
    text = _text()
    start = re.search(rf"^## {number}\. .*$", text, re.M)
    assert start, f"section {number} is missing"
    end = re.search(r"^## \d+\. ", text[start.end() :], re.M)
    return text[start.start() : start.end() + end.start()] if end else text[start.start() :]


def _fenced(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", section, re.S)


def test_the_document_is_up_to_date():
    call_command("kiosk_protocol_docs", "--check")


def test_a_changed_schema_is_caught_and_rewritten(tmp_path, monkeypatch):
    doc = tmp_path / "kiosk-protocol.md"
    text = _text()
    assert '"const": "punch"' in text
    doc.write_text(text.replace('"const": "punch"', '"const": "clock"', 1))
    monkeypatch.setattr(docs, "DOC", doc)
    with pytest.raises(CommandError, match="out of date"):
        call_command("kiosk_protocol_docs", "--check")
    call_command("kiosk_protocol_docs")
    assert doc.read_text() == text


def test_a_message_without_a_word_about_it_stops_the_command(monkeypatch):
    summaries = {k: v for k, v in docs.DEVICE_SUMMARIES.items() if k != "fetch"}
    monkeypatch.setattr(docs, "DEVICE_SUMMARIES", summaries)
    with pytest.raises(CommandError, match="fetch"):
        docs.render(_text())


def test_every_message_schema_is_in_the_document():
    text = _text()
    for messages in (protocol.DEVICE_MESSAGES, protocol.SERVER_MESSAGES):
        for name, schema in messages.items():
            assert f"#### `{name}`" in text, name
            assert json.dumps(schema, indent=2, ensure_ascii=False) in text, name


def _example() -> dict[str, str]:
    block = _fenced(_section(3), "text")[0]
    values = dict(re.findall(r'^(\w+)\s+= "?([^"\n]+)"?$', block, re.M))
    assert set(values) >= {"secret", "nonce", "device", "ts", "key", "message", "signature"}, values
    return values


def test_the_hmac_worked_example_is_right():
    """Recomputed here from the recipe, with the standard library only (not the server's code)."""
    ex = _example()
    key = hashlib.sha256(ex["secret"].encode("utf-8")).digest()
    assert ex["key"] == key.hex() and len(key) == 32
    message = ex["nonce"] + "." + ex["device"] + "." + ex["ts"]
    assert ex["message"] == message
    assert ex["signature"] == hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", ex["signature"])


def test_the_python_sample_computes_the_worked_example():
    (sample,) = _fenced(_section(3), "python")
    namespace: dict = {}
    exec(sample, namespace)  # noqa: S102  the document's own sample, nothing from outside
    ex = _example()
    signature = namespace["hello_signature"](ex["secret"], ex["nonce"], ex["device"], int(ex["ts"]))
    assert signature == ex["signature"]


def test_the_recorded_session_is_consistent():
    """Every frame of the recorded session matches its schema, the hello's signature is the one
    the recipe gives for the secret paired in it, and every answer names its frame."""
    (block,) = _fenced(_section(14), "text")
    lines = block.splitlines()
    paired = json.loads(lines[1].split(" ", 2)[2])
    frames = [(line[0], json.loads(line[2:])) for line in lines[2:] if line[:3] in ("→ {", "← {")]
    assert len(frames) >= 10
    sent = {}
    for direction, frame in frames:
        if direction == "→":
            protocol.check(frame)
            sent[frame["id"]] = frame
        else:
            protocol.check_server(frame)
    challenge = next(f for d, f in frames if f["type"] == "challenge")
    hello = next(f for d, f in frames if f["type"] == "hello")
    key = hashlib.sha256(paired["secret"].encode()).digest()
    message = f"{challenge['payload']['nonce']}.{hello['payload']['device']}.{hello['ts']}"
    expected = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    assert hello["payload"]["auth"]["signature"] == expected
    assert hello["payload"]["device"] == paired["device"]
    for direction, frame in frames:
        if direction == "←" and frame["type"] in ("welcome", "staff_list", "config"):
            assert frame["id"] in sent
        if direction == "←" and frame["type"] == "ack":
            assert frame["payload"]["ref"] in sent


def test_every_error_code_is_in_the_table():
    table = _section(11)
    for code in protocol.SERVER_PAYLOADS["error"]["properties"]["code"]["enum"]:
        assert f"| `{code}` |" in table, code


def test_every_close_code_is_in_the_table():
    table = _section(12)
    codes = {getattr(channels, name) for name in dir(channels) if name.startswith("CLOSE_")}
    assert codes
    for code in codes:
        assert f"| `{code}` |" in table, code


def test_the_settings_table_shows_the_servers_values():
    rows = dict(re.findall(r"^\| `(DEVICE_[A-Z_]+)` \| ([0-9.]+) \|", _section(1), re.M))
    assert len(rows) == 9, rows
    for name, value in rows.items():
        assert float(value) == float(getattr(settings, name)), name
