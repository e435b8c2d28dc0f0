"""The device websocket (docs/kiosk-protocol.md): challenge, hello, heartbeats, events, commands.

Thin: frames are checked against devices/protocol.py and every write goes through
devices/services.py off the event loop. Large frames are parsed on a worker thread, so a 1 MiB
identify frame never holds the loop up."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from devices import channels as codes
from devices import frames, protocol, selectors, services
from devices.protocol import FrameError

logger = logging.getLogger(__name__)

# Frames larger than this are parsed off the event loop.
_PARSE_INLINE_BYTES = 64 * 1024
_parser = ThreadPoolExecutor(max_workers=2, thread_name_prefix="device-frames")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _parse(text: str):
    return json.loads(text)


_handlers: dict[str, object] = {}


def event_handler():
    """settings.DEVICE_EVENT_HANDLER, imported once (None: events are only stored).

    The handler answers live ``identify`` and ``punch`` frames with ``await handler.live(device=,
    skew_ms=, event=, pin=, image=)`` -> (message type, payload) or None, and stores offline batches
    with ``handler.store_batch(device=, skew_ms=, events=, pins=)`` -> event id -> status (called
    off the event loop, instead of services.events_store). ``event`` is the storable event: no PIN,
    no image; those come apart (checked, never stored)."""
    path = settings.DEVICE_EVENT_HANDLER
    if not path:
        return None
    if path not in _handlers:
        _handlers[path] = import_string(path)
    return _handlers[path]


class TokenBucket:
    """The device's frame budget: ``burst`` frames at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self, cost: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class DeviceConsumer(AsyncWebsocketConsumer):
    """One device's connection. Before hello only ``hello`` is accepted; after it, one live
    connection per device (a newer one replaces this one with close code 4409)."""

    device = None

    async def connect(self):
        self.nonce = secrets.token_hex(32)
        self.device = None
        self.closing = False
        self.skew_ms = 0
        self.last_frame = time.monotonic()
        self.last_seen_write = 0.0
        self.refused = 0
        self.bucket = TokenBucket(settings.DEVICE_RATE_PER_SECOND, settings.DEVICE_RATE_BURST)
        self.heartbeat_interval = settings.DEVICE_HEARTBEAT_SECONDS
        client = self.scope.get("client") or (None, None)
        self.ip = client[0]
        await self.accept()
        loop = asyncio.get_running_loop()
        self.auth_timer = loop.call_later(settings.DEVICE_AUTH_TIMEOUT_SECONDS, self._auth_timeout)
        self.idle_timer = None
        await self.send_frame(
            "challenge",
            {
                "nonce": self.nonce,
                "server_time": _now_ms(),
                "versions": list(protocol.SUPPORTED_VERSIONS),
                "auth_timeout_s": settings.DEVICE_AUTH_TIMEOUT_SECONDS,
            },
        )

    # --- timers -------------------------------------------------------------------------------
    def _auth_timeout(self):
        if self.device is None and not self.closing:
            asyncio.ensure_future(
                self._close(codes.CLOSE_TIMEOUT, "auth_failed", "No hello within the time allowed.")
            )

    def _idle_check(self):
        """No frame for three heartbeat intervals: the link is dead, close it."""
        if self.closing:
            return
        limit = 3 * self.heartbeat_interval
        idle = time.monotonic() - self.last_frame
        if idle >= limit:
            asyncio.ensure_future(self._close(codes.CLOSE_TIMEOUT, None, ""))
        else:
            self.idle_timer = asyncio.get_running_loop().call_later(limit - idle, self._idle_check)

    async def _close(self, code: int, error: str | None, message: str, ref: str | None = None):
        if self.closing:
            return
        self.closing = True
        if error:
            await self.send_error(error, message, ref)
        await self.close(code=code)

    async def disconnect(self, code):
        self.closing = True
        for timer in (getattr(self, "auth_timer", None), getattr(self, "idle_timer", None)):
            if timer is not None:
                timer.cancel()
        if self.device is not None:
            try:
                await database_sync_to_async(services.device_disconnected)(
                    brand_id=self.device.brand_id, device_id=self.device.pk, channel_name=self.channel_name
                )
            except Exception:  # the database is down: the sweeper marks it offline later
                logger.warning("could not record device %s disconnect", self.device.pk, exc_info=True)

    # --- frames in ------------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        self.last_frame = time.monotonic()
        try:
            await self._receive(text_data)
        except FrameError as exc:
            await self.send_error(exc.code, exc.message, exc.ref, exc.fields)
            if self.device is None:  # nothing but a good hello is accepted before authentication
                await self._close(codes.CLOSE_BAD_HANDSHAKE, None, "")
        except Exception:
            # A fault of the server (the database went away): say so and close, so that the device
            # reconnects and sends what was not acknowledged again.
            logger.exception("device frame failed")
            await self._close(
                codes.CLOSE_SERVER_ERROR, "server_error", "The server could not handle this frame."
            )

    async def _receive(self, text_data):
        if text_data is None:
            raise FrameError("bad_frame", "Frames are JSON text, not binary.")
        size = len(text_data)
        if size > protocol.MAX_IDENTIFY_BYTES:
            raise FrameError("too_large", "A frame is at most 256 KiB (identify frames 1 MiB).")
        if not self.bucket.take(1.0 + size / protocol.MAX_FRAME_BYTES):
            self.refused += 1
            if self.refused > settings.DEVICE_RATE_BURST:
                await self._close(
                    codes.CLOSE_RATE_LIMITED, "rate_limited", "Too many frames; connection closed."
                )
                return
            raise FrameError("rate_limited", "Too many frames; slow down.")
        self.refused = 0
        try:
            if size > _PARSE_INLINE_BYTES:
                message = await asyncio.get_running_loop().run_in_executor(_parser, _parse, text_data)
            else:
                message = _parse(text_data)
        except (ValueError, RecursionError) as exc:
            raise FrameError("bad_json", "Frames are JSON objects.") from exc
        if "\x00" in text_data or "\\u0000" in text_data:
            raise FrameError("invalid", "Text may not contain the NUL character (U+0000).")
        if (
            isinstance(message, dict)
            and size > protocol.MAX_FRAME_BYTES
            and message.get("type") != "identify"
        ):
            raise FrameError("too_large", "A frame is at most 256 KiB (identify frames 1 MiB).")
        message = protocol.check(message)
        if self.device is None:
            await self.on_hello(message)
        else:
            await self.dispatch_frame(message)

    async def on_hello(self, message: dict):
        if message["type"] != "hello":
            raise FrameError("out_of_order", "Send hello first.", message["id"])
        payload = message["payload"]
        if payload["version"] not in protocol.SUPPORTED_VERSIONS:
            await self._close(
                codes.CLOSE_UNSUPPORTED_VERSION,
                "unsupported_version",
                f"Protocol version {payload['version']} is not supported; this server speaks "
                f"{', '.join(map(str, protocol.SUPPORTED_VERSIONS))}.",
                message["id"],
            )
            return
        # The hello came in time: how long the database takes to check it is the server's wait, not
        # the device's (in a reconnect storm it can pass the auth timeout and close good devices).
        self.auth_timer.cancel()
        received = timezone.now()
        try:
            device, previous, staff_version = await database_sync_to_async(self._connect)(message, received)
        except services.AuthFailed as exc:
            logger.info("device hello refused from %s: %s", self.ip, exc.reason)
            if exc.code == "disabled":
                await self._close(codes.CLOSE_REVOKED, "disabled", "This device is disabled.", message["id"])
            else:
                await self._close(
                    codes.CLOSE_AUTH_FAILED, "auth_failed", "Authentication failed.", message["id"]
                )
            return
        if self.closing:  # the socket went away while the hello was checked
            await database_sync_to_async(services.device_disconnected)(
                brand_id=device.brand_id, device_id=device.pk, channel_name=self.channel_name
            )
            return
        self.auth_timer.cancel()
        self.device = device
        self.skew_ms = device.clock_skew_ms or 0
        self.last_seen_write = time.monotonic()
        if previous:
            await self._send_to_channel(previous, {"type": "device.close", "code": codes.CLOSE_REPLACED})
        self.idle_timer = asyncio.get_running_loop().call_later(3 * self.heartbeat_interval, self._idle_check)
        await self.send_frame(
            "welcome",
            {
                "device": str(device.uid),
                "name": device.name,
                "kind": device.kind,
                "store": {
                    "id": device.store_id,
                    "name": device.store.name,
                    "timezone": device.store.timezone,
                },
                "brand": {"id": device.brand_id, "name": device.brand.name},
                "heartbeat_interval": self.heartbeat_interval,
                "server_time": _now_ms(),
                "skew_ms": self.skew_ms,
                "config": device.config,
                "config_version": device.config_version,
                "staff_version": staff_version,
                "limits": {
                    "frame_bytes": protocol.MAX_FRAME_BYTES,
                    "identify_bytes": protocol.MAX_IDENTIFY_BYTES,
                    "batch_events": protocol.MAX_BATCH_EVENTS,
                    "frames_per_second": settings.DEVICE_RATE_PER_SECOND,
                    "burst": settings.DEVICE_RATE_BURST,
                },
            },
            ref=message["id"],
        )

    def _connect(self, message: dict, received):
        payload = message["payload"]
        device, previous = services.device_connect(
            device_uid=payload["device"],
            auth=payload["auth"],
            nonce=self.nonce,
            ts=message["ts"],
            channel_name=self.channel_name,
            ip=self.ip,
            hello=payload,
            received_at=received,
        )
        device.brand  # noqa: B018  loaded here, off the event loop
        staff_version, _ = selectors.staff_for_device(brand_id=device.brand_id, store_id=device.store_id)
        return device, previous, staff_version

    async def dispatch_frame(self, message: dict):
        kind = message["type"]
        if kind == "hello":
            raise FrameError("out_of_order", "Already authenticated: hello comes once.", message["id"])
        if kind == "heartbeat":
            await self.send_frame("ack", {"ref": message["id"], "status": "ok", "server_time": _now_ms()})
            now = time.monotonic()
            if now - self.last_seen_write >= settings.DEVICE_SEEN_WRITE_SECONDS:
                self.last_seen_write = now
                await database_sync_to_async(services.device_seen)(
                    brand_id=self.device.brand_id, device_id=self.device.pk, at=timezone.now()
                )
            return
        frame = None
        if kind == "identify":
            payload = message["payload"]
            try:
                frame = await asyncio.get_running_loop().run_in_executor(
                    _parser, frames.decode, payload["image"], payload["format"]
                )
            except frames.BadFrame as exc:
                raise FrameError(
                    "invalid",
                    "The identify image cannot be used.",
                    message["id"],
                    {"payload.image": str(exc)},
                ) from exc
            message = {**message, "payload": {**payload, "width": frame.width, "height": frame.height}}
        if kind in ("identify", "punch") and event_handler() is not None:
            await self.on_live(message, frame)
            return
        if kind in protocol.EVENT_TYPES:
            await self.on_events(message["id"], [message], batch=False)
            return
        if kind == "event_batch":
            await self.on_events(message["id"], message["payload"]["events"], batch=True)
            return
        if kind == "result":
            payload = message["payload"]
            found = await database_sync_to_async(services.command_result)(
                brand_id=self.device.brand_id,
                device_id=self.device.pk,
                command_uid=payload["ref"],
                ok=payload["ok"],
                result={"error": payload["error"]} if "error" in payload else {},
            )
            if not found:
                raise FrameError(
                    "unknown_command", "No command of this device is waiting for this result.", message["id"]
                )
            await self.send_frame("ack", {"ref": message["id"], "status": "ok"})
            return
        if kind == "fetch":
            await self.on_fetch(message)
            return
        raise FrameError(
            "out_of_order", "The server does not accept this message from a device.", message["id"]
        )

    def _time_problem(self, ts: int, now_ms: int) -> str | None:
        corrected = ts - self.skew_ms
        if corrected > now_ms + protocol.MAX_EVENT_AHEAD_MS:
            return "bad_time"
        if corrected < now_ms - protocol.MAX_EVENT_AGE_MS:
            return "bad_time"
        return None

    async def on_live(self, message: dict, frame):
        """A live identify or punch frame, answered by the event handler (identify_result,
        punch_result) instead of an ack; the handler stores the event."""
        ref = message["id"]
        if self._time_problem(message["ts"], _now_ms()):
            raise FrameError("bad_time", "The event's time is too far from the server's clock.", ref)
        answer = await event_handler().live(
            device=self.device,
            skew_ms=self.skew_ms,
            event=_storable(message),
            pin=message["payload"].get("pin"),
            image=frame.data if frame is not None else None,
        )
        if answer is None:
            await self.on_events(ref, [message], batch=False)
            return
        kind, payload = answer
        await self.send_frame(kind, payload, ref=ref)

    async def on_events(self, ref: str, events_in: list[dict], *, batch: bool):
        now_ms = _now_ms()
        good, rejected = [], []
        for e in events_in:
            problem = self._time_problem(e["ts"], now_ms)
            if problem:
                rejected.append({"id": e["id"], "code": problem})
            else:
                good.append(_storable(e))
        if not batch and rejected:
            raise FrameError("bad_time", "The event's time is too far from the server's clock.", ref)
        statuses = {}
        handler = event_handler() if batch else None
        if good and handler is not None:
            pins = {e["id"]: e["payload"]["pin"] for e in events_in if (e.get("payload") or {}).get("pin")}
            statuses = await database_sync_to_async(handler.store_batch)(
                device=self.device, skew_ms=self.skew_ms, events=good, pins=pins
            )
        elif good:
            statuses = await database_sync_to_async(services.events_store)(
                brand_id=self.device.brand_id,
                device_id=self.device.pk,
                skew_ms=self.skew_ms,
                events_in=good,
                offline=batch,
            )
        if batch:
            stored = [i for i, s in statuses.items() if s == "stored"]
            duplicate = [i for i, s in statuses.items() if s == "duplicate"]
            payload = {"ref": ref, "status": "ok", "stored": stored, "duplicate": duplicate}
            if rejected:
                payload["rejected"] = rejected
            await self.send_frame("ack", payload)
        else:
            await self.send_frame("ack", {"ref": ref, "status": statuses.get(ref, "stored")})

    async def on_fetch(self, message: dict):
        what = message["payload"]["what"]
        if what == "staff":
            version, rows = await database_sync_to_async(selectors.staff_for_device)(
                brand_id=self.device.brand_id, store_id=self.device.store_id
            )
            await self.send_frame("staff_list", {"version": version, "staff": rows}, ref=message["id"])
        else:
            device = await database_sync_to_async(self._reload)()
            await self.send_frame(
                "config",
                {"config": device.config, "config_version": device.config_version},
                ref=message["id"],
            )

    def _reload(self):
        from devices.models import Device
        from retail.tenancy import brand_scope

        with brand_scope(self.device.brand_id):
            return Device.objects.for_brand(self.device.brand_id).get(pk=self.device.pk)

    # --- messages from server code (devices/channels.py) ---------------------------------------
    async def device_command(self, event):
        if self.device is None or self.closing:
            return
        await self.send(
            text_data=json.dumps(
                {
                    "type": event["name"],
                    "id": event["id"],
                    "ts": _now_ms(),
                    "payload": event.get("payload", {}),
                },
                ensure_ascii=False,
            )
        )

    async def device_close(self, event):
        code = int(event.get("code", codes.CLOSE_REVOKED))
        messages = {
            codes.CLOSE_REPLACED: ("replaced", "Another connection of this device took over."),
            codes.CLOSE_REVOKED: ("disabled", "This device was disabled or its credential changed."),
        }
        error, text = messages.get(code, (None, ""))
        if code == codes.CLOSE_REPLACED:
            # This connection is no longer the device's: do not mark the device offline.
            self.device = None
            await self._close(code, None, text)
        else:
            await self._close(code, error, text)

    # --- frames out ------------------------------------------------------------------------------
    async def send_frame(self, kind: str, payload: dict, ref: str | None = None):
        frame = {"type": kind, "id": ref or secrets.token_hex(8), "ts": _now_ms(), "payload": payload}
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def send_error(self, code: str, message: str, ref: str | None = None, fields: dict | None = None):
        payload = {"code": code, "message": message, "ref": ref}
        if fields:
            payload["fields"] = fields
        await self.send_frame("error", payload)

    async def _send_to_channel(self, channel: str, message: dict):
        try:
            await self.channel_layer.send(channel, message)
        except Exception:
            logger.warning("could not reach the replaced connection %s", channel, exc_info=True)


def _storable(event: dict) -> dict:
    """What is kept of an event: never a PIN, never a camera frame (only its size and format)."""
    payload = dict(event.get("payload") or {})
    if "pin" in payload:
        payload.pop("pin")
        payload["pin_given"] = True
    if event["type"] == "identify":
        payload = {
            "bytes": len(payload.get("image", "")) * 3 // 4,
            "format": payload.get("format"),
            "width": payload.get("width"),
            "height": payload.get("height"),
            "purpose": payload.get("purpose", "punch"),
        }
    return {**event, "payload": payload}
