"""The benchmark databases (retail_bench, bench_commission), Redis, and samplers of
pg_stat_activity. Never the test databases nor ``retail``; never as a superuser."""

from __future__ import annotations

import os
import subprocess
import threading
from urllib.parse import urlsplit, urlunsplit

from bench.harness.proc import log, sh

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql", "psql")


def database_url(name: str = "retail_bench", explicit_var: str = "BENCH_DATABASE_URL") -> str:
    """``explicit_var`` if set, else DATABASE_URL's server and role with the database ``name``."""
    explicit = os.environ.get(explicit_var)
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL") or "postgres://retail@127.0.0.1:5432/retail"
    parts = urlsplit(base)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise SystemExit(
            "bench: DATABASE_URL must point at PostgreSQL "
            "(the bench needs row-level security and real concurrency)"
        )
    return urlunsplit(parts._replace(path=f"/{name}"))


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


def pg_settings(db_url: str, *names: str) -> dict[str, str]:
    conn = pg_connect(db_url)
    try:
        with conn.cursor() as cur:
            out = {}
            for name in names:
                cur.execute("SELECT current_setting(%s)", [name])
                out[name] = cur.fetchone()[0]
            return out
    finally:
        conn.close()


def local_redis_url() -> str:
    """REDIS_URL, else the local Redis on 6379 (database 0) if it answers, else ""."""
    url = os.environ.get("REDIS_URL", "")
    if url:
        return url
    try:
        out = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], capture_output=True, text=True, timeout=5
        )
        if out.stdout.strip() == "PONG":
            return "redis://127.0.0.1:6379/0"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ""


def redis_url(database: int | None, explicit_var: str | None = None) -> str:
    """A scenario's own Redis database: ``explicit_var``, else BENCH_REDIS_URL, else database
    ``database`` of the local server (None: REDIS_URL as it is)."""
    for var in (explicit_var, "BENCH_REDIS_URL"):
        if var and os.environ.get(var) is not None:
            return os.environ[var]
    base = local_redis_url()
    if not base or database is None:
        return base
    return urlunsplit(urlsplit(base)._replace(path=f"/{database}"))


def flush_redis(url: str) -> None:
    """Empty the benchmark's own Redis database (nothing queued from earlier runs)."""
    if url:
        sh(["redis-cli", "-u", url, "flushdb"], timeout=30)


class DbSampler:
    """Samples (every 50 ms, in a thread, on one connection opened beforehand) the benchmark
    database's other connections: ``peak`` (the most seen), and on average how many were running
    a statement and how many of those were waiting for a lock."""

    SQL = (
        "SELECT count(*), count(*) FILTER (WHERE state = 'active'), "
        "count(*) FILTER (WHERE wait_event_type = 'Lock') "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, db_url: str):
        self.conn = pg_connect(db_url)
        self.peak = self.samples = self._active = self._waiting = 0
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
