"""Membership benchmark (`make bench`, or `BENCH_ONLY=members make bench` / `bash bench/run.sh
members` alone): 1,000,000 members in one brand on PostgreSQL under row-level security.

1. Recreates ``retail_bench`` (as bench/run.py does), migrates, seeds the staff data set
   (bench/seed.py) and 1,000,000 members of brand bench-a, each with a phone and a card
   (bench/members.py seed: COPY inside one audited ``rls_bypass``), then VACUUM (ANALYZE).
2. Counts SQL queries per request for look-up, member-code resolve and a redemption.
3. uvicorn (2 workers) on 127.0.0.1:8001; wrk at -c1, -c2, -c4 and -c16 against the look-up by
   a random existing phone (card: -c4, -c16; bench/members_lookup.lua) and the member-code
   resolve with codes issued just before each run (bench/members_resolve.lua).
4. 200 redemptions against one member through the API (client threads, http.client), each
   with its own Idempotency-Key: through 32 concurrent client connections, then all 200 at
   once (another member); after each the ledger is checked in the database.
5. A real Celery worker on Redis; a 100,000-row CSV (10% duplicates, 1% bad rows) imported
   through members.jobs.import_start until the job is done.
6. Writes the membership section of docs/benchmarks.md and bench/results/<stamp>-members.json.

Environment as bench/run.py, plus BENCH_MEMBERS (1000000), BENCH_MEMBERS_DURATION (10s),
BENCH_MEMBERS_REPEAT (2), BENCH_MEMBERS_CONNECTIONS ("1,2,4,16"), BENCH_IMPORT_ROWS (100000),
BENCH_REDEEM_COUNT (200), BENCH_REDEEM_CLIENTS (32). Redis: database 9 of the local server
(BENCH_MEMBERS_REDIS_URL), so the Celery queue is the benchmark's own.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shlex
import signal
import string
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common import (
    CLOUDSTORE_MARKER,
    COMMISSION_MARKER,
    HOST,
    MEMBERS_MARKER,
    PORT,
    PY,
    REDPACKETS_MARKER,
    ROOT,
    ConnectionSampler,
    DuringRun,
    base_env,
    bench_database_url,
    code_moved,
    code_revision,
    foreign_cpu_share,
    log,
    machine_info,
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
    worker_connections,
    wrk,
)

N_MEMBERS = int(os.environ.get("BENCH_MEMBERS", 1_000_000))
DURATION = os.environ.get("BENCH_MEMBERS_DURATION", "10s")
WARMUP = "3s"
REPEAT = int(os.environ.get("BENCH_MEMBERS_REPEAT", 2))
# 1: one request at a time (a request's own latency); 2: one per uvicorn worker; 4: light load
# (two per worker); 16: busy.
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_MEMBERS_CONNECTIONS", "1,2,4,16").split(",")]
# The card look-up runs the same code as the phone look-up: measured at the loaded levels only.
CARD_CONNECTIONS = [c for c in CONNECTIONS if c >= 4] or CONNECTIONS
THREADS = 2
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", 100_000))
CODES_PER_RUN = 5000
# Redemption passes: (name, concurrent client connections, member id). BENCH_REDEEM_COUNT (200)
# requests each; "bounded" stays under PostgreSQL's connection limit, "all at once" does not
# have to (every in-flight request holds its own database connection).
REDEEM_CLIENTS = int(os.environ.get("BENCH_REDEEM_CLIENTS", 32))
REDEEM_PASSES = [
    ("bounded", REDEEM_CLIENTS, N_MEMBERS // 2),
    ("all at once", int(os.environ.get("BENCH_REDEEM_COUNT", 200)), N_MEMBERS // 2 + 1),
]
TARGET_P95_MS = 20.0
IMPORT_TARGET_S = 60.0
RESULTS = ROOT / "bench" / "results"
DB_URL = [""]  # the benchmark database, set by run_members() (the wrk runs sample it)
LOOKUP_PATH = "/api/v1/members/lookup/"
RESOLVE_PATH = "/api/v1/member-codes/resolve/"


def members_redis_url() -> str:
    explicit = os.environ.get("BENCH_MEMBERS_REDIS_URL")
    if explicit:
        return explicit
    base = redis_url()
    if not base:
        raise SystemExit("bench: the membership benchmark needs Redis (Celery broker): set REDIS_URL")
    return urlunsplit(urlsplit(base)._replace(path="/9"))


def csrf_secret() -> str:
    """A CSRF cookie value Django accepts (32 letters/digits); the header repeats it."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def request(
    method: str, path: str, headers: dict, body: dict | None = None, timeout: float = 60
) -> tuple[int, dict, dict, float]:
    """One HTTP request on its own connection; (status, json body, headers by lower-case name,
    seconds)."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    hdrs = dict(headers)
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        seconds = time.monotonic() - t0
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"raw": raw[:200].decode(errors="replace")}
        return resp.status, payload, {k.lower(): v for k, v in resp.getheaders()}, seconds
    finally:
        conn.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


# --- wrk runs ---------------------------------------------------------------------------------


def wrk_series(label, role, path, connections, server_pid, run_once) -> dict:
    """REPEAT runs (each after waiting for a quiet machine and a warm-up); the median is kept."""
    runs = []
    for _ in range(REPEAT):
        busy = wait_for_quiet()
        cmd, figures, raw, foreign = run_once(connections, server_pid)
        print(raw, flush=True)
        log(f"{label} -c{connections}: {figures['rps']:.1f} req/s, p95 {figures['p95_ms']:.1f} ms")
        runs.append({"cpu_busy_before": busy, "foreign_cpu": foreign, "cmd": cmd, "wrk": figures})
    runs.sort(key=lambda r: r["wrk"]["rps"])
    entry = {"label": label, "as": role, "path": path, "connections": connections}
    entry.update(runs[len(runs) // 2])
    entry["rps_all"] = [r["wrk"]["rps"] for r in runs]
    entry["p95_all"] = [r["wrk"]["p95_ms"] for r in runs]
    entry["cpu_busy_before"] = max(r["cpu_busy_before"] for r in runs)
    entry["foreign_cpu"] = max(r["foreign_cpu"] for r in runs)
    entry["db_connections_peak"] = max(r["wrk"]["db_connections_peak"] for r in runs)
    entry["split_all"] = [r["wrk"].get("worker_split") for r in runs]
    return entry


def redact(cmd: list[str], session: str, csrf: str) -> list[str]:
    return [c.replace(session, "<session key>").replace(csrf, "<csrf token>") for c in cmd]


def lookup_runner(kind: str, session: str, env: dict):
    def run_once(connections: int, server_pid: int):
        script = "bench/members_lookup.lua"
        common = {
            "threads": min(THREADS, connections),
            "connections": connections,
            "script": script,
            "script_args": (str(N_MEMBERS), kind),
            "env": env,
        }
        wrk(LOOKUP_PATH, session, WARMUP, **common)
        before, t0 = process_cpu(), time.monotonic()
        with ConnectionSampler(DB_URL[0]) as sampler, DuringRun(worker_connections) as split:
            cmd, figures, raw = wrk(LOOKUP_PATH, session, DURATION, **common)
        figures["worker_split"] = split.value
        foreign = foreign_cpu_share(before, process_cpu(), time.monotonic() - t0, server_pid)
        figures["db_connections_peak"] = sampler.peak
        return cmd, figures, raw, foreign

    return run_once


def resolve_runner(session: str, csrf: str, env: dict, codes_file: Path, issued: list):
    headers = (f"Cookie: sessionid={session}; csrftoken={csrf}", f"X-CSRFToken: {csrf}")

    def run_once(connections: int, server_pid: int):
        # Codes live 90 s: issue a fresh batch right before the warm-up and the run.
        info = sh_json(
            [PY, "bench/members.py", "codes", str(codes_file), str(CODES_PER_RUN)], timeout=120, env=env
        )
        issued.append(info)
        script = "bench/members_resolve.lua"
        common = {
            "threads": min(THREADS, connections),
            "connections": connections,
            "script": script,
            "headers": headers,
            "script_args": (str(codes_file.relative_to(ROOT)),),
            "env": env,
        }
        wrk(RESOLVE_PATH, None, WARMUP, **common)
        before, t0 = process_cpu(), time.monotonic()
        with ConnectionSampler(DB_URL[0]) as sampler, DuringRun(worker_connections) as split:
            cmd, figures, raw = wrk(RESOLVE_PATH, None, DURATION, **common)
        figures["worker_split"] = split.value
        foreign = foreign_cpu_share(before, process_cpu(), time.monotonic() - t0, server_pid)
        figures["db_connections_peak"] = sampler.peak
        figures["seconds_after_issue"] = round(time.time() - info["issued_at"], 1)
        return cmd, figures, raw, foreign

    return run_once


# --- redemptions ----------------------------------------------------------------------------------


def concurrent_redeem(setup: dict, session: str, csrf: str, clients: int) -> dict:
    """``setup["requests"]`` redemptions of one member, each POSTed with its own Idempotency-Key
    by ``clients`` client threads (one connection per request) released together by a barrier;
    each thread takes the next request until none is left. Then a few keys are replayed."""
    member_id, points, count = setup["member_id"], setup["points_each"], setup["requests"]
    path = f"/api/v1/members/{member_id}/points/redeem/"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    keys = [f"bench-redeem-{member_id}-{stamp}-{i:04d}" for i in range(count)]
    base_headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}
    results: list[dict | None] = [None] * count
    clients = min(clients, count)
    barrier = threading.Barrier(clients + 1, timeout=60)
    queue = iter(range(count))
    lock = threading.Lock()

    def client() -> None:
        barrier.wait()
        while True:
            with lock:
                i = next(queue, None)
            if i is None:
                return
            headers = {**base_headers, "Idempotency-Key": keys[i]}
            try:
                status, body, _h, seconds = request("POST", path, headers, {"points": points}, timeout=120)
                code = (body.get("error") or {}).get("code", "") if isinstance(body, dict) else ""
                results[i] = {"status": status, "code": code, "seconds": seconds, "entry": body.get("id")}
            except Exception as exc:  # a refused connection, a timeout: counted, not raised
                results[i] = {"status": 0, "code": type(exc).__name__, "seconds": 0.0, "entry": None}

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # every thread is waiting on the barrier
    t0 = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join(timeout=max(0.1, t0 + 300 - time.monotonic()))
    wall = time.monotonic() - t0
    done = [r for r in results if r is not None]
    ok = [i for i, r in enumerate(results) if r and r["status"] == 201]
    refused = [r for r in done if r["status"] == 400 and r["code"] == "insufficient_points"]
    statuses: dict[str, int] = {}
    for r in done:
        key = f"{r['status']} {r['code']}".strip() if r["status"] != 201 else "201"
        statuses[key] = statuses.get(key, 0) + 1
    latencies = [r["seconds"] * 1000 for r in done if r["status"]]
    # Replays: the first 10 successful keys again, one by one: 200, same entry, no new row.
    replays = []
    for i in ok[:10]:
        status, body, hdrs, _s = request(
            "POST", path, {**base_headers, "Idempotency-Key": keys[i]}, {"points": points}
        )
        replays.append(
            status == 200
            and hdrs.get("idempotent-replayed") == "true"
            and body.get("id") == results[i]["entry"]
        )
    return {
        "member_id": member_id,
        "clients": clients,
        "requests": count,
        "answered": len(done),
        "ok": len(ok),
        "ok_keys": [keys[i] for i in ok],
        "refused": len(refused),
        "statuses": statuses,
        "wall_s": round(wall, 2),
        "requests_per_s": round(count / wall, 1),
        "redemptions_per_s": round(len(ok) / wall, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0), 1),
        "replays": len(replays),
        "replays_ok": all(replays) and len(replays) > 0,
    }


# --- Celery worker ----------------------------------------------------------------------------------

WORKER_CMD = [PY, "-m", "celery", "-A", "retail", "worker", "-l", "warning", "-c", "1"]


def start_worker(env: dict, logfile: Path) -> subprocess.Popen:
    log("$ " + " ".join(WORKER_CMD) + f" > {logfile.relative_to(ROOT)} 2>&1 &")
    fh = logfile.open("w")
    return subprocess.Popen(
        WORKER_CMD, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_worker(proc: subprocess.Popen) -> None:
    """Warm shutdown (SIGTERM) of the worker we started (its process group), bounded."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- main -----------------------------------------------------------------------------------------


