# ruff: noqa: E501
"""The commission section of docs/benchmarks.md."""

from __future__ import annotations

from bench.render.common import MARKERS

BRAND = "bench-commission"


def _n(v) -> str:
    return f"{int(v):,}"


def _yuan(fen) -> str:
    fen = int(fen)
    return f"{'-' if fen < 0 else ''}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _yes(ok) -> str:
    return "yes" if ok else "**NO**"


def _met(value: float, target: float) -> str:
    return "**yes**" if value < target else "**no**"


def _cpus(c: dict) -> str:
    return " / ".join(f"{c.get(k, 0):.2f}" for k in ("postgres", "server", "bench", "other"))


def _median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if v else 0.0


def render(r: dict) -> str:  # noqa: C901, PLR0915
    m, s, seed, a, st = r["machine"], r["settings"], r["seed"], r["attribution"], r["settlement"]
    first, rerun, chk = a["first"], a["rerun"], a["checks"]
    month, backlog = st["month"], st["backlog"]
    c = seed["counts"]
    pg = r["pg"]
    t = r["targets"]
    mem = r["memory"]
    L: list[str] = []
    add = L.append
    add(MARKERS["commission"])
    add("")
    add("## Commission")
    add("")
    add("Written by `make bench` (bench/scenarios/commission.py; alone: `python -m bench commission`)")
    add("from its own run; do not edit the figures by hand.")
    add("")
    add(f"- **Date:** {m.get('date', '?')}")
    add(f"- **Code:** {m.get('code', '?')}")
    add(
        f"- **Machine:** {m.get('nproc', '?')} CPUs ({m.get('cpu', '?')}), {m.get('os', '?')}, "
        f"kernel {m.get('kernel', '?')}"
    )
    add(
        f"- **Software:** Python {m.get('python', '?')}, Django {m.get('django', '?')}, Celery "
        f"{m.get('celery', '?')}, "
        f"PostgreSQL {m.get('postgresql', '?')} (synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']}, work_mem={pg['work_mem']}, "
        f"max_connections={pg['max_connections']}), Redis {m.get('redis', '?')}, Celery worker: "
        f"`{r['worker_cmd']}`"
    )
    add(
        f"- **Load average (1, 5, 15 min):** {r['load_before']} before the run, {r['load_after']} after "
        "it. The machine is shared: each measurement records the CPUs used during it by PostgreSQL / "
        'the Celery worker / the benchmark\'s own process / anything else ("CPUs", 1.00 = one CPU busy '
        'all along; "other" is other sessions\' test suites and browsers), and "busy" the share of '
        "the CPUs in use just before it started (the runner first waits, at most "
        f"{int(s.get('quiet_seconds', 180))} s, for less than 20%)."
    )
    add("")
    add("### Targets")
    add("")
    add("| figure | target | measured | met |")
    add("|---|---:|---:|---|")
    add(
        f"| attribution of {_n(first['orders'])} historic paid orders ({_n(c['members'])} members, "
        f"{_n(c['guides'])} guides), Celery with {s['workers']} worker processes on Redis | "
        f"< {t['attribute_s']} s | **{first['seconds']} s** ({_n(first['orders_per_s'])} orders/s) | "
        f"{_met(first['seconds'], t['attribute_s'])} |"
    )
    add(
        f"| re-run: nothing changes | < {t['rerun_s']} s | **{rerun['seconds']} s** (slowest of the "
        f"three ways below); changed: {'nothing' if rerun['unchanged'] else '**something**'} | "
        f"{_met(rerun['seconds'], t['rerun_s']) if rerun['unchanged'] else '**no**'} |"
    )
    add(
        f"| settlement of a month ({month['label']}), {_n(month['statements'])} guides: close + approve + "
        f"pay | < {t['settle_s']} s | **{month['seconds']} s** | {_met(month['seconds'], t['settle_s'])} |"
    )
    once = month["ok"] and backlog["ok"] and st["reconcile"]["ok"]
    add(
        f"| every statement paid exactly once | | {_n(month['paid'])} + {_n(backlog['paid'])} statements, "
        f"{_n(month['paid'] + backlog['paid'])} red packets, reconcile ok: {st['reconcile']['ok']} | "
        f"{'**yes**' if once else '**no**'} |"
    )
    add("")
    # -- data set
    mix = {}
    for channel, status, n, refunded, touched, served, walk_in, fen in seed["mix"]:
        row = mix.setdefault(channel, [0, 0, 0, 0, 0, 0, 0])
        if status != "cancelled":
            row[0] += n
            row[1] += refunded
            row[2] += touched
            row[3] += served
            row[4] += walk_in
            row[5] += int(fen or 0)
        else:
            row[6] += n
    add("### Data set")
    add("")
    add(
        f"One brand (`{BRAND}`), seeded by bench/scenarios/commission_seed.sql in one transaction with row-level "
        "security bypassed the audited way (`rls_bypass`), set-based (`INSERT ... SELECT` over "
        "`generate_series`, explicit ids, every choice a hash of the row's id, so the data are the same "
        f"on every run), then `VACUUM (ANALYZE)`: {seed['seconds']} s in all, of which "
        f"{seed['steps'].get('commit (deferred foreign-key checks)', '?')} s for the commit (the deferred "
        "same-brand foreign keys are checked there). Database size afterwards "
        f"{seed['sizes']['database']} (orders {seed['sizes']['orders']}, lines {seed['sizes']['lines']})."
    )
    add("")
    if seed.get("reused_from"):
        add(
            "This run measured again on the database seeded by an earlier run of this benchmark "
            f"(`{seed['reused_from']}`, figures of its seed above): what attribution and settlement had "
            "written was emptied first (`TRUNCATE` of the attribution, commission, event, statement and "
            f"red packet tables, then `VACUUM (ANALYZE)`: {seed['reset']['seconds']} s)."
        )
        add("")
    add(
        f"- {_n(c['stores'])} stores; {_n(c['guides'])} guides, all active, each with a user (phone "
        f"`138` + 8 digits) and one store (guide g in store (g - 1) mod {s['stores']} + 1); a brand admin."
    )
    add(
        f"- {_n(c['members'])} members, each with an exclusive guide (member m: guide (m - 1) mod "
        f"{s['guides']} + 1) and that guide as joining guide; {_n(c['member_phones'])} phone identities, "
        f"{_n(c['staff_purchase_members'])} of them a guide's own phone (those members' orders are staff "
        "purchases: no commission)."
    )
    add(
        f"- {s['categories']} categories, 100 products, {_n(c['skus'])} SKUs (¥19.90 to ¥314.90); one "
        "store-page share link per guide."
    )
    add(
        f"- {_n(c['orders'])} orders: {_n(c['paid_orders'])} paid between {str(seed['paid_from'])[:16]} and "
        f"{str(seed['paid_to'])[:16]} UTC (evenly over the 365 days before the seed, ids in time order), "
        f"every 101st a cancelled, never paid order; {_n(c['order_lines'])} lines (1–3 per order, a "
        "quarter of them 2 units, a fifth 10% off); 3% refunded 30% by amount only, 2% with their first "
        "line returned (the whole order when it is the only line: status `refunded`); 70% `completed`, "
        f"the rest `paid`. {_n(c['touches'])} share-link touches (touch = the last share link opened "
        "0–29 days + 1 hour before payment)."
    )
    add("")
    add(
        "| channel | paid orders | refunded | with a share-link touch | served by a guide at the till | without a member | paid | cancelled |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for channel, row in sorted(mix.items()):
        add(
            f"| {channel} | {_n(row[0])} | {_n(row[1])} | {_n(row[2])} | {_n(row[3])} | {_n(row[4])} | "
            f"{_yuan(row[5])} | {_n(row[6])} |"
        )
    add("")
    add(
        "Attribution rules: version 1 since 2000 (cloud store: last share link, else the exclusive "
        "guide; online flagship: exclusive guide, else the share link; POS: the guide at the till, else "
        "the exclusive guide; share links count 30 days; staff purchases excluded); version 2 from 150 "
        "days before the seed: share links count 14 days, no commission under ¥20, the online flagship "
        "credits the exclusive guide only. Commission rules "
        f"({c['commission_rules']}): 1% on everything, 1.5% in the online flagship, 3.5%–8% per category; "
        "category 3's 4% ended 180 days before the seed and became 7%; category 5 pays 8% at the till; SKU "
        "7 ¥15 per unit capped at ¥25 a line; SKU 8 ¥8 per unit in the cloud store."
    )
    add("")
    add(
        f"The database `{r['database']['database']}` is owned by and used as the ordinary role "
        f"`{r['database']['role']}` (NOSUPERUSER, NOBYPASSRLS): row-level security applies to every "
        "statement measured."
    )
    add("")

    # -- attribution
    tasks = [x[0] for x in r["tasks"].get("attribute_range", [])][: first["ranges"]]
    add(f"### Attribution: {_n(first['orders'])} historic orders through Celery")
    add("")
    add(
        f"A Celery worker (`-c {s['workers']}`: {s['workers']} processes, each with its own database "
        "connection; broker Redis database 6, no result backend, `acks_late`, prefetch 1) was started "
        "and ready before the clock started. The benchmark process then called "
        f"`attribution.id_ranges(brand=..., size={_n(s['range_size'])})` and sent one "
        "`guides.tasks.attribute_range.delay(brand_id, after_id, up_to_id)` per range; each task runs "
        "`attribute_pending` over its range in batches of 10,000 orders per transaction. The time is from "
        "the split until the broker held no message, waiting or unacknowledged (polled every 0.1 s; a "
        "task's message is acknowledged after its last batch committed), and `count(*)` of "
        "`guides_attribution` then equals the number of paid orders. (Polling `count(*)` itself, four "
        "times a second over a table of up to 1,000,000 rows, would load the database it measures; the "
        "progress below comes from `pg_stat_user_tables.n_tup_ins` every 5 s instead.)"
    )
    add("")
    add(
        "| orders | ranges (tasks) | split | dispatch | **all attributed** | orders/s | "
        "task time min / median / max | CPUs PG / worker / bench / other | DB connections: most / "
        "running a statement | busy before |"
    )
    add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    add(
        f"| {_n(first['orders'])} | {first['ranges']} | {first['split_s']} s | {first['dispatch_s']} s | "
        f"**{first['seconds']} s** | {_n(first['orders_per_s'])} | "
        + (f"{min(tasks):.1f} / {_median(tasks):.1f} / {max(tasks):.1f} s" if tasks else "?")
        + f" | {_cpus(a['cpus'])} | {a['db']['connections_peak']} / {a['db']['active_mean']} | "
        f"{a.get('busy_before', 0):.0%} |"
    )
    add("")
    cpu_pg, cpu_worker = a["cpus"].get("postgres", 0), a["cpus"].get("server", 0)
    per_order = (cpu_pg + cpu_worker) * first["seconds"] / max(first["orders"], 1) * 1e6
    add(
        f"Reading it: PostgreSQL and the worker together used {cpu_pg + cpu_worker:.2f} of the "
        f"{m.get('nproc', '2')} CPUs throughout, {per_order:.0f} µs of CPU per order, "
        f"{cpu_pg / max(cpu_pg + cpu_worker, 1e-9):.0%} of it in PostgreSQL: the run is bound by the "
        f"database's CPU, not by the number of tasks or workers. At that cost, {t['attribute_s']} s on "
        f"this machine would allow {t['attribute_s'] * float(m.get('nproc', 2) or 2) / max(first['orders'], 1) * 1e6:.0f} µs "
        "per order with every CPU busy. Where one range's time goes is measured below (\"Where the time "
        'goes").'
    )
    add("")
    prog = ", ".join(f"{p[0]:g} s: {_n(p[1])}" for p in first["progress"])
    add(f"Progress (rows inserted into guides_attribution): {prog}.")
    add("")
    cmp = chk["compare"]
    add(
        f"Result: {_n(chk['attributions'])} attributions, {_n(chk['entries'])} commission entries "
        f"({_n(chk['earn_entries'])} earn, {_n(chk['clawback_entries'])} clawbacks of refunds), "
        f"`orders.attributed` batch events covering {_n(chk['events'])} orders; {_n(chk['guides_credited'])} guides credited "
        f"{_yuan(chk['entries_fen'])} in all. By source / exclusion: "
        + ", ".join(f"{k} {_n(v)}" for k, v in sorted(chk["breakdown"].items()))
        + f". Share-link touches older than the 14 days of rule version 2: {_n(chk['touches_older_than_14_days'])}."
    )
    add("")
    add(
        "Checked afterwards (bench/scenarios/commission.py `verify_attribution`): the attribution and commission "
        "rules written again in SQL, independently of guides/services (the rule version in force at "
        "payment, precedence per channel, staff purchases by phone, the threshold, the share-link window, "
        "the most specific commission rule per line, caps, fixed amounts per unit, returned lines), over "
        f"every paid order ({chk['expect_s']} s), compared with what was written; the whole check took "
        f"{chk['verify_s']} s."
    )
    add("")
    add("| check | ok | off |")
    add("|---|---|---:|")
    off = {
        "guide, source, exclusion, store == SQL recomputation (every order)": cmp["guide_off"]
        + cmp["source_off"]
        + cmp["excluded_off"]
        + cmp["store_off"],
        "commission == SQL recomputation (orders without amount-only refunds)": cmp["commission_off"],
        "amount-only refunds: 0 <= commission <= full": cmp["bounds_off"],
        "commission_fen == sum(earn + clawback) per order": cmp["net_off"] + cmp["clawback_off"],
        "entries credit the attribution's guide": cmp["entry_guide_off"],
        "sales_fen == sum of the lines": cmp["sales_off"],
        "per guide: entries == SQL recomputation": chk["guides_off"],
        "one earn entry per credited order, key earn:<order>": cmp["earn_off"],
    }
    for k, ok in chk["checks"].items():
        add(f"| {k} | {_yes(ok)} | {off.get(k, '')} |")
    add("")
    add(
        f"Orders compared exactly: {_n(cmp['exact_orders'])} of {_n(cmp['orders'])} (the other "
        f"{_n(cmp['amount_refund_orders'])}, refunded by amount only, are spread over their lines by "
        "largest remainder: only bounded); guides compared: "
        f"{_n(chk['guides_compared'])}, {_n(chk['guides_off'])} off."
    )
    add("")
    add(
        "**Re-run** (after the checks; the counts of attributions, entries and events and their highest ids before and after):"
    )
    add("")
    add("| how | what ran | time | attributed |")
    add("|---|---|---:|---:|")
    add(
        f"| the same procedure again | `id_ranges` → {rerun['procedure_ranges']} ranges, so nothing sent | "
        f"{rerun['procedure_s']} s | 0 |"
    )
    add(
        f"| the sweep over everything, in the benchmark process | `attribute_pending(brand=...)` | "
        f"{rerun['pending_s']} s | {rerun['pending_attributed']} |"
    )
    add(
        f"| the first run's {rerun['worker_ranges']} ranges sent to the worker again | "
        f"`attribute_range.delay(...)` × {rerun['worker_ranges']}, until the queue drained | "
        f"{rerun['worker_s']} s | 0 |"
    )
    add("")
    b0, b1 = rerun["before"], rerun["after"]
    add(
        f"Unchanged: **{_yes(rerun['unchanged'])}** (attributions {_n(b0['attributions'])} → "
        f"{_n(b1['attributions'])}, entries {_n(b0['entries'])} → {_n(b1['entries'])}, events "
        f"{_n(b0['events'])} → {_n(b1['events'])}, highest ids unchanged: "
        f"{_yes(b0['max_attribution_id'] == b1['max_attribution_id'] and b0['max_entry_id'] == b1['max_entry_id'] and b0['max_event_id'] == b1['max_event_id'])})."
    )
    add("")

    # -- settlement
    add(f"### Settlement: a month of {_n(month['statements'])} guides")
    add("")
    add(
        f"Monthly periods in {st['timezone']}. Two periods, one after the other: first {backlog['label']}, "
        "whose close gathers the back-log (every unsettled entry dated before its end: the first "
        f"{_n(backlog['entries'])} entries, about 10 months of orders), then **{month['label']}**, the last "
        "complete month: the figure. Each: `settlement.period_close` (statements written), the pool funded "
        "through the simulated payment provider (`funding.topup_start` → settle → signed notice → "
        "`topup_notice`, as tests/redpackets/conftest.py `top_up`; not in the time), "
        "`settlement.period_approve` as the brand admin (queues `pay_period` to the worker when it "
        "commits), then the wait (polled every 50 ms) until the period's status is `paid`. For the "
        "back-log the benchmark process also called `period_pay` itself right after the approval, while "
        "the worker paid: two payers at once. Afterwards `period_pay` once more (must pay nothing)."
    )
    add("")
    add(
        "| period | entries | guides | statements | paid | total | top-ups | close | approve | pay | "
        "**close + approve + pay** | second payer paid | pay again |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in (backlog, month):
        sp = p.get("second_payer")
        add(
            f"| {p['label']}{' (back-log)' if p is backlog else ''} | {_n(p['entries'])} | {_n(p['guides'])} | "
            f"{_n(p['statements'])} | {_n(p['paid'])} | {_yuan(p['total_fen'])} | {p['funding']['topups']} | "
            f"{p['close_s']} s | {p['approve_s']} s | {p['pay_s']} s | **{p['seconds']} s** | "
            + (f"{_n(sp.get('paid', 0))} in {sp.get('seconds')} s" if sp else "–")
            + f" | {p['pay_again']} ({p['pay_again_s']} s) |"
        )
    add("")
    add(
        f"CPUs during both (PG / worker / bench / other): {_cpus(st['cpus'])}; busy before: "
        f"{st.get('busy_before', 0):.0%}. The worker's `pay_period` task times: "
        + ", ".join(f"{x[0]:.1f} s ({x[1]} paid)" for x in r["tasks"].get("pay_period", []))
        + "."
    )
    add("")
    if month.get("close_sql"):
        add(
            "Where the close's time goes (every SQL statement of `period_close` timed in-process, by "
            "kind; the rest is Python):"
        )
        add("")
        add(f"| statement | {backlog['label']} (back-log) | {month['label']} |")
        add("|---|---:|---:|")
        kinds = {q["kind"]: [q, None] for q in backlog.get("close_sql", [])}
        for q in month["close_sql"]:
            kinds.setdefault(q["kind"], [None, None])[1] = q
        for kind, (qb, qm) in sorted(kinds.items(), key=lambda kv: -((kv[1][0] or {}).get("seconds", 0))):
            if max((qb or {}).get("seconds", 0), (qm or {}).get("seconds", 0)) < 0.01:
                continue
            cell = lambda q: f"{q['seconds']:.2f} s ({q['count']})" if q else ""  # noqa: E731
            add(f"| {kind} | {cell(qb)} | {cell(qm)} |")
        sp = backlog.get("second_payer") or {}
        if sp.get("sql"):
            paid_n = max(sp.get("paid", 0), 1)
            total_sql = sum(q["seconds"] for q in sp["sql"])
            add("")
            add(
                f"Paying, seen from the second payer (the benchmark process paid {_n(sp.get('paid', 0))} "
                f"statements of the back-log in {sp.get('seconds')} s, SQL {total_sql:.1f} s of it, "
                f"{1000 * sp.get('seconds', 0) / paid_n:.1f} ms per statement): "
                + ", ".join(f"{q['kind']} {q['count']:,}× {q['seconds']:.2f} s" for q in sp["sql"][:8])
                + ". The `SELECT redpackets_account` time includes `ledger.lock`'s wait for the pool's row, "
                "which the other payer's batch holds until it commits: two payers take turns, so a second "
                "one does not make paying faster (back-log: "
                f"{1000 * backlog['pay_s'] / max(backlog['paid'], 1):.1f} ms per statement with two payers, "
                f"{month['label']}: {1000 * month['pay_s'] / max(month['paid'], 1):.1f} ms with the worker alone)."
            )
        add("")
    add(f"| check | {backlog['label']} (back-log, two payers) | {month['label']} |")
    add("|---|---|---|")
    for k in month["checks"]:
        add(f"| {k} | {_yes(backlog['checks'].get(k))} | {_yes(month['checks'][k])} |")
    add("")
    rec = st["reconcile"]
    add(
        f"Then over the whole brand: `reconcile.reconcile(brand=...)` ok **{rec['ok']}**, problems "
        f"{rec['problems']} ({', '.join(f'{k} {v}' for k, v in rec['checked'].items())}; {rec['seconds']} s); "
        f"every guide's wallet == the sum of their paid statements: {_yes(st['wallets']['off'] == 0)} "
        f"({_n(st['wallets']['count'])} wallets, {st['wallets']['off']} off)."
    )
    add("")

    # -- memory
    add("### Memory")
    add("")
    add(
        "Resident memory of the worker's processes (`VmHWM`, the peak, and `VmRSS`, from /proc): the main "
        f"process and its {s['workers']} pool processes, each of which runs tasks. The benchmark's own "
        "step processes (`ru_maxrss`): seed "
        f"{seed.get('process_peak_mb', '?')} MB, attribute {a.get('process_peak_mb', '?')} MB (it holds "
        "the independent recomputation's rows only in PostgreSQL), settle "
        f"{st.get('process_peak_mb', '?')} MB."
    )
    add("")
    add(
        "| worker process | idle (ready) | peak after attribution | peak after settlement | resident at the end |"
    )
    add("|---|---:|---:|---:|---:|")
    idle = {p["pid"]: p for p in mem["idle"]["processes"]}
    att = {p["pid"]: p for p in mem["after_attribution"]["processes"]}
    for p in mem["after_settlement"]["processes"]:
        add(
            f"| {p['role']} (pid {p['pid']}) | {idle.get(p['pid'], {}).get('peak_mb', '?')} MB | "
            f"{att.get(p['pid'], {}).get('peak_mb', '?')} MB | {p['peak_mb']} MB | {p['rss_mb']} MB |"
        )
    add("")

    # -- profile
    prof = r.get("profile")
    if prof:
        add("### Where the time goes: one range, profiled")
        add("")
        add(
            f"Before the worker started, `attribute_pending` over the first range ({_n(prof['orders'])} "
            "orders) ran once in the benchmark process under cProfile, every SQL statement timed "
            "(Django `execute_wrapper`), in a transaction rolled back afterwards with `SET CONSTRAINTS ALL "
            "IMMEDIATE` (so the foreign-key checks, deferred to the commit otherwise, are inside the "
            "statements' times); then `EXPLAIN (ANALYZE, BUFFERS)` of the first batch's statements, also "
            "rolled back, and `VACUUM (ANALYZE)` of the three tables. One process, no concurrency: "
            f"**{prof['wall_s']} s**, of which SQL {prof['sql_s']} s and Python {prof['python_s']} s "
            f"({_n(prof['orders'] / max(prof['wall_s'], 1e-9))} orders/s on one connection; CPUs PG / - / "
            f"bench / other {_cpus(prof.get('cpus', {}))}). Full output: `{prof['file']}` (not committed)."
        )
        add("")
        add("| statement | count | time | share |")
        add("|---|---:|---:|---:|")
        for q in prof["sql"]:
            if q["seconds"] >= 0.005:
                add(
                    f"| {q['kind']} | {_n(q['count'])} | {q['seconds']:.2f} s | "
                    f"{q['seconds'] / max(prof['wall_s'], 1e-9):.0%} |"
                )
        add(
            f"| Python (everything else) | | {prof['python_s']:.2f} s | {prof['python_s'] / max(prof['wall_s'], 1e-9):.0%} |"
        )
        add("")
        trig = prof.get("explain_triggers") or {}
        for kind, ms in prof.get("explain_ms", {}).items():
            ts = trig.get(kind) or []
            if not ts:
                continue
            total = sum(float(x[1]) for x in ts)
            add(
                f"- `EXPLAIN ANALYZE` {kind} (first batch): {ms} ms, of which {total:.0f} ms in "
                f"{len(ts)} foreign-key checks ({', '.join(f'{x[0]} {float(x[1]):.0f} ms' for x in sorted(ts, key=lambda x: -float(x[1]))[:4])}, ...)."
            )
        add("")
        add("Python functions with the most own time:")
        add("")
        add("| function | calls | own time | with callees |")
        add("|---|---:|---:|---:|")
        for f in prof["top_tottime"][:10]:
            add(f"| `{f['function']}` | {_n(f['calls'])} | {f['tottime']:.2f} s | {f['cumtime']:.2f} s |")
        add("")

    add("### Exact commands")
    add("")
    add("```sh")
    add("BENCH_ONLY=commission make bench   # = bash bench/run.sh commission -> python -m bench commission")
    add("# environment of every step below:")
    add(" ".join(f"{k}={v}" for k, v in r["env"].items()))
    if seed.get("reused_from"):
        add(f"# this run: BENCH_COMM_REUSE={seed['reused_from']} (the database as that run seeded it)")
        add("python -m bench step commission reset       # TRUNCATE what attribution and settlement wrote")
    else:
        add("python manage.py migrate --noinput")
        add("python -m bench step commission seed        # bench/scenarios/commission_seed.sql")
    add("python -m bench step commission profile bench/results/<stamp>-commission-profile.txt")
    add(f"{r['worker_cmd']} &")
    add("python -m bench step commission attribute   # split, dispatch, wait; checks; re-run")
    add("python -m bench step commission settle      # back-log period, then the last complete month")
    add("```")
    add("")
    add(
        f"Total wall time of the run: {r['wall_seconds']} s. Raw results: "
        "`bench/results/<stamp>-commission.json`; the worker's log (with each task's time): "
        "`bench/results/<stamp>-commission-celery.log`."
    )
    return "\n".join(L) + "\n"
