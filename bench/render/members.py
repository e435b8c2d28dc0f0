# ruff: noqa: E501
"""The membership section of docs/benchmarks.md."""

from __future__ import annotations

import shlex

from bench.render.common import MARKERS, machine_lines, split_text, yes

TARGET_P95_MS = 20.0
IMPORT_TARGET_S = 60.0


def render(r: dict) -> str:
    m, seed, s = r["machine"], r["seed"], r["settings"]
    lines = [
        MARKERS["members"],
        "",
        "## Membership",
        "",
        "Written by `make bench` (bench/scenarios/members.py; alone: `python -m bench members`) from",
        "its own run; do not edit the figures by hand.",
        "",
        *machine_lines(m),
        "",
        "### Data set",
        "",
    ]
    c, t = seed["counts"], seed["timings"]
    lines += [
        f"{seed['members']:,} members in one brand (`bench-a`, on top of the staff data set above: "
        f"{seed['guides']:,} active guides there), each with a phone and a card identity: "
        f"{c['member']:,} members, {c['memberidentity']:,} identities, {c['guidebinding']:,} open guide "
        f"bindings (4 in 5 members have a guide), {c['membertag']:,} member tags, 3 tiers. Member number "
        f"n = 0..{seed['members'] - 1:,} has id n + 1, phone `139` + n as 8 digits and card `VIP` + n "
        "as 8 digits; the wrk scripts pick n at random per request.",
        "",
        f'Seeded in {seed["seed_seconds"]} s inside one audited `rls_bypass(reason="bench seed members")`: '
        "PostgreSQL refuses `COPY FROM` into a table with FORCE ROW LEVEL SECURITY, so the rows are "
        f"streamed with psycopg2 `copy_expert` into temporary tables (members {t['copy_members_s']} s, "
        f"identities {t['copy_identities_s']} s) and moved with `INSERT ... SELECT` (members "
        f"{t['insert_members_s']} s, identities {t['insert_identities_s']} s, bindings and tags "
        f"{t['bindings_and_tags_s']} s) with explicit member ids and `setval` of the id sequence; the "
        f"commit, which runs the deferred same-brand foreign-key checks, took {t['commit_s']} s. Then "
        f"`VACUUM (ANALYZE)` {t['vacuum_analyze_s']} s. Sizes with indexes: members_member "
        f"{seed['sizes']['members_member']}, members_memberidentity "
        f"{seed['sizes']['members_memberidentity']}.",
        "",
        "### Look-up and member-code resolve (target: p95 under 20 ms)",
        "",
        f"`wrk -t{s['threads']} -c<N> -d{s['duration']} --latency` (`-t1` for `-c1`) against uvicorn "
        f"with 2 workers on the same machine, as a guide's session, {s['repeat']} runs per row, each "
        f"after a {s['warmup']} "
        "warm-up and after waiting for an idle machine; the row is the run with the median throughput "
        '(of two runs, the faster), "range" the lowest and highest requests/s and "p95 runs" every '
        "run's p95. Each request looks up a different random existing member. For the resolve, "
        f"{s['codes_per_run']:,} codes of random members are issued (`members.codes.member_code_issue`) "
        "right before each warm-up + run (codes expire after 90 s) and each request posts a random one "
        "with the session cookie and the CSRF cookie + `X-CSRFToken` header. Latencies in milliseconds.",
        "",
        '"DB conns" is the most connections the benchmark database had at once during the runs '
        "(sampled every 50 ms). `-c2` is one request per uvicorn worker; beyond that requests queue "
        "on the 2 workers, and the median latency approaches connections / throughput "
        "(Little's law). The 2 workers share one listening socket and wrk keeps its connections "
        'open, so which worker serves which connection is chance: "split runs" shows, for each '
        "run, how many of wrk's connections each worker held (`ss -tnp`, 1.5 s into the run); "
        "with all of them on one worker (`4+0`) the other worker idles and throughput halves.",
        "",
        "| request | as | conns | req/s | range | p50 | p95 | p99 | max | p95 runs | split runs | non-2xx "
        "| sock err | DB conns | busy | other CPU | p95 < 20 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for h in r["http"]:
        if h.get("skipped"):
            cells = f"| {h['label']}: `{h['path']}` | {h['as']} | | skipped: {h['skipped']} |"
            lines.append(cells + " |" * 13)
            continue
        w = h["wrk"]
        lines.append(
            f"| {h['label']}: `{h['path']}` | {h['as']} | {h['connections']} | {w['rps']:.1f} | "
            f"{min(h['rps_all']):.0f}–{max(h['rps_all']):.0f} | {w['p50_ms']:.1f} | {w['p95_ms']:.1f} | "
            f"{w['p99_ms']:.1f} | {w['max_ms']:.1f} | {' / '.join(f'{p:.0f}' for p in h['p95_all'])} | "
            f"{' / '.join(split_text(x) for x in h.get('split_all', []))} | "
            f"{w['non2xx3xx']} | {w['socket_errors']} | {h['db_connections_peak']} | "
            f"{h['cpu_busy_before']:.0%} | "
            f"{h['foreign_cpu']:.0%} | "
            f"{yes(w['p95_ms'] < TARGET_P95_MS)} |"
        )
    lines += [
        "",
        "### SQL queries per request",
        "",
        "Counted in-process with Django's test client and `CaptureQueriesContext` against the same data "
        "(second request of each kind). The count includes the session and user look-ups, BEGIN/COMMIT, "
        "the brand membership check and the transaction-local tenancy settings.",
        "",
        "| request | as | status | queries |",
        "|---|---|---|---:|",
    ]
    for q in r["queries"]:
        path = q["path"].split("&value=")[0]
        lines.append(f"| `{q['method']} {path}` | {q['as']} | {q['status']} | {q['queries']} |")
    first = r["redeem"][0]
    rs = first["setup"]
    lines += [
        "",
        f"### {rs['requests']} concurrent point redemptions against one member",
        "",
        f"Each pass uses its own member holding {rs['balance_before']:,} points (earned in "
        f"{len(rs['lots'])} lots through `members.services.points_earn`), so {rs['expected_ok']} "
        f"redemptions of {rs['points_each']} points fit and the rest must be refused. "
        f"{rs['requests']} requests `POST /api/v1/members/<id>/points/redeem/` "
        f'`{{"points": {rs["points_each"]}}}`, each with its own `Idempotency-Key`, as a store '
        "manager's session with the CSRF header, are sent by client threads (Python `http.client`, a "
        'new connection per request) released together by a barrier: "bounded" through a pool of '
        'client threads that each send the next request when their previous one is answered, "all at '
        'once" with one thread per request. Latencies (ms) count from the release, so they include '
        "the wait behind the other requests.",
        "",
        "| pass | member | clients | answered | 201 | 400 insufficient_points | other answers | wall time "
        "| requests/s | redemptions/s | p50 | p95 | p99 | max | DB conns | refused DB connections |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r["redeem"]:
        c = p["client"]
        other = ", ".join(f"{k}: {v}" for k, v in c["statuses"].items() if k not in ("201",))
        other = other.replace("400 insufficient_points: " + str(c["refused"]), "").strip(", ") or "none"
        lines.append(
            f"| {p['name']} | {c['member_id']} | {c['clients']} | {c['answered']} | {c['ok']} | "
            f"{c['refused']} | {other} | {c['wall_s']} s | {c['requests_per_s']} | "
            f"{c['redemptions_per_s']} | {c['p50_ms']} | {c['p95_ms']} | {c['p99_ms']} | {c['max_ms']} | "
            f"{c['db_connections_peak']} | {sum(c['server_errors'].values())} |"
        )
    lines += [
        "",
        '"DB conns": the most connections the benchmark database had at once during the pass; '
        '"refused DB connections": errors in the server\'s log during the pass where PostgreSQL '
        f"refused a new connection (its `max_connections` is {r['database']['max_connections']}, a few "
        "of them reserved for superusers).",
        "",
        "Afterwards the first 10 successful keys of each pass were sent again (expected: 200 "
        "`Idempotent-Replayed: true` with the first entry, no new entry). Checked in the database after "
        f"each pass (`points_reconcile(brand=...)` runs over all {seed['members']:,} members):",
        "",
    ]
    names = list(first["check"]["checks"])
    lines += [
        "| check | " + " | ".join(p["name"] for p in r["redeem"]) + " |",
        "|---|" + "---|" * len(r["redeem"]),
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(yes(p["check"]["checks"][name]) for p in r["redeem"]) + " |")
    lines.append(
        "| balance before → after (ledger sum; points spent) | "
        + " | ".join(
            f"{p['check']['earned']:,} → {p['check']['balance_after']:,} ({p['check']['ledger_sum']:,}; "
            f"{p['check']['points_spent']:,})"
            for p in r["redeem"]
        )
        + " |"
    )
    lines.append(
        "| `points_reconcile` time | "
        + " | ".join(f"{p['check']['reconcile_seconds']} s" for p in r["redeem"])
        + " |"
    )
    imp, ci = r["import"], r["import_csv"]
    mix = ci["mix"]
    lines += [
        "",
        f"### CSV import of {ci['rows']:,} rows (target: under 60 s)",
        "",
        f"A {ci['bytes'] / 1e6:.1f} MB UTF-8 CSV (`phone,name,card_no,tags,consent,guide,joined_at`): "
        f"{mix['new']:,} new members (half with a card, a quarter with a guide's employee number, 0–2 "
        f"tags), {mix['duplicates_of_existing_members']:,} rows of distinct existing members (by phone, "
        f"half also with their card), {mix['duplicates_of_earlier_rows']:,} repeats of earlier rows of the "
        f"file (the phone written `+86 136 xxxx xxxx`), {mix['bad']:,} bad rows (a quarter each: bad "
        "phone, bad date, bad consent, unknown guide). Uploaded as the brand admin through "
        "`members.jobs.import_start` (which stores the file and queues the Celery task on commit) with a "
        "real Celery worker on Redis; the time runs from the upload call until the job reads DONE "
        "(polled every 0.2 s).",
        "",
        "| status | time | job created→finished | created | matched | errors | total | expected "
        "(created / matched / errors) | counts match | under 60 s |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
        f"| {imp['status']} | {imp['seconds']} s | {imp['job_seconds']} s | {imp['counts']['created']:,} | "
        f"{imp['counts']['matched']:,} | {imp['counts']['errors']:,} | {imp['counts']['total']:,} | "
        f"{imp['expected']['created']:,} / {imp['expected']['matched']:,} / {imp['expected']['errors']:,} | "
        f"{yes(imp['counts_match'])} | {yes(imp['status'] == 'done' and imp['seconds'] < IMPORT_TARGET_S)} |",
        "",
        "Phases seen while polling (seconds after the upload, phase, rows): "
        + ", ".join(f"{p[0]} s {p[1]} ({p[2]:,})" for p in imp["phases"])
        + f". Rows added: {', '.join(f'{k} {v:,}' for k, v in imp['rows_added'].items())}"
        f" (members added match the created count: {yes(imp['members_added_match'])}).",
        "",
        "### Exact commands",
        "",
        "```sh",
        "BENCH_ONLY=members make bench   # = bash bench/run.sh members -> python -m bench members",
        "# environment of every step below:",
        " ".join(f"{k}={v}" for k, v in r["env"].items()),
        "python manage.py migrate --noinput",
        "python -m bench step staff seed",
        "python -m bench step members seed",
        "python -m bench step members queries '<session keys from seed.py>'",
        f"{r['server_cmd']} &",
    ]
    seen = set()
    for h in r["http"]:
        if h.get("cmd"):
            cmd = " ".join(shlex.quote(x) for x in h["cmd"])
            if "resolve" in cmd and "codes" not in seen:
                lines.append(
                    f"python -m bench step members codes <file> {s['codes_per_run']}  # before each run"
                )
                seen.add("codes")
            lines.append(cmd)
    lines += [
        "python -m bench step members redeem-setup <member id>   # per pass",
        f"# {rs['requests']} x POST /api/v1/members/<id>/points/redeem/ from threads (bench/scenarios/members.py)",
        "python -m bench step members redeem-verify '<client figures>'",
        f"python -m bench step members import-csv <file> {ci['rows']}",
        f"{r['worker_cmd']} &",
        "python -m bench step members import-run <file> '<expected counts>'",
        "```",
        "",
        "Notes: the look-up and resolve are answered to any staff member of the brand (a guide here); "
        "every request runs in one transaction under row-level security, with database-backed "
        "sessions and the API throttle in Redis. Redis database 9 holds the cache and the Celery "
        "queue of this benchmark only. Total wall time of the membership run: "
        f"{r['wall_seconds']} s.",
        "",
    ]
    return "\n".join(lines)
