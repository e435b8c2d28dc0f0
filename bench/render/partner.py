# ruff: noqa: E501
"""The partner platform section of docs/benchmarks.md."""

from __future__ import annotations

import shlex

from bench.render.common import MARKERS, machine_lines, split_text, yes

TARGET_RATIO = 1.10
TARGET_FANOUT_S = 60.0


def render(r: dict) -> str:
    m, s, f = r["machine"], r["settings"], r["fanout"]
    lines = [
        MARKERS["partner"],
        "",
        "## Partner platform",
        "",
        "Written by `make bench` (bench/scenarios/partner.py; alone: `python -m bench partner`) from its",
        "own run; do not edit the figures by hand.",
        "",
        *machine_lines(m),
        "",
        "### Token against session on the member look-up (target: the token at most 10% slower)",
        "",
        f"{s['members']:,} members in brand `bench-a` (the membership scenario's seed at that size, on a staff "
        f"data set of {r['staff_seed']['stores_per_brand']} stores and {r['staff_seed']['staff_per_brand']:,} staff per brand). "
        "`GET /api/v1/members/lookup/?kind=phone&value=<random>` (`bench/scenarios/members_lookup.lua`: "
        "a random existing member per request) once with a brand admin's session cookie and once with "
        "`Authorization: Bearer <token>` of a partner app (scopes "
        "`members:read members:write orders:read webhooks:manage`, its rate limit raised out of the way), "
        f"the token taken from `POST /api/v1/oauth/token/` (client credentials, {r['token']['ms']} ms, "
        f"`expires_in` {r['token']['expires_in']}). Same server, same run, alternately per connection level: "
        f"`wrk -t{s['threads']} -c<N> -d{s['duration']} --latency`, {s['repeat']} runs per row, each after a "
        f"{s['warmup']} warm-up and after waiting (at most `BENCH_QUIET_MAX` seconds) for an idle machine; the "
        f"row is the run with the median throughput{' (of two runs, the faster)' if s['repeat'] == 2 else ''}; "
        '"busy" is how busy the '
        "machine was before the runs and \"other CPU\" the CPU other processes took during them. A token call also checks the token's expiry and the app's status, scope and IP "
        "allowlist, counts the app's rate-limit window in Redis and logs every tenth successful read "
        "(the partner activity log). Latencies in milliseconds.",
        "",
        "| auth | conns | req/s | range | p50 | p95 | p99 | max | p95 runs | split runs | non-2xx | sock err | DB conns | busy | other CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for h in r["lookup"]:
        w = h["wrk"]
        lines.append(
            f"| {h['auth']} | {h['connections']} | {w['rps']:.1f} | {min(h['rps_all']):.0f}–{max(h['rps_all']):.0f} | "
            f"{w['p50_ms']:.1f} | {w['p95_ms']:.1f} | {w['p99_ms']:.1f} | {w['max_ms']:.1f} | "
            f"{' / '.join(f'{p:.0f}' for p in h['p95_all'])} | "
            f"{' / '.join(split_text(x) for x in h.get('split_all', []))} | {w['non2xx3xx']} | "
            f"{w['socket_errors']} | {h.get('db_connections_peak', '')} | {h['cpu_busy_before']:.0%} | "
            f"{h['foreign_cpu']:.0%} |"
        )
    lines += [
        "",
        "| conns | session req/s ÷ token req/s | token p50 ÷ session p50 | token p95 ÷ session p95 | token at most 10% slower |",
        "|---:|---:|---:|---:|---|",
    ]
    for c in r["comparison"]:
        ok = c["rps_ratio"] <= TARGET_RATIO and c["p50_ratio"] <= TARGET_RATIO
        lines.append(
            f"| {c['connections']} | {c['rps_ratio']:.3f} | {c['p50_ratio']:.3f} | {c['p95_ratio']:.3f} | {yes(ok)} |"
        )
    lines += [
        "",
        '"Token at most 10% slower": throughput ratio and median ratio both at most 1.10. SQL queries of one '
        "look-up (Django's test client, second request): "
        + ", ".join(f"{q['auth']} {q['queries']} (status {q['status']})" for q in r["queries"])
        + ".",
        "",
        f"### Webhook fan-out: {f['events']:,} events to 3 endpoints, one dead (target: within 60 s)",
        "",
        f"One partner app with three endpoints subscribed to `member.joined`: two on a local receiver "
        "(`bench/scenarios/partner_receiver.py`, an asyncio HTTP/1.1 server answering 204 at once and "
        "noting each arrival's time and `Retail-Event-Id`), one on a port where nothing listens "
        f"(connection refused). {f['events']:,} events recorded through `retail.outbox.emit` as the "
        f"members app does, {f['per_tx']} per transaction, from {f['create'].get('processes', 1)} "
        "process(es) side by side (as web workers would) in "
        f"{f['create']['seconds']} s (the event rows and one delivery row per endpoint are written in "
        "each transaction; the commit kicks one delivery task per endpoint). Delivered by a real Celery "
        f"worker (`-c {s['worker_concurrency']}`, queues `celery` and `webhooks`) with Celery beat running "
        "(the 30-second sweep). Latency: from the event's `created_at` in the database to its first "
        "arrival at the receiver (same clock).",
        "",
        f"The events were created at {f['events'] / max(f['create']['seconds'], 0.001):,.0f} a second "
        f"({f['create']['seconds']} s for all of them; the machine was {f['cpu_busy_before']:.0%} busy just "
        "before, and other processes' CPU is in the last line below), so the time until every event had "
        'arrived cannot be shorter than that; "after the last event" is how far delivery trailed creation. '
        "A delivery's latency includes the wait for its transaction's commit (an event's `created_at` is its "
        "insert, up to a transaction's length before the commit).",
        "",
        "| both healthy endpoints had every event | after the first event | after the last event | p50 | p95 | p99 | within 60 s |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| {yes(f['all_delivered'])} | {f['seconds_from_first_event']} s | {f['seconds_from_last_event']} s | "
        f"{f['p50_ms']} ms | {f['p95_ms']} ms | {f['p99_ms']} ms | "
        f"{yes(bool(f['all_delivered'] and f['seconds_from_first_event'] <= TARGET_FANOUT_S))} |",
        "",
        "| endpoint | deliveries arrived | distinct events | duplicates | p50 | p95 | p99 | max | last arrival after the first event | deliveries by status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e, pk in zip(f["endpoints"], f["endpoint_ids"], strict=False):
        st = f["state"].get(str(pk), {})
        by = ", ".join(f"{k} {v:,}" for k, v in sorted(st.get("by_status", {}).items())) or "none"
        lines.append(
            f"| {e['name']} | {e['deliveries']:,} | {e['events']:,} | {e['duplicates']} | {e['p50_ms']} | "
            f"{e['p95_ms']} | {e['p99_ms']} | {e['max_ms']} | {e['last_arrival_s']} s | {by} |"
        )
    dead = f["state"].get(str(f["endpoint_ids"][2]), {})
    lines += [
        "",
        f"The dead endpoint's deliveries, read right after: {', '.join(f'{k} {v:,}' for k, v in sorted(dead.get('by_status', {}).items()))}; "
        f"{dead.get('attempted_pending', 0):,} of the pending ones tried (attempts {dead.get('attempts_min')}–"
        f"{dead.get('attempts_max')}), the tried ones' next attempts in {dead.get('next_attempt_in_s_min')}–"
        f"{dead.get('next_attempt_in_s_max')} s: pending with back-off: {yes(f['dead_pending_with_backoff'])}. "
        "Its failures did not hold up the two healthy endpoints (each endpoint has its own task).",
        "",
        "Progress seen at the receiver (seconds after the first event: events at A, at B): "
        + ", ".join(f"{p[0]} s: {p[1]:,}/{p[2]:,}" for p in f["progress"])
        + ".",
        "",
        "CPUs used on average during creation and delivery: "
        + ", ".join(f"{k} {v}" for k, v in f.get("cpus", {}).items())
        + ' ("server" is the Celery worker).',
        "",
        "### Exact commands",
        "",
        "```sh",
        "BENCH_ONLY=partner make bench   # = bash bench/run.sh partner -> python -m bench partner",
        "# environment of every step below:",
        " ".join(f"{k}={v}" for k, v in r["env"].items()),
        "python manage.py migrate --noinput",
        "python -m bench step staff seed",
        "python -m bench step members seed",
        "python -m bench step partner app",
        f"{r['server_cmd']} &",
        "curl -u <client id>:<secret> -d grant_type=client_credentials http://127.0.0.1:8001/api/v1/oauth/token/",
    ]
    for h in r["lookup"]:
        lines.append(" ".join(shlex.quote(x) for x in h["cmd"]))
    lines += [
        "python -m bench step partner queries '<session key>' '<token>'",
        f"{f['receiver_cmd']} &",
        "python -m bench step partner endpoints <app id> '<urls>'",
        f"{r['worker_cmd']} &",
        f"{r['beat_cmd']} &",
        f"python -m bench step partner emit <events per process> {f['per_tx']} <first member>  "
        f"# {f['create'].get('processes', 1)} processes at once",
        "python -m bench step partner deliveries '<endpoint ids>' <events file>",
        "```",
        "",
        f"Total wall time of the partner run: {r['wall_seconds']} s. Redis database 12 holds this "
        "benchmark's cache and Celery queues only.",
        "",
    ]
    return "\n".join(lines)
