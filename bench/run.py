"""Benchmark runner (`make bench`): seed, count queries, load-test with wrk, write the report.

`run.py [staff|members|cloudstore|redpackets|commission|all]` (default all, or
BENCH_ONLY=staff|members|cloudstore|redpackets|commission): the staff endpoints (this file), the
membership programme (bench/members_run.py), the cloud store (bench/cloudstore_run.py), the red
packets (bench/redpackets_run.py) and commission (bench/commission.py), one after the other, each
on a freshly created database, each rewriting only its own section of docs/benchmarks.md.

Staff endpoints:

1. (Re)creates the PostgreSQL database ``retail_bench`` (owned by the app's ordinary role, so
   row-level security is on exactly as in production; never the test database), migrates it
   and seeds 2 brands x 200 stores x 5,000 staff (bench/seed.py).
2. Counts SQL queries per request at two page sizes (bench/queries.py).
3. Starts uvicorn (2 workers, no access log) on 127.0.0.1:8001, runs wrk against each
   endpoint with a logged-in session cookie, stops the server.
4. Writes docs/benchmarks.md and bench/results/<timestamp>.json.

Environment: DATABASE_URL (its server and role are used; the database name is replaced by
``retail_bench``; default postgres://retail@127.0.0.1:5432), BENCH_DATABASE_URL to name the
database outright, REDIS_URL, BENCH_DURATION (default 20s), BENCH_CONNECTIONS (16),
BENCH_THREADS (2).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    CLOUDSTORE_MARKER,
    COMMISSION_MARKER,
    MEMBERS_MARKER,
    PY,
    REDPACKETS_MARKER,
    ROOT,
    base_env,
    bench_database_url,
    code_moved,
    code_revision,
    foreign_cpu_share,
    http_status,
    log,
    machine_info,
    process_cpu,
    recreate_database,
    redis_url,
    server_cmd_text,
    sh,
    sh_json,
    start_server,
    stop,
    wait_for_quiet,
    wrk,
)

THREADS = int(os.environ.get("BENCH_THREADS", 2))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 16))
DURATION = os.environ.get("BENCH_DURATION", "20s")
WARMUP = "3s"
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))

ENDPOINTS = [
    # (label, session role or None, path)
    ("health check (no session, baseline)", None, "/healthz"),
    ("API staff list, page_size=50 (brand admin)", "brand_admin", "/api/v1/staff/?page_size=50"),
    ("staff home page /m/ (guide)", "guide", "/m/"),
    ("dashboard staff list (brand admin)", "brand_admin", "/dashboard/staff/"),
]


REPORT = """\
# Benchmarks

Written by `make bench` (bench/run.py) from its own run; do not edit the figures by hand.
A benchmark is not a test: nothing asserts these numbers.

- **Date:** {date}
- **Code:** {code}
- **Machine:** {nproc} CPUs ({cpu}), {os}, kernel {kernel}
- **Software:** Python {python}, Django {django}, uvicorn {uvicorn}, PostgreSQL {postgresql},
  Redis {redis}, {wrk}
- **Memory (`free -g`):**

```
{free_g}
```

## Data set

{brands} brands x {stores_per_brand} stores x {staff_per_brand:,} staff per brand (every staff
member has a user and works in one store): {n_stores} stores, {n_staff:,} staff,
{n_links:,} staff-store links, {n_users:,} users. Seeded with `bulk_create` inside one audited
`rls_bypass(reason="bench seed")` in {seed_seconds} s, then `ANALYZE`.

The database `{database}` is owned by and accessed as the ordinary role `{role}`
(NOSUPERUSER, NOBYPASSRLS), so every request runs under PostgreSQL row-level security, as in
production.

## Throughput and latency

`wrk -t{threads} -c{connections} -d{duration} --latency` against uvicorn with 2 workers on the
same machine (wrk, uvicorn, PostgreSQL and Redis share the {nproc} CPUs), {repeat} runs per
endpoint, each after a {warmup} warm-up. The row shows the run with the median throughput;
"range" is the lowest and highest requests/s of the {repeat} runs. Latencies in milliseconds;
"non-2xx" counts non-2xx/3xx responses, "sock err" socket errors and timeouts. Before each
run the runner waits (up to 3 minutes) until less than 20% of the CPU time is busy; "busy"
is the highest such sample before a run and "other CPU" the highest share of the machine used
during a run by processes that are not part of it (neither the server, wrk, PostgreSQL nor
Redis), so figures taken on a busy machine can be recognised.

| endpoint | as | status | req/s | range | p50 | p95 | p99 | max | non-2xx | sock err | busy | other CPU |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{http_rows}

## SQL queries per request

