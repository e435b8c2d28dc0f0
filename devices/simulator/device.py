"""One simulated device: the websocket side of docs/kiosk-protocol.md, and pairing over HTTP.

Knows only what a real device knows: the server's URL, a pairing code, then its id and secret.
No Django here, so it runs anywhere the ``websockets`` library does."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

PROTOCOL_VERSION = 1
APP_VERSION = "sim-1.0"
WS_PATH = "/ws/device/"
COMMAND_TYPES = ("open_door", "reload_config", "sync", "show_message", "ring")
MAX_BATCH = 200

# Exit codes of the command line (also ``SimError.exit_code``).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_PAIRING_REFUSED = 4
EXIT_AUTH_FAILED = 5
EXIT_REVOKED = 6
EXIT_REPLACED = 7
EXIT_VERSION = 8
EXIT_CLOSED = 9

# Close codes (docs/kiosk-protocol.md): what each means for the person running the device.
CLOSE_CODES: dict[int, tuple[int, str]] = {
    4400: (EXIT_CLOSED, "bad handshake: the first frame was not an acceptable hello"),
    4401: (
        EXIT_AUTH_FAILED,
        "authentication failed: the device id or secret is wrong, or the device is not paired "
        "(pair it again with a new code from the console)",
    ),
    4403: (
        EXIT_REVOKED,
        "refused: the device is disabled, or its credential was rotated or paired again "
        "(ask for a new pairing code in the console)",
    ),
    4408: (EXIT_CLOSED, "timed out: no hello in time, or no frame for three heartbeat intervals"),
    4409: (
        EXIT_REPLACED,
        "replaced: another connection of this device took over (its credential is in use elsewhere)",
    ),
    4426: (EXIT_VERSION, "unsupported protocol version: the server does not speak this version"),
    4429: (EXIT_CLOSED, "rate limited: too many frames, the server closed the connection"),
}
# Close codes after which reconnecting with the same credential cannot help.
FATAL_CLOSE_CODES = frozenset({4401, 4403, 4409, 4426})


def now_ms() -> int:
    return int(time.time() * 1000)


def hello_signature(*, secret: str, nonce: str, device_uid: str, ts: int) -> str:
    """hex HMAC-SHA256 with key = SHA-256(secret), message = nonce + "." + device + "." + ts."""
    key = hashlib.sha256(secret.encode()).digest()
    return hmac.new(key, f"{nonce}.{device_uid}.{ts}".encode(), hashlib.sha256).hexdigest()


def new_event_id(prefix: str = "ev") -> str:
    """An event id no earlier run of any device used (the server keeps one row per device and id)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def ws_url(base: str, path: str = WS_PATH) -> str:
    """http(s)://host:port → ws(s)://host:port/ws/device/ (a ws:// URL is kept as it is)."""
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise SimError(f"not a server URL: {base!r} (expected http://host:port)", EXIT_USAGE)
    if parts.scheme in ("ws", "wss") and parts.path not in ("", "/"):
        return base
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class SimError(Exception):
    """A failure the command line reports with a message and ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class Unreachable(SimError):
    def __init__(self, message: str):
        super().__init__(message, EXIT_UNREACHABLE)


class Closed(SimError):
    """The server closed the connection (``code``; ``error``: the error frame it sent before, if any)."""

    def __init__(self, code: int | None, reason: str = "", error: dict | None = None):
        self.code = code
        self.reason = reason
        self.error = error
        exit_code, meaning = CLOSE_CODES.get(code or 0, (EXIT_CLOSED, "the connection closed"))
        text = f"closed by the server with code {code}: {meaning}"
        if error:
            text += f" [{error.get('code')}: {error.get('message')}]"
        elif reason:
            text += f" [{reason}]"
        super().__init__(text, exit_code)

    @property
    def fatal(self) -> bool:
        return self.code in FATAL_CLOSE_CODES


class FrameRefused(SimError):
    """The server answered a frame with an error frame."""

    def __init__(self, frame: dict):
        self.frame = frame
        payload = frame.get("payload") or {}
        self.code = payload.get("code")
        fields = payload.get("fields")
        super().__init__(
            f"refused: {payload.get('code')}: {payload.get('message')}" + (f" {fields}" if fields else "")
        )


def pair(url: str, code: str, *, app_version: str = APP_VERSION, timeout: float = 15) -> dict:
    """POST /api/v1/devices/pair/: the device's id, secret, names and websocket path."""
    body = json.dumps({"code": code, "app_version": app_version}).encode()
    if urlsplit(url).scheme not in ("http", "https"):
        raise SimError(f"not a server URL: {url!r} (expected http://host:port)", EXIT_USAGE)
    req = urllib.request.Request(  # noqa: S310  (http or https, checked above)
        url.rstrip("/") + "/api/v1/devices/pair/",
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": f"device-simulator/{app_version}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310  (the URL is the operator's)
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error") or {}
        except ValueError:
            error = {}
        if exc.code == 400:
            raise SimError(
                f"pairing refused ({error.get('code', 'invalid')}): "
                f"{error.get('message') or 'the code is wrong, used or expired'}",
                EXIT_PAIRING_REFUSED,
            ) from None
        if exc.code == 429:
            raise SimError("pairing refused: too many attempts from this address; wait a minute") from None
        raise SimError(f"pairing failed: HTTP {exc.code} {error or ''}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


FrameHook = Callable[[str, dict], None]


class SimDevice:
    """A device's connection. ``await start()`` (= connect + hello) returns the welcome; then
    ``heartbeat()``, ``send_event()``, ``send_batch()``, ``fetch()`` wait for their answer, and
    ``next_frame()`` gives what else the server sent (commands, unsolicited errors). Commands are
    answered as a device would (``auto_answer``). ``on_frame(direction, frame)`` sees every frame
    ("in" / "out")."""

    def __init__(
        self,
        url: str,
        uid: str,
        secret: str = "",
        *,
        ws_path: str = WS_PATH,
        app_version: str = APP_VERSION,
        firmware_version: str = "",
        auto_answer: bool = True,
        on_frame: FrameHook | None = None,
        clock_offset_ms: int = 0,
        open_timeout: float = 10,
        reply_timeout: float = 15,
    ):
        self.url = ws_url(url, ws_path)
        self.uid, self.secret = uid, secret
        self.app_version, self.firmware_version = app_version, firmware_version
        self.auto_answer = auto_answer
        self.on_frame = on_frame
        self.clock_offset_ms = clock_offset_ms
        self.open_timeout, self.reply_timeout = open_timeout, reply_timeout
        self.ws: ClientConnection | None = None
        self.challenge: dict | None = None
        self.welcome: dict | None = None
        self.config: dict | None = None
        self.staff: list[dict] = []
        self.closed: Closed | None = None
        self.commands_answered = 0
        self._ids = itertools.count(1)
        self._tag = secrets.token_hex(3)
        self._pending: dict[str, asyncio.Future] = {}
        self._frames: asyncio.Queue = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._gone = asyncio.Event()

    # --- connection ----------------------------------------------------------------------------
    @property
    def online(self) -> bool:
        return self.welcome is not None and self.closed is None

    @property
    def heartbeat_interval(self) -> float:
        return float((self.welcome or {}).get("payload", {}).get("heartbeat_interval", 10))

    @property
    def batch_limit(self) -> int:
        limits = (self.welcome or {}).get("payload", {}).get("limits", {})
        return max(1, min(MAX_BATCH, int(limits.get("batch_events", MAX_BATCH))))

    def ts(self) -> int:
        return now_ms() + self.clock_offset_ms

    def next_id(self, kind: str) -> str:
        return f"{kind[:8]}-{self._tag}-{next(self._ids)}"

    async def connect(self) -> dict:
        """Open the socket and read the server's challenge."""
        self.challenge = self.welcome = self.closed = None
        self._gone = asyncio.Event()
        self._frames = asyncio.Queue()
        self._reader = None
        try:
            self.ws = await connect(
                self.url,
                open_timeout=self.open_timeout,
                ping_interval=None,  # the protocol's heartbeats keep the link alive
                compression=None,
                proxy=None,
                max_size=2**20,
                close_timeout=5,
                user_agent_header=f"device-simulator/{self.app_version}",
            )
        except InvalidStatus as exc:
            raise Unreachable(f"{self.url} refused the websocket: HTTP {exc.response.status_code}") from None
        except InvalidURI as exc:
            raise SimError(str(exc), EXIT_USAGE) from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise Unreachable(f"cannot reach {self.url}: {exc or type(exc).__name__}") from None
        self.challenge = await self._recv_direct()
        if self.challenge.get("type") != "challenge":
            raise SimError(f"expected a challenge, got {self.challenge.get('type')!r}")
        return self.challenge

    async def hello(self, *, version: int = PROTOCOL_VERSION, signature: str | None = None) -> dict:
        """Send hello (HMAC of the challenge's nonce); the welcome frame. Closed if refused."""
        assert self.challenge is not None, "connect() first"
        ts = self.ts()
        sig = signature or hello_signature(
            secret=self.secret, nonce=self.challenge["payload"]["nonce"], device_uid=self.uid, ts=ts
        )
        payload = {
            "version": version,
            "device": self.uid,
            "auth": {"method": "hmac", "signature": sig},
            "app_version": self.app_version,
        }
        if self.firmware_version:
            payload["firmware_version"] = self.firmware_version
        await self._send({"type": "hello", "id": self.next_id("hello"), "ts": ts, "payload": payload})
        error = None
        while True:
            try:
                frame = await self._recv_direct()
            except Closed as exc:
                exc.error = exc.error or error
                raise Closed(exc.code, exc.reason, exc.error) from None
            if frame.get("type") == "welcome":
                break
            if frame.get("type") == "error":
                error = frame.get("payload")
        self.welcome = frame
        self.config = frame["payload"].get("config")
        self._reader = asyncio.create_task(self._read_loop())
        return frame

    async def start(self) -> dict:
        """connect() and hello(): the welcome frame."""
        await self.connect()
        try:
            return await self.hello()
        except BaseException:
            await self.abort()
            raise

    async def close(self, code: int = 1000) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):  # closing an already broken socket
                await self.ws.close(code)
        if self._reader is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)
        for task in list(self._tasks):
            task.cancel()
        self._mark_closed(Closed(1000, "closed by the device"))

    async def abort(self) -> None:
        """Drop the connection without a closing handshake (a device losing power)."""
        if self.ws is not None:
            self.ws.transport.abort()
        await self.close()

    async def wait_closed(self, timeout: float | None = None) -> Closed | None:
        """Wait until the server closes the connection; its Closed (None on timeout)."""
        try:
            await asyncio.wait_for(self._gone.wait(), timeout)
        except TimeoutError:
            return None
        return self.closed

    # --- frames --------------------------------------------------------------------------------
    async def _send(self, frame: dict) -> None:
        if self.ws is None:
            raise SimError("not connected")
        if self.on_frame:
            self.on_frame("out", frame)
        try:
            await self.ws.send(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))
        except ConnectionClosed as exc:
            raise self._closed_from(exc) from None

    def _closed_from(self, exc: ConnectionClosed) -> Closed:
        if self.closed is not None:
            return self.closed
        rcvd = exc.rcvd
        return Closed(rcvd.code if rcvd else 1006, rcvd.reason if rcvd else "connection lost")

    def _decode(self, raw) -> dict:
        frame = json.loads(raw)
        if self.on_frame:
            self.on_frame("in", frame)
        return frame

    async def _recv_direct(self) -> dict:
        assert self.ws is not None
        try:
            raw = await asyncio.wait_for(self.ws.recv(), self.reply_timeout)
        except ConnectionClosed as exc:
            closed = self._closed_from(exc)
            self._mark_closed(closed)
            raise closed from None
        except TimeoutError:
            raise SimError("the server did not answer in time") from None
        return self._decode(raw)

    def _mark_closed(self, closed: Closed) -> None:
        if self.closed is None:
            self.closed = closed
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(self.closed)
        self._pending.clear()
        self._gone.set()

    async def _read_loop(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                received = time.monotonic()
                frame = self._decode(raw)
                kind = frame.get("type")
                payload = frame.get("payload") or {}
                answers = ("ack", "error", "identify_result", "punch_result")
                ref = payload.get("ref") if kind in answers else frame.get("id")
                fut = self._pending.pop(ref, None) if ref else None
                if fut is not None and not fut.done():
                    fut.set_result((frame, received))
                    continue
                if kind in COMMAND_TYPES and self.auto_answer:
                    self._spawn(self._answer(frame))
                self._frames.put_nowait(frame)
            self._mark_closed(Closed(self.ws.close_code or 1006, self.ws.close_reason or ""))
        except ConnectionClosed as exc:
            self._mark_closed(self._closed_from(exc))
        except Exception as exc:  # a frame that is not JSON: the link is useless
            self._mark_closed(Closed(1006, f"bad frame from the server: {exc}"))
        finally:
            self._frames.put_nowait(None)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def request(self, kind: str, payload: dict, *, id: str | None = None, ts: int | None = None):
        """Send one frame and wait for the frame that answers it: (frame, seconds until it arrived).
        An error frame raises FrameRefused; a closed connection raises Closed."""
        if self.closed is not None:
            raise self.closed
        frame = {"type": kind, "id": id or self.next_id(kind), "ts": ts or self.ts(), "payload": payload}
        fut = asyncio.get_running_loop().create_future()
        self._pending[frame["id"]] = fut
        sent = time.monotonic()
        try:
            await self._send(frame)
            reply, received = await asyncio.wait_for(fut, self.reply_timeout)
        except TimeoutError:
            raise SimError(f"no answer to {kind} {frame['id']} within {self.reply_timeout:.0f} s") from None
        finally:
            self._pending.pop(frame["id"], None)
        if reply.get("type") == "error":
            raise FrameRefused(reply)
        return reply, received - sent

    async def next_frame(self, timeout: float | None = None) -> dict | None:
        """The next frame nobody waited for (a command, an unsolicited error); None once closed
        (or when ``timeout`` passes)."""
        if self._reader is None:
            try:
                return await self._recv_direct()
            except Closed:
                return None
        try:
            return await asyncio.wait_for(self._frames.get(), timeout)
        except TimeoutError:
            return None

    # --- messages ------------------------------------------------------------------------------
    async def heartbeat(self, **payload) -> float:
        """One heartbeat; the seconds until its ack arrived."""
        _reply, seconds = await self.request("heartbeat", payload)
        return seconds

    async def send_event(
        self, kind: str, payload: dict, *, id: str | None = None, ts: int | None = None
    ) -> dict:
        """A live event (punch, door_opened, identify, ...); the answer's payload: an ack (status
        stored or duplicate), or, where the server checks it, ``punch_result`` / ``identify_result``
        (who, when, the result and the message to show)."""
        reply, _s = await self.request(kind, payload, id=id or new_event_id(kind[:5]), ts=ts)
        return reply["payload"]

    async def send_batch(self, events: list[dict]) -> dict:
        """One event_batch of kept envelopes (≤ 200); the ack's payload (stored, duplicate, rejected)."""
        reply, _s = await self.request("event_batch", {"events": events})
        return reply["payload"]

    async def replay(
        self,
        events: list[dict],
        *,
        chunk: int | None = None,
        on_chunk: Callable[[list[dict], dict], None] | None = None,
    ) -> dict:
        """Upload kept events in batches; totals {stored, duplicate, rejected, sent}. ``on_chunk(batch,
        ack)`` runs after each acknowledged batch (to forget what the server has)."""
        size = min(chunk or self.batch_limit, self.batch_limit)
        totals = {"stored": 0, "duplicate": 0, "rejected": 0, "sent": 0, "batches": 0}
        for start in range(0, len(events), size):
            batch = events[start : start + size]
            ack = await self.send_batch(batch)
            totals["stored"] += len(ack.get("stored", []))
            totals["duplicate"] += len(ack.get("duplicate", []))
            totals["rejected"] += len(ack.get("rejected", []))
            totals["sent"] += len(batch)
            totals["batches"] += 1
            if on_chunk:
                on_chunk(batch, ack)
        return totals

    async def fetch(self, what: str) -> dict:
        """fetch staff|config: the answering frame's payload."""
        reply, _s = await self.request("fetch", {"what": what})
        payload = reply["payload"]
        if what == "staff":
            self.staff = payload.get("staff", [])
        else:
            self.config = payload.get("config")
        return payload

    async def send_result(self, command_id: str, ok: bool = True, error: str = "") -> dict:
        payload: dict = {"ref": command_id, "ok": ok}
        if error:
            payload["error"] = error
        reply, _s = await self.request("result", payload)
        return reply["payload"]

    async def _answer(self, frame: dict) -> None:
        """What a device does with a command: do it, answer ``result`` (open_door: and report the
        door opening; sync: fetch the staff list)."""
        name, command_id, payload = frame["type"], frame["id"], frame.get("payload") or {}
        try:
            if name == "reload_config":
                self.config = payload.get("config", self.config)
            await self.send_result(command_id, ok=True)
            if name == "open_door":
                await self.send_event("door_opened", {"method": "remote", "command": command_id})
            elif name == "sync":
                await self.fetch("staff")
            self.commands_answered += 1
        except (SimError, asyncio.CancelledError):
            pass

    async def heartbeats(
        self,
        *,
        interval: float | None = None,
        until: float | None = None,
        first_after: float | None = None,
        on_rtt: Callable[[float], None] | None = None,
        payload: Callable[[], dict] | None = None,
    ) -> None:
        """Heartbeat every ``interval`` (the server's) until ``until`` (time.monotonic()) or the
        connection closes (raises Closed)."""
        every = interval or self.heartbeat_interval
        wait = every if first_after is None else first_after
        next_at = time.monotonic() + wait
        while True:
            if until is not None and next_at >= until:
                delay = max(0.0, until - time.monotonic())
                if await self.wait_closed(delay) is not None:
                    raise self.closed
                return
            if await self.wait_closed(max(0.0, next_at - time.monotonic())) is not None:
                raise self.closed
            next_at += every
            rtt = await self.heartbeat(**(payload() if payload else {}))
            if on_rtt:
                on_rtt(rtt)
