"""How busy the machine is: waiting for it to be idle, and who used the CPU during a run
(the benchmark's parts, or other processes: a test suite, a build)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from bench.harness.proc import log

OWN_COMMANDS = {"wrk", "postgres", "redis-server"}
# The longest wait for an idle machine before one run (BENCH_QUIET_MAX: shorter in quick runs).
QUIET_MAX = float(os.environ.get("BENCH_QUIET_MAX", 180))


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


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


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
    """Share of the machine's CPU used during a run by processes that are not part of it
    (part of it: the server's process group, this runner, wrk, PostgreSQL and Redis)."""
    ticks = 0
    for pid, (comm, pgid, used) in after.items():
        if pid == os.getpid() or pgid == server_pgid or comm in OWN_COMMANDS:
            continue
        ticks += used - before.get(pid, (comm, pgid, 0))[2]
    capacity = seconds * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    return max(ticks, 0) / capacity


class ForeignCpu:
    """``with ForeignCpu(server_pgid) as f:`` ... ``f.share``: foreign_cpu_share() of the block."""

    def __init__(self, server_pgid: int):
        self.server_pgid = server_pgid
        self.share = 0.0

    def __enter__(self) -> ForeignCpu:
        self.before, self.t0 = process_cpu(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        self.share = foreign_cpu_share(
            self.before, process_cpu(), time.monotonic() - self.t0, self.server_pgid
        )


def wait_for_quiet(limit: float = 0.2, seconds: float = QUIET_MAX, window: float = 3.0) -> float:
    """Wait (bounded) until the machine is mostly idle; return the last busy share (sampled
    over ``window`` seconds). The report records it either way."""
    deadline = time.monotonic() + min(seconds, QUIET_MAX)
    busy = cpu_busy(window)
    while busy >= limit and time.monotonic() < deadline:
        busy = cpu_busy(window)
    if busy >= limit:
        log(f"machine still {busy:.0%} busy after {seconds:.0f}s; measuring anyway")
    return busy


class QuietBudget:
    """wait_for_quiet() before each run, at most QUIET_MAX (180 s) per run and ``budget`` seconds over the
    whole benchmark."""

    def __init__(self, budget: float, window: float = 1.0):
        self.left, self.window = budget, window

    def __call__(self) -> float:
        t0 = time.monotonic()
        busy = wait_for_quiet(window=self.window, seconds=min(QUIET_MAX, max(0.0, self.left)))
        self.left -= time.monotonic() - t0 - self.window
        return busy


class CpuSampler:
    """CPU time used while the block runs, by who used it: PostgreSQL, the server or worker (its
    process group), the benchmark's own processes (this runner's process group: steps, pgbench),
    Redis, anything else. Sampled every 0.25 s so that processes which end during the block count
    too. ``cpus`` maps each to CPUs used on average (1.0 = one CPU busy all along)."""

    def __init__(self, server_pgid: int | None = None):
        self.server_pgid = server_pgid
        self.mine = os.getpgid(0)
        self.ticks = {"postgres": 0, "server": 0, "bench": 0, "redis": 0, "other": 0}
        self.cpus: dict[str, float] = {}
        self._last: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _who(self, comm: str, pgid: int) -> str:
        if comm == "postgres":
            return "postgres"
        if comm == "redis-server":
            return "redis"
        if self.server_pgid is not None and pgid == self.server_pgid:
            return "server"
        return "bench" if pgid == self.mine else "other"

    def _sample(self, first: bool = False) -> None:
        for pid, (comm, pgid, used) in process_cpu().items():
            before = self._last.get(pid)
            self._last[pid] = used
            if before is None:
                if first:
                    continue
                before = 0  # started during the block
            self.ticks[self._who(comm, pgid)] += max(0, used - before)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample(first=True)
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()
        seconds = max(time.monotonic() - self.t0, 1e-6)
        hz = os.sysconf("SC_CLK_TCK")
        self.cpus = {k: round(v / hz / seconds, 2) for k, v in self.ticks.items()}


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
