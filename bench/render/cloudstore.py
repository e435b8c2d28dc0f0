# ruff: noqa: E501
"""The cloud store section of docs/benchmarks.md."""

from __future__ import annotations

import json
import shlex

from bench.harness.load import median as median_of
from bench.render.common import MARKERS, machine_lines, split_text, yes
from bench.scenarios import cloudstore_data as data

BULK_PATH = "/api/v1/inventory/bulk/"
TARGET_PAGE_P95_MS = 100.0
BULK_TARGET_S = 30.0


def _range(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}" if values else ""


def render(r: dict) -> str:
    m, seed, s = r["machine"], r["seed"], r["settings"]
    c = seed["counts"]
    lines = [
        MARKERS["cloudstore"],
        "",
        "## Cloud store",
        "",
        "Written by `make bench` (bench/scenarios/cloudstore.py; alone: `python -m bench cloudstore`)",
        "from its own run; do not edit the figures by hand.",
        "",
        *machine_lines(m),
        "",
        "### Data set",
        "",
        f"On top of the staff data set (2 brands × 200 stores, seeded by bench/scenarios/staff.py): each brand has "
        f"{seed['products_per_brand']:,} products in 20 categories with {seed['skus_per_brand']:,} SKUs "
        "(2 or 3 per product, a photo on every other product); brand `bench-b` uses the same SKU codes "
        f"and its product names are marked, so its rows sit in the same tables as `bench-a`'s. Stock: "
        f"`bench-a` store S0001 lists all {seed['listed']['big']:,} SKUs ({seed['products_shown']['big']:,} "
        f"products on its page), S0002 {seed['listed']['small']:,} SKUs "
        f"({seed['products_shown']['small']:,} products), {seed['other_full_stores']} more stores all "
        f"SKUs; `bench-b` {seed['brand_b_full_stores']} stores all of its SKUs. 1 row in 20 has no stock, "
        f"1 in 4 a store price. Rows: {c['products']:,} products, {c['skus']:,} SKUs, "
        f"{c['inventory']:,} stock rows, {c['product_images']:,} photos, {c['members']} members (the "
        f"race's shoppers). Seeded with `bulk_create` inside one audited "
        f'`rls_bypass(reason="bench seed cloudstore")` in {seed["seed_seconds"]} s (most of it the '
        "commit's deferred same-brand foreign-key checks), then `ANALYZE`. Data formulas: "
        "bench/scenarios/cloudstore_data.py.",
        "",
    ]
    lines += render_race(r)
    lines += render_page(r)
    lines += render_bulk(r)
    lines += [
        "### Exact commands",
        "",
        "```sh",
        "BENCH_ONLY=cloudstore make bench  # = bash bench/run.sh cloudstore = python -m bench cloudstore",
        "# environment of every step below:",
        " ".join(f"{k}={v}" for k, v in r["env"].items()),
        "python manage.py migrate --noinput",
        "python -m bench step staff seed",
        "python -m bench step cloudstore seed",
        "python -m bench step cloudstore queries '<the pages above>'",
        f"python -m bench step cloudstore view-times '<the pages above>' {s['view_requests']}",
    ]
    for race in r["races"]:
        lines.append(f"python -m bench step cloudstore race {race['run']} {race['workers']}")
    lines.append(f"{r['server_cmd']} &")
    for h in r["http"]:
        if h.get("cmd"):
            lines.append(" ".join(shlex.quote(x) for x in h["cmd"]))
    lines += [
        f"# {len(r['bulk'])} x POST {BULK_PATH} (bench/scenarios/cloudstore.py: http.client, brand admin)",
        "python -m bench step cloudstore bulk-verify '<loads and phases>'",
        "```",
        "",
        f"Total wall time of the cloud store run: {r['wall_seconds']} s.",
        "",
    ]
    return "\n".join(lines)


