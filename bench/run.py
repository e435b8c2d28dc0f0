"""Benchmark runner (`make bench`): seed, count queries, load-test with wrk, write the report.

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
import platform
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST, PORT = "127.0.0.1", 8001
BASE = f"http://{HOST}:{PORT}"
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


def log(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


def sh(cmd: list[str], *, timeout: float, env: dict | None = None, capture: bool = True) -> str:
    """Run a command with a time limit; return stdout, raise on failure."""
    log("$ " + " ".join(shlex.quote(c) for c in cmd))
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench: command failed with exit {proc.returncode}: {cmd[:3]}")
    return proc.stdout or ""


def bench_database_url() -> str:
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL") or "postgres://retail@127.0.0.1:5432/retail"
    parts = urlsplit(base)
    if parts.scheme not in ("postgres", "postgresql", "pgsql", "psql"):
        raise SystemExit(
            "bench: DATABASE_URL must point at PostgreSQL "
            "(the bench needs row-level security and real concurrency)"
        )
    return urlunsplit(parts._replace(path="/retail_bench"))


def pg_connect(url: str, dbname: str | None = None):
    import psycopg2

    p = urlsplit(url)
    conn = psycopg2.connect(
        host=p.hostname or "127.0.0.1",
        port=p.port or 5432,
        user=p.username or None,
        password=p.password or None,
        dbname=dbname or p.path.lstrip("/"),
        connect_timeout=10,
    )
    conn.autocommit = True
    return conn


def recreate_database(url: str) -> dict:
    """Drop and create the bench database as the app role; refuse superusers and test DBs."""
    name = urlsplit(url).path.lstrip("/")
    if not name or name.startswith("test_") or name in ("retail", "postgres"):
        raise SystemExit(f"bench: refusing to use database {name!r}: the bench needs its own (retail_bench)")
    conn = pg_connect(url, dbname="postgres")
    with conn.cursor() as cur:
        cur.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        role, superuser, bypass = cur.fetchone()
        if superuser or bypass:
            raise SystemExit(
                f"bench: role {role!r} is a superuser or BYPASSRLS: row-level security "
                "would not apply. Use the app's ordinary role (see .ci/run)."
            )
        cur.execute("SHOW server_version")
        server_version = cur.fetchone()[0]
        log(f"recreating database {name} owned by {role}")
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return {"role": role, "database": name, "server_version": server_version}


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if url:
        return url
    try:
        out = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if out.stdout.strip() == "PONG":
            return "redis://127.0.0.1:6379/0"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ""


def http_status(path: str, session: str | None) -> int:
    req = urllib.request.Request(BASE + path)
    if session:
        req.add_header("Cookie", f"sessionid={session}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields), idle


def cpu_busy(window: float = 3.0) -> float:
    """Share of all CPUs busy over the next ``window`` seconds (0..1; -1 if unknown)."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(window)
        total1, idle1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return -1.0
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


OWN_COMMANDS = {"wrk", "postgres", "redis-server"}


def process_cpu() -> dict[int, tuple[str, int, int]]:
    """pid -> (command, process group, CPU ticks used so far) for every process."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        out[int(stat.parent.name)] = (comm, int(fields[2]), int(fields[11]) + int(fields[12]))
    return out


def foreign_cpu_share(before: dict, after: dict, seconds: float, server_pgid: int) -> float:
    """Share of the machine's CPU used during a run by processes that are not part of it.

    Part of it: the server's process group, this runner, wrk, PostgreSQL and Redis.
    Anything else (a test suite, a browser, a build) competes with the benchmark.
    """
    mine = {os.getpid()}
    ticks = 0
    for pid, (comm, pgid, used) in after.items():
        if pid in mine or pgid == server_pgid or comm in OWN_COMMANDS:
            continue
        ticks += used - before.get(pid, (comm, pgid, 0))[2]
    capacity = seconds * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    return max(ticks, 0) / capacity


def wait_for_quiet(limit: float = 0.2, seconds: float = 180) -> float:
    """Wait (bounded) until the machine is mostly idle; return the last busy share.

    The benchmark shares the machine with whatever else runs; its figures are only
    comparable when nothing else is busy, and the report records the value either way.
    """
    deadline = time.monotonic() + seconds
    busy = cpu_busy()
    while busy >= limit and time.monotonic() < deadline:
        busy = cpu_busy()
    if busy >= limit:
        log(f"machine still {busy:.0%} busy after {seconds:.0f}s; measuring anyway")
    return busy


def wait_until_up(proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: uvicorn exited with {proc.returncode}")
        try:
            if http_status("/healthz", None) == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("bench: uvicorn did not answer /healthz within 60s")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server we started (its own process group: the master and its workers)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wrk(path: str, session: str | None, duration: str) -> tuple[list[str], dict, str]:
    cmd = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}",
        "--latency",
        "-s",
        "bench/report.lua",
    ]
    if session:
        cmd += ["-H", f"Cookie: sessionid={session}"]
    cmd.append(BASE + path)
    seconds = float(duration.rstrip("s"))
    out = sh(cmd, timeout=seconds + 60)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise SystemExit("bench: wrk printed no BENCH_JSON line:\n" + out)
    return cmd, json.loads(line.removeprefix("BENCH_JSON ")), out


def machine_info(env: dict, server_version: str) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"

    versions = out(
        [PY, "-c", "import django, uvicorn; print(django.__version__, uvicorn.__version__)"]
    ).split()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    return {
        "date": out(["date", "-u"]),
        "nproc": out(["nproc"]),
        "free_g": out(["free", "-g"]).strip("\n"),
        "cpu": cpu,
        "os": out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": versions[0] if versions else "unknown",
        "uvicorn": versions[1] if len(versions) > 1 else "unknown",
        "postgresql": server_version,
        "redis": out(["redis-server", "--version"]).split(" v=")[-1].split()[0]
        if env.get("REDIS_URL")
        else "not used",
        "wrk": (wrk_version.stdout + wrk_version.stderr).split(" [")[0].split(" Copyright")[0],
    }


REPORT = """\
# Benchmarks

