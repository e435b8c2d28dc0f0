"""The limit next to the device figures (bench/scenarios/devices.py): a bare websocket server with
the kiosk protocol's framing, served by the same uvicorn. No Django, database or channel layer.

``uvicorn bench.scenarios.devices_echo:echo_app``"""

from __future__ import annotations

import json
import secrets
import time

BATCH = 200


def _frame(kind: str, payload: dict, ref: str | None = None) -> str:
    return json.dumps(
        {"type": kind, "id": ref or secrets.token_hex(8), "ts": int(time.time() * 1000), "payload": payload}
    )


async def echo_app(scope, receive, send):
    """ASGI: /healthz answers 200; a websocket gets a challenge, a welcome for its hello and an ack
    for anything else (an event_batch's ack lists every id as stored). JSON parsed and written as
    the device consumer does, nothing else."""
    if scope["type"] == "http":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    nonce = secrets.token_hex(32)
    await send({"type": "websocket.send", "text": _frame("challenge", {"nonce": nonce, "versions": [1]})})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        frame = json.loads(message.get("text") or "{}")
        kind, ref = frame.get("type"), frame.get("id")
        if kind == "hello":
            payload = {"device": frame["payload"]["device"], "heartbeat_interval": 10,
                       "limits": {"batch_events": BATCH}}  # fmt: skip
            await send({"type": "websocket.send", "text": _frame("welcome", payload, ref)})
        elif kind == "event_batch":
            ids = [e["id"] for e in frame["payload"]["events"]]
            payload = {"ref": ref, "status": "ok", "stored": ids, "duplicate": []}
            await send({"type": "websocket.send", "text": _frame("ack", payload)})
        else:
            status = "ok" if kind == "heartbeat" else "stored"
            await send({"type": "websocket.send", "text": _frame("ack", {"ref": ref, "status": status})})
