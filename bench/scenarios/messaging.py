"""Messaging: live guide–shopper chat through one ASGI process.

One uvicorn process (``retail.asgi:application``, no --workers) with the Redis channel layer
(channels-redis) and PostgreSQL. CONVERSATIONS shoppers (one member each, their own session) and
their GUIDES guides (CONVERSATIONS / GUIDES members each, one socket per guide) connect real
websockets from this runner's process: /ws/s/<brand>/chat/ and /ws/chat/, with the sessions the
seed step made. Then RATE messages a second for DURATION seconds, spread evenly over the
conversations and alternating sides (a shopper writes to their guide, a guide to one of her
members), each a ``send`` frame with a ``client_id`` that names it. Measured:

* delivery: from the moment the frame is written by the sender to the moment the ``message`` frame
  for it is read on the other side's socket (both sockets in this process: one clock); p50, p95,
  p99, max. Target: p95 ≤ 100 ms.
* nothing lost: every message the server acknowledged (``sent``) arrived on the other side exactly
  once, and every one is in the database (the ``count`` step); errors answered are counted.
* order: within each conversation and direction (messages go BURST at a time, milliseconds apart, to
  one conversation from one side), the messages arrived in the order they were sent,
  and their ids in the database rise in that order.
* the server's CPU seconds and RSS, and the runner's own CPU (it is on the same machine).

Follow-ups run as in production: the Celery tasks (push, outbound notices) are queued to the broker
(no worker runs: their cost in the request is the enqueue); the auto-reply is on (guides are off
shift: each conversation gets one auto-reply per quiet period; those are not counted as load).

Not part of `make bench`: ``python -m bench messaging`` (about 4 minutes; ``--quick``: 100
conversations at 20 messages/s for 10 s). Tunables: BENCH_MSG_CONVERSATIONS (1000),
BENCH_MSG_GUIDES (100), BENCH_MSG_RATE (200), BENCH_MSG_DURATION (60 s), BENCH_MSG_WARMUP (5 s),
BENCH_MSG_PORT (the server's port; a free one when unset), BENCH_MSG_CONNECT (100 handshakes at once),
BENCH_MSG_BURST (4 messages in a row to one conversation from one side), BENCH_MSG_DIRECT (400
messages in the ``direct`` step), BENCH_MSG_REUSE=1 (keep the database of an earlier run of this
scenario: no recreate, migrate or staff seed; new members and sessions are seeded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime

from websockets.exceptions import ConnectionClosed

from bench.harness.cpu import load_average, wait_for_quiet
from bench.harness.load import percentile
from bench.harness.proc import PY, ROOT, emit, log
from bench.harness.runs import Run
from bench.harness.servers import stop_group
from bench.scenarios.devices import HOST, cpu_seconds, free_port, rss_kb, server_cmd, settings_facts
from bench.scenarios.staff import seed_staff

BRAND_SLUG = "bench-a"
CONVERSATIONS = int(os.environ.get("BENCH_MSG_CONVERSATIONS", 1000))
GUIDES = int(os.environ.get("BENCH_MSG_GUIDES", 100))
RATE = float(os.environ.get("BENCH_MSG_RATE", 200))
DURATION = float(os.environ.get("BENCH_MSG_DURATION", 60))
WARMUP = float(os.environ.get("BENCH_MSG_WARMUP", 5))
PORT = int(os.environ.get("BENCH_MSG_PORT", 0))
CONNECT = int(os.environ.get("BENCH_MSG_CONNECT", 100))
BURST = int(os.environ.get("BENCH_MSG_BURST", 4))
DIRECT = int(os.environ.get("BENCH_MSG_DIRECT", 400))
REUSE = os.environ.get("BENCH_MSG_REUSE", "") == "1"
TARGET_P95_MS = 100.0


# --- Django-side steps ---------------------------------------------------------------------------


def seed(conversations: str, guides: str, path: str) -> None:
    """``guides`` active guides of bench-a, each with their share of ``conversations`` new members
    (bound to them, one conversation each); a login session per guide and a shopper session per
    member. Written to ``path``: {"slug", "guides": [{"staff", "session"}], "shoppers": [{"member",
    "conversation", "guide", "session"}]}."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from bench.harness.fixtures import login_session
    from guides.messaging.models import Conversation
    from members import shopper
    from members.models import GuideBinding, Member
    from retail.models import Brand, Staff
    from retail.tenancy import brand_scope, rls_bypass

    n, g = int(conversations), int(guides)
    t0 = time.monotonic()
    brand = Brand.objects.get(slug=BRAND_SLUG)
    with brand_scope(brand):
        staff = list(
            Staff.objects.for_brand(brand)
            .select_related("user")
            .filter(role=Staff.Role.GUIDE, status=Staff.Status.ACTIVE)
            .order_by("pk")[:g]
        )
    if len(staff) < g:
        raise SystemExit(f"bench: only {len(staff)} guides in {BRAND_SLUG}")
    now = timezone.now()
    with rls_bypass(reason="bench seed messaging"):
        members = Member.unscoped.bulk_create(
            [Member(brand=brand, name=f"会员{i:05d}", guide=staff[i % g], joined_at=now) for i in range(n)],
            batch_size=2000,
        )
        GuideBinding.unscoped.bulk_create(
            [
                GuideBinding(brand=brand, member=m, guide=m.guide, started_at=now, start_reason="join")
                for m in members
            ],
            batch_size=2000,
        )
        convs = Conversation.unscoped.bulk_create(
            [Conversation(brand=brand, member=m, created_at=now) for m in members], batch_size=2000
        )
    out_guides = [{"staff": s.pk, "session": login_session(s)} for s in staff]
    index = {s.pk: i for i, s in enumerate(staff)}
    shoppers = []
    for m, c in zip(members, convs, strict=True):
        session = SessionStore()
        session[shopper.SESSION_KEY] = {str(brand.pk): m.pk}
        session.create()
        shoppers.append(
            {"member": m.pk, "conversation": c.pk, "guide": index[m.guide_id], "session": session.session_key}
        )
    with open(path, "w") as fh:
        json.dump({"slug": brand.slug, "guides": out_guides, "shoppers": shoppers}, fh)
    emit({"members": n, "guides": g, "conversations": len(convs), "seconds": round(time.monotonic() - t0, 1)})


