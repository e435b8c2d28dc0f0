"""Load generators: wrk (with report.lua's BENCH_JSON line) and pgbench; percentiles."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from bench.harness.cpu import CpuSampler, DuringRun, ForeignCpu, wait_for_quiet
from bench.harness.database import DbSampler
from bench.harness.proc import log, sh
from bench.harness.servers import BASE, HOST, worker_connections

REPORT_LUA = "bench/harness/report.lua"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def median(values: list[float]) -> float:
    s = sorted(values)
    return s[len(s) // 2] if s else 0.0


def wrk(
    path: str,
    session: str | None,
    duration: str,
    *,
    threads: int,
    connections: int,
    script: str = REPORT_LUA,
    headers: tuple[str, ...] = (),
    script_args: tuple[str, ...] = (),
    env: dict | None = None,
) -> tuple[list[str], dict, str]:
    """Run wrk once against BASE + path; return (command, figures from report.lua, raw output).
    ``script`` must print report.lua's BENCH_JSON line; ``script_args`` go after ``--``."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", script]
    if session:
        cmd += ["-H", f"Cookie: sessionid={session}"]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(BASE + path)
    if script_args:
        cmd += ["--", *script_args]
    out = sh(cmd, timeout=float(duration.rstrip("s")) + 60, env=env)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise SystemExit("bench: wrk printed no BENCH_JSON line:\n" + out)
    return cmd, json.loads(line.removeprefix("BENCH_JSON ")), out


def wrk_series(
    path: str,
    session: str | None,
    *,
    repeat: int,
    duration: str,
    warmup: str,
    server_pgid: int,
    quiet: Callable[[], float] = wait_for_quiet,
    warm_every_run: bool = True,
    db_url: str | None = None,
    before_run: Callable[[], Callable[[dict], None] | None] | None = None,
    **wrk_args,
) -> dict:
    """``repeat`` wrk runs, each after waiting for a quiet machine and a warm-up (or only the
    first: ``warm_every_run=False``); the run with the median throughput is kept, with every
    run's throughput and p95, the most busy the machine was before a run and the most CPU other
    processes took during one. With ``db_url``: the peak connections to the database and how
    the server's workers split wrk's connections (1.5 s into the run). ``before_run`` runs after
    the wait and may return a function that adds figures after the run."""
    runs = []
    for i in range(repeat):
        busy = quiet()
        after = before_run() if before_run else None
        if warm_every_run or i == 0:
            wrk(path, session, warmup, **wrk_args)
        with ForeignCpu(server_pgid) as foreign:
            if db_url:
                with DbSampler(db_url) as sampler, DuringRun(worker_connections) as split:
                    cmd, figures, raw = wrk(path, session, duration, **wrk_args)
                figures["worker_split"] = split.value
                figures["db_connections_peak"] = sampler.peak
            else:
                cmd, figures, raw = wrk(path, session, duration, **wrk_args)
        if after:
            after(figures)
        print(raw, flush=True)
        c = wrk_args["connections"]
        log(f"{path} -c{c}: {figures['rps']:.1f} req/s, p95 {figures['p95_ms']:.1f} ms; "
            f"other processes used {foreign.share:.0%} of the CPU")  # fmt: skip
        runs.append({"cpu_busy_before": busy, "foreign_cpu": foreign.share, "cmd": cmd, "wrk": figures})
    runs.sort(key=lambda r: r["wrk"]["rps"])
    entry = dict(runs[len(runs) // 2])
    entry["rps_all"] = [r["wrk"]["rps"] for r in runs]
    entry["p95_all"] = [r["wrk"]["p95_ms"] for r in runs]
    entry["cpu_busy_before"] = max(r["cpu_busy_before"] for r in runs)
    entry["foreign_cpu"] = max(r["foreign_cpu"] for r in runs)
    if db_url:
        entry["db_connections_peak"] = max(r["wrk"]["db_connections_peak"] for r in runs)
        entry["split_all"] = [r["wrk"].get("worker_split") for r in runs]
    return entry


def pgbench(db_url: str, script: str, clients: int, seconds: int, quiet: Callable[[], float]) -> dict:
    """``pgbench -n -f script -c clients -j min(2, clients) -T seconds`` as the benchmark's role
    in its database, with the CPU and pg_stat_activity sampled."""
    p = urlsplit(db_url)
    cmd = ["pgbench", "-h", p.hostname or HOST, "-p", str(p.port or 5432), "-U", p.username or "retail",
           "-n", "-f", script, "-c", str(clients), "-j", str(min(2, clients)), "-T", str(seconds),
           p.path.lstrip("/")]  # fmt: skip
    busy = quiet()
    with DbSampler(db_url) as dbs, CpuSampler() as cpu:
        out = sh(cmd, timeout=seconds + 60)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    tx = re.search(r"number of transactions actually processed: (\d+)", out)
    r = {
        "clients": clients,
        "threads": min(2, clients),
        "seconds": seconds,
        "cmd": cmd,
        "tps": float(tps.group(1)) if tps else None,
        "latency_ms": float(lat.group(1)) if lat else None,
        "transactions": int(tx.group(1)) if tx else None,
        "cpu_busy_before": busy,
        "cpus": cpu.cpus,
        "db": dbs.figures(),
    }
    log(f"pgbench -c{clients}: {r['tps']} tps, latency {r['latency_ms']} ms; CPUs {cpu.cpus}")
    return r
