# ruff: noqa: E501
"""The messaging section of docs/benchmarks.md."""

from __future__ import annotations

from bench.render.common import MARKERS, machine_lines, yes

TARGET_P95_MS = 100.0


def _f(value, unit: str = " ms") -> str:
    return "—" if value is None else f"{value:,}{unit}"


def render(r: dict) -> str:
    m, s, c, db, seed = r["machine"], r["settings"], r["chat"], r["db"], r["seed"]
    d = c["delivery_ms"]
    p95_ok = d["p95"] is not None and d["p95"] <= TARGET_P95_MS
    nothing_lost = (
        c["lost"] == 0 and db["missing"] == 0 and c["arrived_twice"] == 0 and db["stored_twice"] == 0
    )
    in_order = c["out_of_order"] == 0 and db["out_of_order"] == 0
    lines = [
        MARKERS["messaging"],
        "",
        "## Messaging",
        "",
        "Written by `python -m bench messaging` (bench/scenarios/messaging.py; not part of `make bench`) from",
        "its own run; do not edit the figures by hand.",
        "",
        *machine_lines(m),
        f"- **Server:** `{r['cmd']}` (one process), channel layer {r['settings_facts']['channel_layer']}, PostgreSQL",
        f"- **Load:** {s['conversations']:,} conversations ({seed['members']:,} shoppers' sockets and {seed['guides']} guides' sockets), "
        f"{s['rate']:g} messages/s for {s['duration']:g} s after a {s['warmup']:g} s warm-up; sides alternate, "
        f"messages in bursts to one conversation; the machine was {c['cpu_busy_before']:.0%} busy before the run "
        f"(load average {c['load_average_before']})",
        "",
        "| Figure | Target | Measured | Met |",
        "|---|---|---|---|",
        f"| Delivery p95 (send frame written → message frame read on the other side) | ≤ {TARGET_P95_MS:g} ms | **{_f(d['p95'])}** | {yes(p95_ok)} |",
        f"| Nothing lost (arrived once, by 30 s after the run; stored once) | 0 lost | {c['lost']:,} of {c['sent']:,} not arrived, {c['arrived_twice']} twice; database: {db['missing']:,} missing, {db['stored_twice']} twice | {yes(nothing_lost)} |",
        f"| Order within a conversation (arrival; ids in the database) | kept | {c['out_of_order']} / {db['out_of_order']} out of order | {yes(in_order)} |",
        "",
        f"Delivery: p50 {_f(d['p50'])}, p95 {_f(d['p95'])}, p99 {_f(d['p99'])}, max {_f(d['max'])}. "
        f"Achieved rate {c['rate_achieved']} messages/s (the sender ran {c['sender_behind_seconds']} s behind schedule). "
        f"Acked {c['acked']:,}, arrived {c['arrived']:,}; errors {c['errors'] or 'none'}; sockets the server closed {c.get('sockets_closed_by_server') or 'none'}; auto-replies seen by shoppers {c['auto_replies_seen']:,}.",
        f"Server CPU {c['server_cpu_seconds']} s ({c['server_cpu_share']:.0%} of one CPU), RSS {c['rss_before_kb'] // 1024} → {c['rss_after_kb'] // 1024} MiB; "
        f"the load generator (same machine) used {c['runner_cpu_seconds']} s of CPU. Sockets connected in {c['sockets']['connect_seconds']} s.",
        f"Messages stored during the run by sender: {', '.join(f'{k} {v:,}' for k, v in sorted(db['by_sender'].items()))}.",
    ]
    dm = r.get("direct") or {}
    if dm:
        lines += [
            "",
            "The server's work per message without sockets (`direct` step: `sending.send_as_member` / "
            "`send_as_guide` one after the other in one process, as the consumers' one database thread runs them): "
            + "; ".join(
                f"{side} p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms, {v['queries_p50']} SQL queries"
                for side, v in dm.items()
                if isinstance(v, dict)
            )
            + ".",
        ]
    if c.get("by_second"):
        lines += [
            "",
            "Delivery p95 by the second the message was sent in (ms): "
            + ", ".join(f"{row[3]:g}" for row in c["by_second"])
            + ".",
        ]
    if r.get("python_reference_seconds"):
        lines += [
            "",
            f"The machine's speed at one thread of Python in this run: {r['python_reference_seconds']} s for "
            "`sum(i * i for i in range(10**7))` (best of three; lower is faster).",
        ]
    if r.get("notes"):
        lines += ["", *r["notes"]]
    return "\n".join(lines) + "\n"