def count(since: str, expected: str) -> None:
    """The messages stored since ``since`` whose client ids the runner wrote (``expected``: a file of
    [[conversation, sender, client_id], ...] in send order per conversation and side): how many are
    missing, stored twice, or stored out of order; and the auto-replies and other messages."""
    from guides.messaging.models import Message
    from retail.models import Brand
    from retail.tenancy import brand_scope

    brand = Brand.objects.get(slug=BRAND_SLUG)
    with open(expected) as fh:
        sent = json.load(fh)
    with brand_scope(brand):
        rows = list(
            Message.objects.for_brand(brand)
            .filter(created_at__gte=datetime.fromisoformat(since))
            .values_list("id", "conversation_id", "sender", "client_id")
        )
    by_key: dict[tuple, list[int]] = defaultdict(list)
    senders: dict[str, int] = defaultdict(int)
    for pk, conv, sender, client_id in rows:
        senders[sender] += 1
        if client_id.startswith("b-"):
            by_key[(conv, sender, client_id)].append(pk)
    missing = twice = out_of_order = 0
    last: dict[tuple, int] = {}
    for conv, sender, client_id in sent:
        ids = by_key.get((conv, sender, client_id), [])
        if not ids:
            missing += 1
            continue
        twice += len(ids) > 1
        if ids[0] < last.get((conv, sender), 0):
            out_of_order += 1
        last[(conv, sender)] = ids[0]
    emit(
        {
            "expected": len(sent),
            "stored": sum(len(v) for v in by_key.values()),
            "missing": missing,
            "stored_twice": twice,
            "out_of_order": out_of_order,
            "by_sender": dict(senders),
        }
    )


