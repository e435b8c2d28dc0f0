"""Commands with time limits, the scenario steps run in their own Django process, results."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PY = sys.executable
RESULTS = ROOT / "bench" / "results"


def log(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


def sh(cmd: list[str], *, timeout: float, env: dict | None = None, capture: bool = True) -> str:
    """Run a command with a time limit; return stdout, raise on failure."""
    log("$ " + " ".join(shlex.quote(c) for c in cmd))
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, timeout=timeout, text=True, stdout=subprocess.PIPE if capture else None
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench: command failed with exit {proc.returncode}: {cmd[:5]}")
    return proc.stdout or ""


def sh_json(cmd: list[str], *, timeout: float, env: dict) -> dict | list:
    """Run a command that prints one JSON document as its last stdout line."""
    return json.loads(sh(cmd, timeout=timeout, env=env).strip().splitlines()[-1])


def step_cmd(scenario: str, *args: str) -> list[str]:
    """The command of one Django-side step: ``python -m bench step <scenario> <step> [args]``."""
    return [PY, "-m", "bench", "step", scenario, *map(str, args)]


def step(scenario: str, *args, timeout: float, env: dict) -> dict | list:
    return sh_json(step_cmd(scenario, *args), timeout=timeout, env=env)


def emit(obj) -> None:
    """A step's result as its last stdout line (dicts get the step process's own peak RSS)."""
    import resource

    if isinstance(obj, dict):
        obj.setdefault("process_peak_mb", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    print(json.dumps(obj, ensure_ascii=False, default=str), flush=True)


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_results(name: str, stamp_: str, result: dict, *, quick: bool = False) -> Path:
    """bench/results/<stamp>-<name>[-quick].json"""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{stamp_}-{name}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return path
