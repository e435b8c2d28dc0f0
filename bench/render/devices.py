# ruff: noqa: E501
"""The devices section of docs/benchmarks.md."""

from __future__ import annotations

from bench.render.common import MARKERS, machine_lines, yes

TARGET_P99_MS = 50.0


def _errors(d: dict) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in d.items()) if d else "none"


def _statuses(d: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(d.get("statuses", {}).items())) or "none"


def render(r: dict) -> str:
    m, s, f, srv, echo, direct = (
        r["machine"],
        r["settings"],
        r["settings_facts"],
        r["server"],
        r["echo"],
        r["direct"],
    )
    n = s["devices"]
    st, est = srv["steady"], echo["steady"]
    storm, estorm = srv["storm"], echo["storm"]
    rp, erp = srv["replay"], echo["replay"]
    sdb = srv.get("storm_db", {}).get("events", {}).get("storm", {})
    rdb = srv.get("replay_db", {}).get("events", {}).get("rp", {})
    rdb2 = srv.get("replay_again_db", {}).get("events", {}).get("rp", {})
    again = srv.get("replay_again", {})
    expected_replay = s["replay_devices"] * s["replay_events"]
    p99_ok = st["rtt"]["p99_ms"] <= TARGET_P99_MS
    lines = [
        MARKERS["devices"],
        "",
        "## Devices",
        "",
        "Written by `python -m bench devices` (bench/scenarios/devices.py; not part of `make bench`) from its",
        "own run; do not edit the figures by hand.",
        "",
        *machine_lines(m),
        "",
        f"One uvicorn process (`{srv['cmd']}`) with the Redis channel layer "
        f"(`{f['channel_layer']}`, capacity {f['channel_capacity']} per channel, expiry {f['channel_expiry']} s) "
        f"and PostgreSQL, database `{r['database'].get('database', '?')}` as the ordinary role (row-level security on). "
        f"{n:,} paired devices of one brand in {r['seed']['stores']} stores (25 people each): "
        f"{r['seed']['by_services']} made through `device_create` + `device_pair` "
        f"({r['seed']['services_seconds_per_device']} s each), the other {r['seed']['bulk']:,} with `bulk_create` "
        f"in {r['seed']['bulk_seconds']} s, their secrets hashed as `device_pair` does. The devices are "
        "`devices.simulator.Swarm` in the runner's process (one asyncio loop, real websockets, HMAC hello, "
        "no compression), on the same 2 CPUs as the server, PostgreSQL and Redis. Open files allowed: "
        f"{f['ulimit_nofile'][0]:,}. Round trips are measured by the device: frame sent → answer read. "
        "The limit next to each figure is measured in the same run: for (a) and (b) a bare websocket "
        "server with the same framing on the same uvicorn (`bench.scenarios.devices_echo:echo_app`: JSON in, "
        "JSON out, no Django, database or channel layer); for (c) `devices.services.events_store` called "
        "directly from one process with the same batches.",
        "",
        f"### (a) {n:,} devices connected, a heartbeat every {s['heartbeat']:g} s (target: p99 ≤ {TARGET_P99_MS:g} ms)",
        "",
        "| | device server | limit: bare websocket server |",
        "|---|---:|---:|",
        f"| connected (of {n:,}) | {srv['connect']['online']:,} | {echo['connect']['online']:,} |",
        f"| time to connect all ({s['concurrency']} handshakes at once) | {srv['connect']['seconds']} s | {echo['connect']['seconds']} s |",
        f"| hello → welcome p50 / p99 | {srv['connect']['hello']['p50_ms']} / {srv['connect']['hello']['p99_ms']} ms | {echo['connect']['hello']['p50_ms']} / {echo['connect']['hello']['p99_ms']} ms |",
        f"| server RSS before → after connecting | {srv['rss_before_kb'] / 1024:.0f} → {srv['rss_after_kb'] / 1024:.0f} MiB | {echo['rss_before_kb'] / 1024:.0f} → {echo['rss_after_kb'] / 1024:.0f} MiB |",
        f"| **RSS per connection** | **{srv['rss_per_connection_kb']} KiB** | {echo['rss_per_connection_kb']} KiB |",
        f"| heartbeats measured (over) | {st['heartbeats']:,} ({st['seconds']} s, {st['per_second']}/s) | {est['heartbeats']:,} ({est['seconds']} s, {est['per_second']}/s) |",
        f"| **heartbeat round trip p50 / p99** | **{st['rtt']['p50_ms']} / {st['rtt']['p99_ms']} ms** | {est['rtt']['p50_ms']} / {est['rtt']['p99_ms']} ms |",
        f"| heartbeat round trip p90 / max | {st['rtt']['p90_ms']} / {st['rtt']['max_ms']} ms | {est['rtt']['p90_ms']} / {est['rtt']['max_ms']} ms |",
        f"| **server CPU** (its CPU seconds ÷ wall seconds) | **{st['server_cpu_percent']}%** of one CPU | {est['server_cpu_percent']}% |",
        f"| CPUs used during it: server / PostgreSQL / Redis / runner (devices) / other | {st['cpus'].get('server', 0)} / {st['cpus'].get('postgres', 0)} / {st['cpus'].get('redis', 0)} / {st['cpus'].get('bench', 0)} / {st['cpus'].get('other', 0)} | {est['cpus'].get('server', 0)} / {est['cpus'].get('postgres', 0)} / {est['cpus'].get('redis', 0)} / {est['cpus'].get('bench', 0)} / {est['cpus'].get('other', 0)} |",
        f"| heartbeat failures; still online | {_errors(st['errors'])}; {st['online_after']:,} | {_errors(est['errors'])}; {est['online_after']:,} |",
        f"| machine busy before | {srv['cpu_busy_before']:.0%} | {echo['cpu_busy_before']:.0%} |",
        "",
        f"p99 ≤ {TARGET_P99_MS:g} ms: {yes(p99_ok)}. The server writes a device's last-seen time at most every "
        f"{f['device_seen_write_seconds']} s (`DEVICE_SEEN_WRITE_SECONDS`), so {n:,} devices make about "
        f"{n / max(f['device_seen_write_seconds'], 1):.0f} small UPDATEs a second besides the acks.",
        "",
        f"### (b) Reconnect storm: all {n:,} drop at once and reconnect within {s['storm']:g} s",
        "",
        "Each device loses its socket without a closing handshake (a network cut) and reconnects at a "
        f"random moment within {s['storm']:g} s; a device refused or timed out tries again with back-off. "
        "Before the storm every device punched once with the event id `storm-<n>`, after it again with the same id.",
        "",
        "| | device server | limit: bare websocket server |",
        "|---|---:|---:|",
        f"| **all online again after** (from the cut) | **{storm['all_online_after_s'] if storm['all_online_after_s'] is not None else 'not all: ' + str(storm['online'])} s** | {estorm['all_online_after_s']} s |",
        f"| connect → welcome of each device, p50 / p99 | {storm.get('hello', {}).get('p50_ms', '?')} / {storm.get('hello', {}).get('p99_ms', '?')} ms | {estorm.get('hello', {}).get('p50_ms', '?')} / {estorm.get('hello', {}).get('p99_ms', '?')} ms |",
        f"| refusals and retries during it | {_errors(storm['errors'])} | {_errors(estorm['errors'])} |",
        f"| punches before: acks | {_statuses(srv['punch_before'])} | {_statuses(echo['punch_before'])} |",
        f"| punches after, same ids: acks | {_statuses(srv['punch_after'])} | — |",
        f"| rows with a `storm-` id / distinct / stored twice | {sdb.get('rows', '?'):,} / {sdb.get('distinct', '?'):,} / {sdb.get('twice', '?')} | — |",
        f"| devices online in the database after it | {srv.get('storm_db', {}).get('online', '?'):,} | — |",
        "",
        f"No event duplicated: {yes(sdb.get('rows') == n and sdb.get('twice') == 0)} (one row per device).",
        "",
        f"### (c) {s['replay_devices']} devices each replay {s['replay_events']} kept events at once",
        "",
        "Each device sends its events in `event_batch` frames of at most 200, one batch at a time (the next after the "
        "ack), as `python -m devices.simulator replay` does; all devices at the same time, while the others keep "
        "heartbeating.",
        "",
        "| | device server | limit: `events_store` directly | bare websocket server |",
        "|---|---:|---:|---:|",
        f"| events | {rp['sent']:,} | {direct['events']:,} | {erp['sent']:,} |",
        f"| time | {rp['seconds']} s | {direct['seconds']} s | {erp['seconds']} s |",
        f"| **events per second** | **{rp['events_per_second']:,.0f}** | {direct['events_per_second']:,.0f} | {erp['events_per_second']:,.0f} |",
        f"| acks: stored / duplicate / rejected | {rp['stored']:,} / {rp['duplicate']:,} / {rp['rejected']:,} | {direct['stored']:,} / {direct['duplicate']:,} / — | — |",
        f"| rows in the database / distinct / stored twice | {rdb.get('rows', '?'):,} / {rdb.get('distinct', '?'):,} / {rdb.get('twice', '?')} | — | — |",
        f"| server CPU during it | {rp.get('server_cpu_percent', '?')}% | — | {erp.get('server_cpu_percent', '?')}% |",
        f"| the same replay again: stored / duplicate; rows after | {again.get('stored', '?'):,} / {again.get('duplicate', '?'):,}; {rdb2.get('rows', '?'):,} | — | — |",
        "",
        f"Every event stored exactly once ({expected_replay:,} rows): {yes(rdb.get('rows') == expected_replay and rdb.get('twice') == 0 and rdb2.get('rows') == expected_replay)}.",
        "",
    ]
    problems = srv.get("server_log_problems") or {}
    if problems:
        lines += [
            "Problems in the device server's log during the run (first words, count): "
            + "; ".join(f"`{k}` ×{v}" for k, v in problems.items())
            + ".",
            "",
        ]
    lines += [
        "Settings: "
        f"heartbeat {f['device_heartbeat_seconds']} s, hello within {f['device_auth_timeout_seconds']} s, "
        f"frame budget {f['device_rate'][0]:g}/s (burst {f['device_rate'][1]}), `CONN_MAX_AGE` {f['conn_max_age']}, "
        f"channel layer config {f['channel_layer_config']}.",
        "",
        "Exact command: `"
        + " ".join([*(f"{k}={v}" for k, v in r.get("tunables", {}).items()), "python -m bench devices"])
        + f"` ({n:,} devices, {s['steady']:g} s of heartbeats measured, {s['echo_steady']:g} s on the bare server).",
    ]
    return "\n".join(lines) + "\n"
