"""Helpers shared by the benchmark runners (bench/run.py, bench/members_run.py,
bench/cloudstore_run.py, bench/redpackets_run.py, bench/commission.py): commands with
time limits, the benchmark database, the uvicorn server, wrk, machine facts.

Every wait here is bounded; every target is 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST, PORT = "127.0.0.1", 8001
BASE = f"http://{HOST}:{PORT}"
# docs/benchmarks.md: the staff section (bench/run.py) comes first; the membership section
# (bench/members_run.py) starts at the first line, the cloud store section
# (bench/cloudstore_run.py) at the second, the red packet section (bench/redpackets_run.py) at
# the third, the commission section (bench/commission.py) at the fourth. Each runner rewrites only
# its own section.
MEMBERS_MARKER = "<!-- membership section: bench/members_run.py -->"
CLOUDSTORE_MARKER = "<!-- cloud store section: bench/cloudstore_run.py -->"
REDPACKETS_MARKER = "<!-- red packet section: bench/redpackets_run.py -->"
COMMISSION_MARKER = "<!-- commission section: bench/commission.py -->"


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


def wait_for_quiet(limit: float = 0.2, seconds: float = 180, window: float = 3.0) -> float:
    """Wait (bounded) until the machine is mostly idle; return the last busy share (sampled
    over ``window`` seconds).

    The benchmark shares the machine with whatever else runs; its figures are only
    comparable when nothing else is busy, and the report records the value either way.
    """
    deadline = time.monotonic() + seconds
    busy = cpu_busy(window)
    while busy >= limit and time.monotonic() < deadline:
        busy = cpu_busy(window)
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


def wrk(
    path: str,
    session: str | None,
    duration: str,
    *,
    threads: int,
    connections: int,
    script: str = "bench/report.lua",
    headers: tuple[str, ...] = (),
    script_args: tuple[str, ...] = (),
    env: dict | None = None,
) -> tuple[list[str], dict, str]:
    """Run wrk once against BASE + path; return (command, figures from report.lua, raw output).

    ``script`` must print the BENCH_JSON line of report.lua (the member scripts load it);
    ``script_args`` go after ``--`` to the script's init().
    """
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", script]
    if session:
        cmd += ["-H", f"Cookie: sessionid={session}"]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(BASE + path)
    if script_args:
        cmd += ["--", *script_args]
    seconds = float(duration.rstrip("s"))
    out = sh(cmd, timeout=seconds + 60, env=env)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise SystemExit("bench: wrk printed no BENCH_JSON line:\n" + out)
    return cmd, json.loads(line.removeprefix("BENCH_JSON ")), out


APP = "retail.asgi:application"
SERVER_CMD = [
    PY,
    "-m",
    "uvicorn",
    APP,
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


def start_server(env: dict, logfile: Path | None = None, app: str = APP) -> subprocess.Popen:
    """uvicorn with 2 workers on 127.0.0.1:8001, in its own process group (see stop()); its
    output goes to ``logfile`` if given, else to ours. ``app``: another ASGI application than
    the project's."""
    cmd = [app if c == APP else c for c in SERVER_CMD]
    log("$ " + " ".join(cmd) + (f" > {logfile} 2>&1" if logfile else ""))
    out = logfile.open("w") if logfile else None
    server = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
    )
    try:
        wait_until_up(server)
    except BaseException:
        stop(server)
        raise
    return server


class ConnectionSampler:
    """Samples (every 50 ms, in a thread, on one connection opened beforehand) how many
    connections the benchmark database has; ``peak`` is the most seen while it ran."""

    def __init__(self, db_url: str):
        self.conn = pg_connect(db_url)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.conn.cursor() as cur:
            while not self._stop.wait(0.05):
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
                self.peak = max(self.peak, cur.fetchone()[0] - 1)  # not counting this one

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.conn.close()


def worker_connections(workers: int = 2) -> list[int]:
    """Established client connections held by each server process (``ss -tnp``), most first,
    padded to ``workers``: how the workers' shared listening socket split the clients."""
    try:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{PORT} )"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    counts: dict[str, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        counts[pid] = counts.get(pid, 0) + 1
    split = sorted(counts.values(), reverse=True)
    return split + [0] * (workers - len(split))


class DuringRun:
    """Call ``fn`` once, ``delay`` seconds after entering (in a timer thread); ``value`` is its
    result (None if the block ended first)."""

    def __init__(self, fn, delay: float = 1.5):
        self.value = None
        self._timer = threading.Timer(delay, self._call, [fn])

    def _call(self, fn) -> None:
        self.value = fn()

    def __enter__(self) -> DuringRun:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        self._timer.join(timeout=15)


def pg_setting(db_url: str, name: str) -> str:
    conn = pg_connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting(%s)", [name])
            return cur.fetchone()[0]
    finally:
        conn.close()


def server_cmd_text(app: str = APP) -> str:
    return " ".join(shlex.quote(app if c == APP else c) for c in SERVER_CMD).replace(PY, "python")


def base_env(db_url: str, redis: str) -> dict[str, str]:
    """The variables every step of a benchmark runs with (recorded in the report)."""
    return {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis,
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "API_USER_RATE": "100000000/min",
    }


def sh_json(cmd: list[str], *, timeout: float, env: dict) -> dict | list:
    """Run a helper that prints one JSON document as its last stdout line."""
    return json.loads(sh(cmd, timeout=timeout, env=env).strip().splitlines()[-1])


def code_revision() -> str:
    """The commit measured, and the files changed since outside bench/ and docs/ (if any)."""
    try:
        head = subprocess.run(
            ["git", "log", "-1", "--format=%h %s"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    changed = [ln[3:] for ln in status if not ln[3:].startswith(("bench/", "docs/"))]
    text = f"commit {head}" if head else "unknown"
    if changed:
        text += " plus uncommitted changes to " + ", ".join(changed)
    return text


def code_moved(start: str) -> str:
    """``start`` (the code_revision() taken before a run), noting if HEAD moved during it."""
    end = code_revision()
    return start if end == start else f"{start} at the start (during the run HEAD moved to: {end})"


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
        "code": code_revision(),
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
