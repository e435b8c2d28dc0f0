"""Partner platform: a partner app's bearer token against a staff session on the same member
look-up, and webhook fan-out to a local receiver with one dead endpoint.

(a) `GET /api/v1/members/lookup/` through wrk (a random existing phone per request, the
membership scenario's script), once with a brand admin's session cookie and once with a partner
app's token from `POST /api/v1/oauth/token/`, alternately in the same run against the same server
(target: the token at most 10% slower).

(b) EVENTS events (`member.joined`, recorded through `retail.outbox.emit` as the members app does)
for a brand with three webhook endpoints of one app: two on a local receiver
(bench/scenarios/partner_receiver.py, answering 204 at once), one on a closed port. Delivered by
real Celery workers (and beat); timed until both healthy endpoints have every event (target:
within 60 s), the latency of each delivery from the event's creation, and the dead endpoint's
deliveries checked to be pending with back-off.

Tunables: BENCH_PARTNER_MEMBERS (100000), BENCH_PARTNER_DURATION (10s), BENCH_PARTNER_REPEAT (2),
BENCH_PARTNER_CONNECTIONS (4,16), BENCH_PARTNER_EVENTS (10000), BENCH_PARTNER_EVENTS_PER_TX (100),
BENCH_PARTNER_EMITTERS (2: processes creating the events side by side),
BENCH_PARTNER_WORKERS (4: the worker's concurrency), BENCH_PARTNER_FANOUT_LIMIT (300 s).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shlex
import socket
import subprocess
import time
import urllib.parse
from datetime import UTC, datetime

from bench.harness.cpu import CpuSampler, wait_for_quiet
from bench.harness.load import percentile, wrk_series
from bench.harness.proc import PY, ROOT, emit, log, step, step_cmd
from bench.harness.runs import Run
from bench.harness.servers import HOST, PORT, request, server_cmd_text, start_server, stop_group
from bench.harness.workers import celery_cmd, start_worker, stop_worker
from bench.scenarios.staff import seed_staff

BRAND_SLUG = "bench-a"
N_MEMBERS = int(os.environ.get("BENCH_PARTNER_MEMBERS", 100_000))
DURATION = os.environ.get("BENCH_PARTNER_DURATION", "10s")
WARMUP = "3s"
REPEAT = int(os.environ.get("BENCH_PARTNER_REPEAT", 2))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_PARTNER_CONNECTIONS", "4,16").split(",")]
THREADS = 2
EVENTS = int(os.environ.get("BENCH_PARTNER_EVENTS", 10_000))
EVENTS_PER_TX = int(os.environ.get("BENCH_PARTNER_EVENTS_PER_TX", 100))
# Processes creating the events side by side, as several web workers would.
EMITTERS = int(os.environ.get("BENCH_PARTNER_EMITTERS", 2))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_PARTNER_WORKERS", 4))
STORES, STAFF = 50, 2000  # the staff data set per brand, unless BENCH_STORES / BENCH_STAFF say otherwise
FANOUT_LIMIT = float(os.environ.get("BENCH_PARTNER_FANOUT_LIMIT", 300))
TARGET_RATIO = 1.10  # token time at most 10% above the session's
TARGET_FANOUT_S = 60.0
LOOKUP_PATH = "/api/v1/members/lookup/"
LOOKUP_SCRIPT = "bench/scenarios/members_lookup.lua"
EVENT_TYPE = "member.joined"
APP_SCOPES = ["members:read", "members:write", "orders:read", "webhooks:manage"]
WORKER_CMD = celery_cmd(
    "-l", "info", "-c", str(WORKER_CONCURRENCY), "-Q", "celery,webhooks", "--without-gossip",
    "--without-mingle",
)  # fmt: skip


def beat_cmd(schedule: str) -> list[str]:
    return [PY, "-m", "celery", "-A", "retail", "beat", "-l", "warning", "-s", schedule]


# --- Django-side steps ---------------------------------------------------------------------------


def _brand():
    from retail.models import Brand

    return Brand.objects.get(slug=BRAND_SLUG)


def _admin(b):
    from retail.models import Staff
    from retail.tenancy import brand_scope

    with brand_scope(b):
        return (
            Staff.objects.filter(role=Staff.Role.BRAND_ADMIN, status=Staff.Status.ACTIVE)
            .select_related("user", "brand")
            .order_by("pk")
            .first()
        )


def make_app() -> None:
    """A partner app of bench-a (the benchmark's rate limit: not the thing measured)."""
    from retail.partners import services
    from retail.partners.models import PartnerApp
    from retail.tenancy import brand_scope

    b = _brand()
    app, secret = services.app_create(
        brand=b,
        actor=_admin(b),
        name="Bench POS",
        scopes=APP_SCOPES,
        rate_limit_per_minute=services.MAX_RATE_PER_MINUTE,
    )
    # Above what a brand admin may set (wrk would hit it at -c16): the limit is counted per call
    # all the same, only never reached.
    with brand_scope(b):
        PartnerApp.unscoped.filter(brand=b, pk=app.pk).update(rate_limit_per_minute=1_000_000_000)
    emit({"app_id": app.pk, "client_id": app.application.client_id, "client_secret": secret})


def make_endpoints(app_id: str, urls: str) -> None:
    """One webhook endpoint of the app per URL, subscribed to EVENT_TYPE."""
    from retail.events import Actor
    from retail.partners.models import PartnerApp
    from retail.tenancy import brand_scope
    from retail.webhooks import services

    b = _brand()
    actor = Actor(user=_admin(b).user)
    with brand_scope(b):
        app = PartnerApp.objects.get(pk=int(app_id))
        ids = []
        for url in json.loads(urls):
            endpoint, _secret = services.endpoint_create(
                brand=b, actor=actor, app=app, url=url, event_types=[EVENT_TYPE], description="bench"
            )
            ids.append(endpoint.pk)
    emit({"endpoint_ids": ids})


def emit_events(count: str, per_tx: str, first: str = "1") -> None:
    """``count`` member.joined events through the outbox, ``per_tx`` per transaction, as the
    members app emits them when members join (members first..first+count-1 of the seeded set)."""
    from retail import outbox
    from retail.tenancy import brand_scope
    from retail.webhooks.catalogue import event_types

    b = _brand()
    source = event_types()[EVENT_TYPE].source
    n, per, base = int(count), int(per_tx), int(first) - 1
    t0 = time.time()
    for start in range(0, n, per):
        with brand_scope(b):  # one transaction: its commit kicks the endpoints' delivery tasks
            for member_id in range(base + start + 1, base + min(start + per, n) + 1):
                outbox.emit(brand_id=b.pk, name=source, payload=member_joined_payload(member_id))
    t1 = time.time()
    emit({"events": n, "per_tx": per, "started": t0, "finished": t1, "seconds": round(t1 - t0, 2)})


def _tries_allowed(seconds: float) -> int:
    """How many times the retry schedule lets one delivery be tried within ``seconds``."""
    from retail.webhooks.engine import BACKOFF_SECONDS

    tries, elapsed = 1, 0.0
    for delay in BACKOFF_SECONDS:
        elapsed += delay
        if elapsed > seconds:
            break
        tries += 1
    return tries


def member_joined_payload(member_id: int) -> dict:
    """What members.events.member_joined emits for a member who joined."""
    return {"member_id": member_id, "guide_id": None}


def deliveries(endpoint_ids: str, events_file: str) -> None:
    """Per endpoint: deliveries by status, attempts, the next attempt of those pending; the
    events' creation times (event id -> unix time) into ``events_file``."""
    from django.db.models import Count, Max, Min
    from django.utils import timezone

    from retail.tenancy import brand_scope
    from retail.webhooks.models import WebhookDelivery, WebhookEvent

    b = _brand()
    now = timezone.now()
    out = {}
    with brand_scope(b):
        for pk in json.loads(endpoint_ids):
            qs = WebhookDelivery.objects.filter(endpoint_id=pk)
            by_status = dict(qs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
            pending = qs.filter(status="pending").aggregate(
                attempts_min=Min("attempts"), attempts_max=Max("attempts")
            )
            # When the tried ones go next: a delivery that failed waits for its back-off (those
            # created after the endpoint's last try are due and go with its next probe).
            pending |= qs.filter(status="pending", attempts__gt=0).aggregate(
                next_min=Min("next_attempt_at"), next_max=Max("next_attempt_at")
            )
            out[str(pk)] = {
                "by_status": by_status,
                "attempts_min": pending["attempts_min"],
                "attempts_max": pending["attempts_max"],
                "next_attempt_in_s_min": round((pending["next_min"] - now).total_seconds(), 1)
                if pending["next_min"]
                else None,
                "next_attempt_in_s_max": round((pending["next_max"] - now).total_seconds(), 1)
                if pending["next_max"]
                else None,
                "attempted_pending": qs.filter(status="pending", attempts__gt=0).count(),
            }
        created = {str(i): t.timestamp() for i, t in WebhookEvent.objects.values_list("id", "created_at")}
    with open(events_file, "w") as fh:
        json.dump(created, fh)
    emit({"endpoints": out, "events": len(created)})


def queries(session: str, token: str) -> None:
    """SQL queries of one look-up with the session and with the token (test client, second request)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    path = f"{LOOKUP_PATH}?kind=phone&value=139{N_MEMBERS // 3:08d}"
    rows = []
    for label, kwargs in (("session", {}), ("token", {"HTTP_AUTHORIZATION": f"Bearer {token}"})):
        client = Client(raise_request_exception=False)
        if label == "session":
            client.cookies[settings.SESSION_COOKIE_NAME] = session
        client.get(path, **kwargs)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path, **kwargs)
        rows.append(
            {
                "auth": label,
                "status": response.status_code,
                "queries": len(ctx),
                "sql": [q["sql"][:200] for q in ctx.captured_queries],
            }
        )
    emit(rows)


STEPS = {
    "app": make_app,
    "endpoints": make_endpoints,
    "emit": emit_events,
    "deliveries": deliveries,
    "queries": queries,
}


# --- the runner's side ---------------------------------------------------------------------------


def fetch_token(client_id: str, secret: str) -> tuple[int, dict, float]:
    """``POST /api/v1/oauth/token/`` (client credentials, HTTP Basic): (status, body, seconds)."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    body = urllib.parse.urlencode({"grant_type": "client_credentials"})
    t0 = time.monotonic()
    try:
        conn.request(
            "POST",
            "/api/v1/oauth/token/",
            body=body,
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw or b"{}"), time.monotonic() - t0
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def receiver_stats(port: int) -> dict:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        conn.request("GET", "/stats")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def lookup_comparison(run: Run, session: str, token: str, server) -> list[dict]:
    """wrk against the look-up with the session and with the token, alternately per level."""
    rows = []
    auths = [("session", {"session": session}), ("token", {"headers": (f"Authorization: Bearer {token}",)})]
    for c in CONNECTIONS:
        for label, auth in auths:
            entry = {"auth": label, "connections": c}
            entry.update(
                wrk_series(
                    LOOKUP_PATH,
                    auth.get("session"),
                    repeat=REPEAT,
                    duration=DURATION,
                    warmup=WARMUP,
                    server_pgid=server.pid,
                    db_url=run.db_url,
                    threads=min(THREADS, c),
                    connections=c,
                    env=run.env,
                    script=LOOKUP_SCRIPT,
                    script_args=(str(N_MEMBERS), "phone"),
                    headers=auth.get("headers", ()),
                )  # fmt: skip
            )
            entry["cmd"] = [
                x.replace(session, "<session key>").replace(token, "<token>") for x in entry["cmd"]
            ]
            rows.append(entry)
        s, t = rows[-2]["wrk"], rows[-1]["wrk"]
        log(
            f"look-up -c{c}: session {s['rps']:.0f} req/s p95 {s['p95_ms']:.1f} ms, token {t['rps']:.0f} "
            f"req/s p95 {t['p95_ms']:.1f} ms (session/token throughput {s['rps'] / max(t['rps'], 0.1):.3f})"
        )
    return rows


def fanout(run: Run, app: dict) -> dict:
    healthy = [free_port(), free_port()]
    dead = free_port()  # nothing listens there: connections are refused
    arrivals_file = run.file("partner-arrivals.json")
    events_file = run.file("partner-events.json")
    receiver_log = run.file("partner-receiver.log")
    arrivals_arg = str(arrivals_file.relative_to(ROOT))
    receiver_cmd = [PY, "-m", "bench.scenarios.partner_receiver", arrivals_arg, *map(str, healthy)]
    log("$ " + " ".join(receiver_cmd))
    receiver = subprocess.Popen(
        receiver_cmd,
        cwd=ROOT,
        stdout=receiver_log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    urls = [
        f"http://{HOST}:{healthy[0]}/hooks/a",
        f"http://{HOST}:{healthy[1]}/hooks/b",
        f"http://{HOST}:{dead}/dead",
    ]
    worker = beat = None
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                receiver_stats(healthy[0])
                break
            except OSError:
                if time.monotonic() > deadline or receiver.poll() is not None:
                    raise SystemExit(
                        f"bench: the webhook receiver did not start; see {receiver_log}"
                    ) from None
                time.sleep(0.2)
        endpoints = run.step("endpoints", app["app_id"], json.dumps(urls), timeout=120)["endpoint_ids"]
        worker = start_worker(WORKER_CMD, run.env, run.file("partner-celery.log"), wait_ready=True)
        beat = start_worker(
            beat_cmd(str(run.file("partner-celerybeat-schedule"))), run.env, run.file("partner-beat.log")
        )
        busy = wait_for_quiet()
        t_start = time.time()
        with CpuSampler(worker.pid) as cpu:
            # The emit step runs beside the polling: deliveries start while events are created.
            emitters = []
            share = -(-EVENTS // EMITTERS)
            for i in range(EMITTERS):
                count = min(share, EVENTS - i * share)
                cmd = step_cmd(run.name, "emit", count, EVENTS_PER_TX, i * share + 1)
                log("$ " + " ".join(cmd))
                emitters.append(
                    subprocess.Popen(cmd, cwd=ROOT, env=run.env, stdout=subprocess.PIPE, text=True)
                )
            progress = []
            done_at = None
            limit = time.time() + FANOUT_LIMIT
            while time.time() < limit:
                stats = receiver_stats(healthy[0])
                counts = [stats.get(str(p), {}).get("events", 0) for p in healthy]
                progress.append([round(time.time() - t_start, 1), *counts])
                if all(n >= EVENTS for n in counts):
                    done_at = time.time()
                    break
                time.sleep(0.25)
            parts = []
            for emitter in emitters:
                out, _err = emitter.communicate(timeout=max(10.0, limit - time.time()))
                if emitter.returncode != 0:
                    raise SystemExit(f"bench: the emit step failed with exit {emitter.returncode}")
                parts.append(json.loads(out.strip().splitlines()[-1]))
            started, finished = min(p["started"] for p in parts), max(p["finished"] for p in parts)
            created = {
                "events": sum(p["events"] for p in parts),
                "per_tx": EVENTS_PER_TX,
                "processes": EMITTERS,
                "started": started,
                "finished": finished,
                "seconds": round(finished - started, 2),
            }
        time.sleep(2)  # let the dead endpoint's first attempts and postponements be written
        state = run.step("deliveries", json.dumps(endpoints), events_file, timeout=300)
    finally:
        for proc in (beat, worker):
            if proc is not None:
                stop_worker(proc)
        stop_group(receiver)
    arrived = json.loads(arrivals_file.read_text())
    created_at = json.loads(events_file.read_text())
    first_created = min(created_at.values(), default=created["started"])
    last_created = max(created_at.values(), default=created["finished"])
    per_endpoint = []
    for port, name in zip([*healthy, dead], ["healthy A", "healthy B", "dead"], strict=True):
        got = arrived.get(str(port), [])
        first: dict[str, float] = {}
        for event_id, t in got:
            first.setdefault(event_id, t)
        lat = [(t - created_at[e]) * 1000 for e, t in first.items() if e in created_at]
        per_endpoint.append(
            {
                "name": name,
                "port": port,
                "deliveries": len(got),
                "events": len(first),
                "duplicates": len(got) - len(first),
                "p50_ms": round(percentile(lat, 50), 1),
                "p95_ms": round(percentile(lat, 95), 1),
                "p99_ms": round(percentile(lat, 99), 1),
                "max_ms": round(max(lat, default=0), 1),
                "last_arrival_s": round(max((t for _e, t in got), default=first_created) - first_created, 2),
            }
        )
    all_lat = []
    for port in healthy:
        for event_id, t in arrived.get(str(port), []):
            if event_id in created_at:
                all_lat.append((t - created_at[event_id]) * 1000)
    dead_state = state["endpoints"][str(endpoints[2])]
    result = {
        "events": EVENTS,
        "per_tx": EVENTS_PER_TX,
        "urls": urls,
        "endpoint_ids": endpoints,
        "create": created,
        "cpu_busy_before": busy,
        "cpus": cpu.cpus,  # "server": the Celery worker
        "all_delivered": done_at is not None,
        "seconds_from_first_event": round(done_at - first_created, 2) if done_at else None,
        "seconds_from_last_event": round(done_at - last_created, 2) if done_at else None,
        "seconds_from_start": round(done_at - t_start, 2) if done_at else None,
        "p50_ms": round(percentile(all_lat, 50), 1),
        "p95_ms": round(percentile(all_lat, 95), 1),
        "p99_ms": round(percentile(all_lat, 99), 1),
        "endpoints": per_endpoint,
        "state": state["endpoints"],
        # Every delivery to the dead endpoint still pending (none given up, none lost), some
        # tried, and none tried more often than its back-off schedule allows in the run's time
        # (now, then 1 min, 5 min, ...): the endpoint is probed, not hammered.
        "dead_pending_with_backoff": bool(
            dead_state["by_status"].get("pending", 0) == EVENTS
            and dead_state["attempted_pending"] >= 1
            and (dead_state["attempts_max"] or 0) <= _tries_allowed(time.time() - t_start)
        ),
        # Seconds after the first event was created, events at A, at B.
        "progress": [
            [round(p[0] - (first_created - t_start), 1), p[1], p[2]] for p in progress if p[1] or p[2]
        ][:: max(1, len(progress) // 40)],
        "receiver_cmd": " ".join(shlex.quote(c) for c in receiver_cmd).replace(PY, "python"),
    }
    log(
        f"fan-out: {EVENTS} events created in {created['seconds']} s; both healthy endpoints had all of them "
        f"{result['seconds_from_first_event']} s after the first event; p50 {result['p50_ms']} ms, p95 "
        f"{result['p95_ms']} ms; dead endpoint: {dead_state}"
    )
    return result


def run(run: Run) -> dict:
    db = run.prepare()
    run.env_vars["BENCH_MEMBERS"] = str(N_MEMBERS)
    run.env_vars["BENCH_PARTNER_MEMBERS"] = str(N_MEMBERS)
    # A smaller staff data set than the staff scenario's: the look-up does not depend on it.
    run.env_vars["BENCH_STORES"] = os.environ.get("BENCH_STORES", str(STORES))
    run.env_vars["BENCH_STAFF"] = os.environ.get("BENCH_STAFF", str(STAFF))
    staff_seed = seed_staff(run)
    sessions = staff_seed.pop("sessions")
    members_seed = step("members", "seed", timeout=900, env=run.env)
    log(f"members seeded in {members_seed['seed_seconds']} s: {members_seed['counts']}")
    app = run.step("app", timeout=120)
    session = sessions["brand_admin"]
    server = start_server(run.env, run.file("partner-uvicorn.log"))
    try:
        status, body, seconds = fetch_token(app["client_id"], app["client_secret"])
        if status != 200:
            raise SystemExit(f"bench: the token endpoint answered {status}: {body}")
        token = body["access_token"]
        token_info = {k: body.get(k) for k in ("token_type", "expires_in", "scope")} | {
            "ms": round(seconds * 1000, 1)
        }
        probe = f"{LOOKUP_PATH}?kind=phone&value=139{N_MEMBERS // 7:08d}"
        probes = {
            "session": request("GET", probe, {"Cookie": f"sessionid={session}"})[0],
            "token": request("GET", probe, {"Authorization": f"Bearer {token}"})[0],
        }
        log(f"token: {token_info}; probes {probes}")
        if set(probes.values()) != {200}:
            raise SystemExit(f"bench: a look-up did not answer 200 before the runs: {probes}")
        lookup = lookup_comparison(run, session, token, server)
    finally:
        stop_group(server)
    counted = run.step("queries", session, token, timeout=300)
    for q in counted:
        log(f"queries {q['auth']}: {q['queries']} (status {q['status']})")
    fan = fanout(run, app)
    comparison = []
    for c in CONNECTIONS:
        s = next(r for r in lookup if r["auth"] == "session" and r["connections"] == c)["wrk"]
        t = next(r for r in lookup if r["auth"] == "token" and r["connections"] == c)["wrk"]
        comparison.append(
            {
                "connections": c,
                "rps_ratio": round(s["rps"] / max(t["rps"], 0.1), 3),  # >1: the token is slower
                "p50_ratio": round(t["p50_ms"] / max(s["p50_ms"], 0.001), 3),
                "p95_ratio": round(t["p95_ms"] / max(s["p95_ms"], 0.001), 3),
            }
        )
    return run.finish(
        {
            "machine": run.machine(),
            "database": db,
            "staff_seed": staff_seed,
            "members_seed": members_seed,
            "token": token_info,
            "probes": probes,
            "lookup": lookup,
            "comparison": comparison,
            "queries": counted,
            "fanout": fan,
            "env": {k: v for k, v in run.env_vars.items() if v},
            "server_cmd": server_cmd_text(),
            "worker_cmd": " ".join(shlex.quote(c) for c in WORKER_CMD).replace(PY, "python"),
            "beat_cmd": " ".join(shlex.quote(c) for c in beat_cmd("<schedule file>")).replace(PY, "python"),
            "settings": {
                "duration": DURATION,
                "warmup": WARMUP,
                "repeat": REPEAT,
                "connections": CONNECTIONS,
                "threads": THREADS,
                "members": N_MEMBERS,
                "events": EVENTS,
                "events_per_tx": EVENTS_PER_TX,
                "worker_concurrency": WORKER_CONCURRENCY,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
            },  # fmt: skip
        }
    )
