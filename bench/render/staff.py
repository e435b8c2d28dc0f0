"""The staff section of docs/benchmarks.md (the head of the file)."""

from __future__ import annotations

import shlex

REPORT = """\
# Benchmarks

Written by `make bench` (bench/scenarios/staff.py; alone: `python -m bench staff`) from its own
run; do not edit the figures by hand.
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
make bench     # = bash bench/run.sh -> python -m bench (staff alone: python -m bench staff)
# environment of every step below:
{env}
python manage.py migrate --noinput
python -m bench step staff seed
python -m bench step staff queries '<session keys from the seed>'
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


def render(result: dict) -> str:
    m, seed = {"code": "unknown", **result["machine"]}, result["seed"]
    s = {
        "threads": 2,
        "connections": 16,
        "duration": "20s",
        "warmup": "3s",
        "repeat": 3,
        **result.get("settings", {}),
    }
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
            wrk_cmds.append(" ".join(shlex.quote(c) for c in r["cmd"]))
        http_rows.append("| " + " | ".join(cells) + " |")
    query_rows = []
    for q in result["queries"]:
        status = str(q["status"]) + (f" ({q['error']})" if q["error"] else "")
        rows = "" if q["rows"] is None else str(q["rows"])
        query_rows.append(f"| `GET {q['path']}` | {q['as']} | {status} | {rows} | {q['queries']} |")
    return REPORT.format(
        **m,
        **{k: seed[k] for k in ("brands", "stores_per_brand", "staff_per_brand", "seed_seconds")},
        **s,
        n_stores=seed["counts"]["stores"],
        n_staff=seed["counts"]["staff"],
        n_links=seed["counts"]["staff_store_links"],
        n_users=seed["counts"]["users"],
        database=result["database"]["database"],
        role=result["database"]["role"],
        http_rows="\n".join(http_rows),
        query_rows="\n".join(query_rows),
        env=" ".join(f"{k}={v}" for k, v in result["env"].items()),
        server_cmd=result["server_cmd"],
        wrk_cmds="\n".join(wrk_cmds),
        wall_seconds=result["wall_seconds"],
    )