Counted in-process with Django's test client and `CaptureQueriesContext` against the same
data (second request, so one-off caches are warm). The count includes the session lookup,
the brand membership check and the transaction-local tenancy settings; it must not grow
with the page size or the page number.

| request | as | status | rows | queries |
|---|---|---|---:|---:|
{query_rows}

## Exact commands

```sh
make bench     # = bash bench/run.sh -> .venv/bin/python bench/run.py
# environment of every step below:
{env}
python manage.py migrate --noinput
python bench/seed.py
python bench/queries.py '<session keys from seed.py>'
{server_cmd} &
{wrk_cmds}
```

Reading the figures: each uvicorn worker runs the synchronous part of every request on one
long-lived thread with one persistent PostgreSQL connection (`retail/asgi_http.py`,
`CONN_MAX_AGE`), i.e. one Django request at a time, so the 16 connections queue on 2 workers
and the median latency is mostly waiting: it is close to connections / throughput (Little's
law). Throughput is the figure to compare; a single request's own time is about
1/(requests/s per worker).
"range" is within one session; on a shared virtual machine, sessions at different times can
differ by more than that (rerun before comparing).

Notes: `DEBUG=false` with the development settings (no HTTPS redirect); the per-user API
throttle is raised (`API_USER_RATE`) so that the API figure measures the endpoint, not 429
responses; sessions are database-backed, so every request also reads `django_session`.
Total wall time of the run: {wall_seconds} s.
"""


def write_report(result: dict) -> Path:
    m, seed = {"code": "unknown", **result["machine"]}, result["seed"]
    http_rows, wrk_cmds = [], []
    for r in result["http"]:
        cells = [f"`GET {r['path']}`", r["as"] or "anonymous", str(r["status"])]
        if r.get("skipped"):
            cells += [f"skipped: {r['skipped']}"] + [""] * 9
        else:
            w = r["wrk"]
            cells += [f"{w['rps']:.1f}", f"{min(r['rps_all']):.0f}–{max(r['rps_all']):.0f}"]
            cells += [f"{w[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
            cells += [
                str(w["non2xx3xx"]),
                str(w["socket_errors"]),
                f"{r['cpu_busy_before']:.0%}",
                f"{r['foreign_cpu']:.0%}",
            ]
            cmd = " ".join(shlex.quote(c) for c in r["cmd"])
            session = r.get("session")
            wrk_cmds.append(cmd.replace(session, "<session key>") if session else cmd)
        http_rows.append("| " + " | ".join(cells) + " |")
    query_rows = []
    for q in result["queries"]:
        status = str(q["status"]) + (f" ({q['error']})" if q["error"] else "")
        rows = "" if q["rows"] is None else str(q["rows"])
        query_rows.append(f"| `GET {q['path']}` | {q['as']} | {status} | {rows} | {q['queries']} |")
    text = REPORT.format(
        **m,
        **{k: seed[k] for k in ("brands", "stores_per_brand", "staff_per_brand", "seed_seconds")},
        n_stores=seed["counts"]["stores"],
        n_staff=seed["counts"]["staff"],
        n_links=seed["counts"]["staff_store_links"],
        n_users=seed["counts"]["users"],
        database=result["database"]["database"],
        role=result["database"]["role"],
        threads=THREADS,
        connections=CONNECTIONS,
        duration=DURATION,
        warmup=WARMUP,
        repeat=REPEAT,
        http_rows="\n".join(http_rows),
        query_rows="\n".join(query_rows),
        env=" ".join(f"{k}={v}" for k, v in result["env"].items()),
        server_cmd=result["server_cmd"],
        wrk_cmds="\n".join(wrk_cmds),
        wall_seconds=result["wall_seconds"],
    )
    path = ROOT / "docs" / "benchmarks.md"
    # The membership, cloud store, red packet and commission sections (bench/members_run.py,
    # bench/cloudstore_run.py, bench/redpackets_run.py, bench/commission.py) have their own runs;
    # keep them as they are.
    old = path.read_text() if path.exists() else ""
    markers = (MEMBERS_MARKER, CLOUDSTORE_MARKER, REDPACKETS_MARKER, COMMISSION_MARKER)
    cuts = [c for c in (old.find(m) for m in markers) if c >= 0]
    cut = min(cuts, default=-1)
    if cut >= 0:
        text = text.rstrip("\n") + "\n\n" + old[cut:]
    path.write_text(text)
    return path


def run_staff() -> None:
    t_start = time.monotonic()
    code = code_revision()
    db_url = bench_database_url()
    db = recreate_database(db_url)
    env_vars = base_env(db_url, redis_url())
    env = {**os.environ, **env_vars}

    sh([PY, "manage.py", "migrate", "--noinput", "-v", "0"], timeout=300, env=env, capture=False)
    seed = sh_json([PY, "bench/seed.py"], timeout=900, env=env)
    log(f"seeded in {seed['seed_seconds']} s: {seed['counts']}")
    sessions = seed["sessions"]
    queries = sh_json([PY, "bench/queries.py", json.dumps(sessions)], timeout=300, env=env)
    for q in queries:
        log(f"queries {q['as']:>13} GET {q['path']}: {q['queries']} (status {q['status']}) {q['error']}")

    server = start_server(env)
    http = []
    try:
        for label, role, path in ENDPOINTS:
            session = sessions[role] if role else None
            status = http_status(path, session)
            entry = {"label": label, "as": role, "path": path, "status": status, "session": session}
            if status != 200:
                entry["skipped"] = f"HTTP {status} before the run"
                log(f"skip GET {path}: HTTP {status}")
                http.append(entry)
                continue
            # REPEAT runs per endpoint; the run with the median throughput is reported,
            # with the range over all runs and the most any other process disturbed them.
            runs = []
            for _ in range(REPEAT):
                busy = wait_for_quiet()
                wrk(path, session, WARMUP, threads=THREADS, connections=CONNECTIONS)
                before, t0 = process_cpu(), time.monotonic()
                cmd, figures, raw = wrk(path, session, DURATION, threads=THREADS, connections=CONNECTIONS)
                foreign = foreign_cpu_share(before, process_cpu(), time.monotonic() - t0, server.pid)
                print(raw, flush=True)
                log(f"{figures['rps']:.1f} req/s; other processes used {foreign:.0%} of the CPU")
                runs.append({"cpu_busy_before": busy, "foreign_cpu": foreign, "cmd": cmd, "wrk": figures})
            runs.sort(key=lambda r: r["wrk"]["rps"])
            entry.update(runs[len(runs) // 2])
            entry["rps_all"] = [r["wrk"]["rps"] for r in runs]
            entry["cpu_busy_before"] = max(r["cpu_busy_before"] for r in runs)
            entry["foreign_cpu"] = max(r["foreign_cpu"] for r in runs)
            http.append(entry)
    finally:
        stop(server)

    result = {
        "machine": {**machine_info(env_vars, db["server_version"]), "code": code_moved(code)},
        "database": db,
        "seed": seed,
        "queries": queries,
        "http": http,
        "env": {k: v for k, v in env_vars.items() if v},
        "server_cmd": server_cmd_text(),
        "wall_seconds": round(time.monotonic() - t_start, 1),
    }
    report = write_report(result)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for r in result["http"]:
        session = r.pop("session", None)
        if session and r.get("cmd"):
            r["cmd"] = [c.replace(session, "<session key>") for c in r["cmd"]]
    result["seed"].pop("sessions", None)
    (results_dir / f"{stamp}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    log(f"wrote {report.relative_to(ROOT)} and bench/results/{stamp}.json in {result['wall_seconds']} s")


PARTS = ("staff", "members", "cloudstore", "redpackets", "commission")


def main(argv: list[str]) -> None:
    """`run.py [staff|members|cloudstore|redpackets|commission|all]` (or BENCH_ONLY=...): which
    benchmarks to run."""
    which = (argv[0] if argv else os.environ.get("BENCH_ONLY", "")) or "all"
    if which not in (*PARTS, "all"):
        raise SystemExit(f"bench: unknown part {which!r}; use one of: {', '.join(PARTS)}, all")
    if which in ("staff", "all"):
        run_staff()
    if which in ("members", "all"):
        import members_run

        members_run.run_members()
    if which in ("cloudstore", "all"):
        import cloudstore_run

        cloudstore_run.run_cloudstore()
    if which in ("redpackets", "all"):
        import redpackets_run

        redpackets_run.run_redpackets()
    if which in ("commission", "all"):
        import commission

        commission.run_commission()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:
        # Rewrite the staff section of docs/benchmarks.md from a saved bench/results/<timestamp>.json.
        write_report(json.loads(Path(sys.argv[2]).read_text()))
    elif sys.argv[1:2] == ["--members-report"]:
        import members_run

        members_run.write_report(json.loads(Path(sys.argv[2]).read_text()))
    elif sys.argv[1:2] == ["--cloudstore-report"]:
        import cloudstore_run

        cloudstore_run.write_report(json.loads(Path(sys.argv[2]).read_text()))
    elif sys.argv[1:2] == ["--redpackets-report"]:
        import redpackets_run

        redpackets_run.write_report(json.loads(Path(sys.argv[2]).read_text()))
    elif sys.argv[1:2] == ["--commission-report"]:
        import commission

        commission.write_report(json.loads(Path(sys.argv[2]).read_text()))
    else:
        main(sys.argv[1:])
