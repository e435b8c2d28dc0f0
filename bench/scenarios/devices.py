"""Devices: thousands of simulated devices (devices/simulator) on one ASGI server process.

One uvicorn process (``retail.asgi:application``, no --workers) with the Redis channel layer and
PostgreSQL. The devices are driven from this runner's process by ``devices.simulator.Swarm`` over
real websockets, as paired devices do (HMAC hello, heartbeats, events, event_batch).

(a) DEVICES devices connected, each heartbeating every HEARTBEAT s: the server's RSS per connection
    ((RSS after connecting - RSS before) / devices), heartbeat round trips (sent → ack read) over
    STEADY seconds, the server's CPU (its CPU seconds / wall seconds). Target: p99 ≤ 50 ms.
(b) Reconnect storm: every device loses its connection at once and reconnects at a random moment
    within STORM s: time until all are welcomed again. Each device punches with a fixed event id
    before and after the storm: the rows are counted (one per device, none twice).
(c) REPLAY_DEVICES devices each upload REPLAY_EVENTS kept events at once (event_batch ≤ 200): the
    rows counted (each stored exactly once) and events per second; then the same again (all
    duplicates).

The limits measured in the same run, next to the figures: (a) and (b) against a bare websocket
server speaking the same framing on the same uvicorn (bench/scenarios/devices_echo.py: JSON in, JSON out; no
Django, no database, no channel layer); (c) against ``devices.services.events_store`` called
directly from one process with the same batches (the storage alone, no websocket).

Devices are registered in bulk before the run: two through the services (device_create +
device_pair), the rest with ``bulk_create`` with their secrets hashed the way device_pair does.

Tunables: BENCH_DEVICES (2000), BENCH_DEVICES_HEARTBEAT (10 s), BENCH_DEVICES_STEADY (180 s),
BENCH_DEVICES_ECHO_STEADY (60 s), BENCH_DEVICES_STORM (10 s), BENCH_DEVICES_REPLAY_DEVICES (100),
BENCH_DEVICES_REPLAY_EVENTS (500), BENCH_DEVICES_CONCURRENCY (100 handshakes at once),
BENCH_DEVICES_STORES (20 stores per brand, 25 people each).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import secrets
import socket
import subprocess
import time
from datetime import UTC, datetime

from bench.harness.cpu import CpuSampler, wait_for_quiet
from bench.harness.proc import PY, ROOT, emit, log
from bench.harness.runs import Run
from bench.harness.servers import stop_group
from bench.scenarios.staff import seed_staff

BRAND_SLUG = "bench-a"
DEVICES = int(os.environ.get("BENCH_DEVICES", 2000))
HEARTBEAT = float(os.environ.get("BENCH_DEVICES_HEARTBEAT", 10))
STEADY = float(os.environ.get("BENCH_DEVICES_STEADY", 180))
ECHO_STEADY = float(os.environ.get("BENCH_DEVICES_ECHO_STEADY", 60))
STORM = float(os.environ.get("BENCH_DEVICES_STORM", 10))
REPLAY_DEVICES = int(os.environ.get("BENCH_DEVICES_REPLAY_DEVICES", 100))
REPLAY_EVENTS = int(os.environ.get("BENCH_DEVICES_REPLAY_EVENTS", 500))
CONCURRENCY = int(os.environ.get("BENCH_DEVICES_CONCURRENCY", 100))
STORES = int(os.environ.get("BENCH_DEVICES_STORES", 20))
TARGET_P99_MS = 50.0
BATCH = 200
HOST = "127.0.0.1"


# --- Django-side steps ---------------------------------------------------------------------------


def _brand():
    from retail.models import Brand

    return Brand.objects.get(slug=BRAND_SLUG)


def seed_devices(count: str, path: str) -> None:
    """``count`` paired devices of bench-a spread over its stores; their ids and secrets into
    ``path`` (a JSON list). Two through the services; the rest in bulk, hashed as device_pair does."""
    from django.utils import timezone

    from devices import config as device_config
    from devices import services
    from devices.models import Device
    from retail.events import Actor
    from retail.models import Staff, Store
    from retail.tenancy import brand_scope

    n = int(count)
    b = _brand()
    with brand_scope(b):
        admin = Staff.objects.filter(role=Staff.Role.BRAND_ADMIN).order_by("pk").first()
        stores = list(Store.objects.for_brand(b).order_by("code"))
    creds = []
    t0 = time.monotonic()
    by_services = min(2, n)
    for i in range(by_services):
        device, code = services.device_create(
            brand=b, manager=admin, actor=Actor.system(), store=stores[i % len(stores)],
            data={"name": f"D{i:05d}", "kind": "both"},
        )  # fmt: skip
        device, secret = services.device_pair(code=code, app_version="bench")
        creds.append({"device": str(device.uid), "secret": secret})
    services_seconds = time.monotonic() - t0
    t1 = time.monotonic()
    now = timezone.now()
    rows, secrets_ = [], []
    for i in range(by_services, n):
        secret = secrets.token_urlsafe(32)
        secrets_.append(secret)
        rows.append(
            Device(
                brand=b,
                store=stores[i % len(stores)],
                name=f"D{i:05d}",
                kind=Device.Kind.BOTH,
                status=Device.Status.OFFLINE,
                secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
                credential_version=1,
                paired_at=now,
                config=device_config.defaults(),
                created_by=admin,
                app_version="bench",
            )  # fmt: skip
        )
    with brand_scope(b):
        Device.unscoped.bulk_create(rows, batch_size=1000)
    creds += [{"device": str(d.uid), "secret": s} for d, s in zip(rows, secrets_, strict=True)]
    bulk_seconds = time.monotonic() - t1
    with open(path, "w") as fh:
        json.dump(creds, fh)
    os.chmod(path, 0o600)
    emit(
        {
            "devices": n,
            "by_services": by_services,
            "services_seconds_per_device": round(services_seconds / max(by_services, 1), 3),
            "bulk": n - by_services,
            "bulk_seconds": round(bulk_seconds, 2),
            "stores": len(stores),
        }
    )


def count_events(prefixes: str) -> None:
    """Per event id prefix: rows, distinct (device, id) pairs and devices with a row; devices online."""
    from django.db.models import Count

    from devices.models import Device, DeviceEvent
    from retail.tenancy import brand_scope

    b = _brand()
    out = {}
    with brand_scope(b):
        for prefix in json.loads(prefixes):
            qs = DeviceEvent.objects.for_brand(b).filter(event_id__startswith=f"{prefix}-")
            out[prefix] = {
                "rows": qs.count(),
                "distinct": qs.values("device_id", "event_id").distinct().count(),
                "devices": qs.values("device_id").distinct().count(),
                "twice": qs.values("device_id", "event_id").annotate(n=Count("id")).filter(n__gt=1).count(),
            }
        online = Device.objects.for_brand(b).filter(status=Device.Status.ONLINE).count()
    emit({"events": out, "online": online})


def direct_store(devices: str, events: str) -> None:
    """The limit of (c): services.events_store called directly (no websocket) by one process, for
    ``devices`` devices × ``events`` events in batches of 200, each device in turn."""
    from devices import services
    from devices.models import Device
    from retail.tenancy import brand_scope

    b = _brand()
    with brand_scope(b):
        ids = list(Device.objects.for_brand(b).order_by("pk").values_list("pk", flat=True)[: int(devices)])
    n = int(events)
    now = int(time.time() * 1000)
    stored = duplicate = 0
    t0 = time.monotonic()
    for i, pk in enumerate(ids):
        kept = [
            {"type": "punch", "id": f"dr-{i}-{k}", "ts": now - (n - k) * 3_600_000 // n,
             "payload": {"method": "pin", "employee_no": f"E{k % 50:03d}", "pin_given": True}}
            for k in range(n)
        ]  # fmt: skip
        for start in range(0, n, BATCH):
            statuses = services.events_store(
                brand_id=b.pk, device_id=pk, skew_ms=0, events_in=kept[start : start + BATCH], offline=True
            )
            stored += sum(1 for s in statuses.values() if s == "stored")
            duplicate += sum(1 for s in statuses.values() if s == "duplicate")
    seconds = time.monotonic() - t0
    emit(
        {
            "devices": len(ids),
            "events": len(ids) * n,
            "stored": stored,
            "duplicate": duplicate,
            "seconds": round(seconds, 2),
            "events_per_second": round(len(ids) * n / max(seconds, 1e-9), 1),
        }
    )


STEPS = {"devices": seed_devices, "count": count_events, "direct": direct_store}


# --- the runner's side ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_cmd(app: str, port: int) -> list[str]:
    return [PY, "-m", "uvicorn", app, "--host", HOST, "--port", str(port), "--lifespan", "off",
            "--no-access-log", "--log-level", "warning", "--ws-per-message-deflate", "false"]  # fmt: skip


def start(app: str, env: dict, logfile) -> tuple[subprocess.Popen, str]:
    """One uvicorn process (its own process group) on a free port, up when /healthz answers."""
    import urllib.request

    port = free_port()
    cmd = server_cmd(app, port)
    log("$ " + " ".join(cmd) + f" > {logfile} 2>&1")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, start_new_session=True, stdout=logfile.open("w"), stderr=subprocess.STDOUT
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"bench: uvicorn exited with {proc.returncode}; see {logfile}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_group(proc)
            raise SystemExit("bench: uvicorn did not answer /healthz within 60 s")
        time.sleep(0.3)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        text = fh.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


async def fleet(url: str, creds: list[dict], pid: int, *, steady: float, run: Run | None) -> dict:
    """(a), (b) and, with ``run`` (the real server), (c) and the database checks."""
    from devices.simulator import SimDevice, Swarm

    out: dict = {}
    # Warm-up: the first connection loads what the server loads lazily (routing, the channel
    # layer's pool, the database connection); the figures start after it.
    warm = SimDevice(url, creds[0]["device"], creds[0]["secret"])
    await warm.start()
    await warm.heartbeat()
    await warm.send_event("punch", {"method": "card", "card": "WARM"}, id="warm-0")
    await warm.close()
    await asyncio.sleep(2)
    swarm = Swarm(url, creds, reply_timeout=60)
    swarm.interval = HEARTBEAT
    try:
        out["rss_before_kb"] = rss_kb(pid)
        out["connect"] = await swarm.connect_all(concurrency=CONCURRENCY)
        log(f"connect: {out['connect']}")
        await asyncio.sleep(3)
        out["rss_after_kb"] = rss_kb(pid)
        out["fds"] = open_files(pid)
        online = max(out["connect"]["online"], 1)
        out["rss_per_connection_kb"] = round((out["rss_after_kb"] - out["rss_before_kb"]) / online, 1)
        log(
            f"RSS {out['rss_before_kb']} kB → {out['rss_after_kb']} kB: "
            f"{out['rss_per_connection_kb']} kB per connection"
        )
        out["punch_before"] = await swarm.punch_all(lambda i: f"storm-{i}")
        log(f"punch before the storm: {out['punch_before']}")
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        with CpuSampler(pid) as sampler:
            out["steady"] = await swarm.measure(steady)
        out["steady"]["server_cpu_percent"] = round(
            100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0), 1
        )
        out["steady"]["cpus"] = sampler.cpus
        out["rss_steady_kb"] = rss_kb(pid)
        log(f"steady: {out['steady']}")
        out["storm"] = await swarm.storm(STORM)
        log(f"storm: {out['storm']}")
        out["punch_after"] = await swarm.punch_all(lambda i: f"storm-{i}")
        log(f"punch after the storm: {out['punch_after']}")
        if run is not None:
            out["storm_db"] = await asyncio.to_thread(run.step, "count", json.dumps(["storm"]), timeout=300)
            log(f"database after the storm: {out['storm_db']}")
        t1, cpu1 = time.monotonic(), cpu_seconds(pid)
        out["replay"] = await swarm.replay_all(REPLAY_DEVICES, REPLAY_EVENTS)
        out["replay"]["server_cpu_percent"] = round(
            100 * (cpu_seconds(pid) - cpu1) / (time.monotonic() - t1), 1
        )
        log(f"replay: {out['replay']}")
        if run is not None:
            out["replay_db"] = await asyncio.to_thread(run.step, "count", json.dumps(["rp"]), timeout=300)
            log(f"database after the replay: {out['replay_db']}")
            out["replay_again"] = await swarm.replay_all(REPLAY_DEVICES, REPLAY_EVENTS)
            log(f"replay again: {out['replay_again']}")
            out["replay_again_db"] = await asyncio.to_thread(
                run.step, "count", json.dumps(["rp"]), timeout=300
            )
        out["heartbeat_errors"] = dict(swarm.heartbeat_errors)
        out["online_at_end"] = len(swarm.online)
    finally:
        await swarm.close_all()
    return out


def settings_facts() -> dict:
    from django.conf import settings

    layer = settings.CHANNEL_LAYERS["default"]
    config = dict(layer.get("CONFIG", {}))
    config.pop("hosts", None)  # addresses: not part of the report
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "channel_layer": layer["BACKEND"],
        "channel_layer_config": config,
        "channel_capacity": config.get("capacity", 100),  # channels-redis's default
        "channel_expiry": config.get("expiry", 60),
        "ulimit_nofile": [soft, hard],
        "device_heartbeat_seconds": settings.DEVICE_HEARTBEAT_SECONDS,
        "device_seen_write_seconds": settings.DEVICE_SEEN_WRITE_SECONDS,
        "device_auth_timeout_seconds": settings.DEVICE_AUTH_TIMEOUT_SECONDS,
        "device_rate": [settings.DEVICE_RATE_PER_SECOND, settings.DEVICE_RATE_BURST],
        "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    }


def _log_problems(path) -> dict:
    """Lines of the server's log that say something went wrong, counted by their first words."""
    counts: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(("ERROR", "WARNING", "Traceback")) or "Error" in line[:80]:
            key = " ".join(line.split()[:6])[:100]
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:10])


