"""`python -m bench [<scenario>|all] [--quick]` (default: BENCH_ONLY, else all): run benchmark
scenarios on PostgreSQL and write their sections of docs/benchmarks.md (with `--quick`: at a
reduced scale, results in bench/results only).

`python -m bench render bench/results/<stamp>-<scenario>.json`: rewrite a section from saved
results. `python -m bench step <scenario> <step> [args]`: one Django-side step (the runner
starts these). Run from the repository root. See bench/README.md.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.harness import database
from bench.harness.django import setup
from bench.harness.proc import PY, ROOT
from bench.harness.runs import Run, base_env
from bench.scenarios import SCENARIOS

USAGE = f"usage: python -m bench [{'|'.join(SCENARIOS)}|all] [--quick] | render <results.json>"


def scenario_run(name: str, quick: bool) -> Run:
    """The run's environment (no side effects yet); also made this process's environment, so that
    Django in the runner sees the same settings as the steps."""
    spec = SCENARIOS[name]
    if quick:
        for k, v in {"BENCH_QUIET_MAX": "5", **spec.quick}.items():
            os.environ.setdefault(k, v)
    if not spec.database:
        return Run(name, "", {}, quick=quick)
    db_url = database.database_url(spec.database, spec.database_var)
    redis = database.redis_url(spec.redis_db, spec.redis_var)
    env_vars = {**base_env(db_url, redis), **spec.env}
    if spec.redis_db is not None and not redis:
        raise SystemExit(f"bench: the {name} benchmark needs Redis: set REDIS_URL or BENCH_REDIS_URL")
    os.environ.update(env_vars)
    return Run(name, db_url, env_vars, quick=quick)


def main(argv: list[str]) -> None:
    # Stopped from outside: unwind, so that the server and worker we started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    quick = "--quick" in argv
    args = [a for a in argv if a != "--quick"]
    which = (args[0] if args else os.environ.get("BENCH_ONLY", "")) or "all"
    if which == "step":
        name, step = args[1], args[2]
        setup(SCENARIOS[name].database or None)
        module = importlib.import_module(f"bench.scenarios.{name}")
        module.STEPS[step](*args[3:])
    elif which == "render":
        from bench.render import write_section

        path = Path(args[1])
        result = json.loads(path.read_text())
        write_section(path.stem.split("-", 1)[1].removesuffix("-quick"), result)
    elif which == "all":
        for name, spec in SCENARIOS.items():
            if spec.in_all:
                subprocess.run(
                    [PY, "-m", "bench", name, *(["--quick"] if quick else [])], cwd=ROOT, check=True
                )
    elif which in SCENARIOS:
        run = scenario_run(which, quick)
        if SCENARIOS[which].database:
            setup()
        importlib.import_module(f"bench.scenarios.{which}").run(run)
    else:
        raise SystemExit(f"bench: unknown scenario {which!r}\n{USAGE}")


if __name__ == "__main__":
    main(sys.argv[1:])
