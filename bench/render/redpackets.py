# ruff: noqa: E501
"""The red packet section of docs/benchmarks.md."""

from __future__ import annotations

import shlex

from bench.render.common import MARKERS, yes


def fen(n) -> str:
    n = int(n or 0)
    sign = "-" if n < 0 else ""
    n = abs(n)
    return f"{sign}¥{n // 100:,}.{n % 100:02d}"


def cpus(c: dict | None) -> str:
    if not c:
        return ""
    return " / ".join(f"{c.get(k, 0):.2f}" for k in ("postgres", "server", "bench", "other"))


def _pgbench_at(r: dict, clients: int) -> dict | None:
    return next((p for p in r["pgbench"] if p["clients"] == clients and p.get("tps")), None)


def render(r: dict) -> str:
    m, seed = r["machine"], r["seed"]
    pg = r["pg"]
    lines = [
        MARKERS["redpackets"],
        "",
        "## Red packets",
        "",
        "Written by `make bench` (bench/scenarios/redpackets.py; alone: `python -m bench redpackets`)",
        "from its own run; do not edit the figures by hand.",
        "",
        f"- **Date:** {m['date']}",
        f"- **Code:** {m.get('code', 'unknown')}",
        f"- **Machine:** {m['nproc']} CPUs ({m['cpu']}), {m['os']}, kernel {m['kernel']}",
        f"- **Software:** Python {m['python']}, Django {m['django']}, uvicorn {m['uvicorn']}, "
        f"PostgreSQL {m['postgresql']} (synchronous_commit={pg.get('synchronous_commit')}, "
        f"fsync={pg.get('fsync')}, shared_buffers={pg.get('shared_buffers')}, "
        f"max_connections={pg.get('max_connections')}), Redis {m['redis']}, {r['pgbench_version']}",
        f"- **Load average (1, 5, 15 min):** {r['load_before']} before the run, {r['load_after']} after it. "
        "Every measurement below records the CPUs used during it by PostgreSQL / the uvicorn server / the "
        "benchmark's own processes (client, helpers, pgbench) / anything else (e.g. test suites of "
        'other sessions): "CPUs" columns, in CPUs of the '
        f'{m["nproc"]} (1.00 = one CPU busy all along); "busy" is the CPU share in use just before it '
        "started (the runner waits, bounded, for an idle machine).",
        "",
        "### Data set",
        "",
        "The staff data set (bench/scenarios/staff.py: 2 brands × 200 stores × 5,000 staff, each with a user), then "
        "`python -m bench step redpackets seed`: brand `bench-a`'s red packet limits raised through "
        "`limits.settings_update` ("
        + ", ".join(f"`{k}` {v:,}" for k, v in seed["limits"].items())
        + "; packet and share limits stay at their defaults: a packet at most ¥5,000, a share at most ¥200, "
        f"at most 2,000 shares); the pool funded with {seed['topups']} top-ups of {fen(seed['topup_fen'])} "
        "through the simulated payment provider (`funding.topup_start` → `settle` → signed notice → "
        f"`topup_notice`), {fen(seed['pool_fen'])} in all; {seed['claimers']:,} active staff of `bench-a` "
        f"logged in (database sessions, as the login view leaves them: {seed['session_seconds']} s); the "
        f"soak's {seed['soak_people']} people (the active staff of stores "
        f"S0001–S00{seed['soak_stores']:02d}, "
        f"{seed['soak_managers']} of them store managers) with {seed['payout_accounts_bound']} payout "
        "accounts bound through `accounts.payout_account_bind` (verified by the simulated payout provider; "
        f"1 in 20 left without: {seed['bind_seconds']} s). The database `{r['database']['database']}` is "
        f"owned by and used as the ordinary role `{r['database']['role']}` (NOSUPERUSER, NOBYPASSRLS): "
        "row-level security applies to every statement below.",
        "",
    ]
    lines += render_race(r)
    lines += render_costs(r)
    lines += render_soak(r)
    lines += render_commands(r)
    lines += render_reading(r)
    lines += [f"Total wall time of the red packet run: {r['wall_seconds']} s.", ""]
    return "\n".join(lines)


