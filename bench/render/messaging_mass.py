# ruff: noqa: E501
"""The mass message section of docs/benchmarks.md (python -m bench messaging_mass)."""

from __future__ import annotations

from bench.render.common import MARKERS, machine_lines, yes


def render(r: dict) -> str:
    m = r["machine"]
    rows = [
        f"| {i} | {s['matched']:,} | {s['sent']:,} | {s['skipped_cap']:,} | {s['skipped_muted']:,} | "
        f"**{s['seconds']:.1f} s** | {r['limit_seconds']} s | {yes(s['seconds'] <= r['limit_seconds'])} | {s['machine_busy_before']:.0%} |"
        for i, s in enumerate(r["sends"], 1)
    ]
    v = r["verify"]
    return f"""{MARKERS["messaging_mass"]}

## Mass messages (群发)

Target from issue 17: a mass message to 100,000 members with the monthly cap applied in at most
60 s. `python -m bench messaging_mass` (not part of `make bench`; bench/README.md says how):
{r["members"]:,} active members of one brand ({r["guides"]} guides), cap {r["cap"]} a month; one in
ten without marketing consent, one in ten already at the cap, one in ten one below it; half with a
conversation already, half without. The brand admin's broadcast to all of them is sent by
`guides.messaging.broadcasts.broadcast_send` (what the Celery task runs) in one process, in
batches of {r["sends"][0]["batch"]:,} members per transaction; then a second one, which the cap stops
earlier. Timed from the call to its return, on PostgreSQL with row-level security on.

{chr(10).join(machine_lines(m))}

| send | matched | sent | skipped: cap | skipped: muted | time | limit | within | machine busy before |
|---|---:|---:|---:|---:|---:|---:|---|---:|
{chr(10).join(rows)}

Checked afterwards: messages stored per broadcast equal its `sent` ({yes(v["ok"])}); highest
monthly count {v["max_quota"]}, members over the cap: {v["quota_over_cap"]}; members with two
conversations: {v["members_with_two_conversations"]}; recipients whose unread count is not the
number of mass messages they got: {v["recipients_with_wrong_unread"]}. Seed: {r["seed"]["seed_seconds"]} s.
"""
