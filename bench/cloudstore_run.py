"""Cloud store benchmark (`make bench`, or `BENCH_ONLY=cloudstore make bench` / `bash bench/run.sh
cloudstore` alone): checkout races, the shopper's store page, bulk stock updates, on PostgreSQL
under row-level security.

1. Recreates ``retail_bench`` (as bench/run.py does), migrates, seeds the staff data set
   (bench/seed.py) and then bench/cloudstore.py seed: brand bench-a with 2,000 products and
   5,000 SKUs in 20 categories, all listed at store S0001 (the store page), 500 of them at S0002,
   every SKU stocked at 10 more stores; brand bench-b with its own catalogue (the same SKU codes)
   at 5 stores, so row-level security has another brand's rows to keep out; 500 members.
2. Counts SQL queries per store page request (page 1, a deep page, a search, a category; the
   500-SKU store; brand B) and times each page in-process (Django test client).
3. Checkout race: 500 checkouts of 1 unit of a fresh SKU with 100 units, each for a distinct
   member, from BENCH_RACE_WORKERS (16) processes released by one barrier, each process with its
   own database connection; the winners are then paid through the simulated provider and the
   stock, orders, payments and movements are checked. BENCH_RACE_RUNS (3) runs, then one run at
   each worker count of BENCH_RACE_SWEEP (2,8) for comparison.
4. uvicorn (2 workers) on 127.0.0.1:8001; wrk at -c1, -c2 and -c16 against the store page: page
   1, a deep page, a search and a category.
5. Bulk stock updates: POST /api/v1/inventory/bulk/ with 50,000 rows (10 stores x 5,000 SKUs) as
   the brand admin's session (+ CSRF cookie and header), 3 first loads (every row created, each
   on its own 10 stores) and 3 second loads (the same rows, all updated); every row written is
   then checked against the formulas in bench/cloudstore_data.py.
6. Writes the cloud store section of docs/benchmarks.md and bench/results/<stamp>-cloudstore.json.

Environment as bench/run.py, plus BENCH_CLOUDSTORE_DURATION (5s), BENCH_CLOUDSTORE_REPEAT (3),
BENCH_CLOUDSTORE_CONNECTIONS ("1,2,16"), BENCH_CS_VIEW_REQUESTS (200), BENCH_RACE_WORKERS (16),
BENCH_RACE_RUNS (3), BENCH_RACE_SWEEP ("2,8"; empty: none), BENCH_BULK_RUNS (3),
BENCH_BULK_REPEAT_LIMIT (60: a load slower than this many seconds is not repeated). Redis:
database 10 of the local server (BENCH_CLOUDSTORE_REDIS_URL): the cache (the simulated payment
provider's records, the API throttle) is the benchmark's own.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import cloudstore_data as data
from common import (
    CLOUDSTORE_MARKER,
    COMMISSION_MARKER,
    HOST,
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
    http_status,
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
from members_run import csrf_secret

DURATION = os.environ.get("BENCH_CLOUDSTORE_DURATION", "5s")
WARMUP = "2s"
REPEAT = int(os.environ.get("BENCH_CLOUDSTORE_REPEAT", 3))
# 1: a request's own latency; 2: one per uvicorn worker; 16: busy (queueing on 2 workers).
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CLOUDSTORE_CONNECTIONS", "1,2,16").split(",")]
THREADS = 2
VIEW_REQUESTS = int(os.environ.get("BENCH_CS_VIEW_REQUESTS", 200))
RACE_WORKERS = int(os.environ.get("BENCH_RACE_WORKERS", 16))
RACE_RUNS = int(os.environ.get("BENCH_RACE_RUNS", 3))
RACE_SWEEP = [int(w) for w in os.environ.get("BENCH_RACE_SWEEP", "2,8").split(",") if w.strip()]
BULK_RUNS = int(os.environ.get("BENCH_BULK_RUNS", 3))
BULK_PATH = "/api/v1/inventory/bulk/"
# A harmless valid request: a stock row of 0 at a store nothing else uses.
BULK_PROBE = {"reason": "bench probe", "rows": [{"store": "S0200", "sku": data.sku_code(0), "on_hand": 0}]}
TARGET_PAGE_P95_MS = 100.0
BULK_TARGET_S = 30.0
# A load slower than this is not repeated (the benchmark stays within about 10 minutes).
BULK_REPEAT_LIMIT_S = float(os.environ.get("BENCH_BULK_REPEAT_LIMIT", 2 * BULK_TARGET_S))
QUIET_WINDOW = 1.0  # seconds per busy sample before a run (the other benchmarks: 3)
# Waiting for an idle machine is bounded per run (3 minutes) and, here, over the whole benchmark:
# once this many seconds have been spent waiting, runs start after one sample (still recorded).
QUIET_BUDGET = [float(os.environ.get("BENCH_CS_QUIET_BUDGET", 120))]
RESULTS = ROOT / "bench" / "results"
DB_URL = [""]  # the benchmark database, set by run_cloudstore() (the wrk runs sample it)


def cloudstore_redis_url() -> str:
    explicit = os.environ.get("BENCH_CLOUDSTORE_REDIS_URL")
    if explicit is not None:
        return explicit
    base = redis_url()
    return urlunsplit(urlsplit(base)._replace(path="/10")) if base else ""


def quiet() -> float:
    """wait_for_quiet() within what is left of QUIET_BUDGET; the busy share before the run."""
    t0 = time.monotonic()
    busy = wait_for_quiet(window=QUIET_WINDOW, seconds=min(180.0, max(0.0, QUIET_BUDGET[0])))
    QUIET_BUDGET[0] -= time.monotonic() - t0 - QUIET_WINDOW
    return busy


def median_of(values: list[float]) -> float:
    s = sorted(values)
    return s[len(s) // 2] if s else 0.0


# --- the store page ---------------------------------------------------------------------------


def page_cases(seed: dict) -> tuple[list[list[str]], list[list[str]]]:
    """(every page counted and timed in-process, the pages wrk loads)."""
    per_page = seed["per_page"]
    deep = max(1, seed["products_shown"]["big"] // per_page)
    small_deep = max(1, seed["products_shown"]["small"] // per_page)
    big = f"/c/bench-a/{data.store_code(data.BIG_STORE)}/"
    small = f"/c/bench-a/{data.store_code(data.SMALL_STORE)}/"
    wrk_cases = [
        ["page 1", big],
        [f"deep page ({deep} of {-(-seed['products_shown']['big'] // per_page)})", f"{big}?page={deep}"],
        [f"search “{seed['search_word']}”", f"{big}?q={quote(seed['search_word'])}"],
        [f"category “{seed['category']['name']}”", f"{big}?category={seed['category']['id']}"],
    ]
    counted = [
        *wrk_cases,
        ["500-SKU store, page 1", small],
        [f"500-SKU store, page {small_deep}", f"{small}?page={small_deep}"],
        ["brand B's S0001, page 1", f"/c/bench-b/{data.store_code(data.BIG_STORE)}/"],
    ]
    return counted, wrk_cases


def wrk_series(label: str, path: str, connections: int, server_pid: int, env: dict) -> dict:
    """REPEAT runs (each after a quiet machine, the first after a warm-up); the run with the
    median throughput is kept, with the range and every run's p95."""
    runs = []
    common = {"threads": min(THREADS, connections), "connections": connections, "env": env}
    for i in range(REPEAT):
        busy = quiet()
        if i == 0:  # the runs of a series follow each other: one warm-up
            wrk(path, None, WARMUP, **common)
        before, t0 = process_cpu(), time.monotonic()
        with ConnectionSampler(DB_URL[0]) as sampler, DuringRun(worker_connections) as split:
            cmd, figures, raw = wrk(path, None, DURATION, **common)
        foreign = foreign_cpu_share(before, process_cpu(), time.monotonic() - t0, server_pid)
        figures["worker_split"] = split.value
        figures["db_connections_peak"] = sampler.peak
        print(raw, flush=True)
        log(f"{label} -c{connections}: {figures['rps']:.1f} req/s, p95 {figures['p95_ms']:.1f} ms")
        runs.append({"cpu_busy_before": busy, "foreign_cpu": foreign, "cmd": cmd, "wrk": figures})
    runs.sort(key=lambda r: r["wrk"]["rps"])
    entry = {"label": label, "path": path, "connections": connections}
    entry.update(runs[len(runs) // 2])
    entry["rps_all"] = [r["wrk"]["rps"] for r in runs]
    entry["p95_all"] = [r["wrk"]["p95_ms"] for r in runs]
    entry["split_all"] = [r["wrk"].get("worker_split") for r in runs]
    entry["cpu_busy_before"] = max(r["cpu_busy_before"] for r in runs)
    entry["foreign_cpu"] = max(r["foreign_cpu"] for r in runs)
    entry["db_connections_peak"] = max(r["wrk"]["db_connections_peak"] for r in runs)
    return entry


# --- bulk stock updates -----------------------------------------------------------------------------


def bulk_post(body: bytes, session: str, csrf: str) -> dict:
    """One bulk update through the running server, timed from sending until the answer is read."""
    headers = {
        "Cookie": f"sessionid={session}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
    }
    conn = http.client.HTTPConnection(HOST, PORT, timeout=300)
    t0 = time.monotonic()
    try:
        conn.request("POST", BULK_PATH, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        seconds = time.monotonic() - t0
    finally:
        conn.close()
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {"raw": raw[:300].decode(errors="replace")}
    return {"status": resp.status, "answer": answer, "seconds": round(seconds, 2)}


def bulk_loads(session: str, csrf: str, server_pid: int, env: dict) -> tuple[list[dict], list, dict]:
    """BULK_RUNS first loads (creates), a check of what they wrote, BULK_RUNS second loads (updates)
    of the same rows; a phase whose run took longer than BULK_REPEAT_LIMIT_S is not repeated.
    Returns (the loads, the check after the first loads, {load: phases done})."""
    done: dict[int, list[str]] = {}
    runs: list[dict] = []
    for phase in ("create", "update"):
        for load in range(BULK_RUNS):
            if phase == "update" and "create" not in done.get(load, []):
                continue
            slow = [
                r
                for r in runs
                if r["phase"] == phase and not r.get("skipped") and r["seconds"] > BULK_REPEAT_LIMIT_S
            ]
            if slow:
                runs.append(
                    {
                        "load": load,
                        "phase": phase,
                        "skipped": f"not repeated: run {slow[0]['load'] + 1} took {slow[0]['seconds']} s "
                        f"(> {BULK_REPEAT_LIMIT_S:.0f} s)",
                    }
                )
                continue
            r = bulk_load(load, phase, session, csrf, server_pid)
            runs.append(r)
            if r["status"] == 200:
                done.setdefault(load, []).append(phase)
        if phase == "create":
            first = {k: ["create"] for k in done}
            verify_first = (
                sh_json([PY, "bench/cloudstore.py", "bulk-verify", json.dumps(first)], timeout=300, env=env)
                if first
                else []
            )
    return runs, verify_first, done


def bulk_load(load: int, phase: str, session: str, csrf: str, server_pid: int) -> dict:
    body = data.bulk_body(load, phase)
    rows = len(data.bulk_stores(load)) * data.N_SKUS
    busy = quiet()
    before, t0 = process_cpu(), time.monotonic()
    with ConnectionSampler(DB_URL[0]) as sampler:
        r = bulk_post(body, session, csrf)
    foreign = foreign_cpu_share(before, process_cpu(), time.monotonic() - t0, server_pid)
    stores = data.bulk_stores(load)
    r.update(
        {
            "load": load,
            "phase": phase,
            "stores": f"{stores[0]}–{stores[-1]}",
            "rows": rows,
            "bytes": len(body),
            "rows_per_s": round(rows / r["seconds"]) if r["seconds"] else 0,
            "cpu_busy_before": busy,
            "foreign_cpu": foreign,
            "db_connections_peak": sampler.peak,
        }
    )
    log(f"bulk {phase} load {load}: HTTP {r['status']} in {r['seconds']} s ({r['rows_per_s']} rows/s)")
    log(f"answer: {r['answer']}")
    return r


# --- main -------------------------------------------------------------------------------------------


def run_cloudstore() -> dict:
    t_start = time.monotonic()
    code = code_revision()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    db_url = bench_database_url()
    db = recreate_database(db_url)
    db["max_connections"] = pg_setting(db_url, "max_connections")
    DB_URL[0] = db_url
    env_vars = base_env(db_url, cloudstore_redis_url())
    env = {**os.environ, **env_vars}
    if env_vars["REDIS_URL"]:
        sh(["redis-cli", "-u", env_vars["REDIS_URL"], "flushdb"], timeout=30)  # the bench's own database

    sh([PY, "manage.py", "migrate", "--noinput", "-v", "0"], timeout=300, env=env, capture=False)
    staff_seed = sh_json([PY, "bench/seed.py"], timeout=900, env=env)
    sessions = staff_seed["sessions"]
    log(f"staff seeded in {staff_seed['seed_seconds']} s")
    seed = sh_json([PY, "bench/cloudstore.py", "seed"], timeout=900, env=env)
    log(f"cloud store seeded in {seed['seed_seconds']} s: {seed['counts']}, shown {seed['products_shown']}")
    counted, wrk_cases = page_cases(seed)

    queries = sh_json([PY, "bench/cloudstore.py", "queries", json.dumps(counted)], timeout=300, env=env)
    for q in queries:
        log(f"queries {q['label']}: {q['queries']} (status {q['status']}, {q['products_shown']} products)")
    busy = quiet()
    before, t0 = process_cpu(), time.monotonic()
    view_times = sh_json(
        [PY, "bench/cloudstore.py", "view-times", json.dumps(counted), str(VIEW_REQUESTS)],
        timeout=900,
        env=env,
    )
    view_meta = {
        "cpu_busy_before": busy,
        "foreign_cpu": foreign_cpu_share(before, process_cpu(), time.monotonic() - t0, os.getpgid(0)),
    }
    for v in view_times:
        log(f"in-process {v['label']}: p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms")

    # Checkout races (no server: the workers call the checkout service directly).
    races = []
    plan = [(run, RACE_WORKERS) for run in range(1, RACE_RUNS + 1)]
    plan += [(RACE_RUNS + 1 + i, w) for i, w in enumerate(RACE_SWEEP)]
    for run, workers in plan:
        busy = quiet()
        before, t0 = process_cpu(), time.monotonic()
        with ConnectionSampler(db_url) as sampler:
            r = sh_json([PY, "bench/cloudstore.py", "race", str(run), str(workers)], timeout=600, env=env)
        r["foreign_cpu"] = foreign_cpu_share(before, process_cpu(), time.monotonic() - t0, os.getpgid(0))
        r["cpu_busy_before"] = busy
        r["db_connections_peak"] = sampler.peak
        r["sweep"] = run > RACE_RUNS
        log(
            f"race {run} ({workers} processes): {r['won']} won, {r['refused']} refused, {r['errors']} errors "
            f"in {r['race_s']} s = {r['checkouts_per_s']} checkouts/s; checks ok: {r['all_ok']}"
        )
        races.append(r)

    csrf = csrf_secret()
    session = sessions["brand_admin"]
    http: list[dict] = []
    bulk: list[dict] = []
    verify_first: list[dict] = []
    done: dict[int, list[str]] = {}
    server_log = RESULTS / f"{stamp}-cloudstore-uvicorn.log"
    server = start_server(env, server_log)
    try:
        for label, path in wrk_cases:
            status = http_status(path, None)
            if status != 200:
                log(f"skip GET {path}: HTTP {status}")
                http.append({"label": label, "path": path, "skipped": f"HTTP {status} before the run"})
                continue
            for c in CONNECTIONS:
                http.append(wrk_series(label, path, c, server.pid, env))
        # Bulk loads through the endpoint, as a session-authenticated client with CSRF.
        probe = bulk_post(json.dumps(BULK_PROBE).encode(), session, csrf)
        log(f"bulk endpoint probe: HTTP {probe['status']} {probe['answer']}")
        if probe["status"] == 200:
            bulk, verify_first, done = bulk_loads(session, csrf, server.pid, env)
    finally:
        stop(server)
    bulk_server = {"probe": probe}
    second = {k: phases for k, phases in done.items() if "update" in phases}
    verify_second = (
        sh_json([PY, "bench/cloudstore.py", "bulk-verify", json.dumps(second)], timeout=300, env=env)
        if second
        else []
    )
    for v in verify_first + verify_second:
        log(f"bulk check load {v['load']} after {'+'.join(v['phases'])}: ok {v['ok']}")

    result = {
        "machine": {**machine_info(env_vars, db["server_version"]), "code": code_moved(code)},
        "database": db,
        "staff_seed": {k: v for k, v in staff_seed.items() if k != "sessions"},
        "seed": seed,
        "queries": queries,
        "view_times": view_times,
        "view_meta": view_meta,
        "races": races,
        "http": http,
        "bulk": bulk,
        "bulk_server": bulk_server,
        "bulk_verify": {"after_first": verify_first, "after_second": verify_second},
        "env": {k: v for k, v in env_vars.items() if v},
        "server_cmd": server_cmd_text(),
        "settings": {
            "duration": DURATION,
            "warmup": WARMUP,
            "repeat": REPEAT,
            "connections": CONNECTIONS,
            "threads": THREADS,
            "view_requests": VIEW_REQUESTS,
            "race_workers": RACE_WORKERS,
            "race_runs": RACE_RUNS,
            "race_sweep": RACE_SWEEP,
            "bulk_runs": BULK_RUNS,
            "bulk_repeat_limit_s": BULK_REPEAT_LIMIT_S,
        },
        "wall_seconds": round(time.monotonic() - t_start, 1),
    }
    report = write_report(result)
    path = RESULTS / f"{stamp}-cloudstore.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    log(f"wrote {report.relative_to(ROOT)} and {path.relative_to(ROOT)} in {result['wall_seconds']} s")
    return result


# --- report -----------------------------------------------------------------------------------------


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def split_text(split) -> str:
    return "+".join(str(n) for n in split) if split else "?"


def write_report(result: dict) -> Path:
    path = ROOT / "docs" / "benchmarks.md"
    old = path.read_text() if path.exists() else ""
    # The red packet section (bench/redpackets_run.py) follows this one; keep it as it is.
    tail_cut = min(
        (c for c in (old.find(REDPACKETS_MARKER), old.find(COMMISSION_MARKER)) if c >= 0), default=-1
    )
    tail = old[tail_cut:] if tail_cut >= 0 else ""
    old = old[:tail_cut] if tail_cut >= 0 else old
    cut = old.find(CLOUDSTORE_MARKER)
    head = (old[:cut] if cut >= 0 else old).rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + render(result) + ("\n" + tail if tail else ""))
    return path


def _range(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}" if values else ""


def render(r: dict) -> str:
    m, seed, s = r["machine"], r["seed"], r["settings"]
    c = seed["counts"]
    lines = [
        CLOUDSTORE_MARKER,
        "",
        "## Cloud store",
        "",
        "Written by `make bench` (bench/cloudstore_run.py; alone: `BENCH_ONLY=cloudstore make bench`)",
        "from its own run; do not edit the figures by hand.",
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
        f"On top of the staff data set (2 brands × 200 stores, seeded by bench/seed.py): each brand has "
        f"{seed['products_per_brand']:,} products in 20 categories with {seed['skus_per_brand']:,} SKUs "
        "(2 or 3 per product, a photo on every other product); brand `bench-b` uses the same SKU codes "
        f"and its product names are marked, so its rows sit in the same tables as `bench-a`'s. Stock: "
        f"`bench-a` store S0001 lists all {seed['listed']['big']:,} SKUs ({seed['products_shown']['big']:,} "
        f"products on its page), S0002 {seed['listed']['small']:,} SKUs "
        f"({seed['products_shown']['small']:,} products), {seed['other_full_stores']} more stores all "
        f"SKUs; `bench-b` {seed['brand_b_full_stores']} stores all of its SKUs. 1 row in 20 has no stock, "
        f"1 in 4 a store price. Rows: {c['products']:,} products, {c['skus']:,} SKUs, "
        f"{c['inventory']:,} stock rows, {c['product_images']:,} photos, {c['members']} members (the "
        f"race's shoppers). Seeded with `bulk_create` inside one audited "
        f'`rls_bypass(reason="bench seed cloudstore")` in {seed["seed_seconds"]} s (most of it the '
        "commit's deferred same-brand foreign-key checks), then `ANALYZE`. Data formulas: "
        "bench/cloudstore_data.py.",
        "",
    ]
    lines += render_race(r)
    lines += render_page(r)
    lines += render_bulk(r)
    lines += [
        "### Exact commands",
        "",
        "```sh",
        "BENCH_ONLY=cloudstore make bench  # = bash bench/run.sh cloudstore = python bench/run.py cloudstore",
        "# environment of every step below:",
        " ".join(f"{k}={v}" for k, v in r["env"].items()),
        "python manage.py migrate --noinput",
        "python bench/seed.py",
        "python bench/cloudstore.py seed",
        "python bench/cloudstore.py queries '<the pages above>'",
        f"python bench/cloudstore.py view-times '<the pages above>' {s['view_requests']}",
    ]
    for race in r["races"]:
        lines.append(f"python bench/cloudstore.py race {race['run']} {race['workers']}")
    lines.append(f"{r['server_cmd']} &")
    for h in r["http"]:
        if h.get("cmd"):
            lines.append(" ".join(shlex.quote(x) for x in h["cmd"]))
    lines += [
        f"# {len(r['bulk'])} x POST {BULK_PATH} (bench/cloudstore_run.py: http.client, brand admin)",
        "python bench/cloudstore.py bulk-verify '<loads and phases>'",
        "```",
        "",
        f"Total wall time of the cloud store run: {r['wall_seconds']} s.",
        "",
    ]
    return "\n".join(lines)


def render_race(r: dict) -> list[str]:
    races = [x for x in r["races"] if not x["sweep"]]
    sweep = [x for x in r["races"] if x["sweep"]]
    if not races:
        return []
    first = races[0]
    rates = [x["checkouts_per_s"] for x in races]
    times = [x["race_s"] for x in races]
    med = sorted(races, key=lambda x: x["checkouts_per_s"])[len(races) // 2]
    lines = [
        f"### {first['checkouts']} concurrent checkouts racing for {first['stock']} units of one SKU",
        "",
        f"Each run puts a fresh SKU with {first['stock']} units at store {first['store']}; "
        f"{first['checkouts']} checkouts of 1 unit, each for a distinct member "
        '(`cloudstore.services.checkout.checkout(..., fulfilment="pickup")`, its own checkout key), '
        f"are made by {first['workers']} worker processes (fork after `django.setup()`, each with its own "
        "PostgreSQL connection opened beforehand) released together by a `multiprocessing.Barrier`; "
        "each process makes its share one after the other, so the database sees "
        f"{first['workers']} concurrent transactions. The race time runs from the release until the last "
        "checkout returned; an out-of-stock refusal is the service's `ValidationError` with code "
        "`out_of_stock`. Then the winners are paid one after the other from the parent process the way "
        "tests/cloudstore/conftest.py `pay()` does (`payment_start` → simulated provider `settle` → "
        "`signed_notice` → `parse_notice` → `payment_notice`), and the database is checked.",
        "",
        f"**{med['checkouts_per_s']} checkouts/s** (median of {len(races)} runs; range "
        f"{_range(rates, '{:.1f}')}), race time median {median_of(times):.2f} s (range "
        f"{_range(times, '{:.2f}')}).",
        "",
        "| run | processes | race time | checkouts/s | succeeded | refused (code) | other errors "
        "| last win / first refusal at | checkout p50 / p95 / max (ms) | pay winners | payments/s "
        "| DB conns | busy | other CPU | all checks |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for x in races + sweep:
        lat = x["latency_ms"]
        codes = ", ".join(f"{k}: {v}" for k, v in x["refusal_codes"].items()) or "none"
        lines.append(
            f"| {x['run']}{' (sweep)' if x['sweep'] else ''} | {x['workers']} | {x['race_s']:.2f} s | "
            f"{x['checkouts_per_s']} | {x['won']} | {x['refused']} ({codes}) | {x['errors']} | "
            f"{x['last_win_s']:.2f} s / {x['first_refusal_s']:.2f} s | "
            f"{lat['all_p50']} / {lat['all_p95']} / {lat['all_max']} | "
            f"{x['pay_s']} s | {x['payments_per_s']} | {x['db_connections_peak']} | "
            f"{x['cpu_busy_before']:.0%} | {x['foreign_cpu']:.0%} | {yes(x['all_ok'])} |"
        )
    lines += [
        "",
        '"last win / first refusal at": when the last successful and the first refused checkout '
        "returned, counted from the release (a checkout is refused only once every unit is reserved). "
        "Checkout latencies include the wait for the other processes (on 2 CPUs) and for the stock "
        'row\'s lock. "sweep" rows are single runs at other process counts, for comparison. '
        '"pay winners": the 100 payments one after the other in one process. "DB conns": the most '
        "connections the benchmark database had (sampled every 50 ms).",
        "",
        "Checked after every run (assert-and-print, not a test):",
        "",
    ]
    names = list(first["checks"])
    lines += [
        "| check | " + " | ".join(str(x["run"]) for x in races + sweep) + " |",
        "|---|" + "---|" * len(races + sweep),
    ]
    for name in names:
        lines.append(
            f"| {name} | " + " | ".join(yes(x["checks"].get(name, False)) for x in races + sweep) + " |"
        )
    after = first["after"]
    lines += [
        "",
        f"Run {first['run']} in numbers: on hand {after['on_hand']}, reserved {after['reserved']}, "
        f"{after['orders']} orders ({after['paid']} paid, {after['payments_succeeded']} succeeded payments, "
        f"{after['order_lines']} lines), stock movements {after['movements']}, stock rows of any brand with "
        f"on hand < reserved: {after['bad_stock_rows']}.",
        "",
    ]
    return lines


def render_page(r: dict) -> list[str]:
    s, q, v = r["settings"], r["queries"], r["view_times"]
    counts = {x["queries"] for x in q if x["status"] == 200}
    lines = [
        "### Store page of a store with 5,000 SKUs (target: p95 under 100 ms server time, constant queries)",
        "",
        "The shopper's page `shop-store` (`/c/<brand>/<store>/`, 24 products a page, anonymous shopper, "
        "no session). Queries per request: Django's test client and `CaptureQueriesContext`, second "
        'request of each page; "SQL ms" is the sum of the queries\' times as Django measured them, '
        '"slowest" the slowest query. "own brand only": every product the page shows belongs to the '
        "page's brand.",
        "",
        "| page | path | status | products shown | queries | SQL ms | slowest query ms | own brand only |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for x in q:
        lines.append(
            f"| {x['label']} | `{x['path']}` | {x['status']} | {x['products_shown']} | {x['queries']} | "
            f"{x['sql_ms']} | {x['slowest_ms']} | {yes(x['own_brand_only'])} |"
        )
    lines += [
        "",
        f"Same query count on every page (5,000-SKU vs 500-SKU store, page 1 vs deep page, search, "
        f"category, other brand): {yes(len(counts) == 1)} ({', '.join(str(n) for n in sorted(counts))}).",
        "",
        f"**Server time, in-process:** {s['view_requests']} requests per page one after the other through "
        "Django's test client (middleware, view, template, SQL; no ASGI server, no network, no "
        "wrk), after 5 warm-up requests; milliseconds. Busy before: "
        f"{r['view_meta']['cpu_busy_before']:.0%}, other processes during: "
        f"{r['view_meta']['foreign_cpu']:.0%}.",
        "",
        "| page | requests | mean | p50 | p95 | p99 | max | p95 < 100 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for x in v:
        lines.append(
            f"| {x['label']} | {x['requests']} | {x['mean_ms']} | {x['p50_ms']} | {x['p95_ms']} | "
            f"{x['p99_ms']} | {x['max_ms']} | "
            f"{yes(x['p95_ms'] < TARGET_PAGE_P95_MS and x['statuses'] == [200])} |"
        )
    lines += [
        "",
        f"**Through HTTP:** `wrk -t{s['threads']} -c<N> -d{s['duration']} --latency -s bench/report.lua` "
        f"(`-t1` for `-c1`) against uvicorn with 2 workers on the same machine, {s['repeat']} runs per row, "
        f"the first after a {s['warmup']} warm-up, each after waiting for an idle machine; the row is the "
        'run with the median throughput, "range" the lowest and highest requests/s, "p95 runs" every '
        "run's p95, \"split runs\" how wrk's connections fell on the 2 workers in each run. At `-c1` "
        "the latency is one request's own time through the server; at `-c16` requests queue on the 2 "
        "workers and the latency is mostly waiting (about connections / throughput).",
        "",
        "| page | conns | req/s | range | p50 | p95 | p99 | max | p95 runs | split runs | non-2xx "
        "| sock err | DB conns | busy | other CPU | p95 < 100 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for h in r["http"]:
        if h.get("skipped"):
            lines.append(f"| {h['label']}: `{h['path']}` | | skipped: {h['skipped']} |" + " |" * 13)
            continue
        w = h["wrk"]
        lines.append(
            f"| {h['label']}: `{h['path']}` | {h['connections']} | {w['rps']:.1f} | "
            f"{_range(h['rps_all'])} | {w['p50_ms']:.1f} | {w['p95_ms']:.1f} | {w['p99_ms']:.1f} | "
            f"{w['max_ms']:.1f} | {' / '.join(f'{p:.0f}' for p in h['p95_all'])} | "
            f"{' / '.join(split_text(x) for x in h['split_all'])} | {w['non2xx3xx']} | "
            f"{w['socket_errors']} | {h['db_connections_peak']} | {h['cpu_busy_before']:.0%} | "
            f"{h['foreign_cpu']:.0%} | {yes(w['p95_ms'] < TARGET_PAGE_P95_MS)} |"
        )
    lines.append("")
    return lines


def render_bulk(r: dict) -> list[str]:
    bulk, srv = r["bulk"], r["bulk_server"]
    rows = len(data.bulk_stores(0)) * data.N_SKUS
    probe = srv["probe"]
    lines = [
        f"### Bulk stock update of {rows:,} rows through the API (target: under 30 s)",
        "",
        f'`POST {BULK_PATH}` with `{{"reason": ..., "rows": [{{"store", "sku", "on_hand", '
        '"price_fen"?, "low_stock_at"?}, ...]}` as the brand admin\'s session (session cookie, CSRF '
        f"cookie and `X-CSRFToken` header), {rows:,} rows = {data.BULK_STORES_PER_LOAD} stores × "
        f"{data.N_SKUS:,} SKUs by code, 1 in 3 rows with a store price and 1 in 5 with a low-stock level "
        'on the first load; on the second 1 in 8 prices set back to null ("the brand\'s price"), 1 in 8 '
        "changed, 1 in 6 low-stock levels. Sent with Python's `http.client` to the running uvicorn, "
        "one request at a time; the time runs from sending the request until the answer is read "
        '(building the JSON body is not counted). "first load": stores with no stock rows yet, so '
        'every row is created; "second load": the same rows again, all updated. A load that takes '
        f"longer than {r['settings']['bulk_repeat_limit_s']:.0f} s is not repeated.",
        "",
    ]
    answer = json.dumps(probe["answer"], ensure_ascii=False)[:200]
    if probe["status"] == 200:
        lines += [f"The endpoint took the one-row probe (HTTP {probe['status']}).", ""]
    else:
        lines += [f"**The endpoint refused a valid one-row probe:** HTTP {probe['status']} `{answer}`.", ""]
    if not bulk:
        return [*lines, "No load ran.", ""]
    lines += [
        "| load | stores | rows | body | status | created | updated | time | rows/s | DB conns | busy "
        "| other CPU | under 30 s |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for b in bulk:
        name = f"{'first' if b['phase'] == 'create' else 'second'} ({b['phase']}s), {b['load'] + 1}"
        if b.get("skipped"):
            lines.append(f"| {name} | | | | {b['skipped']} |" + " |" * 8)
            continue
        a = b["answer"] if isinstance(b["answer"], dict) else {}
        status = str(b["status"])
        if b["status"] != 200:
            status += " " + json.dumps(a, ensure_ascii=False)[:120]
        lines.append(
            f"| {name} | {b['stores']} | {b['rows']:,} | {b['bytes'] / 1e6:.1f} MB | {status} | "
            f"{a.get('created', '')} | {a.get('updated', '')} | {b['seconds']} s | {b['rows_per_s']:,} | "
            f"{b['db_connections_peak']} | {b['cpu_busy_before']:.0%} | {b['foreign_cpu']:.0%} | "
            f"{yes(b['status'] == 200 and b['seconds'] < BULK_TARGET_S)} |"
        )
    lines.append("")
    for phase, name in (("create", "First load"), ("update", "Second load")):
        runs = [b for b in bulk if b["phase"] == phase and not b.get("skipped")]
        if runs:
            secs = [b["seconds"] for b in runs]
            med = sorted(runs, key=lambda b: b["seconds"])[len(runs) // 2]
            lines.append(
                f"- **{name}:** median {med['seconds']} s of {len(runs)} run(s) (range "
                f"{_range(secs, '{:.2f}')} s), {med['rows_per_s']:,} rows/s."
            )
    v = r["bulk_verify"]
    lines += [
        "",
        "Checked in the database afterwards, every row of every load against the formulas "
        "(bench/cloudstore_data.py): the number of stock rows of the load's stores, each row's on hand, "
        "store price and low-stock level, and the `import` stock movements (one per row whose on hand "
        "changed).",
        "",
        "| load | after | stores | stock rows (expected) | rows with other values | movements (expected) "
        "| ok |",
        "|---:|---|---|---:|---:|---:|---|",
    ]
    for x in v["after_first"] + v["after_second"]:
        lines.append(
            f"| {x['load'] + 1} | {' + '.join(x['phases'])} | {x['stores']} | {x['rows']:,} "
            f"({x['rows_expected']:,}) | {x['mismatches']} | {x['movements']:,} "
            f"({x['movements_expected']:,}) | {yes(x['ok'])} |"
        )
    checked = v["after_second"] or v["after_first"]
    sample = checked[0]["samples"][:3] if checked else []
    if sample:
        lines += [
            "",
            "A sample (store, SKU: expected = found (on hand, store price, low-stock level)): "
            + "; ".join(
                f"{x['store']} {x['sku']}: {tuple(x['want'])} = {tuple(x['have'] or ())}" for x in sample
            )
            + ".",
        ]
    lines.append("")
    return lines
