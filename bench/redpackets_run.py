"""Red packet benchmark (`make bench`, or `BENCH_ONLY=redpackets make bench` / `bash bench/run.sh
redpackets` alone): the claim race of one lucky packet and a randomised soak of the wallet, on
PostgreSQL under row-level security.

1. Recreates ``retail_bench`` (as bench/run.py does), migrates, seeds the staff data set
   (bench/seed.py: 2 brands x 200 stores x 5,000 staff) and then bench/redpackets.py seed: the
   brand's daily limits raised, the pool funded with 4 x ¥1,000,000 through the simulated payment
   provider, 3,000 staff of brand bench-a logged in (database sessions), the soak's 600 people
   (stores S0001-S0024) with payout accounts bound (1 in 20 without).
2. pgbench: ``UPDATE bench_one_row SET v = v + 1 WHERE id = 1`` on a one-row table,
   ``pgbench -n -f bench/redpackets_one_row.sql -c C -j 2 -T 10`` at each C of
   BENCH_RP_PGBENCH_CLIENTS (2: the HTTP race's database concurrency, 16 and 32: the thread pools).
3. uvicorn (2 workers) on 127.0.0.1:8001. HTTP claim race: a lucky packet of 1,000 shares for
   3,000 people; 3,000 connections opened first, then every claimant's
   ``POST /api/v1/redpackets/packets/<id>/claim/`` (own session cookie, CSRF cookie + header,
   Idempotency-Key) written at once from one asyncio event loop (stdlib only); every answer read.
   Then bench/redpackets.py verify checks the database, and claim-costs measures one claim
   (service, API) and the packet's detail (every claim listed), in-process.
4. Service-level claim races: bench/redpackets.py race RUN N threads at each BENCH_RP_RACE_THREADS
   (16, 32), then race RUN N processes at each BENCH_RP_RACE_PROCESSES (16): a fresh packet, 3,000
   ``packet_claim`` calls from a pool of threads (or forked processes: no shared GIL), each with its
   own database connection.
5. Soak: bench/redpackets.py soak SEED OPS THREADS (BENCH_SOAK_SEED 20260401, BENCH_SOAK_OPS
   20000, BENCH_SOAK_THREADS 8) with the webhook reached over HTTP, then resolution and
   reconciliation (bench/redpackets_soak.py).
6. Writes the red packet section of docs/benchmarks.md and bench/results/<stamp>-redpackets.json.

Environment as bench/run.py, plus the variables above. Celery runs eagerly
(CELERY_TASK_ALWAYS_EAGER=true): a withdrawal's hand-over to the provider runs right after its
request commits. Redis: database 11 of the local server (BENCH_REDPACKETS_REDIS_URL; flushed at the
start) holds the cache: the simulated providers' records, the API throttle.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common import (
    COMMISSION_MARKER,
    HOST,
    PORT,
    PY,
    REDPACKETS_MARKER,
    ROOT,
    base_env,
    bench_database_url,
    code_moved,
    code_revision,
    log,
    machine_info,
    pg_connect,
    pg_setting,
    process_cpu,
    recreate_database,
    redis_url,
    server_cmd_text,
    sh,
    sh_json,
    start_server,
    stop,
    wait_for_quiet,
)
from members_run import csrf_secret, percentile

PGBENCH_CLIENTS = [
    int(c) for c in os.environ.get("BENCH_RP_PGBENCH_CLIENTS", "2,16,32").split(",") if c.strip()
]
PGBENCH_SECONDS = int(os.environ.get("BENCH_RP_PGBENCH_SECONDS", 10))
PGBENCH_SCRIPT = "bench/redpackets_one_row.sql"
RACE_THREADS = [int(c) for c in os.environ.get("BENCH_RP_RACE_THREADS", "16,32").split(",") if c.strip()]
RACE_PROCESSES = [int(c) for c in os.environ.get("BENCH_RP_RACE_PROCESSES", "16").split(",") if c.strip()]
SOAK_SEED = int(os.environ.get("BENCH_SOAK_SEED", 20260401))
SOAK_OPS = int(os.environ.get("BENCH_SOAK_OPS", 20000))
SOAK_THREADS = int(os.environ.get("BENCH_SOAK_THREADS", 8))
HTTP_TIMEOUT = float(os.environ.get("BENCH_RP_HTTP_TIMEOUT", 600))
QUIET_WINDOW = 1.0
# Waiting for an idle machine before each measurement is bounded per wait (3 minutes) and over the
# whole benchmark (this many seconds); after that, measurements start after one sample (recorded).
QUIET_BUDGET = [float(os.environ.get("BENCH_RP_QUIET_BUDGET", 120))]
RESULTS = ROOT / "bench" / "results"
CLAIM_PATH = "/api/v1/redpackets/packets/{id}/claim/"


def rp_redis_url() -> str:
    explicit = os.environ.get("BENCH_REDPACKETS_REDIS_URL")
    if explicit is not None:
        return explicit
    base = redis_url()
    return urlunsplit(urlsplit(base)._replace(path="/11")) if base else ""


def quiet() -> float:
    t0 = time.monotonic()
    busy = wait_for_quiet(window=QUIET_WINDOW, seconds=min(180.0, max(0.0, QUIET_BUDGET[0])))
    QUIET_BUDGET[0] -= time.monotonic() - t0 - QUIET_WINDOW
    return busy


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


class DbSampler:
    """Samples (every 50 ms, in a thread, on one connection opened beforehand) the benchmark
    database's other connections: the most seen, and on average how many were running a statement
    and how many of those were waiting for a lock (a row lock: ``wait_event_type = 'Lock'``)."""

    SQL = (
        "SELECT count(*), count(*) FILTER (WHERE state = 'active'), "
        "count(*) FILTER (WHERE wait_event_type = 'Lock') "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, db_url: str):
        self.conn = pg_connect(db_url)
        self.peak = 0
        self.samples = 0
        self._active = 0
        self._waiting = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.conn.cursor() as cur:
            while not self._stop.wait(0.05):
                cur.execute(self.SQL)
                n, active, waiting = cur.fetchone()
                self.peak = max(self.peak, n)
                self._active += active
                self._waiting += waiting
                self.samples += 1

    def figures(self) -> dict:
        s = max(self.samples, 1)
        return {
            "connections_peak": self.peak,
            "active_mean": round(self._active / s, 1),
            "lock_waiters_mean": round(self._waiting / s, 1),
            "samples": self.samples,
        }

    def __enter__(self) -> DbSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.conn.close()


class CpuSampler:
    """CPU time used while the block runs, by who used it: PostgreSQL, the server (its process
    group), the benchmark's own processes (this runner's process group: helpers, pgbench), Redis,
    anything else. Sampled every 0.25 s so that processes which end during the block count too.
    ``cpus`` maps each to CPUs used on average (1.0 = one CPU busy all along)."""

    def __init__(self, server_pgid: int | None = None):
        self.server_pgid = server_pgid
        self.mine = os.getpgid(0)
        self.ticks = {"postgres": 0, "server": 0, "bench": 0, "redis": 0, "other": 0}
        self.cpus: dict[str, float] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _who(self, comm: str, pgid: int) -> str:
        if comm == "postgres":
            return "postgres"
        if comm == "redis-server":
            return "redis"
        if self.server_pgid is not None and pgid == self.server_pgid:
            return "server"
        if pgid == self.mine:
            return "bench"
        return "other"

    def _sample(self, first: bool = False) -> None:
        for pid, (comm, pgid, used) in process_cpu().items():
            before = self._last.get(pid)
            self._last[pid] = used
            if before is None:
                if first:
                    continue
                before = 0  # started during the block
            self.ticks[self._who(comm, pgid)] += max(0, used - before)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample(first=True)
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()
        seconds = max(time.monotonic() - self.t0, 1e-6)
        hz = os.sysconf("SC_CLK_TCK")
        self.cpus = {k: round(v / hz / seconds, 2) for k, v in self.ticks.items()}


# --- pgbench ----------------------------------------------------------------------------------------


def pgbench_setup(db_url: str) -> None:
    conn = pg_connect(db_url)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_one_row (id integer PRIMARY KEY, v bigint NOT NULL)")
        cur.execute("INSERT INTO bench_one_row VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
    conn.close()


def pgbench(db_url: str, clients: int) -> dict:
    p = urlsplit(db_url)
    cmd = [
        "pgbench",
        "-h",
        p.hostname or HOST,
        "-p",
        str(p.port or 5432),
        "-U",
        p.username or "retail",
        "-n",
        "-f",
        PGBENCH_SCRIPT,
        "-c",
        str(clients),
        "-j",
        str(min(2, clients)),
        "-T",
        str(PGBENCH_SECONDS),
        p.path.lstrip("/"),
    ]
    busy = quiet()
    with DbSampler(db_url) as dbs, CpuSampler() as cpu:
        out = sh(cmd, timeout=PGBENCH_SECONDS + 60)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    tx = re.search(r"number of transactions actually processed: (\d+)", out)
    r = {
        "clients": clients,
        "threads": min(2, clients),
        "seconds": PGBENCH_SECONDS,
        "cmd": cmd,
        "tps": float(tps.group(1)) if tps else None,
        "latency_ms": float(lat.group(1)) if lat else None,
        "transactions": int(tx.group(1)) if tx else None,
        "cpu_busy_before": busy,
        "cpus": cpu.cpus,
        "db": dbs.figures(),
    }
    log(f"pgbench -c{clients}: {r['tps']} tps, latency {r['latency_ms']} ms; CPUs {cpu.cpus}")
    return r


# --- the HTTP claim race ----------------------------------------------------------------------------


def _request(packet_id: int, session: str, csrf: str, key: str) -> bytes:
    return (
        f"POST {CLAIM_PATH.format(id=packet_id)} HTTP/1.1\r\n"
        f"Host: {HOST}:{PORT}\r\n"
        f"Cookie: sessionid={session}; csrftoken={csrf}\r\n"
        f"X-CSRFToken: {csrf}\r\n"
        f"Idempotency-Key: {key}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 0\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
    body = await reader.readexactly(int(m.group(1))) if m else await reader.read()
    return status, body


async def _race(packet_id: int, sessions: list[list], csrf: str) -> dict:
    """Open one connection per claimant, then write every claim at once; read every answer."""
    n = len(sessions)

    async def connect(i: int):
        last: Exception | None = None
        for _ in range(5):
            try:
                return await asyncio.wait_for(asyncio.open_connection(HOST, PORT), 30)
            except (OSError, TimeoutError) as exc:
                last = exc
                await asyncio.sleep(0.2)
        raise last or OSError("connect failed")

    t_c = time.monotonic()
    conns = await asyncio.gather(*(connect(i) for i in range(n)), return_exceptions=True)
    connect_s = time.monotonic() - t_c
    go = asyncio.Event()
    sent: list[float] = [0.0] * n

    async def one(i: int, rw) -> tuple:
        reader, writer = rw
        staff_id, session = sessions[i]
        req = _request(packet_id, session, csrf, f"race-http-{i}")
        await go.wait()
        t0 = time.monotonic()
        sent[i] = t0
        try:
            writer.write(req)
            await writer.drain()
            status, body = await _read_response(reader)
            return (i, staff_id, status, body, t0, time.monotonic(), "")
        except Exception as exc:
            return (i, staff_id, 0, b"", t0, time.monotonic(), f"{type(exc).__name__}: {exc}"[:200])
        finally:
            writer.close()

    tasks = []
    failed_connects = []
    for i, rw in enumerate(conns):
        if isinstance(rw, BaseException):
            failed_connects.append(f"{type(rw).__name__}: {rw}"[:200])
        else:
            tasks.append(asyncio.create_task(one(i, rw)))
    await asyncio.sleep(0.5)  # every task is waiting on the start signal
    t_go = time.monotonic()
    go.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), HTTP_TIMEOUT)
    writes = [t for t in sent if t]
    return {
        "results": results,
        "t_go": t_go,
        "connect_s": connect_s,
        "failed_connects": failed_connects,
        "all_sent_within_ms": round((max(writes) - min(writes)) * 1000, 1) if writes else 0,
    }


def http_race(packet: dict, sessions: list[list], csrf: str, server_pgid: int, db_url: str) -> dict:
    busy = quiet()
    with DbSampler(db_url) as dbs, CpuSampler(server_pgid) as cpu:
        raw = asyncio.run(_race(packet["packet_id"], sessions, csrf))
    t_go = raw["t_go"]
    won, refused, other = [], [], []
    codes: dict[str, int] = {}
    for i, staff_id, status, body, t0, t1, err in raw["results"]:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {}
        row = {"i": i, "staff_id": staff_id, "status": status, "t0": t0, "t1": t1, "bytes": len(body)}
        if status == 201 and not data.get("already_claimed"):
            row["amount_fen"] = data.get("amount_fen")
            row["claims_in_answer"] = len((data.get("packet") or {}).get("claims") or [])
            won.append(row)
        elif status == 400 and isinstance(data.get("error"), dict):
            code = data["error"].get("code", "")
            codes[code] = codes.get(code, 0) + 1
            refused.append(row)
        else:
            row["detail"] = err or body[:200].decode(errors="replace")
            other.append(row)
    ends = [r["t1"] for r in won + refused + other]
    won.sort(key=lambda r: r["t1"])
    last_win = (won[-1]["t1"] - t_go) if won else 0.0
    lat_won = [(r["t1"] - r["t0"]) * 1000 for r in won]
    lat_refused = [(r["t1"] - r["t0"]) * 1000 for r in refused]
    shares = packet["shares"]
    claimers = len(sessions)
    client_checks = {
        f"{shares} answered with a share": len(won) == shares,
        f"{claimers - shares} refused, all packet_empty": len(refused) == claimers - shares
        and set(codes) == {"packet_empty"},
        "no other answers or errors": not other and not raw["failed_connects"],
        "the winners' shares sum to the total": sum(r["amount_fen"] or 0 for r in won) == packet["total_fen"],
        "no claimant answered twice with a share": len({r["staff_id"] for r in won}) == len(won),
    }
    r = {
        "packet": packet,
        "claimers": claimers,
        "connections": claimers,
        "connect_s": round(raw["connect_s"], 2),
        "failed_connects": len(raw["failed_connects"]),
        "failed_connect_samples": raw["failed_connects"][:5],
        "all_sent_within_ms": raw["all_sent_within_ms"],
        "answered": len(raw["results"]),
        "won": len(won),
        "refused": len(refused),
        "refusal_codes": codes,
        "other": len(other),
        "other_samples": [{k: v for k, v in x.items() if k in ("status", "detail")} for x in other[:5]],
        "last_win_s": round(last_win, 3),
        "all_answered_s": round(max(ends) - t_go, 3) if ends else 0,
        "claims_per_s_client": round(len(won) / last_win, 1) if last_win else 0,
        "answers_per_s": round(len(ends) / (max(ends) - t_go), 1) if ends else 0,
        "latency_ms": {
            "won_p50": round(percentile(lat_won, 50), 1),
            "won_p95": round(percentile(lat_won, 95), 1),
            "won_max": round(max(lat_won, default=0), 1),
            "refused_p50": round(percentile(lat_refused, 50), 1),
            "refused_p95": round(percentile(lat_refused, 95), 1),
        },
        "answer_bytes": {
            "first_win": won[0]["bytes"] if won else 0,
            "last_win": won[-1]["bytes"] if won else 0,
            "claims_in_last_win": won[-1]["claims_in_answer"] if won else 0,
            "refusal": refused[0]["bytes"] if refused else 0,
        },
        "client_checks": client_checks,
        "db_activity": dbs.figures(),
        "cpus": cpu.cpus,
        "cpu_busy_before": busy,
    }
    log(
        f"HTTP race: {r['won']} won, {r['refused']} refused {codes}, {r['other']} other; last share answered "
        f"at {r['last_win_s']} s, all {r['answered']} at {r['all_answered_s']} s; CPUs {cpu.cpus}"
    )
    return r


async def _warm(sessions: list[list], csrf: str, n: int = 16) -> list[int]:
    """A few GETs of the claimants' wallets at once, so both workers have loaded everything."""

    async def one(session: str) -> int:
        reader, writer = await asyncio.open_connection(HOST, PORT)
        writer.write(
            (
                f"GET /api/v1/wallet/ HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nCookie: sessionid={session}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status, _body = await _read_response(reader)
        writer.close()
        return status

    return list(await asyncio.gather(*(one(s) for _i, s in sessions[-n:])))


# --- main -------------------------------------------------------------------------------------------


def run_redpackets() -> dict:
    t_start = time.monotonic()
    code = code_revision()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load_before = load_average()
    db_url = bench_database_url()
    db = recreate_database(db_url)
    pg = {
        name: pg_setting(db_url, name)
        for name in ("max_connections", "synchronous_commit", "fsync", "shared_buffers")
    }
    env_vars = {**base_env(db_url, rp_redis_url()), "CELERY_TASK_ALWAYS_EAGER": "true"}
    env = {**os.environ, **env_vars}
    if env_vars["REDIS_URL"]:
        sh(["redis-cli", "-u", env_vars["REDIS_URL"], "flushdb"], timeout=30)  # the bench's own database

    sh([PY, "manage.py", "migrate", "--noinput", "-v", "0"], timeout=300, env=env, capture=False)
    staff_seed = sh_json([PY, "bench/seed.py"], timeout=900, env=env)
    log(f"staff seeded in {staff_seed['seed_seconds']} s")
    seed = sh_json([PY, "bench/redpackets.py", "seed"], timeout=900, env=env)
    sessions = seed.pop("sessions")
    log(f"red packets seeded: {seed}")

    pgbench_version = "not installed"
    bench_rows: list[dict] = []
    if shutil.which("pgbench"):
        pgbench_version = subprocess.run(
            ["pgbench", "--version"], capture_output=True, text=True
        ).stdout.strip()
        pgbench_setup(db_url)
        bench_rows = [pgbench(db_url, c) for c in PGBENCH_CLIENTS]
    else:
        log("pgbench is missing (apt-get install postgresql-client / postgresql-15): no comparison")

    csrf = csrf_secret()
    server_log = RESULTS / f"{stamp}-redpackets-uvicorn.log"
    server = start_server({**env, "BENCH_RP_SERVER": ""}, server_log)
    try:
        warm = asyncio.run(_warm(sessions, csrf))
        log(f"warm-up GET /api/v1/wallet/: {warm}")
        packet = sh_json([PY, "bench/redpackets.py", "packet", "http"], timeout=300, env=env)
        log(f"HTTP race packet: {packet}")
        http = http_race(packet, sessions, csrf, server.pid, db_url)
        http["db"] = sh_json(
            [PY, "bench/redpackets.py", "verify", str(packet["packet_id"])], timeout=300, env=env
        )
        http["checks"] = {**http["client_checks"], **http["db"]["checks"]}
        http["all_ok"] = all(http["checks"].values())
        log(f"HTTP race checks ok: {http['all_ok']}; db {http['db']['db_claims_per_s']} claims/s")
        detail = sh_json(
            [PY, "bench/redpackets.py", "claim-costs", str(packet["packet_id"])], timeout=300, env=env
        )
        for d in detail:
            log(f"{d['label']}: {d['p50_ms']} ms, {d['queries']} queries ({d['after_lock']} after the lock)")

        races = []
        plan = [(n, "threads") for n in RACE_THREADS] + [(n, "processes") for n in RACE_PROCESSES]
        for i, (workers, mode) in enumerate(plan, start=1):
            busy = quiet()
            with DbSampler(db_url) as dbs, CpuSampler(server.pid) as cpu:
                r = sh_json(
                    [PY, "bench/redpackets.py", "race", str(i), str(workers), mode], timeout=900, env=env
                )
            r.update({"cpu_busy_before": busy, "cpus": cpu.cpus, "db_activity": dbs.figures()})
            log(
                f"service race {workers} {mode}: {r['won']} won, {r['refused']} refused, {r['errors']} "
                f"errors; {r['db']['db_claims_per_s']} claims/s (DB), checks ok {r['all_ok']}; "
                f"CPUs {cpu.cpus}"
            )
            races.append(r)

        busy = quiet()
        soak_env = {**env, "BENCH_RP_SERVER": f"{HOST}:{PORT}"}
        with DbSampler(db_url) as dbs, CpuSampler(server.pid) as cpu:
            soak = sh_json(
                [PY, "bench/redpackets.py", "soak", str(SOAK_SEED), str(SOAK_OPS), str(SOAK_THREADS)],
                timeout=3600,
                env=soak_env,
            )
        soak.update({"cpu_busy_before": busy, "cpus": cpu.cpus, "db": dbs.figures()})
        log(
            f"soak: {soak['ops']} ops in {soak['ops_seconds']} s = {soak['ops_per_s']} ops/s, "
            f"{soak['errors']} errors, checks ok {soak['all_ok']}"
        )
    finally:
        stop(server)

    result = {
        "machine": {**machine_info(env_vars, db["server_version"]), "code": code_moved(code)},
        "load_before": load_before,
        "load_after": load_average(),
        "database": db,
        "pg": pg,
        "pgbench_version": pgbench_version,
        "staff_seed": {k: v for k, v in staff_seed.items() if k != "sessions"},
        "seed": seed,
        "pgbench": bench_rows,
        "http": http,
        "detail": detail,
        "races": races,
        "soak": soak,
        "env": {k: v for k, v in env_vars.items() if v},
        "server_cmd": server_cmd_text(),
        "settings": {
            "pgbench_clients": PGBENCH_CLIENTS,
            "pgbench_seconds": PGBENCH_SECONDS,
            "race_threads": RACE_THREADS,
            "race_processes": RACE_PROCESSES,
            "soak_seed": SOAK_SEED,
            "soak_ops": SOAK_OPS,
            "soak_threads": SOAK_THREADS,
        },
        "wall_seconds": round(time.monotonic() - t_start, 1),
    }
    report = write_report(result)
    path = RESULTS / f"{stamp}-redpackets.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    log(f"wrote {report.relative_to(ROOT)} and {path.relative_to(ROOT)} in {result['wall_seconds']} s")
    return result


# --- report -----------------------------------------------------------------------------------------


def write_report(result: dict) -> Path:
    path = ROOT / "docs" / "benchmarks.md"
    old = path.read_text() if path.exists() else ""
    # The commission section (bench/commission.py) follows this one; keep it as it is.
    tail_cut = old.find(COMMISSION_MARKER)
    tail = old[tail_cut:] if tail_cut >= 0 else ""
    old = old[:tail_cut] if tail_cut >= 0 else old
    cut = old.find(REDPACKETS_MARKER)
    head = (old[:cut] if cut >= 0 else old).rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + render(result) + ("\n" + tail if tail else ""))
    return path


def render(r: dict) -> str:
    from redpackets_report import render as _render

    return _render(r)
