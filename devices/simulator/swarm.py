"""Many simulated devices in one asyncio process, for load tests: connect them all, heartbeat,
punch with fixed event ids, drop and reconnect them all (a reconnect storm), replay kept events.

Each phase returns plain figures (seconds, counts, round trips in milliseconds); the command line's
``swarm`` and the benchmark (bench/scenarios/devices.py) call the same phases."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from devices.simulator.device import Closed, SimDevice, SimError, now_ms


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def ms_figures(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms, default=0.0), 2),
    }


def load_credentials(path: str | Path) -> list[dict]:
    """Devices to simulate: a JSON list (or JSON lines) of {"device": uid, "secret": ...}."""
    text = Path(path).read_text()
    try:
        rows = json.loads(text)
    except ValueError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(rows, dict):
        rows = rows.get("devices", [])
    return [{"device": r["device"], "secret": r["secret"]} for r in rows]


def _error_key(exc: BaseException) -> str:
    if isinstance(exc, Closed):
        return f"closed {exc.code}"
    return type(exc).__name__


class Swarm:
    """``count`` devices of ``credentials`` against ``url``."""

    def __init__(
        self,
        url: str,
        credentials: list[dict],
        *,
        reply_timeout: float = 60,
        log: Callable[[str], None] = print,
    ):
        self.devices = [
            SimDevice(url, c["device"], c["secret"], reply_timeout=reply_timeout, open_timeout=30)
            for c in credentials
        ]
        self.log = log
        self.interval: float | None = None  # heartbeats: every device keeps them up once connected
        self.rtts: list[tuple[float, float]] = []  # (when the ack arrived, seconds of the round trip)
        self.heartbeat_errors: Counter = Counter()
        self._keepalive: dict[SimDevice, asyncio.Task] = {}

    # --- heartbeats in the background ------------------------------------------------------------
    def keepalive(self, device: SimDevice) -> None:
        """Heartbeat ``device`` every ``self.interval`` (its server's if None) from a random phase."""
        every = self.interval or device.heartbeat_interval

        def note(rtt: float) -> None:
            self.rtts.append((time.monotonic(), rtt))

        async def beat() -> None:
            try:
                await device.heartbeats(interval=every, first_after=random.uniform(0, every), on_rtt=note)
            except SimError as exc:
                self.heartbeat_errors[_error_key(exc)] += 1

        old = self._keepalive.pop(device, None)
        if old is not None:
            old.cancel()
        self._keepalive[device] = asyncio.create_task(beat())

    def keepalive_all(self, interval: float | None = None) -> None:
        self.interval = interval
        for device in self.online:
            self.keepalive(device)

    async def keepalive_stop(self) -> None:
        tasks = list(self._keepalive.values())
        self._keepalive.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def measure(self, seconds: float) -> dict:
        """Let the heartbeats run ``seconds``; their round trips (heartbeat sent → ack read) then."""
        t0 = time.monotonic()
        errors_before = Counter(self.heartbeat_errors)
        online_before = len(self.online)
        await asyncio.sleep(seconds)
        t1 = time.monotonic()
        window = [rtt for at, rtt in self.rtts if t0 <= at < t1]
        return {
            "devices": online_before,
            "seconds": round(t1 - t0, 1),
            "heartbeats": len(window),
            "per_second": round(len(window) / max(t1 - t0, 1e-9), 1),
            "rtt": ms_figures(window),
            "errors": dict(self.heartbeat_errors - errors_before),
            "online_after": len(self.online),
        }

    @property
    def online(self) -> list[SimDevice]:
        return [d for d in self.devices if d.online]

    async def _start(
        self, device: SimDevice, errors: Counter, *, tries: int, deadline: float
    ) -> float | None:
        """Connect and hello, retrying (with back-off) after a refusal; seconds of the last try."""
        for attempt in range(tries):
            t0 = time.monotonic()
            try:
                await device.start()
                return time.monotonic() - t0
            except Closed as exc:
                errors[_error_key(exc)] += 1
                if exc.fatal:
                    return None
            except SimError as exc:
                errors[_error_key(exc)] += 1
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(min(5.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
        return None

    async def connect_all(
        self, *, concurrency: int = 100, ramp: float = 0.0, tries: int = 5, keepalive: bool = True
    ) -> dict:
        """Connect every device (at most ``concurrency`` handshakes at once, starts spread over
        ``ramp`` seconds), each heartbeating from then on (``keepalive``); time until all are
        welcomed, hello round trips, failures."""
        gate = asyncio.Semaphore(concurrency)
        errors: Counter = Counter()
        times: list[float] = []
        deadline = time.monotonic() + 300
        n = len(self.devices)

        async def one(i: int, device: SimDevice) -> None:
            if ramp:
                await asyncio.sleep(ramp * i / n)
            async with gate:
                seconds = await self._start(device, errors, tries=tries, deadline=deadline)
            if seconds is not None:
                times.append(seconds)
                if keepalive:
                    self.keepalive(device)

        t0 = time.monotonic()
        await asyncio.gather(*(one(i, d) for i, d in enumerate(self.devices)))
        return {
            "devices": n,
            "online": len(self.online),
            "seconds": round(time.monotonic() - t0, 2),
            "hello": ms_figures(times),
            "errors": dict(errors),
        }

    async def heartbeat_for(self, seconds: float, interval: float | None = None) -> dict:
        """Every online device heartbeats every ``interval`` (the server's) for ``seconds``."""
        self.keepalive_all(interval)
        try:
            return await self.measure(seconds)
        finally:
            await self.keepalive_stop()

    async def punch_all(self, event_id: Callable[[int], str], *, concurrency: int = 200) -> dict:
        """Each online device sends one punch with the id ``event_id(index)``; statuses counted."""
        gate = asyncio.Semaphore(concurrency)
        statuses: Counter = Counter()
        times: list[float] = []

        async def one(i: int, device: SimDevice) -> None:
            if not device.online:
                statuses["offline"] += 1
                return
            async with gate:
                t0 = time.monotonic()
                try:
                    ack = await device.send_event(
                        "punch", {"method": "card", "card": f"C{i:06d}"}, id=event_id(i)
                    )
                    statuses[ack.get("status", "?")] += 1
                    times.append(time.monotonic() - t0)
                except SimError as exc:
                    statuses[_error_key(exc)] += 1

        await asyncio.gather(*(one(i, d) for i, d in enumerate(self.devices)))
        return {"statuses": dict(statuses), "ack": ms_figures(times)}

    async def storm(self, window: float, *, limit: float = 300, tries: int = 20) -> dict:
        """Every device loses its connection at once (no closing handshake, as in a network cut) and
        reconnects at a random moment within ``window`` seconds; time until all are welcomed again."""
        keepalive = bool(self._keepalive)
        await self.keepalive_stop()
        t0 = time.monotonic()
        await asyncio.gather(*(d.abort() for d in self.devices))
        dropped = time.monotonic() - t0
        errors: Counter = Counter()
        welcomed: list[float] = []
        hellos: list[float] = []
        deadline = t0 + limit

        async def one(device: SimDevice) -> None:
            await asyncio.sleep(random.uniform(0, window))
            seconds = await self._start(device, errors, tries=tries, deadline=deadline)
            if seconds is not None:
                welcomed.append(time.monotonic() - t0)
                hellos.append(seconds)
                if keepalive:
                    self.keepalive(device)

        await asyncio.gather(*(one(d) for d in self.devices))
        return {
            "devices": len(self.devices),
            "window_s": window,
            "drop_seconds": round(dropped, 2),
            "online": len(self.online),
            "all_online_after_s": round(max(welcomed), 2) if len(welcomed) == len(self.devices) else None,
            "last_welcome_s": round(max(welcomed, default=0), 2),
            "hello": ms_figures(hellos),  # connect → welcome of each device's successful try
            "errors": dict(errors),
        }

    async def replay_all(self, devices: int, events: int, *, id_prefix: str = "rp") -> dict:
        """``devices`` devices each upload ``events`` kept punches (times spread over the last hour)
        at once, in batches of at most 200, one batch at a time per device as the ``replay``
        command does; counts and events per second."""
        chosen = self.online[:devices]
        now = now_ms()
        totals: Counter = Counter()
        errors: Counter = Counter()

        def kept(i: int) -> list[dict]:
            return [
                {
                    "type": "punch",
                    "id": f"{id_prefix}-{i}-{k}",
                    "ts": now - (events - k) * 3_600_000 // max(events, 1),
                    "payload": {"method": "pin", "employee_no": f"E{k % 50:03d}", "pin": "1234"},
                }
                for k in range(events)
            ]

        batches = [kept(i) for i in range(len(chosen))]

        async def one(device: SimDevice, batch: list[dict]) -> None:
            try:
                result = await device.replay(batch)
                totals.update(result)
            except SimError as exc:
                errors[_error_key(exc)] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(one(d, b) for d, b in zip(chosen, batches, strict=True)))
        wall = time.monotonic() - t0
        return {
            "devices": len(chosen),
            "events_per_device": events,
            "seconds": round(wall, 2),
            "events_per_second": round(totals["sent"] / max(wall, 1e-9), 1),
            **{k: totals[k] for k in ("sent", "stored", "duplicate", "rejected", "batches")},
            "errors": dict(errors),
        }

    async def close_all(self, timeout: float = 30) -> None:
        """Close every device, within ``timeout`` s: those that have not closed by then are dropped
        without the closing handshake."""
        tasks = [asyncio.ensure_future(self.keepalive_stop())] + [
            asyncio.ensure_future(d.close()) for d in self.devices
        ]
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            self.log(f"close: {len(pending)} closings still waiting after {timeout:.0f} s; dropping them")
            for task in pending:
                task.cancel()
            for d in self.devices:
                if d.ws is not None:
                    d.ws.transport.abort()