def direct(path: str, n: str) -> None:
    """The server's work per message without sockets: ``n`` messages sent through
    ``sending.send_as_member`` / ``send_as_guide`` one after the other in this one process (as the
    consumers' one database thread runs them), alternating sides over the seeded conversations.
    Time per message (p50, p95) and SQL queries per message: the ceiling of one ASGI process's rate
    is about 1000 / p50 ms messages a second, whatever the event loop does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from guides.messaging import sending
    from members.models import Member
    from retail.models import Brand, Staff
    from retail.tenancy import brand_scope

    with open(path) as fh:
        creds = json.load(fh)
    brand = Brand.objects.get(slug=BRAND_SLUG)
    shoppers = creds["shoppers"]
    times: dict[str, list[float]] = {"member": [], "guide": []}
    queries: dict[str, list[int]] = {"member": [], "guide": []}
    with brand_scope(brand):
        guides = {g["staff"]: Staff.objects.get(pk=g["staff"]) for g in creds["guides"]}
        staff_ids = [g["staff"] for g in creds["guides"]]
        for k in range(int(n)):
            info = shoppers[(k // 2) % len(shoppers)]
            side = "member" if k % 2 == 0 else "guide"
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                if side == "member":
                    member = Member.objects.get(pk=info["member"])
                    sending.send_as_member(brand=brand, member=member, body=f"直 {k}", client_id=f"d-{k}")
                else:
                    staff = guides[staff_ids[info["guide"]]]
                    sending.send_as_guide(
                        brand=brand, staff=staff, conversation_id=info["conversation"], body=f"直 {k}",
                        client_id=f"d-{k}",
                    )  # fmt: skip
                times[side].append((time.perf_counter() - t0) * 1000)
            queries[side].append(len(ctx.captured_queries))
    out = {}
    for side in times:
        ms = sorted(times[side])
        out[side] = {
            "messages": len(ms),
            "p50_ms": round(percentile(ms, 50), 2),
            "p95_ms": round(percentile(ms, 95), 2),
            "queries_p50": sorted(queries[side])[len(queries[side]) // 2],
        }
    emit(out)


STEPS = {"seed": seed, "count": count, "direct": direct}


# --- the runner's side ---------------------------------------------------------------------------


class Side:
    """One websocket: a shopper's or a guide's."""

    def __init__(self, url: str, session: str):
        self.url, self.session = url, session
        self.ws = None
        self.closed = False

    async def open(self, origin: str) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            self.url,
            additional_headers={"Cookie": f"sessionid={self.session}", "Origin": origin},
            max_size=2**20,
            open_timeout=30,
            ping_interval=None,
        )
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        if hello.get("type") != "hello":
            raise RuntimeError(f"no hello: {hello}")


async def chat(url: str, creds: dict, pid: int) -> dict:
    """Connect everyone, warm up, send RATE messages/s for DURATION s, wait for the stragglers."""
    ws_base = url.replace("http://", "ws://")
    origin = url
    slug = creds["slug"]
    guides = [Side(f"{ws_base}/ws/chat/", g["session"]) for g in creds["guides"]]
    shoppers = [Side(f"{ws_base}/ws/s/{slug}/chat/", s["session"]) for s in creds["shoppers"]]
    sem = asyncio.Semaphore(CONNECT)

    async def open_one(side: Side):
        async with sem:
            await side.open(origin)

    # Wait for an idle machine before any socket is open: a blocked event loop would leave the
    # server's keepalive pings unanswered and it would close the sockets (1011).
    busy = wait_for_quiet()
    t0 = time.monotonic()
    await asyncio.gather(*(open_one(s) for s in guides + shoppers))
    connect_seconds = time.monotonic() - t0
    log(f"{len(guides)} guide and {len(shoppers)} shopper sockets connected in {connect_seconds:.1f} s")

    sent_at: dict[str, float] = {}  # client id → when the frame was written
    expect_on: dict[str, str] = {}  # client id → "g<i>" / "s<i>": the side it must arrive at
    arrived: dict[str, list[float]] = defaultdict(list)
    order: dict[tuple, list[int]] = defaultdict(list)  # (conversation, sender) → seq as received
    acks: dict[str, int] = {}
    errors: dict[str, int] = defaultdict(int)
    closed_by: dict[str, int] = defaultdict(int)  # sockets the server closed, by close code
    autos = 0
    measuring = False

    async def reader(name: str, side: Side):
        try:
            await read(name, side)
        except ConnectionClosed as exc:  # the server closed it (e.g. its keepalive ping timed out)
            side.closed = True
            closed_by[str(exc.rcvd.code if exc.rcvd else "none")] += 1

    async def read(name: str, side: Side):
        nonlocal autos
        async for raw in side.ws:
            now = time.monotonic()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                m = frame["message"]
                cid = m.get("client_id") or ""
                if expect_on.get(cid) == name:
                    arrived[cid].append(now)
                    order[(m["conversation"], m["sender"])].append(int(cid.split("-")[2]))
                elif m.get("sender") == "auto" and name.startswith("s"):
                    autos += 1
            elif kind == "sent":
                acks[frame.get("client_id") or ""] = frame["message"]["id"]
            elif kind == "error":
                errors[frame.get("code", "?")] += 1

    readers = [asyncio.ensure_future(reader(f"g{i}", s)) for i, s in enumerate(guides)]
    readers += [asyncio.ensure_future(reader(f"s{i}", s)) for i, s in enumerate(shoppers)]
    sequence: list[list] = []  # [conversation, sender, client_id] in send order

    async def one(n: int, label: str) -> None:
        # BURST messages in a row to one conversation from one side (so that order is tested on
        # frames written milliseconds apart); the conversations in turn, the shopper first, then the guide.
        turn = n // BURST
        i = (turn // 2) % len(shoppers)
        info = creds["shoppers"][i]
        by_shopper = turn % 2 == 0  # the shopper writes, then the guide answers
        cid = f"b-{label}-{n}"
        frame = {"type": "send", "client_id": cid, "body": f"消息 {n}"}
        if by_shopper:
            side, to = shoppers[i], f"g{info['guide']}"
        else:
            side, to = guides[info["guide"]], f"s{i}"
            frame["conversation"] = info["conversation"]
        if side.closed:
            errors["socket_closed"] += 1
            return
        expect_on[cid] = to
        sent_at[cid] = time.monotonic()
        try:
            await side.ws.send(json.dumps(frame, ensure_ascii=False))
        except ConnectionClosed:
            errors["socket_closed"] += 1
            side.closed = True
            del sent_at[cid]
            return
        if measuring:
            sequence.append([info["conversation"], "member" if by_shopper else "guide", cid])

    async def pace(seconds: float, label: str, start: int) -> int:
        """Send at RATE/s for ``seconds``: frames written on schedule, never waiting for answers."""
        total = int(seconds * RATE)
        begin = time.monotonic()
        for n in range(total):
            due = begin + n / RATE
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await one(start + n, label)
        return total

    await pace(WARMUP, "w", 0)
    await asyncio.sleep(2)
    cpu0, t_run = cpu_seconds(pid), time.monotonic()
    runner0 = time.process_time()
    measuring = True
    n_sent = await pace(DURATION, "m", 10**6)
    behind = time.monotonic() - t_run - DURATION  # how late the sender ran
    # Stragglers: up to 30 s for the last messages to arrive.
    measured = [cid for cid in sent_at if cid.startswith("b-m-")]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(not arrived.get(c) for c in measured):
        await asyncio.sleep(0.2)
    cpu1, t_end = cpu_seconds(pid), time.monotonic()
    runner_cpu = time.process_time() - runner0
    for r in readers:
        r.cancel()
    for s in guides + shoppers:
        with contextlib.suppress(Exception):
            await s.ws.close()

    latencies = [(arrived[c][0] - sent_at[c]) * 1000 for c in measured if arrived.get(c)]
    lost = [c for c in measured if not arrived.get(c)]
    dupes = sum(1 for c in measured if len(arrived.get(c, [])) > 1)
    unordered = 0
    for seqs in order.values():
        m = [s for s in seqs if s >= 10**6]
        unordered += sum(1 for a, b in zip(m, m[1:], strict=False) if b < a)
    latencies.sort()
    # Where a run falls behind: delivery by the second the message was sent in.
    by_second: dict[int, list[float]] = defaultdict(list)
    for c in measured:
        if arrived.get(c):
            by_second[int(sent_at[c] - t_run)].append((arrived[c][0] - sent_at[c]) * 1000)
    trace = []
    for second in sorted(by_second):
        ms = sorted(by_second[second])
        trace.append(
            [second, len(ms), round(percentile(ms, 50), 1), round(percentile(ms, 95), 1), round(ms[-1], 1)]
        )
    return {
        "sockets": {
            "guides": len(guides),
            "shoppers": len(shoppers),
            "connect_seconds": round(connect_seconds, 1),
        },
        "sent": n_sent,
        "acked": sum(1 for c in measured if c in acks),
        "arrived": len(latencies),
        "lost": len(lost),
        "arrived_twice": dupes,
        "out_of_order": unordered,
        "errors": dict(errors),
        "sockets_closed_by_server": dict(closed_by),
        "auto_replies_seen": autos,
        "rate_achieved": round(n_sent / (DURATION + max(behind, 0)), 1),
        "sender_behind_seconds": round(behind, 2),
        "delivery_ms": {
            "p50": round(percentile(latencies, 50), 1) if latencies else None,
            "p95": round(percentile(latencies, 95), 1) if latencies else None,
            "p99": round(percentile(latencies, 99), 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None,
        },
        "server_cpu_seconds": round(cpu1 - cpu0, 1),
        "server_cpu_share": round((cpu1 - cpu0) / (t_end - t_run), 3),
        "runner_cpu_seconds": round(runner_cpu, 1),
        "cpu_busy_before": round(busy, 3),
        "by_second": trace,  # [second, arrived, p50 ms, p95 ms, max ms]
        "sequence": sequence,
    }


def start(env: dict, logfile) -> tuple[subprocess.Popen, str]:
    """The server (its own process group) on PORT or a free port, up when /healthz answers."""
    import urllib.request

    port = PORT or free_port()
    cmd = server_cmd("retail.asgi:application", port)
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


def python_reference_seconds() -> float:
    """The machine's speed at one thread of Python, to compare runs on different machines: the
    best of three ``sum(i * i for i in range(10**7))`` in this process."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        sum(i * i for i in range(10**7))
        best = min(best, time.perf_counter() - t0)
    return round(best, 3)


