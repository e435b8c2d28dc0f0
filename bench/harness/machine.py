"""Facts about the machine and the code measured, recorded with every result."""

from __future__ import annotations

import contextlib
import platform
import subprocess
from pathlib import Path

from bench.harness.proc import PY, ROOT


def _out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=ROOT).stdout.rstrip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def code_revision() -> str:
    """The commit measured, and the files changed since outside bench/ and docs/ (if any)."""
    head = _out(["git", "log", "-1", "--format=%h %s"]).strip()
    status = _out(["git", "status", "--porcelain"]).splitlines()
    changed = [ln[3:] for ln in status if not ln[3:].startswith(("bench/", "docs/"))]
    text = f"commit {head}" if head and head != "unknown" else "unknown"
    if changed:
        text += " plus uncommitted changes to " + ", ".join(changed)
    return text


def code_moved(start: str) -> str:
    """``start`` (the code_revision() taken before a run), noting if HEAD moved during it."""
    end = code_revision()
    return start if end == start else f"{start} at the start (during the run HEAD moved to: {end})"


def short_revision() -> str:
    """`git rev-parse --short HEAD`, plus "with uncommitted changes" if the work tree is dirty."""
    head = _out(["git", "rev-parse", "--short", "HEAD"]).strip()
    dirty = _out(["git", "status", "--porcelain"]).strip()
    return f"{head or 'unknown'}{' with uncommitted changes' if dirty else ''}"


def machine_info(env: dict, server_version: str) -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    code = (
        "import django, uvicorn, celery; print(django.__version__, uvicorn.__version__, celery.__version__)"
    )
    versions = _out([PY, "-c", code]).split()
    versions += ["unknown"] * (3 - len(versions))
    redis = _out(["redis-server", "--version"])
    try:
        w = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        wrk = (w.stdout + w.stderr).split(" [")[0].split(" Copyright")[0]
    except (OSError, subprocess.TimeoutExpired):
        wrk = "wrk not installed"
    return {
        "date": _out(["date", "-u"]),
        "code": code_revision(),
        "nproc": _out(["nproc"]),
        "free_g": _out(["free", "-g"]).strip("\n"),
        "cpu": cpu,
        "os": _out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": versions[0],
        "uvicorn": versions[1],
        "celery": versions[2],
        "postgresql": server_version,
        "redis": redis.split(" v=")[-1].split()[0] if env.get("REDIS_URL") and " v=" in redis else "not used",
        "wrk": wrk,
    }