def run_members() -> dict:
    t_start = time.monotonic()
    code = code_revision()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    db_url = bench_database_url()
    db = recreate_database(db_url)
    db["max_connections"] = pg_setting(db_url, "max_connections")
    DB_URL[0] = db_url
    env_vars = base_env(db_url, members_redis_url())
    env_vars["MEDIA_ROOT"] = str(RESULTS / "media")
    env_vars["BENCH_MEMBERS"] = str(N_MEMBERS)
    env = {**os.environ, **env_vars}
    # The bench's own Redis database: nothing queued there from earlier runs.
    sh(["redis-cli", "-u", env_vars["REDIS_URL"], "flushdb"], timeout=30)

    sh([PY, "manage.py", "migrate", "--noinput", "-v", "0"], timeout=300, env=env, capture=False)
    staff_seed = sh_json([PY, "bench/seed.py"], timeout=900, env=env)
    sessions = staff_seed["sessions"]
    log(f"staff seeded in {staff_seed['seed_seconds']} s")
    seed = sh_json([PY, "bench/members.py", "seed"], timeout=900, env=env)
    log(f"members seeded in {seed['seed_seconds']} s (+ VACUUM ANALYZE): {seed['counts']} {seed['timings']}")
    queries = sh_json([PY, "bench/members.py", "queries", json.dumps(sessions)], timeout=300, env=env)
    for q in queries:
        log(f"queries {q['as']:>13} {q['method']} {q['path']}: {q['queries']} (status {q['status']})")

    csrf = csrf_secret()
    codes_file = RESULTS / f"{stamp}-codes.txt"
    issued: list[dict] = []
    http: list[dict] = []
    redeem: list[dict] = []
    server_log = RESULTS / f"{stamp}-uvicorn.log"
    server = start_server(env, server_log)
    try:
        role = "guide"  # a guide at the till identifies the shopper
        session = sessions[role]
        series = [
            (
                "look-up by phone",
                f"GET {LOOKUP_PATH}?kind=phone&value=<random>",
                lookup_runner("phone", session, env),
            ),
            (
                "look-up by card",
                f"GET {LOOKUP_PATH}?kind=card&value=<random>",
                lookup_runner("card", session, env),
            ),
            (
                "member-code resolve",
                f"POST {RESOLVE_PATH}",
                resolve_runner(session, csrf, env, codes_file, issued),
            ),
        ]
        probe_phone = f"139{N_MEMBERS // 7:08d}"
        status, _b, _h, _s = request(
            "GET", f"{LOOKUP_PATH}?kind=phone&value={probe_phone}", {"Cookie": f"sessionid={session}"}
        )
        for label, path, run_once in series:
            if status != 200:
                skipped = f"HTTP {status} before the run"
                http.append({"label": label, "as": role, "path": path, "skipped": skipped})
                continue
            for c in CARD_CONNECTIONS if "card" in label else CONNECTIONS:
                entry = wrk_series(label, role, path, c, server.pid, run_once)
                entry["cmd"] = redact(entry["cmd"], session, csrf)
                http.append(entry)

        # Concurrent redemptions against one member, as a store manager: through a bounded
        # pool of client connections, then all at once.
        for name, clients, member_id in REDEEM_PASSES:
            setup = sh_json([PY, "bench/members.py", "redeem-setup", str(member_id)], timeout=120, env=env)
            wait_for_quiet()
            log_from = server_log.stat().st_size
            with ConnectionSampler(db_url) as sampler:
                client = concurrent_redeem(setup, sessions["store_manager"], csrf, clients)
            client["db_connections_peak"] = sampler.peak
            with server_log.open("rb") as fh:
                fh.seek(log_from)
                text = fh.read().decode(errors="replace")
            client["server_errors"] = {
                "too many connections (PostgreSQL refused a connection)": text.count(
                    "remaining connection slots are reserved"
                )
                + text.count("too many clients already"),
            }
            log(
                f"redemptions ({name}): {client['statuses']}, {client['requests_per_s']} req/s, "
                f"peak {sampler.peak} database connections, server log: {client['server_errors']}"
            )
            redeem.append({"name": name, "setup": setup, "client": client})
    finally:
        stop(server)
    for r in redeem:
        r["check"] = sh_json(
            [PY, "bench/members.py", "redeem-verify", json.dumps(r["client"])], timeout=600, env=env
        )
        r["client"].pop("ok_keys")
        log(f"redemption checks ({r['name']}): {r['check']['checks']}")

    # CSV import through the job service with a real Celery worker.
    csv_path = RESULTS / f"{stamp}-import.csv"
    csv_info = sh_json(
        [PY, "bench/members.py", "import-csv", str(csv_path), str(IMPORT_ROWS)], timeout=300, env=env
    )
    worker_log = RESULTS / f"{stamp}-celery.log"
    worker = start_worker(env, worker_log)
    try:
        wait_for_quiet()
        imp = sh_json(
            [PY, "bench/members.py", "import-run", str(csv_path), json.dumps(csv_info["expected"])],
            timeout=900,
            env=env,
        )
    finally:
        stop_worker(worker)
    log(f"import: {imp['status']} in {imp['seconds']} s: {imp['counts']} (expected {imp['expected']})")

    result = {
        "machine": {**machine_info(env_vars, db["server_version"]), "code": code_moved(code)},
        "database": db,
        "staff_seed": {k: v for k, v in staff_seed.items() if k != "sessions"},
        "seed": seed,
        "queries": queries,
        "http": http,
        "codes_issued": issued,
        "redeem": redeem,
        "import_csv": csv_info,
        "import": imp,
        "env": {k: v for k, v in env_vars.items() if v},
        "server_cmd": server_cmd_text(),
        "worker_cmd": " ".join(shlex.quote(c) for c in WORKER_CMD).replace(PY, "python"),
        "settings": {
            "duration": DURATION,
            "warmup": WARMUP,
            "repeat": REPEAT,
            "connections": CONNECTIONS,
            "threads": THREADS,
            "codes_per_run": CODES_PER_RUN,
        },
        "wall_seconds": round(time.monotonic() - t_start, 1),
    }
    report = write_report(result)
    path = RESULTS / f"{stamp}-members.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    csv_path.unlink(missing_ok=True)
    codes_file.unlink(missing_ok=True)
    log(f"wrote {report.relative_to(ROOT)} and {path.relative_to(ROOT)} in {result['wall_seconds']} s")
    return result


