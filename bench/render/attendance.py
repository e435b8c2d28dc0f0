# ruff: noqa: E501
"""The attendance section of docs/benchmarks.md."""

from __future__ import annotations

from bench.render.common import MARKERS, machine_lines, yes

TARGET_RATIO = 1.2
TARGET_P99_MS = 50.0


def _f(value, unit: str = " ms") -> str:
    return "—" if value is None else f"{value:,}{unit}"


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(d.items())) if d else "none"


def _cpus(c: dict) -> str:
    return " / ".join(str(c.get(k, 0)) for k in ("server", "postgres", "redis", "bench", "other"))


def render(r: dict) -> str:
    m, s, seed, load, db = r["machine"], r["settings"], r["seed"], r["load"], r["db"]
    rounds = r["rounds"]
    kept = next(x for x in rounds if x["round"] == r["median_round"])
    quiet, loaded, ident = load["quiet"], load["loaded"], load["identify"]
    ratio_ok = r["ratio_p50"] <= TARGET_RATIO
    p99_ok = loaded["rtt"]["p99_ms"] <= TARGET_P99_MS
    answer = (kept.get("answer") or {}).get("payload") or {}
    per_round = [
        f"| {x['round']}{' (kept)' if x['round'] == r['median_round'] else ''} | {x['load_average']} | "
        f"{x['cpu_busy_before']:.0%} | {x['cpus'].get('other', 0)} | {_f(x['bare']['p50'])} | {_f(x['bare']['p90'])} | "
        f"{_f(x['e2e']['p50'])} | {_f(x['e2e']['p90'])} | {_f(x['e2e']['max'])} | **×{x['ratio_p50']}** | ×{x['pair_ratio_median']} | "
        f"{_counts(x['results'])}{'; errors ' + _counts(x['errors']) if x['errors'] else ''} |"
        for x in rounds
    ]
    punched = ident["results"].get("punched", 0) + ident["results"].get("granted", 0)
    frame = r["frame"]
    lines = [
        MARKERS["attendance"],
        "",
        "## Attendance",
        "",
        "Written by `python -m bench attendance` (bench/scenarios/attendance.py; not part of `make bench`) from",
        "its own run; do not edit the figures by hand.",
        "",
        *machine_lines(m),
        f"- **Face engine:** face_recognition {r['versions']['face_recognition']}, dlib {r['versions']['dlib']}, numpy {r['versions']['numpy']}",
        "",
        f"One uvicorn process (`{r['cmd']}`) with the Redis channel layer and PostgreSQL, database "
        f"`{r['database'].get('database', '?')}` as the ordinary role (row-level security on), and the face "
        f"process pool of {s['face_workers']} worker (`FACE_WORKERS`): detection and encoding never run on the "
        "server's event loop or its threads. One brand, "
        f"{seed['stores']} stores × 25 people; {seed['kiosks']} clock-in kiosks (one per store) and "
        f"{seed['others']:,} door terminals, paired; in each kiosk store {seed['enrolled_per_store']} people "
        f"enrolled ({seed['enrolled']:,} encodings, encrypted): one with the encoding of obama.jpg, the others "
        "synthetic (a real encoding of another person plus noise). Every identify frame is "
        f"`{frame['photo']}` as `devices.simulator.images.prepare` sends it ({frame.get('format')}, "
        f"{frame.get('sent_bytes', 0):,} bytes, {'×'.join(str(v) for v in frame.get('size', [])) or 'scaled to 640 px'}): "
        "the same person, so every answer is a match and a punch (event, punch, day record and access "
        "record written). The devices are `devices.simulator` devices in the runner's process (one asyncio "
        "loop, real websockets), on the same 2 CPUs as the server, its face worker, PostgreSQL and Redis.",
        "",
        f"### (a) Identify end to end against bare detection + encoding (target: ≤ {TARGET_RATIO}×)",
        "",
        f"{s['runs']} pairs per round (after a warm-up), one after the other. Bare: the runner calls "
        "`attendance.faces.analyse` on the frame's bytes (decode, detection, landmarks, encoding, the quality "
        "figures: the frame's work alone). End to end: then one kiosk sends the same frame as an `identify` "
        "frame and waits for its `identify_result`: frame sent → answer read, so it holds the websocket both "
        "ways, the base64 and image decoding, the hand-over to the face worker process and back, the 1:N "
        "among the store's enrolled staff, the database writes (event, punch, day record, access record, "
        "outbox) and the answer. Pairing them in time gives both the same machine: whatever else runs slows "
        "both alike. Each round starts after waiting (bounded) for an idle machine.",
        "",
        "| round | load average | CPUs busy before | other processes' CPUs during it | bare p50 | bare p90 | **end to end p50** | end to end p90 | end to end max | **p50 ratio** | median of pair ratios | answers |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *per_round,
        "",
        f"The round kept is the median by ratio (round {r['median_round']}): **end to end p50 "
        f"{_f(kept['e2e']['p50'])} against bare {_f(kept['bare']['p50'])}, ×{r['ratio_p50']}**; ≤ {TARGET_RATIO}×: "
        f"{yes(ratio_ok)}. Bare p50 over the rounds: {r['bare_p50_range'][0]}–{r['bare_p50_range'][1]} ms. "
        f"An answer as the kiosk got it: result `{answer.get('result', '?')}`, staff "
        f"`{(answer.get('staff') or {}).get('name', '—')}`, punch {answer.get('punch', '?')}, message "
        f"“{answer.get('message', '')}”.",
        "",
        f"### (b) {s['others']:,} devices' heartbeats while {s['kiosks']} kiosks send frames continuously (target: p99 ≤ {TARGET_P99_MS:g} ms)",
        "",
        f"{s['others']:,} door terminals connected, each heartbeating every {s['heartbeat']:g} s (round trip: heartbeat "
        f"sent → ack read). First {s['quiet_steady']:g} s with nothing else; then {s['steady']:g} s while each of "
        f"the {s['kiosks']} kiosks sends its next identify frame as soon as the last one is answered. The "
        "face worker is busy all along then: the frames wait their turn in the pool's queue, the event loop "
        "does not.",
        "",
        "| | heartbeats alone | **with the kiosks identifying** |",
        "|---|---:|---:|",
        f"| devices connected (of {s['others']:,}); kiosks | {load['connect']['online']:,} | {load['connect']['online']:,}; {load['kiosks_online']} |",
        f"| heartbeats measured (over) | {quiet['heartbeats']:,} ({quiet['seconds']} s) | {loaded['heartbeats']:,} ({loaded['seconds']} s) |",
        f"| **heartbeat round trip p50 / p99** | {quiet['rtt']['p50_ms']} / {quiet['rtt']['p99_ms']} ms | **{loaded['rtt']['p50_ms']} / {loaded['rtt']['p99_ms']} ms** |",
        f"| heartbeat round trip p90 / max | {quiet['rtt']['p90_ms']} / {quiet['rtt']['max_ms']} ms | {loaded['rtt']['p90_ms']} / {loaded['rtt']['max_ms']} ms |",
        f"| heartbeat failures; still online | {_counts(quiet['errors'])}; {quiet['online_after']:,} | {_counts(loaded['errors'])}; {loaded['online_after']:,} |",
        f"| server process CPU (its CPU seconds ÷ wall seconds) | {quiet['server_cpu_percent']}% | {loaded['server_cpu_percent']}% |",
        f"| CPUs used: server (with its face worker) / PostgreSQL / Redis / runner / other | {_cpus(quiet['cpus'])} | {_cpus(loaded['cpus'])} |",
        f"| identify answers (per second) | — | {ident['answers_in_window']:,} ({ident['per_second']}/s) |",
        f"| identify frame → answer p50 / p90 / p99 | — | {_f(ident['ms']['p50'])} / {_f(ident['ms']['p90'])} / {_f(ident['ms']['p99'])} |",
        f"| identify answers, whole phase; errors | — | {_counts(ident['results'])}; {_counts(ident['errors'])} |",
        "",
        f"p99 ≤ {TARGET_P99_MS:g} ms while the kiosks identify: {yes(p99_ok)}. Machine busy before: "
        f"{load['cpu_busy_before']:.0%}. Server RSS {load['rss_before_kb'] / 1024:.0f} → {load['rss_after_kb'] / 1024:.0f} MiB.",
        "",
        f"In the database afterwards (every identify frame of the run, (a) and (b)): {db['identify_events']:,} identify "
        f"events ({db['identify_events_with_image']} with an image kept), {db['kiosk_face_punches']:,} face punches at "
        f"kiosks, access records {_counts(db['access'])}, {db['day_records']:,} day records computed. "
        f"One punch per answer that said so: {yes(db['kiosk_face_punches'] == db['access'].get('punched', 0))} "
        f"(answers with a punch in (b): {punched:,}).",
        "",
        "Exact command: `"
        + " ".join([*(f"{k}={v}" for k, v in r.get("tunables", {}).items()), "python -m bench attendance"])
        + f"`. Total wall time: {r['wall_seconds']} s.",
    ]
    return "\n".join(lines) + "\n"