def render_race(r: dict) -> list[str]:
    h, races = r["http"], r["races"]
    packet = h["packet"]
    lines = [
        f"### Claim race: one lucky packet of {packet['shares']:,} shares, {packet['claimers']:,} claimants",
        "",
        f"Each run sends a fresh lucky packet of {fen(packet['total_fen'])} in {packet['shares']:,} random "
        f"shares (`packet_send`, audience `group`) to the same {packet['claimers']:,} staff, and every one "
        "of "
        f"them claims it once, at the same time: exactly {packet['shares']:,} must get a share, the "
        f'{packet["claimers"] - packet["shares"]:,} others the refusal `packet_empty` ("every share has been '
        'claimed"). A claim locks the packet row (`SELECT ... FOR NO KEY UPDATE`) until its transaction '
        "commits, so the claims of one packet run one after the other; the comparison is pgbench's one-row "
        "update (below), the fastest one-row-lock transaction the same PostgreSQL does, at the same number "
        "of concurrent database connections.",
        "",
        "- **HTTP:** uvicorn with 2 workers (as the other benchmarks start it). The client (one asyncio "
        f"event loop, Python's standard library only) first opens {h['connections']:,} connections "
        f"({h['connect_s']} s), then writes all {h['claimers']:,} `POST "
        "/api/v1/redpackets/packets/<id>/claim/` "
        f"requests at once (all written within {h['all_sent_within_ms']} ms), each with its claimant's own "
        "session cookie, a CSRF cookie + `X-CSRFToken`, its own `Idempotency-Key` and `Connection: close`, "
        "and "
        "reads every answer. Each worker serves one request at a time on one database connection, so the "
        "database sees 2 concurrent transactions: the comparison is pgbench `-c2`.",
        "- **Service:** `packets.packet_claim` called from a pool of N threads in one process, or of N "
        "processes forked after `django.setup()` (no GIL shared between the claimants), each with its own "
        "database connection, released by one barrier; each takes the next claimant (shuffled) until none "
        "is left: N concurrent transactions, compared with pgbench `-cN`.",
        "",
        '"claims/s" = shares claimed / time from the first to the last claim as the database recorded it '
        '(`claimed_at`, set under the packet row\'s lock). "last share / all answered": when the client had '
        "the answer of the last successful claim and of the last of all claims, from the start signal. "
        'Latencies are the client\'s, per successful claim (they include the queueing). "DB conns": the '
        "most connections to the benchmark database, and on average how many were running a statement and "
        "how many of those were waiting for a lock (`pg_stat_activity`, sampled every 50 ms).",
        "",
        "| run | concurrency (clients → DB) | claims/s | last share / all answered | succeeded | refused "
        "(code) "
        "| other | claim p50 / p95 / max (ms) | pgbench one-row update, same DB concurrency | pgbench tps ÷ "
        "claims/s | CPUs PG / server / bench / other | DB conns: most / active / waiting for a lock "
        "| busy | all checks |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def row(label, conc, x, db, lat, ref_clients):
        pb = _pgbench_at(r, ref_clients)
        ratio = f"{pb['tps'] / db['db_claims_per_s']:.0f}×" if pb and db["db_claims_per_s"] else ""
        codes = ", ".join(f"{k}: {v}" for k, v in x["refusal_codes"].items()) or "none"
        ref = f"{pb['tps']:,.0f} tps (-c{ref_clients})" if pb else "not run"
        act = x.get("db_activity") or {}
        other = x.get("other", x.get("errors", 0))
        return (
            f"| {label} | {conc} | **{db['db_claims_per_s']}** | {x['last_win_s']:.2f} s / "
            f"{x.get('all_answered_s', x.get('race_s', 0)):.2f} s | {x['won']:,} | {x['refused']:,} "
            f"({codes}) | "
            f"{other} | {lat['won_p50']:.0f} / {lat['won_p95']:.0f} / {lat['won_max']:.0f} | "
            f"{ref} | {ratio} | {cpus(x.get('cpus'))} | "
            f"{act.get('connections_peak', '')} / {act.get('active_mean', '')} / "
            f"{act.get('lock_waiters_mean', '')} "
            f"| {x.get('cpu_busy_before', 0):.0%} | {yes(x['all_ok'])} |"
        )

    lines.append(
        row(
            "HTTP",
            f"{h['connections']:,} connections → 2 workers → 2",
            h,
            h["db"],
            h["latency_ms"],
            2,
        )
    )
    for x in races:
        lines.append(
            row(
                f"service, {x['threads']} {x.get('mode', 'threads')}",
                f"{x['threads']} {x.get('mode', 'threads')} → {x['threads']}",
                x,
                x["db"],
                x["latency_ms"],
                x["threads"],
            )
        )
    lines += [
        "",
        "pgbench on the same machine in the same run, right before the races "
        "(`bench/scenarios/redpackets_one_row.sql`: "
        "`UPDATE bench_one_row SET v = v + 1 WHERE id = 1;` on a one-row table with a primary key, as the "
        f"same role in the same database; `pgbench -n -f bench/scenarios/redpackets_one_row.sql -c C -j 2 -T "
        f"{r['settings']['pgbench_seconds']}`, `-j 1` for `-c1`):",
        "",
        "| clients | tps | latency average | transactions | CPUs PG / server / bench / other "
        "| DB conns: active / waiting for a lock | busy |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r["pgbench"]:
        lines.append(
            f"| {p['clients']} | {p['tps']:,.0f} | {p['latency_ms']} ms | {p['transactions']:,} | "
            f"{cpus(p['cpus'])} | {(p.get('db') or {}).get('active_mean', '')} / "
            f"{(p.get('db') or {}).get('lock_waiters_mean', '')} | {p['cpu_busy_before']:.0%} |"
        )
    if not r["pgbench"]:
        lines.append("| pgbench not installed | | | | | |")
    all_runs = [("HTTP", h)] + [(f"{x['threads']} {x.get('mode', 'threads')}", x) for x in races]
    names = list(h["checks"])
    for _label, x in all_runs[1:]:
        for k in x["checks"]:
            if k not in names:
                names.append(k)
    lines += [
        "",
        "Checked after every run: by the client (every answer) and in the database (python -m bench step redpackets "
        "verify, then `reconcile.reconcile(brand=...)` over the whole brand):",
        "",
        "| check | " + " | ".join(label for label, _x in all_runs) + " |",
        "|---|" + "---|" * len(all_runs),
    ]
    for name in names:
        cells = [yes(x["checks"][name]) if name in x["checks"] else "" for _l, x in all_runs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    db = h["db"]
    lines += [
        "",
        f"HTTP run in numbers: {db['claimed']:,} shares claimed by {db['distinct_claimers']:,} distinct "
        "staff, "
        f"{fen(db['claimed_fen'])} of {fen(db['total_fen'])} (shares from {fen(db['smallest_share_fen'])} to "
        f"{fen(db['largest_share_fen'])}), packet account {fen(db['packet_balance_fen'])}, "
        f"{db['claim_transactions']:,} claim transactions, {db['events']:,} `packet.claimed` events; "
        f"{h['refused']:,} refusals; answers: a share {h['answer_bytes']['first_win']:,} bytes for the first "
        f"winner and {h['answer_bytes']['last_win']:,} bytes ({h['answer_bytes']['claims_in_last_win']:,} "
        f"claims listed) for the last, a refusal {h['answer_bytes']['refusal']} bytes. "
        f"{h['failed_connects']} connections failed; {h['other']} other answers.",
        "",
    ]
    return lines


def render_costs(r: dict) -> list[str]:
    costs = r.get("detail") or []
    h, races = r["http"], r["races"]
    if not costs:
        return []
    lines = [
        "#### What one claim costs",
        "",
        "In-process on an idle packet (python -m bench step redpackets claim-costs; Django's test client for the API; "
        "SQL statements counted with `CaptureQueriesContext`, the request's own `BEGIN`/`COMMIT` and "
        'savepoints included). "after the lock": statements from the packet row\'s `SELECT ... FOR NO KEY '
        "UPDATE` to the `COMMIT`, i.e. while every other claimant of the packet waits (pgbench's update: 1 "
        "statement and the commit).",
        "",
        "| what | SQL statements | after the lock | p50 ms | answer bytes |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in costs:
        after = "" if c.get("after_lock") is None else str(c["after_lock"])
        size = "" if c.get("bytes") is None else f"{c['bytes']:,}"
        lines.append(f"| {c['label']} | {c['queries']} | {after} | {c['p50_ms']} | {size} |")
    lines += [
        "",
        "Median gap between consecutive claims (database `claimed_at`), first 100 and last 100 claims of the "
        "packet, in ms:",
        "",
        "| run | first 100 | last 100 | all |",
        "|---|---:|---:|---:|",
    ]
    for label, x in [("HTTP", h)] + [
        (f"service, {x['threads']} {x.get('mode', 'threads')}", x) for x in races
    ]:
        g = x["db"]["claim_gaps"]
        lines.append(
            f"| {label} | {g.get('first_100_median_ms', '')} | {g.get('last_100_median_ms', '')} | "
            f"{g.get('all_median_ms', '')} |"
        )
    lines.append("")
    return lines


def render_soak(r: dict) -> list[str]:
    k = r["soak"]
    led = k["ledger"]
    res = k["resolution"]
    kdb = k.get("db") or {}
    lines = [
        f"### Soak: {k['ops']:,} randomised operations",
        "",
        f"Seed **{k['seed']}**, {k['ops']:,} operations from {k['threads']} threads (each with its own "
        "database "
        "connection; each thread draws its operations from its own generator seeded with (seed, thread)), on "
        f"{k['people']} people of {k['stores']} stores, {k['managers']} store managers and the brand admin "
        "sending (bench/scenarios/redpackets_soak.py). Operation weights: "
        + ", ".join(f"{op} {w}" for op, w in k["weights"].items())
        + ". The simulated payout provider's chaos is on: "
        + ", ".join(f"{b} {w}" for b, w in k["chaos"].items())
        + f" (`chaos(weights, seed={k['seed']})`, a transfer's behaviour is a function of its reference). "
        "With `CELERY_TASK_ALWAYS_EAGER` the hand-over of a new withdrawal to the provider runs right after "
        "its "
        f"request commits, in the same thread. Notices go through the webhook view ({k['webhook_via']}) or "
        "straight to `withdrawal_notice`, 1–3 times each.",
        "",
        "- send: a fixed or lucky packet from the brand admin (to anyone of the 600) or a store manager (to "
        "his "
        "store), to one person, a store or a group of 2–30; half of them with fewer shares than people.",
        "- claim: mostly a recipient's first claim; also someone who claimed before (answered with the first "
        "share), a replayed idempotency key, or someone who is not a recipient.",
        "- expire: an open packet's `expires_at` moved into the past, then `packets_expire(brand=...)`.",
        "- withdraw: part or all of the wallet; also more than the balance as read just before (a "
        "concurrent claim may have raised it since), less than the minimum, a replayed or a reused key "
        "(another amount).",
        "- callback: the provider's signed notice of a withdrawal (7 in 10 among the 30 most recent; a late "
        "transfer is settled first, as the provider would), delivered 1–3 times.",
        "- poll: `withdrawals_poll(brand=..., older_than_seconds=0)`. auto: switch automatic withdrawal on. "
        "forged: a notice with a bad signature through the webhook.",
        "",
        f"**{k['ops_per_s']} operations/s**: {k['ops']:,} operations in {k['ops_seconds']} s; then "
        "resolution "
        f"{res['seconds']} s, `reconcile` {k['reconcile_s']} s, the benchmark's own checks "
        f"{k['own_checks_s']} s; "
        f"{k['total_seconds']} s in all. CPUs during the soak (PG / server / bench / other): "
        f"{cpus(k.get('cpus'))}; "
        f"busy before: {k.get('cpu_busy_before', 0):.0%}; DB conns: {kdb.get('connections_peak', '')} at "
        f"most, {kdb.get('active_mean', '')} running a statement on average, "
        f"{kdb.get('lock_waiters_mean', '')} of them waiting for a lock. "
        f"Unexpected errors: **{k['errors']}**.",
        "",
        "| operation | count | outcomes | p50 ms | p95 ms | max ms |",
        "|---|---:|---|---:|---:|---:|",
    ]
    by_op: dict[str, list] = {}
    for o in k["outcomes"]:
        by_op.setdefault(o["op"], []).append(o)
    for op in k["weights"]:
        rows = by_op.get(op, [])
        lat = k["latency"].get(op, {})
        text = "; ".join(f"{o['outcome']}: {o['n']:,}" for o in sorted(rows, key=lambda o: -o["n"]))
        lines.append(
            f"| {op} | {k['ops_by_kind'].get(op, 0):,} | {text} | {lat.get('p50_ms', '')} | "
            f"{lat.get('p95_ms', '')} | {lat.get('max_ms', '')} |"
        )
    extra = k["extra"]
    lines += [
        "",
        "(A claim drawn while no packet is open sends one instead: counted as a send. Latencies include "
        "waiting "
        "for the other threads, the GIL and the locks.)",
        "",
        "Along the way: "
        + "; ".join(f"{name}: {n:,}" for name, n in sorted(extra.items()) if name != "claimed fen")
        + f"; {fen(extra.get('claimed fen', 0))} claimed.",
        "",
        f"**Resolution:** {res['packets_still_open']} packets still open were expired "
        f"({res['packets_expired']} "
        f"by `packets_expire`); `withdrawals_poll(older_than_seconds=0)` ran {res['poll_rounds']} round(s) "
        f"and ended {res['withdrawals_ended_by_polls']} withdrawals; {res['withdrawals_pending_after']} left "
        f"pending. Then one more (late, duplicate) notice for {res['late_duplicate_notices']} finished "
        "withdrawals through the webhook: "
        + ", ".join(f"{a}: {n}" for a, n in res["late_duplicate_answers"].items())
        + f"; ledger and withdrawals unchanged: {yes(res['late_duplicates_changed_nothing'])}.",
        "",
        "**After the soak** (the whole brand, the claim races included): "
        f"{led['transactions']:,} ledger transactions, {led['entries']:,} entries; packets "
        + ", ".join(f"{st} {n:,}" for st, n in led["packets_by_status"].items())
        + f", {fen(led['refunded_fen'])} returned to the pool by expiry; "
        f"{led['shares_claimed']:,} shares claimed; withdrawals "
        + ", ".join(f"{st} {n:,}" for st, n in led["withdrawals_by_status"].items())
        + " (failure reasons: "
        + (", ".join(f"{why} {n}" for why, n in led["withdrawal_failure_reasons"].items()) or "none")
        + f"; {led['withdrawals_unknown_to_provider']} never reached the provider); events "
        + ", ".join(f"{name} {n:,}" for name, n in sorted(led["events"].items()))
        + ".",
        "",
        "| account kind | accounts | balance |",
        "|---|---:|---:|",
    ]
    for kind, v in sorted(led["accounts_by_kind"].items()):
        lines.append(f"| {kind} | {v['accounts']:,} | {fen(v['fen'])} |")
    rec = k["reconcile"]
    lines += [
        f"| **sum** | | **{fen(led['balances_sum_fen'])}** |",
        "",
        f"`reconcile.reconcile(brand=...)`: ok **{rec['ok']}**, problems {len(rec['problems'])}, checked "
        + ", ".join(f"{a} {b:,}" for a, b in rec["checked"].items())
        + ". The benchmark's own checks (SQL under row-level security, and every withdrawal against the "
        "simulated provider's record):",
        "",
        "| check | ok | off |",
        "|---|---|---:|",
    ]
    off = led["counts_off"]
    off_for = {
        "every transaction has >= 2 entries summing to 0": off["unbalanced_transactions"]
        + off["transactions_without_entries"],
        "every account's balance == the sum of its entries": off["accounts_drifted"],
        "every wallet == the sum of its entries": off["wallets_drifted"],
        "every entry's balance_after == the running sum of its account": off[
            "entries_with_wrong_balance_after"
        ],
        "no negative balance (except the provider clearing accounts)": off["negative_accounts"],
        "every packet closed, its account 0, claimed + returned == total": off["packets_off"],
        "every packet's shares add up to its total": off["packets_shares_off"],
        "nobody claimed a packet twice": off["claimed_twice"],
        "every claim by a recipient": off["claims_by_non_recipients"],
        "no withdrawal pending; each has 1 request + exactly 1 matching ending": off["withdrawals_off"],
        "every withdrawal agrees with the provider's record": off["withdrawals_disagreeing_with_provider"],
    }
    for name, ok in k["checks"].items():
        lines.append(f"| {name} | {yes(ok)} | {off_for.get(name, '')} |")
    if k["error_kinds"]:
        lines += ["", "Unexpected errors:", ""]
        for what, n in k["error_kinds"].items():
            lines.append(f"- {n} × `{what.strip()}`")
    lines.append("")
    return lines


def render_commands(r: dict) -> list[str]:
    s = r["settings"]
    lines = [
        "### Exact commands",
        "",
        "```sh",
        "BENCH_ONLY=redpackets make bench  # = bash bench/run.sh redpackets = python -m bench redpackets",
        "# environment of every step below:",
        " ".join(f"{k}={v}" for k, v in r["env"].items()),
        "python manage.py migrate --noinput",
        "python -m bench step staff seed",
        "python -m bench step redpackets seed",
    ]
    for p in r["pgbench"]:
        lines.append(" ".join(shlex.quote(c) for c in p["cmd"]))
    lines += [
        f"{r['server_cmd']} &",
        "python -m bench step redpackets packet http",
        f"# {r['http']['claimers']:,} x POST /api/v1/redpackets/packets/<id>/claim/ at once "
        "(bench/scenarios/redpackets.py: asyncio, one connection each)",
        "python -m bench step redpackets verify <packet id>",
        "python -m bench step redpackets claim-costs <packet id>",
    ]
    for i, x in enumerate(r["races"], start=1):
        lines.append(f"python -m bench step redpackets race {i} {x['threads']} {x.get('mode', 'threads')}")
    lines += [
        f"BENCH_RP_SERVER=127.0.0.1:8001 python -m bench step redpackets soak {s['soak_seed']} {s['soak_ops']} "
        f"{s['soak_threads']}",
        "```",
        "",
    ]
    return lines


def render_reading(r: dict) -> list[str]:
    h, races, k = r["http"], r["races"], r["soak"]
    costs = {c["label"].split(" (")[0]: c for c in r.get("detail") or []}
    svc = costs.get("claim through the service")
    api = costs.get("claim through the API")
    d1 = next((c for c in r.get("detail") or [] if c["label"].startswith("packet detail with 1 claim")), None)
    dn = next(
        (c for c in r.get("detail") or [] if c["label"].startswith("packet detail with") and c is not d1),
        None,
    )
    out = ["### Reading the figures", ""]
    ok_all = h["all_ok"] and all(x["all_ok"] for x in races)
    out.append(
        "- **Correctness under the race:** "
        + (
            f"in every run exactly {h['packet']['shares']:,} claims got a share and the other "
            f"{h['packet']['claimers'] - h['packet']['shares']:,} the `packet_empty` refusal; the shares "
            "add up "
            "to the total to the fen, nobody holds two shares, the packet account ends at 0 and the "
            "reconciliation of the brand is clean."
            if ok_all
            else "**a check failed** (see the table above)."
        )
    )
    if races:
        best = max(races, key=lambda x: x["db"]["db_claims_per_s"])
        pb = _pgbench_at(r, best["threads"])

        def name(x: dict) -> str:
            return f"{x['threads']} {x.get('mode', 'threads')}"

        rates = ", ".join(f"{x['db']['db_claims_per_s']} claims/s with {name(x)}" for x in races)
        text = (
            f"- **Claims serialise on the packet row, and each holds it long:** at the service level {rates}"
        )
        if pb:
            text += (
                f"; the best, {best['db']['db_claims_per_s']}, against {pb['tps']:,.0f} tps for pgbench's "
                f"one-row update at -c{best['threads']} "
                f"(about {pb['tps'] / best['db']['db_claims_per_s']:.0f}× more)"
            )
        if svc:
            text += (
                f". A claim runs {svc['queries']} SQL statements, {svc['after_lock']} of them (each a round "
                "trip from Python) while it holds the packet row, against pgbench's one"
            )
        gap = (best["db"].get("claim_gaps") or {}).get("all_median_ms")
        if gap:
            text += (
                f": consecutive claims were a median {gap} ms apart (how long each held the lock, hand-over "
                "included)"
            )
            if pb:
                text += f", one pgbench update {1000 / pb['tps']:.2f} ms at the same concurrency (1 / tps)"
        g = best["cpus"] or {}
        act = best.get("db_activity") or {}
        text += (
            f". During the race with {name(best)}, of {act.get('active_mean', '?')} connections running a "
            f"statement on average {act.get('lock_waiters_mean', '?')} were waiting for a lock; PostgreSQL "
            f"used {g.get('postgres', 0):.2f} CPUs and the claimants {g.get('bench', 0):.2f}"
        )
        if g.get("other", 0) >= 0.3:
            text += (
                f", other processes {g.get('other', 0):.2f}: the CPUs were busy, so part of each lock hold "
                "is "
                "waiting for a CPU."
            )
        else:
            thr = [x["db"]["db_claims_per_s"] for x in races if x.get("mode", "threads") == "threads"]
            prc = [x["db"]["db_claims_per_s"] for x in races if x.get("mode") == "processes"]
            if thr and prc:
                text += (
                    f". Processes (no GIL shared between the claimants) reach {max(prc)} claims/s, threads "
                    f"{max(thr)}"
                )
                if max(prc) <= 1.25 * max(thr):
                    text += ": what bounds the rate is the length of the locked transaction, not the client"
            text += "; more workers only add queueing (compare the latencies)."
        out.append(text)
    pb2 = _pgbench_at(r, 2)
    text = (
        f"- **Through HTTP:** {h['db']['db_claims_per_s']} claims/s from the first to the last claim; the "
        "last "
        f"share was answered {h['last_win_s']:.1f} s and the last refusal {h['all_answered_s']:.1f} s after "
        "the "
        f"{h['claimers']:,} requests left"
    )
    if pb2:
        text += f" (pgbench -c2: {pb2['tps']:,.0f} tps)"
    text += (
        f". The 2 workers serve one request each at a time (server CPUs: {h['cpus'].get('server', 0):.2f}), "
        "and every request runs in one transaction (TenantMiddleware), so a claim keeps the packet row "
        "locked "
        "until its answer is built and committed"
    )
    if api:
        if svc and api["after_lock"] > svc["after_lock"]:
            text += (
                f": {api['after_lock']} statements after the lock instead of the service's "
                f"{svc['after_lock']}"
            )
        else:
            text += f": {api['after_lock']} statements after the lock"
        text += f", {api['p50_ms']} ms for one claim in-process"
    act = h.get("db_activity") or {}
    if act and act.get("active_mean", 0) < 1:
        text += (
            f". The database was mostly idle (on average {act['active_mean']} of the 2 connections running a "
            "statement): the workers' Python bounds the rate"
        )
    ab = h["answer_bytes"]
    if ab.get("claims_in_last_win", 0) > 1:
        text += (
            f". The answer embeds the packet's detail with every claim so far, built before the commit: the "
            f"last winner's listed {ab['claims_in_last_win']:,} claims in {ab['last_win']:,} bytes (the "
            f"first winner's {ab['first_win']:,} bytes)"
        )
        if d1 and dn:
            text += (
                f"; that detail takes {dn['p50_ms']} ms in-process at {dn.get('claims', 0):,} claims against "
                f"{d1['p50_ms']} ms at 1 claim (the same {dn['queries']} queries: it grows with the rows)"
            )
    else:
        text += (
            f". The answer carries the packet's counters, not its claims: {ab['first_win']:,} bytes for the "
            f"first winner, {ab['last_win']:,} for the last"
        )
    g = h["db"]["claim_gaps"]
    if g:
        first, last = g.get("first_100_median_ms") or 0, g.get("last_100_median_ms") or 0
        text += (
            f"; the median gap between consecutive claims was {first} ms over the first 100 claims and "
            f"{last} ms over the last 100"
            + (", so the claims got slower as the packet filled" if last > 1.2 * first else "")
        )
    refusals_s = h["all_answered_s"] - h["last_win_s"]
    if h["refused"] and refusals_s > 0:
        text += (
            f". The {h['refused']:,} refusals came after the last share, in {refusals_s:.1f} s "
            f"({h['refused'] / refusals_s:.0f}/s): no money moves, but each is a full request that takes the "
            "packet row's lock before it reads the packet's status"
        )
    text += "."
    out.append(text)
    out.append(
        f"- **Soak:** {k['ops']:,} operations at {k['ops_per_s']} ops/s with {k['threads']} threads, "
        f"{k['errors']} unexpected errors (deadlocks, integrity errors); after resolution nothing is "
        "pending, "
        "the ledger balances (every transaction sums to zero, every account and wallet equals its entries, "
        "the "
        "balances sum to 0, the running balances are in order) and every withdrawal agrees with the "
        "provider: "
        + ("all checks pass." if k["all_ok"] else "**some checks failed** (see above).")
        + " Sends and expiries lock the brand's pool row, withdrawals and their endings its "
        "`payout_pending` row (brand-wide hot rows)"
        + (
            f": on average {k['db']['lock_waiters_mean']} of the {k['db']['active_mean']} connections "
            "running a "
            "statement were waiting for a lock"
            if k.get("db")
            else ""
        )
        + (
            f"; the soak's client, one Python process, used {k['cpus'].get('bench', 0):.2f} CPUs (about all "
            "its "
            "threads can, one GIL) and PostgreSQL "
            f"{k['cpus'].get('postgres', 0):.2f}, so the client bounds the rate as much as the application "
            "does."
            if (k.get("cpus") or {}).get("bench", 0) >= 0.7
            else "."
        )
    )
    other = [
        ("pgbench", max((p["cpus"].get("other", 0) for p in r["pgbench"]), default=0)),
        ("HTTP race", h["cpus"].get("other", 0)),
        *[(f"race with {x['threads']} {x.get('mode', 'threads')}", x["cpus"].get("other", 0)) for x in races],
        ("soak", (k.get("cpus") or {}).get("other", 0)),
    ]
    busy = [(name, c) for name, c in other if c >= 0.2]
    if busy:
        out.append(
            "- **The machine was not idle:** other processes used "
            + ", ".join(f"{c:.2f} CPUs during the {name}" for name, c in busy)
            + " (of 2); those figures are lower than an idle machine would give. Rerun to compare."
        )
    else:
        out.append("- Other processes used less than 0.2 CPUs during every measurement.")
    out.append("")
    return out
