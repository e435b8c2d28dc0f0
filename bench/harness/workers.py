"""Celery workers for the scenarios that queue tasks (own process group, log to a file)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from bench.harness.proc import PY, ROOT, log
from bench.harness.servers import stop_group


def celery_cmd(*options: str, py: str = PY) -> list[str]:
    return [py, "-m", "celery", "-A", "retail", "worker", *options]


def start_worker(cmd: list[str], env: dict, logfile: Path, *, wait_ready: bool = False) -> subprocess.Popen:
    """Start ``cmd`` in its own process group; with ``wait_ready``, until its log says ready (60 s)."""
    log("$ " + " ".join(cmd) + f" > {logfile.relative_to(ROOT)} 2>&1 &")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=logfile.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    if not wait_ready:
        return proc
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: the Celery worker exited with {proc.returncode}; see {logfile}")
        if " ready." in logfile.read_text(errors="replace"):
            return proc
        time.sleep(0.2)
    stop_worker(proc)
    raise SystemExit(f"bench: the Celery worker was not ready within 60 s; see {logfile}")


def stop_worker(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Warm shutdown (SIGTERM) of the worker we started (its process group), bounded."""
    stop_group(proc, timeout=timeout)


def worker_memory(pgid: int) -> dict:
    """Peak (VmHWM) and current (VmRSS) resident memory of each process of the worker's group."""
    procs = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, ValueError):
            continue
        kb = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmHWM|VmRSS):\s+(.+)$", status, re.M)}
        pid = int(stat.parent.name)
        procs.append(
            {
                "pid": pid,
                "role": "main" if pid == pgid else "pool",
                "peak_mb": round(kb.get("VmHWM", 0) / 1024, 1),
                "rss_mb": round(kb.get("VmRSS", 0) / 1024, 1),
            }
        )
    procs.sort(key=lambda p: (p["role"] != "main", p["pid"]))
    return {
        "processes": procs,
        "peak_max_mb": max((p["peak_mb"] for p in procs), default=0),
        "peak_sum_mb": round(sum(p["peak_mb"] for p in procs), 1),
    }
