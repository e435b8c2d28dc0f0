"""Test helpers for devices: a registered, paired device and a websocket speaking the protocol."""

from __future__ import annotations

import json
import time

from channels.testing import WebsocketCommunicator

from devices import protocol, services
from retail.asgi import application
from retail.events import Actor


def make_device(brand, manager, store, *, name="前台考勤机", kind="both", pair=True):
    """A device in ``store``; paired unless ``pair=False``. Returns (device, secret or code)."""
    device, code = services.device_create(
        brand=brand, manager=manager, actor=Actor.system(), store=store, data={"name": name, "kind": kind}
    )
    if not pair:
        return device, code
    device, secret = services.device_pair(code=code)
    return device, secret


def now_ms() -> int:
    return int(time.time() * 1000)


def frame(kind: str, payload: dict | None = None, *, id: str | None = None, ts: int | None = None) -> str:
    return json.dumps(
        {
            "type": kind,
            "id": id or f"{kind}-{time.monotonic_ns()}",
            "ts": ts or now_ms(),
            "payload": payload or {},
        }
    )


class Device:
    """A device's side of the socket, in tests: connect, read the challenge, say hello."""

    def __init__(self, uid: str = "", secret: str = "", headers=None):
        self.uid, self.secret = uid, secret
        self.comm = WebsocketCommunicator(application, "/ws/device/", headers=headers or [])
        self.challenge = None

    async def connect(self) -> dict:
        connected, _ = await self.comm.connect()
        assert connected
        self.challenge = await self.receive()
        assert self.challenge["type"] == "challenge"
        return self.challenge

    def hello_frame(
        self, *, version: int = 1, ts: int | None = None, signature: str | None = None, ticket=None
    ):
        ts = ts or now_ms()
        if ticket is not None:
            auth = {"method": "ticket", "ticket": ticket}
        else:
            sig = signature or services.hello_signature(
                secret=self.secret, nonce=self.challenge["payload"]["nonce"], device_uid=self.uid, ts=ts
            )
            auth = {"method": "hmac", "signature": sig}
        return frame(
            "hello", {"version": version, "device": self.uid, "auth": auth, "app_version": "test"}, ts=ts
        )

    async def hello(self, **kwargs) -> dict:
        await self.comm.send_to(text_data=self.hello_frame(**kwargs))
        return await self.receive()

    async def send(self, kind: str, payload: dict | None = None, **kwargs) -> None:
        await self.comm.send_to(text_data=frame(kind, payload, **kwargs))

    async def receive(self, timeout: float = 3) -> dict:
        msg = await self.comm.receive_output(timeout)
        if msg["type"] == "websocket.close":
            return {"type": "__closed__", "code": msg.get("code")}
        data = json.loads(msg["text"])
        protocol.check_server(data)
        return data

    async def closed(self, timeout: float = 3) -> int:
        """Read until the server closes; the close code."""
        while True:
            msg = await self.comm.receive_output(timeout)
            if msg["type"] == "websocket.close":
                return msg.get("code")
            protocol.check_server(json.loads(msg["text"]))