def render_race(r: dict) -> list[str]:
    races = [x for x in r["races"] if not x["sweep"]]
    sweep = [x for x in r["races"] if x["sweep"]]
    if not races:
        return []
    first = races[0]
    rates = [x["checkouts_per_s"] for x in races]
    times = [x["race_s"] for x in races]
    med = sorted(races, key=lambda x: x["checkouts_per_s"])[len(races) // 2]
    lines = [
        f"### {first['checkouts']} concurrent checkouts racing for {first['stock']} units of one SKU",
        "",
        f"Each run puts a fresh SKU with {first['stock']} units at store {first['store']}; "
        f"{first['checkouts']} checkouts of 1 unit, each for a distinct member "
        '(`cloudstore.services.checkout.checkout(..., fulfilment="pickup")`, its own checkout key), '
        f"are made by {first['workers']} worker processes (fork after `django.setup()`, each with its own "
        "PostgreSQL connection opened beforehand) released together by a `multiprocessing.Barrier`; "
        "each process makes its share one after the other, so the database sees "
        f"{first['workers']} concurrent transactions. The race time runs from the release until the last "
        "checkout returned; an out-of-stock refusal is the service's `ValidationError` with code "
        "`out_of_stock`. Then the winners are paid one after the other from the parent process the way "
        "tests/cloudstore/conftest.py `pay()` does (`payment_start` → simulated provider `settle` → "
        "`signed_notice` → `parse_notice` → `payment_notice`), and the database is checked.",
        "",
        f"**{med['checkouts_per_s']} checkouts/s** (median of {len(races)} runs; range "
        f"{_range(rates, '{:.1f}')}), race time median {median_of(times):.2f} s (range "
        f"{_range(times, '{:.2f}')}).",
        "",
        "| run | processes | race time | checkouts/s | succeeded | refused (code) | other errors "
        "| last win / first refusal at | checkout p50 / p95 / max (ms) | pay winners | payments/s "
        "| DB conns | busy | other CPU | all checks |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for x in races + sweep:
        lat = x["latency_ms"]
        codes = ", ".join(f"{k}: {v}" for k, v in x["refusal_codes"].items()) or "none"
        lines.append(
            f"| {x['run']}{' (sweep)' if x['sweep'] else ''} | {x['workers']} | {x['race_s']:.2f} s | "
            f"{x['checkouts_per_s']} | {x['won']} | {x['refused']} ({codes}) | {x['errors']} | "
            f"{x['last_win_s']:.2f} s / {x['first_refusal_s']:.2f} s | "
            f"{lat['all_p50']} / {lat['all_p95']} / {lat['all_max']} | "
            f"{x['pay_s']} s | {x['payments_per_s']} | {x['db_connections_peak']} | "
            f"{x['cpu_busy_before']:.0%} | {x['foreign_cpu']:.0%} | {yes(x['all_ok'])} |"
        )
    lines += [
        "",
        '"last win / first refusal at": when the last successful and the first refused checkout '
        "returned, counted from the release (a checkout is refused only once every unit is reserved). "
        "Checkout latencies include the wait for the other processes (on 2 CPUs) and for the stock "
        'row\'s lock. "sweep" rows are single runs at other process counts, for comparison. '
        '"pay winners": the 100 payments one after the other in one process. "DB conns": the most '
        "connections the benchmark database had (sampled every 50 ms).",
        "",
        "Checked after every run (assert-and-print, not a test):",
        "",
    ]
    names = list(first["checks"])
    lines += [
        "| check | " + " | ".join(str(x["run"]) for x in races + sweep) + " |",
        "|---|" + "---|" * len(races + sweep),
    ]
    for name in names:
        lines.append(
            f"| {name} | " + " | ".join(yes(x["checks"].get(name, False)) for x in races + sweep) + " |"
        )
    after = first["after"]
    lines += [
        "",
        f"Run {first['run']} in numbers: on hand {after['on_hand']}, reserved {after['reserved']}, "
        f"{after['orders']} orders ({after['paid']} paid, {after['payments_succeeded']} succeeded payments, "
        f"{after['order_lines']} lines), stock movements {after['movements']}, stock rows of any brand with "
        f"on hand < reserved: {after['bad_stock_rows']}.",
        "",
    ]
    return lines


def render_page(r: dict) -> list[str]:
    s, q, v = r["settings"], r["queries"], r["view_times"]
    counts = {x["queries"] for x in q if x["status"] == 200}
    lines = [
        "### Store page of a store with 5,000 SKUs (target: p95 under 100 ms server time, constant queries)",
        "",
        "The shopper's page `shop-store` (`/c/<brand>/<store>/`, 24 products a page, anonymous shopper, "
        "no session). Queries per request: Django's test client and `CaptureQueriesContext`, second "
        'request of each page; "SQL ms" is the sum of the queries\' times as Django measured them, '
        '"slowest" the slowest query. "own brand only": every product the page shows belongs to the '
        "page's brand.",
        "",
        "| page | path | status | products shown | queries | SQL ms | slowest query ms | own brand only |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for x in q:
        lines.append(
            f"| {x['label']} | `{x['path']}` | {x['status']} | {x['products_shown']} | {x['queries']} | "
            f"{x['sql_ms']} | {x['slowest_ms']} | {yes(x['own_brand_only'])} |"
        )
    lines += [
        "",
        f"Same query count on every page (5,000-SKU vs 500-SKU store, page 1 vs deep page, search, "
        f"category, other brand): {yes(len(counts) == 1)} ({', '.join(str(n) for n in sorted(counts))}).",
        "",
        f"**Server time, in-process:** {s['view_requests']} requests per page one after the other through "
        "Django's test client (middleware, view, template, SQL; no ASGI server, no network, no "
        "wrk), after 5 warm-up requests; milliseconds. Busy before: "
        f"{r['view_meta']['cpu_busy_before']:.0%}, other processes during: "
        f"{r['view_meta']['foreign_cpu']:.0%}.",
        "",
        "| page | requests | mean | p50 | p95 | p99 | max | p95 < 100 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for x in v:
        lines.append(
            f"| {x['label']} | {x['requests']} | {x['mean_ms']} | {x['p50_ms']} | {x['p95_ms']} | "
            f"{x['p99_ms']} | {x['max_ms']} | "
            f"{yes(x['p95_ms'] < TARGET_PAGE_P95_MS and x['statuses'] == [200])} |"
        )
    lines += [
        "",
        f"**Through HTTP:** `wrk -t{s['threads']} -c<N> -d{s['duration']} --latency -s bench/harness/report.lua` "
        f"(`-t1` for `-c1`) against uvicorn with 2 workers on the same machine, {s['repeat']} runs per row, "
        f"the first after a {s['warmup']} warm-up, each after waiting for an idle machine; the row is the "
        'run with the median throughput, "range" the lowest and highest requests/s, "p95 runs" every '
        "run's p95, \"split runs\" how wrk's connections fell on the 2 workers in each run. At `-c1` "
        "the latency is one request's own time through the server; at `-c16` requests queue on the 2 "
        "workers and the latency is mostly waiting (about connections / throughput).",
        "",
        "| page | conns | req/s | range | p50 | p95 | p99 | max | p95 runs | split runs | non-2xx "
        "| sock err | DB conns | busy | other CPU | p95 < 100 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for h in r["http"]:
        if h.get("skipped"):
            lines.append(f"| {h['label']}: `{h['path']}` | | skipped: {h['skipped']} |" + " |" * 13)
            continue
        w = h["wrk"]
        lines.append(
            f"| {h['label']}: `{h['path']}` | {h['connections']} | {w['rps']:.1f} | "
            f"{_range(h['rps_all'])} | {w['p50_ms']:.1f} | {w['p95_ms']:.1f} | {w['p99_ms']:.1f} | "
            f"{w['max_ms']:.1f} | {' / '.join(f'{p:.0f}' for p in h['p95_all'])} | "
            f"{' / '.join(split_text(x) for x in h['split_all'])} | {w['non2xx3xx']} | "
            f"{w['socket_errors']} | {h['db_connections_peak']} | {h['cpu_busy_before']:.0%} | "
            f"{h['foreign_cpu']:.0%} | {yes(w['p95_ms'] < TARGET_PAGE_P95_MS)} |"
        )
    lines.append("")
    return lines


def render_bulk(r: dict) -> list[str]:
    bulk, srv = r["bulk"], r["bulk_server"]
    rows = len(data.bulk_stores(0)) * data.N_SKUS
    probe = srv["probe"]
    lines = [
        f"### Bulk stock update of {rows:,} rows through the API (target: under 30 s)",
        "",
        f'`POST {BULK_PATH}` with `{{"reason": ..., "rows": [{{"store", "sku", "on_hand", '
        '"price_fen"?, "low_stock_at"?}, ...]}` as the brand admin\'s session (session cookie, CSRF '
        f"cookie and `X-CSRFToken` header), {rows:,} rows = {data.BULK_STORES_PER_LOAD} stores × "
        f"{data.N_SKUS:,} SKUs by code, 1 in 3 rows with a store price and 1 in 5 with a low-stock level "
        'on the first load; on the second 1 in 8 prices set back to null ("the brand\'s price"), 1 in 8 '
        "changed, 1 in 6 low-stock levels. Sent with Python's `http.client` to the running uvicorn, "
        "one request at a time; the time runs from sending the request until the answer is read "
        '(building the JSON body is not counted). "first load": stores with no stock rows yet, so '
        'every row is created; "second load": the same rows again, all updated. A load that takes '
        f"longer than {r['settings']['bulk_repeat_limit_s']:.0f} s is not repeated.",
        "",
    ]
    answer = json.dumps(probe["answer"], ensure_ascii=False)[:200]
    if probe["status"] == 200:
        lines += [f"The endpoint took the one-row probe (HTTP {probe['status']}).", ""]
    else:
        lines += [f"**The endpoint refused a valid one-row probe:** HTTP {probe['status']} `{answer}`.", ""]
    if not bulk:
        return [*lines, "No load ran.", ""]
    lines += [
        "| load | stores | rows | body | status | created | updated | time | rows/s | DB conns | busy "
        "| other CPU | under 30 s |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for b in bulk:
        name = f"{'first' if b['phase'] == 'create' else 'second'} ({b['phase']}s), {b['load'] + 1}"
        if b.get("skipped"):
            lines.append(f"| {name} | | | | {b['skipped']} |" + " |" * 8)
            continue
        a = b["answer"] if isinstance(b["answer"], dict) else {}
        status = str(b["status"])
        if b["status"] != 200:
            status += " " + json.dumps(a, ensure_ascii=False)[:120]
        lines.append(
            f"| {name} | {b['stores']} | {b['rows']:,} | {b['bytes'] / 1e6:.1f} MB | {status} | "
            f"{a.get('created', '')} | {a.get('updated', '')} | {b['seconds']} s | {b['rows_per_s']:,} | "
            f"{b['db_connections_peak']} | {b['cpu_busy_before']:.0%} | {b['foreign_cpu']:.0%} | "
            f"{yes(b['status'] == 200 and b['seconds'] < BULK_TARGET_S)} |"
        )
    lines.append("")
    for phase, name in (("create", "First load"), ("update", "Second load")):
        runs = [b for b in bulk if b["phase"] == phase and not b.get("skipped")]
        if runs:
            secs = [b["seconds"] for b in runs]
            med = sorted(runs, key=lambda b: b["seconds"])[len(runs) // 2]
            lines.append(
                f"- **{name}:** median {med['seconds']} s of {len(runs)} run(s) (range "
                f"{_range(secs, '{:.2f}')} s), {med['rows_per_s']:,} rows/s."
            )
    v = r["bulk_verify"]
    lines += [
        "",
        "Checked in the database afterwards, every row of every load against the formulas "
        "(bench/scenarios/cloudstore_data.py): the number of stock rows of the load's stores, each row's on hand, "
        "store price and low-stock level, and the `import` stock movements (one per row whose on hand "
        "changed).",
        "",
        "| load | after | stores | stock rows (expected) | rows with other values | movements (expected) "
        "| ok |",
        "|---:|---|---|---:|---:|---:|---|",
    ]
    for x in v["after_first"] + v["after_second"]:
        lines.append(
            f"| {x['load'] + 1} | {' + '.join(x['phases'])} | {x['stores']} | {x['rows']:,} "
            f"({x['rows_expected']:,}) | {x['mismatches']} | {x['movements']:,} "
            f"({x['movements_expected']:,}) | {yes(x['ok'])} |"
        )
    checked = v["after_second"] or v["after_first"]
    sample = checked[0]["samples"][:3] if checked else []
    if sample:
        lines += [
            "",
            "A sample (store, SKU: expected = found (on hand, store price, low-stock level)): "
            + "; ".join(
                f"{x['store']} {x['sku']}: {tuple(x['want'])} = {tuple(x['have'] or ())}" for x in sample
            )
            + ".",
        ]
    lines.append("")
    return lines