def run(run: Run) -> dict:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * (CONVERSATIONS + GUIDES) + 500
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    run.env_vars.setdefault("BENCH_STORES", "20")
    run.env_vars.setdefault("BENCH_STAFF", str(max(300, GUIDES * 3)))
    if REUSE:  # a database a run of this scenario migrated and seeded: new members only
        from urllib.parse import urlsplit

        from bench.harness.database import pg_settings

        run.prepare(recreate=False, migrate=False)
        run.db = db = {
            "database": urlsplit(run.db_url).path.lstrip("/"),
            "server_version": pg_settings(run.db_url, "server_version")["server_version"],
            "reused": True,
        }
        staff_seed = {}
    else:
        db = run.prepare(migrate_timeout=1200)
        staff_seed = seed_staff(run)
        staff_seed.pop("sessions", None)
    reference = python_reference_seconds()
    creds_path = run.file("messaging-sessions.json")
    expected_path = run.file("messaging-expected.json")
    try:
        seeded = run.step("seed", str(CONVERSATIONS), str(GUIDES), str(creds_path), timeout=900)
        log(f"seed: {seeded}")
        creds = json.loads(creds_path.read_text())
        facts = settings_facts()
        logfile = run.file("messaging-uvicorn.log")
        since = datetime.now(UTC).isoformat()
        proc, url = start(run.env, logfile)
        try:
            load = load_average()
            rss_before = rss_kb(proc.pid)
            result = asyncio.run(chat(url, creds, proc.pid))
            result["rss_before_kb"], result["rss_after_kb"] = rss_before, rss_kb(proc.pid)
            result["load_average_before"] = load
        finally:
            stop_group(proc)
        sequence = result.pop("sequence")
        expected_path.write_text(json.dumps(sequence))
        stored = run.step("count", since, str(expected_path), timeout=300)
        log(f"database: {stored}")
        direct_ = run.step("direct", str(creds_path), str(DIRECT), timeout=600)
        log(f"direct: {direct_}")
    finally:
        creds_path.unlink(missing_ok=True)  # sessions: not kept
        expected_path.unlink(missing_ok=True)
    log(
        f"delivery p50 {result['delivery_ms']['p50']} ms p95 {result['delivery_ms']['p95']} ms "
        f"p99 {result['delivery_ms']['p99']} ms; sent {result['sent']} arrived {result['arrived']} "
        f"lost {result['lost']} out of order {result['out_of_order']}; errors {result['errors']}"
    )
    return run.finish(
        {
            "machine": run.machine(),
            "database": db,
            "staff_seed": {k: staff_seed[k] for k in ("counts", "seed_seconds") if k in staff_seed},
            "seed": seeded,
            "settings_facts": facts,
            "chat": result,
            "db": stored,
            "direct": direct_,
            "target_p95_ms": TARGET_P95_MS,
            "python_reference_seconds": reference,
            "cmd": " ".join(server_cmd("retail.asgi:application", 0))
            .replace(PY, "python")
            .replace(" 0 ", " <free> "),
            "env": {k: v for k, v in run.env_vars.items() if v},
            "tunables": {k: v for k, v in sorted(os.environ.items()) if k.startswith("BENCH_MSG")},
            "settings": {
                "conversations": CONVERSATIONS,
                "guides": GUIDES,
                "rate": RATE,
                "duration": DURATION,
                "warmup": WARMUP,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        }
    )