Written by `make bench` (bench/run.py) from its own run; do not edit the figures by hand.
A benchmark is not a test: nothing asserts these numbers.

- **Date:** {date}
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

Reading the figures: each uvicorn worker runs Django's synchronous views one request at a
time (Django's ASGI handler runs sync code in one thread per process), so the 16 connections
queue on 2 workers and the median latency is mostly waiting: it is close to
connections / throughput (Little's law). Throughput is the figure to compare; a single
request's own time is about 1/(requests/s per worker). "range" is within one session; on a
shared virtual machine, sessions at different times can differ by more than that (rerun
before comparing).

Notes: `DEBUG=false` with the development settings (no HTTPS redirect); the per-user API
throttle is raised (`API_USER_RATE`) so that the API figure measures the endpoint, not 429
responses; sessions are database-backed, so every request also reads `django_session`.
Total wall time of the run: {wall_seconds} s.
"""


def write_report(result: dict) -> Path:
    m, seed = result["machine"], result["seed"]
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
    path.write_text(text)
    return path


def main() -> None:
    t_start = time.monotonic()
    db_url = bench_database_url()
    db = recreate_database(db_url)
    env_vars = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url(),
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "API_USER_RATE": "100000000/min",
    }
    env = {**os.environ, **env_vars}

    sh([PY, "manage.py", "migrate", "--noinput", "-v", "0"], timeout=300, env=env, capture=False)
    seed = json.loads(sh([PY, "bench/seed.py"], timeout=900, env=env).strip().splitlines()[-1])
    log(f"seeded in {seed['seed_seconds']} s: {seed['counts']}")
    sessions = seed["sessions"]
    queries = json.loads(
        sh([PY, "bench/queries.py", json.dumps(sessions)], timeout=300, env=env).strip().splitlines()[-1]
    )
    for q in queries:
        log(f"queries {q['as']:>13} GET {q['path']}: {q['queries']} (status {q['status']}) {q['error']}")

    server_cmd = [
        PY,
        "-m",
        "uvicorn",
        "retail.asgi:application",
        "--host",
        HOST,
        "--port",
        str(PORT),
        "--workers",
        "2",
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log("$ " + " ".join(server_cmd))
    server = subprocess.Popen(server_cmd, cwd=ROOT, env=env, start_new_session=True)
    http = []
    try:
        wait_until_up(server)
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
                wrk(path, session, WARMUP)
                before, t0 = process_cpu(), time.monotonic()
                cmd, figures, raw = wrk(path, session, DURATION)
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
        "machine": machine_info(env_vars, db["server_version"]),
        "database": db,
        "seed": seed,
        "queries": queries,
        "http": http,
        "env": {k: v for k, v in env_vars.items() if v},
        "server_cmd": " ".join(shlex.quote(c) for c in server_cmd).replace(PY, "python"),
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


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:
        # Rewrite docs/benchmarks.md from a saved bench/results/<timestamp>.json.
        write_report(json.loads(Path(sys.argv[2]).read_text()))
    else:
        main()
