"""One scenario run: its environment, its database, its steps, its results."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import database
from bench.harness.machine import code_moved, code_revision, machine_info
from bench.harness.proc import PY, RESULTS, ROOT, log, sh, stamp, step, write_results


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


@dataclass
class Run:
    """``name``: the scenario; ``env_vars``: what every step runs with (recorded); ``env``: the
    whole environment of the steps."""

    name: str
    db_url: str
    env_vars: dict[str, str]
    quick: bool = False
    stamp: str = field(default_factory=stamp)
    t_start: float = field(default_factory=time.monotonic)
    code: str = field(default_factory=code_revision)
    db: dict = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **self.env_vars}

    @property
    def redis(self) -> str:
        return self.env_vars.get("REDIS_URL", "")

    def prepare(self, *, recreate: bool = True, migrate: bool = True, migrate_timeout: float = 300) -> dict:
        """Recreate the database (refusing anything but the benchmark's own), empty the
        scenario's Redis database, migrate."""
        if recreate:
            self.db = database.recreate_database(self.db_url)
        database.flush_redis(self.redis)
        if migrate:
            sh(
                [PY, "manage.py", "migrate", "--noinput", "-v", "0"],
                timeout=migrate_timeout,
                env=self.env,
                capture=False,
            )
        return self.db

    def step(self, *args, timeout: float = 900, env: dict | None = None):
        """A Django-side step of this scenario in its own process; its JSON result."""
        return step(self.name, *args, timeout=timeout, env=env or self.env)

    def file(self, suffix: str) -> Path:
        RESULTS.mkdir(exist_ok=True)
        return RESULTS / f"{self.stamp}-{suffix}"

    def machine(self) -> dict:
        return {
            **machine_info(self.env_vars, self.db.get("server_version", "unknown")),
            "code": code_moved(self.code),
        }

    def finish(self, result: dict) -> dict:
        """Write bench/results/<stamp>-<name>.json and, unless quick, the scenario's section of
        docs/benchmarks.md."""
        result.setdefault("wall_seconds", round(time.monotonic() - self.t_start, 1))
        result["quick"] = self.quick
        path = write_results(self.name, self.stamp, result, quick=self.quick)
        if self.quick:
            log(f"quick run: wrote {path.relative_to(ROOT)} (docs/benchmarks.md left as it is)")
        else:
            from bench.render import write_section

            doc = write_section(self.name, result)
            log(f"wrote {doc.relative_to(ROOT)} and {path.relative_to(ROOT)} in {result['wall_seconds']} s")
        return result