# --- report -----------------------------------------------------------------------------------------


def split_text(split) -> str:
    return "+".join(str(n) for n in split) if split else "?"


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def write_report(result: dict) -> Path:
    path = ROOT / "docs" / "benchmarks.md"
    old = path.read_text() if path.exists() else ""
    # The cloud store and red packet sections (bench/cloudstore_run.py, bench/redpackets_run.py)
    # follow this one; keep them as they are.
    tail_cut = min(
        (
            c
            for c in (old.find(CLOUDSTORE_MARKER), old.find(REDPACKETS_MARKER), old.find(COMMISSION_MARKER))
            if c >= 0
        ),
        default=-1,
    )
    tail = old[tail_cut:] if tail_cut >= 0 else ""
    old = old[:tail_cut] if tail_cut >= 0 else old
    cut = old.find(MEMBERS_MARKER)
    head = (old[:cut] if cut >= 0 else old).rstrip("\n")
    text = (head + "\n\n" if head else "") + render(result)
    path.write_text(text + ("\n" + tail if tail else ""))
    return path


def render(r: dict) -> str:
    m, seed, s = r["machine"], r["seed"], r["settings"]
    lines = [
        MEMBERS_MARKER,
        "",
        "## Membership",
        "",
        "Written by `make bench` (bench/members_run.py; alone: `BENCH_ONLY=members make bench`) from",
        "its own run; do not edit the figures by hand.",
        "",
        f"- **Date:** {m['date']}",
        f"- **Code:** {m.get('code', 'unknown')}",
        f"- **Machine:** {m['nproc']} CPUs ({m['cpu']}), {m['os']}, kernel {m['kernel']}",
        f"- **Software:** Python {m['python']}, Django {m['django']}, uvicorn {m['uvicorn']}, "
        f"PostgreSQL {m['postgresql']},",
        f"  Redis {m['redis']}, {m['wrk']}",
        "",
        "### Data set",
        "",
    ]
    c, t = seed["counts"], seed["timings"]
    lines += [
        f"{seed['members']:,} members in one brand (`bench-a`, on top of the staff data set above: "
        f"{seed['guides']:,} active guides there), each with a phone and a card identity: "
        f"{c['member']:,} members, {c['memberidentity']:,} identities, {c['guidebinding']:,} open guide "
        f"bindings (4 in 5 members have a guide), {c['membertag']:,} member tags, 3 tiers. Member number "
        f"n = 0..{seed['members'] - 1:,} has id n + 1, phone `139` + n as 8 digits and card `VIP` + n "
        "as 8 digits; the wrk scripts pick n at random per request.",
        "",
        f'Seeded in {seed["seed_seconds"]} s inside one audited `rls_bypass(reason="bench seed members")`: '
        "PostgreSQL refuses `COPY FROM` into a table with FORCE ROW LEVEL SECURITY, so the rows are "
        f"streamed with psycopg2 `copy_expert` into temporary tables (members {t['copy_members_s']} s, "
        f"identities {t['copy_identities_s']} s) and moved with `INSERT ... SELECT` (members "
        f"{t['insert_members_s']} s, identities {t['insert_identities_s']} s, bindings and tags "
        f"{t['bindings_and_tags_s']} s) with explicit member ids and `setval` of the id sequence; the "
        f"commit, which runs the deferred same-brand foreign-key checks, took {t['commit_s']} s. Then "
        f"`VACUUM (ANALYZE)` {t['vacuum_analyze_s']} s. Sizes with indexes: members_member "
        f"{seed['sizes']['members_member']}, members_memberidentity "
        f"{seed['sizes']['members_memberidentity']}.",
        "",
        "### Look-up and member-code resolve (target: p95 under 20 ms)",
        "",
        f"`wrk -t{s['threads']} -c<N> -d{s['duration']} --latency` (`-t1` for `-c1`) against uvicorn "
        f"with 2 workers on the same machine, as a guide's session, {s['repeat']} runs per row, each "
        f"after a {s['warmup']} "
        "warm-up and after waiting for an idle machine; the row is the run with the median throughput "
        '(of two runs, the faster), "range" the lowest and highest requests/s and "p95 runs" every '
        "run's p95. Each request looks up a different random existing member. For the resolve, "
        f"{s['codes_per_run']:,} codes of random members are issued (`members.codes.member_code_issue`) "
        "right before each warm-up + run (codes expire after 90 s) and each request posts a random one "
        "with the session cookie and the CSRF cookie + `X-CSRFToken` header. Latencies in milliseconds.",
        "",
        '"DB conns" is the most connections the benchmark database had at once during the runs '
        "(sampled every 50 ms). `-c2` is one request per uvicorn worker; beyond that requests queue "
        "on the 2 workers, and the median latency approaches connections / throughput "
        "(Little's law). The 2 workers share one listening socket and wrk keeps its connections "
        'open, so which worker serves which connection is chance: "split runs" shows, for each '
        "run, how many of wrk's connections each worker held (`ss -tnp`, 1.5 s into the run); "
        "with all of them on one worker (`4+0`) the other worker idles and throughput halves.",
        "",
        "| request | as | conns | req/s | range | p50 | p95 | p99 | max | p95 runs | split runs | non-2xx "
        "| sock err | DB conns | busy | other CPU | p95 < 20 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for h in r["http"]:
        if h.get("skipped"):
            cells = f"| {h['label']}: `{h['path']}` | {h['as']} | | skipped: {h['skipped']} |"
            lines.append(cells + " |" * 13)
            continue
        w = h["wrk"]
        lines.append(
            f"| {h['label']}: `{h['path']}` | {h['as']} | {h['connections']} | {w['rps']:.1f} | "
            f"{min(h['rps_all']):.0f}–{max(h['rps_all']):.0f} | {w['p50_ms']:.1f} | {w['p95_ms']:.1f} | "
            f"{w['p99_ms']:.1f} | {w['max_ms']:.1f} | {' / '.join(f'{p:.0f}' for p in h['p95_all'])} | "
            f"{' / '.join(split_text(x) for x in h.get('split_all', []))} | "
            f"{w['non2xx3xx']} | {w['socket_errors']} | {h['db_connections_peak']} | "
            f"{h['cpu_busy_before']:.0%} | "
            f"{h['foreign_cpu']:.0%} | "
            f"{yes(w['p95_ms'] < TARGET_P95_MS)} |"
        )
    lines += [
        "",
        "### SQL queries per request",
        "",
        "Counted in-process with Django's test client and `CaptureQueriesContext` against the same data "
        "(second request of each kind). The count includes the session and user look-ups, BEGIN/COMMIT, "
        "the brand membership check and the transaction-local tenancy settings.",
        "",
        "| request | as | status | queries |",
        "|---|---|---|---:|",
    ]
    for q in r["queries"]:
        path = q["path"].split("&value=")[0]
        lines.append(f"| `{q['method']} {path}` | {q['as']} | {q['status']} | {q['queries']} |")
    first = r["redeem"][0]
    rs = first["setup"]
    lines += [
        "",
        f"### {rs['requests']} concurrent point redemptions against one member",
        "",
        f"Each pass uses its own member holding {rs['balance_before']:,} points (earned in "
        f"{len(rs['lots'])} lots through `members.services.points_earn`), so {rs['expected_ok']} "
        f"redemptions of {rs['points_each']} points fit and the rest must be refused. "
        f"{rs['requests']} requests `POST /api/v1/members/<id>/points/redeem/` "
        f'`{{"points": {rs["points_each"]}}}`, each with its own `Idempotency-Key`, as a store '
        "manager's session with the CSRF header, are sent by client threads (Python `http.client`, a "
        'new connection per request) released together by a barrier: "bounded" through a pool of '
        'client threads that each send the next request when their previous one is answered, "all at '
        'once" with one thread per request. Latencies (ms) count from the release, so they include '
        "the wait behind the other requests.",
        "",
        "| pass | member | clients | answered | 201 | 400 insufficient_points | other answers | wall time "
        "| requests/s | redemptions/s | p50 | p95 | p99 | max | DB conns | refused DB connections |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r["redeem"]:
        c = p["client"]
        other = ", ".join(f"{k}: {v}" for k, v in c["statuses"].items() if k not in ("201",))
        other = other.replace("400 insufficient_points: " + str(c["refused"]), "").strip(", ") or "none"
        lines.append(
            f"| {p['name']} | {c['member_id']} | {c['clients']} | {c['answered']} | {c['ok']} | "
            f"{c['refused']} | {other} | {c['wall_s']} s | {c['requests_per_s']} | "
            f"{c['redemptions_per_s']} | {c['p50_ms']} | {c['p95_ms']} | {c['p99_ms']} | {c['max_ms']} | "
            f"{c['db_connections_peak']} | {sum(c['server_errors'].values())} |"
        )
    lines += [
        "",
        '"DB conns": the most connections the benchmark database had at once during the pass; '
        '"refused DB connections": errors in the server\'s log during the pass where PostgreSQL '
        f"refused a new connection (its `max_connections` is {r['database']['max_connections']}, a few "
        "of them reserved for superusers).",
        "",
        "Afterwards the first 10 successful keys of each pass were sent again (expected: 200 "
        "`Idempotent-Replayed: true` with the first entry, no new entry). Checked in the database after "
        f"each pass (`points_reconcile(brand=...)` runs over all {seed['members']:,} members):",
        "",
    ]
    names = list(first["check"]["checks"])
    lines += [
        "| check | " + " | ".join(p["name"] for p in r["redeem"]) + " |",
        "|---|" + "---|" * len(r["redeem"]),
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(yes(p["check"]["checks"][name]) for p in r["redeem"]) + " |")
    lines.append(
        "| balance before → after (ledger sum; points spent) | "
        + " | ".join(
            f"{p['check']['earned']:,} → {p['check']['balance_after']:,} ({p['check']['ledger_sum']:,}; "
            f"{p['check']['points_spent']:,})"
            for p in r["redeem"]
        )
        + " |"
    )
    lines.append(
        "| `points_reconcile` time | "
        + " | ".join(f"{p['check']['reconcile_seconds']} s" for p in r["redeem"])
        + " |"
    )
    imp, ci = r["import"], r["import_csv"]
    mix = ci["mix"]
    lines += [
        "",
        f"### CSV import of {ci['rows']:,} rows (target: under 60 s)",
        "",
        f"A {ci['bytes'] / 1e6:.1f} MB UTF-8 CSV (`phone,name,card_no,tags,consent,guide,joined_at`): "
        f"{mix['new']:,} new members (half with a card, a quarter with a guide's employee number, 0–2 "
        f"tags), {mix['duplicates_of_existing_members']:,} rows of distinct existing members (by phone, "
        f"half also with their card), {mix['duplicates_of_earlier_rows']:,} repeats of earlier rows of the "
        f"file (the phone written `+86 136 xxxx xxxx`), {mix['bad']:,} bad rows (a quarter each: bad "
        "phone, bad date, bad consent, unknown guide). Uploaded as the brand admin through "
        "`members.jobs.import_start` (which stores the file and queues the Celery task on commit) with a "
        "real Celery worker on Redis; the time runs from the upload call until the job reads DONE "
        "(polled every 0.2 s).",
        "",
        "| status | time | job created→finished | created | matched | errors | total | expected "
        "(created / matched / errors) | counts match | under 60 s |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
        f"| {imp['status']} | {imp['seconds']} s | {imp['job_seconds']} s | {imp['counts']['created']:,} | "
        f"{imp['counts']['matched']:,} | {imp['counts']['errors']:,} | {imp['counts']['total']:,} | "
        f"{imp['expected']['created']:,} / {imp['expected']['matched']:,} / {imp['expected']['errors']:,} | "
        f"{yes(imp['counts_match'])} | {yes(imp['status'] == 'done' and imp['seconds'] < IMPORT_TARGET_S)} |",
        "",
        "Phases seen while polling (seconds after the upload, phase, rows): "
        + ", ".join(f"{p[0]} s {p[1]} ({p[2]:,})" for p in imp["phases"])
        + f". Rows added: {', '.join(f'{k} {v:,}' for k, v in imp['rows_added'].items())}"
        f" (members added match the created count: {yes(imp['members_added_match'])}).",
        "",
        "### Exact commands",
        "",
        "```sh",
        "BENCH_ONLY=members make bench   # = bash bench/run.sh members -> python bench/run.py members",
        "# environment of every step below:",
        " ".join(f"{k}={v}" for k, v in r["env"].items()),
        "python manage.py migrate --noinput",
        "python bench/seed.py",
        "python bench/members.py seed",
        "python bench/members.py queries '<session keys from seed.py>'",
        f"{r['server_cmd']} &",
    ]
    seen = set()
    for h in r["http"]:
        if h.get("cmd"):
            cmd = " ".join(shlex.quote(x) for x in h["cmd"])
            if "resolve" in cmd and "codes" not in seen:
                lines.append(f"python bench/members.py codes <file> {s['codes_per_run']}  # before each run")
                seen.add("codes")
            lines.append(cmd)
    lines += [
        "python bench/members.py redeem-setup <member id>   # per pass",
        f"# {rs['requests']} x POST /api/v1/members/<id>/points/redeem/ from threads (bench/members_run.py)",
        "python bench/members.py redeem-verify '<client figures>'",
        f"python bench/members.py import-csv <file> {ci['rows']}",
        f"{r['worker_cmd']} &",
        "python bench/members.py import-run <file> '<expected counts>'",
        "```",
        "",
        "Notes: the look-up and resolve are answered to any staff member of the brand (a guide here); "
        "every request runs in one transaction under row-level security, with database-backed "
        "sessions and the API throttle in Redis. Redis database 9 holds the cache and the Celery "
        "queue of this benchmark only. Total wall time of the membership run: "
        f"{r['wall_seconds']} s.",
        "",
    ]
    return "\n".join(lines)