def run(run: Run) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * DEVICES + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * DEVICES + 1000), hard))
    db = run.prepare()
    run.env_vars["BENCH_STORES"] = str(STORES)
    run.env_vars["BENCH_STAFF"] = str(STORES * 25)
    staff_seed = seed_staff(run)
    staff_seed.pop("sessions", None)
    creds_path = run.file("devices-credentials.json")
    seed = run.step("devices", DEVICES, str(creds_path), timeout=900)
    log(f"devices: {seed}")
    creds = json.loads(creds_path.read_text())
    facts = settings_facts()
    log(f"settings: {facts}")

    try:
        results: dict = {}
        for label, app in (
            ("echo", "bench.scenarios.devices_echo:echo_app"),
            ("server", "retail.asgi:application"),
        ):
            busy = wait_for_quiet()
            logfile = run.file(f"devices-{label}-uvicorn.log")
            proc, url = start(app, run.env, logfile)
            try:
                out = asyncio.run(
                    fleet(url, creds, proc.pid, steady=ECHO_STEADY if label == "echo" else STEADY,
                          run=run if label == "server" else None)
                )  # fmt: skip
            finally:
                stop_group(proc)
            out["cpu_busy_before"] = round(busy, 3)
            out["server_log_problems"] = _log_problems(logfile)
            out["cmd"] = " ".join(server_cmd(app, 0)).replace(PY, "python").replace(" 0 ", " <free> ")
            results[label] = out

        busy = wait_for_quiet()
        direct = run.step("direct", REPLAY_DEVICES, REPLAY_EVENTS, timeout=900)
        direct["cpu_busy_before"] = round(busy, 3)
        log(f"events_store directly: {direct}")
    finally:
        creds_path.unlink(missing_ok=True)  # the benchmark devices' secrets: not kept
    return run.finish(
        {
            "machine": run.machine(),
            "database": db,
            "staff_seed": {k: staff_seed[k] for k in ("counts", "seed_seconds") if k in staff_seed},
            "seed": seed,
            "settings_facts": facts,
            "server": results["server"],
            "echo": results["echo"],
            "direct": direct,
            "env": {k: v for k, v in run.env_vars.items() if v},
            "tunables": {k: v for k, v in sorted(os.environ.items()) if k.startswith("BENCH_DEVICES")},
            "settings": {
                "devices": DEVICES,
                "heartbeat": HEARTBEAT,
                "steady": STEADY,
                "echo_steady": ECHO_STEADY,
                "storm": STORM,
                "replay_devices": REPLAY_DEVICES,
                "replay_events": REPLAY_EVENTS,
                "concurrency": CONCURRENCY,
                "stores": STORES,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        }
    )
