# ruff: noqa: E501
"""Commission: attribution of 1,000,000 historic orders through Celery workers on Redis (target:
under 60 s; a re-run that changes nothing under 10 s), and the monthly settlement of 2,000 guides
(under 30 s, every statement paid exactly once), on PostgreSQL under row-level security, in its
own database bench_commission. See bench/README.md.

Steps (each in its own Django process): ``seed`` (commission_seed.sql next to this file,
set-based, inside one audited ``rls_bypass``, then ``VACUUM (ANALYZE)``), ``profile`` (cProfile and
per-statement times of ``attribute_pending`` over the first id range, ``EXPLAIN (ANALYZE, BUFFERS)``
of its first batch), ``attribute`` (split, dispatch, wait; checks; re-run), ``settle`` (the back-log
period, then the last complete month), ``reset`` (BENCH_COMM_REUSE only).

Tunables: BENCH_COMM_ORDERS (1000000 paid orders), BENCH_COMM_MEMBERS (100000), BENCH_COMM_GUIDES
(2000), BENCH_COMM_STORES (50), BENCH_COMM_RANGE (50000 orders per task), BENCH_COMM_WORKERS (2),
BENCH_COMM_PROFILE (1; 0 skips the profile), BENCH_COMM_QUIET (180 s of waiting for an idle machine
before each measured phase). BENCH_COMM_REUSE=bench/results/<stamp>-commission.json measures again on
the database that run seeded (no recreate, migrate or seed; ``reset`` empties what attribution and
settlement wrote).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from bench.harness.cpu import CpuSampler, load_average, wait_for_quiet
from bench.harness.database import DbSampler, pg_settings
from bench.harness.fixtures import top_up
from bench.harness.machine import short_revision
from bench.harness.proc import ROOT, emit, log
from bench.harness.runs import Run
from bench.harness.workers import celery_cmd, start_worker, stop_worker, worker_memory

BRAND = "bench-commission"
ORDERS = int(os.environ.get("BENCH_COMM_ORDERS", 1_000_000))  # paid orders
MEMBERS = int(os.environ.get("BENCH_COMM_MEMBERS", 100_000))
GUIDES = int(os.environ.get("BENCH_COMM_GUIDES", 2000))
STORES = int(os.environ.get("BENCH_COMM_STORES", 50))
SKUS, CATEGORIES = 200, 10
RANGE_SIZE = int(os.environ.get("BENCH_COMM_RANGE", 50_000))
WORKERS = int(os.environ.get("BENCH_COMM_WORKERS", 2))
PROFILE = os.environ.get("BENCH_COMM_PROFILE", "1") != "0"
# Before each measured phase the runner waits (at most this long) for the machine to be idle.
QUIET_SECONDS = float(os.environ.get("BENCH_COMM_QUIET", 180))
# Every 101st order id is a cancelled order (never paid): ids 1..ORDER_IDS hold ORDERS paid ones.
ORDER_IDS = ORDERS + ORDERS // 100
DB_NAME = "bench_commission"
TARGETS = {"attribute_s": 60, "rerun_s": 10, "settle_s": 30}
PAID_STATUSES = ("paid", "fulfilled", "picked_up", "completed", "refunded")


def brand():
    from retail.models import Brand

    return Brand.objects.get(slug=BRAND)


def admin_of(b):
    from retail.models import Staff
    from retail.tenancy import brand_scope

    with brand_scope(b):
        return Staff.objects.get(role=Staff.Role.BRAND_ADMIN, employee_no="A00001")


def rows(b, sql: str, params=None) -> list[tuple]:
    """Run SQL in the brand's scope (row-level security on), return every row."""
    from django.db import connection

    from retail.tenancy import brand_scope

    with brand_scope(b), connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def one(b, sql: str, params=None):
    r = rows(b, sql, params)
    return r[0][0] if r and len(r[0]) == 1 else (r[0] if r else None)


# --- seed ---------------------------------------------------------------------------------------

SEQUENCED = [
    "retail_store",
    "retail_user",
    "retail_staff",
    "retail_staffstore",
    "cloudstore_category",
    "cloudstore_product",
    "cloudstore_sku",
    "members_member",
    "members_memberidentity",
    "cloudstore_sharelink",
    "cloudstore_touch",
    "cloudstore_order",
    "cloudstore_orderline",
    "guides_attributionrule",
    "guides_commissionrule",
]


def seed() -> None:
    """commission_seed.sql in one transaction with row-level security bypassed (audited)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from retail.models import Brand
    from retail.tenancy import rls_bypass

    if Brand.objects.filter(slug=BRAND).exists():
        raise SystemExit("bench: the commission database is already seeded")
    now = timezone.now().replace(microsecond=0)
    t0 = time.monotonic()
    steps = {}
    text = (Path(__file__).parent / "commission_seed.sql").read_text()
    with transaction.atomic(), rls_bypass(reason="bench seed commission"):
        b = Brand.objects.create(slug=BRAND, name="佣金基准品牌")
        subs = {
            "@BRAND@": str(b.pk),
            "@NOW@": now.isoformat(),
            "@STORES@": str(STORES),
            "@GUIDES@": str(GUIDES),
            "@MEMBERS@": str(MEMBERS),
            "@SKUS@": str(SKUS),
            "@CATEGORIES@": str(CATEGORIES),
            "@ORDERS@": str(ORDER_IDS),
        }
        for sql in subs:
            text = text.replace(sql, subs[sql])
        chunks = re.split(r"^-- step: (.+)$", text, flags=re.M)
        with connection.cursor() as cur:
            for name, sql in zip(chunks[1::2], chunks[2::2], strict=True):
                t = time.monotonic()
                cur.execute(sql)  # no parameters: the values were written in above
                steps[name.strip()] = round(time.monotonic() - t, 2)
                print(f"seed: {name.strip()}: {steps[name.strip()]} s", flush=True)
            for table in SEQUENCED:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
        t_commit = time.monotonic()
    steps["commit (deferred foreign-key checks)"] = round(time.monotonic() - t_commit, 2)
    t = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
    steps["VACUUM (ANALYZE)"] = round(time.monotonic() - t, 2)
    counts = dict(
        zip(
            [
                "stores",
                "guides",
                "staff",
                "members",
                "member_phones",
                "staff_purchase_members",
                "skus",
                "orders",
                "paid_orders",
                "order_lines",
                "touches",
                "commission_rules",
                "attribution_rules",
            ],
            one(
                b,
                """SELECT (SELECT count(*) FROM retail_store), (SELECT count(*) FROM retail_staff WHERE role = 'guide'),
                   (SELECT count(*) FROM retail_staff), (SELECT count(*) FROM members_member),
                   (SELECT count(*) FROM members_memberidentity WHERE kind = 'phone'),
                   (SELECT count(*) FROM members_memberidentity WHERE value LIKE '138%%'),
                   (SELECT count(*) FROM cloudstore_sku), (SELECT count(*) FROM cloudstore_order),
                   (SELECT count(*) FROM cloudstore_order WHERE paid_at IS NOT NULL AND status IN %s),
                   (SELECT count(*) FROM cloudstore_orderline), (SELECT count(*) FROM cloudstore_touch),
                   (SELECT count(*) FROM guides_commissionrule), (SELECT count(*) FROM guides_attributionrule)""",
                [PAID_STATUSES],
            ),
            strict=True,
        )
    )
    mix = rows(
        b,
        """SELECT channel, status, count(*), count(*) FILTER (WHERE refunded_fen > 0),
                  count(*) FILTER (WHERE touch_id IS NOT NULL), count(*) FILTER (WHERE served_by_id IS NOT NULL),
                  count(*) FILTER (WHERE member_id IS NULL), sum(paid_fen)
           FROM cloudstore_order GROUP BY 1, 2 ORDER BY 1, 2""",
    )
    span = one(b, "SELECT min(paid_at), max(paid_at) FROM cloudstore_order")
    size = one(
        b,
        "SELECT pg_size_pretty(pg_total_relation_size('cloudstore_order')), "
        "pg_size_pretty(pg_total_relation_size('cloudstore_orderline')), pg_size_pretty(pg_database_size(current_database()))",
    )
    emit(
        {
            "seconds": round(time.monotonic() - t0, 1),
            "steps": steps,
            "counts": counts,
            "mix": [list(r) for r in mix],
            "paid_from": span[0],
            "paid_to": span[1],
            "now": now,
            "sizes": {"orders": size[0], "lines": size[1], "database": size[2]},
        }
    )


# --- splitting ------------------------------------------------------------------------------------


def split_ranges(b) -> list[tuple[int, int]]:
    """``attribution.id_ranges(brand=b, size=RANGE_SIZE)``: the id ranges handed to the workers."""
    from guides.services import attribution

    return attribution.id_ranges(brand=b, size=RANGE_SIZE)


# --- reset (BENCH_COMM_REUSE) ------------------------------------------------------------------------

# What attribution and settlement write; the seed (orders, members, rules, settings) stays.
RUN_TABLES = [
    "guides_attribution",
    "guides_commissionentry",
    "guides_event",
    "guides_notification",
    "guides_reattribution",
    "guides_statement",
    "guides_settlementperiod",
    "redpackets_account",
    "redpackets_entry",
    "redpackets_event",
    "redpackets_packetrecipient",
    "redpackets_packetshare",
    "redpackets_payoutaccount",
    "redpackets_reconciliation",
    "redpackets_redpacket",
    "redpackets_topup",
    "redpackets_transaction",
    "redpackets_withdrawal",
]


def reset() -> None:
    """Empty what an earlier run wrote (TRUNCATE as the tables' owner), then VACUUM (ANALYZE)."""
    from django.db import connection

    b = brand()
    before = {t: one(b, f"SELECT count(*) FROM {t}") for t in RUN_TABLES[:3]}  # noqa: S608
    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(RUN_TABLES)}")  # noqa: S608
        cur.execute("VACUUM (ANALYZE)")
    emit({"emptied": before, "seconds": round(time.monotonic() - t0, 1)})


# --- profile ------------------------------------------------------------------------------------


class SqlTimer:
    """Django execute wrapper: time and count per kind of statement; keep the first of each kind."""

    def __init__(self):
        self.by_kind: dict[str, list] = {}
        self.first: dict[str, tuple] = {}
        self.order: list[str] = []

    @staticmethod
    def kind(sql: str) -> str:
        s = " ".join(sql.split())
        if s.startswith("INSERT INTO"):
            return "INSERT " + s.split()[2]
        if s.startswith("UPDATE"):
            return "UPDATE " + s.split()[1].strip('"')
        if s.startswith("SELECT set_config") or s.startswith("SELECT coalesce(current_setting"):
            return "tenancy settings"
        if s.startswith("SAVEPOINT") or s.startswith("RELEASE SAVEPOINT"):
            return "savepoints"
        m = re.search(r'FROM "?(\w+)"?', s)
        verb = s.split()[0].upper()
        return f"{verb} {m.group(1)}" if m else s[:40]

    def __call__(self, execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            k = self.kind(sql)
            entry = self.by_kind.setdefault(k, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - t
            if k not in self.first:
                self.first[k] = (sql, params)
                self.order.append(k)


def _sql_summary(timer: SqlTimer) -> list[dict]:
    return sorted(
        ({"kind": k, "count": v[0], "seconds": round(v[1], 3)} for k, v in timer.by_kind.items()),
        key=lambda r: -r["seconds"],
    )


def profile(out_file: str) -> None:
    """Where one range's time goes: cProfile + SQL per statement kind, then EXPLAIN ANALYZE of the
    first batch's statements. Both in transactions that are rolled back."""
    import cProfile
    import io
    import pstats

    from django.db import connection, transaction

    from guides.services import attribution

    b = brand()
    ranges = split_ranges(b)
    after, up_to = ranges[0]
    timer = SqlTimer()
    prof = cProfile.Profile()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with connection.execute_wrapper(timer):
            t0 = time.perf_counter()
            prof.enable()
            n = attribution.attribute_pending(brand=b, after_id=after, up_to_id=up_to, notify=False)
            prof.disable()
            wall = time.perf_counter() - t0
        transaction.set_rollback(True)
    sql_total = sum(v[1] for v in timer.by_kind.values())
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    buf.write(
        f"attribute_pending over ({after}, {up_to}]: {n} orders in {wall:.2f} s, SQL {sql_total:.2f} s\n\n"
    )
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)

    # EXPLAIN ANALYZE of the first batch's statements, in the order the service runs them.
    explains = {}
    batch_kinds = [k for k in timer.order if k not in ("tenancy settings", "savepoints")]
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("SELECT set_config('app.brand_id', %s, true)", [str(b.pk)])
            for k in batch_kinds:
                sql, params = timer.first[k]
                if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "WITH")):
                    continue
                if "_bulk_" in sql:  # inserts from the batch's temporary COPY table, gone by now
                    continue
                t = time.perf_counter()
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = "\n".join(r[0] for r in cur.fetchall())
                # Long id lists in the plans: the first few ids only.
                plan = re.sub(r"'\{((?:\d+,){5})[\d,]+\}'", lambda m: "'{" + m.group(1) + "...}'", plan)
                explains[k] = {"ms": round((time.perf_counter() - t) * 1000, 1), "plan": plan}
        transaction.set_rollback(True)
    buf.write("\n\nEXPLAIN (ANALYZE, BUFFERS) of the first batch's statements (constraints IMMEDIATE)\n")
    for k, e in explains.items():
        buf.write(f"\n--- {k} ({e['ms']} ms)\n{e['plan']}\n")
    Path(out_file).write_text(buf.getvalue())

    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) guides_attribution, guides_commissionentry, guides_event")

    top = []
    stats.sort_stats("tottime")
    for (fname, line, func), (_cc, nc, tt, ct, _callers) in sorted(
        stats.stats.items(), key=lambda kv: -kv[1][2]
    )[:15]:
        top.append(
            {
                "function": f"{Path(fname).name}:{line}({func})",
                "calls": nc,
                "tottime": round(tt, 3),
                "cumtime": round(ct, 3),
            }
        )
    emit(
        {
            "range": [after, up_to],
            "orders": n,
            "wall_s": round(wall, 2),
            "sql_s": round(sql_total, 2),
            "python_s": round(wall - sql_total, 2),
            "sql": sorted(
                ({"kind": k, "count": v[0], "seconds": round(v[1], 3)} for k, v in timer.by_kind.items()),
                key=lambda r: -r["seconds"],
            ),
            "top_tottime": top,
            "explain_ms": {k: e["ms"] for k, e in explains.items()},
            "explain_triggers": {
                k: re.findall(r"Trigger for constraint (\S+): time=([\d.]+) calls=(\d+)", e["plan"])
                for k, e in explains.items()
            },
        }
    )


# --- attribution ----------------------------------------------------------------------------------


def _queue_state(r) -> tuple[int, int]:
    """(messages waiting in the 'celery' queue, messages delivered and not yet acknowledged)."""
    return r.llen("celery"), r.hlen("unacked")


def _wait_drained(r, limit: float = 1800) -> float:
    """Wait until the queue is empty and nothing is unacknowledged (acks_late: a task's message is
    acknowledged after it finished), twice in a row 100 ms apart; returns the time it took."""
    t0 = time.monotonic()
    seen = 0
    while time.monotonic() - t0 < limit:
        if _queue_state(r) == (0, 0):
            seen += 1
            if seen == 2:
                return time.monotonic() - t0
        else:
            seen = 0
        time.sleep(0.1)
    raise SystemExit(f"bench: the queue did not drain within {limit:.0f} s")


def _inserted(b) -> int:
    """Rows inserted into guides_attribution so far, as the statistics collector counts them."""
    return int(
        one(
            b,
            "SELECT coalesce(max(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'guides_attribution'",
        )
    )


def _state_counts(b) -> dict:
    names = ["attributions", "entries", "events", "max_attribution_id", "max_entry_id", "max_event_id"]
    return dict(
        zip(
            names,
            one(
                b,
                """SELECT (SELECT count(*) FROM guides_attribution), (SELECT count(*) FROM guides_commissionentry),
                   (SELECT count(*) FROM guides_event), (SELECT coalesce(max(id), 0) FROM guides_attribution),
                   (SELECT coalesce(max(id), 0) FROM guides_commissionentry),
                   (SELECT coalesce(max(id), 0) FROM guides_event)""",
            ),
            strict=True,
        )
    )


def attribute() -> None:
    import redis
    from django.conf import settings

    from guides import tasks
    from guides.services import attribution

    b = brand()
    r = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    expected = one(
        b, "SELECT count(*) FROM cloudstore_order WHERE paid_at IS NOT NULL AND status IN %s", [PAID_STATUSES]
    )
    before = _state_counts(b)

    # -- first run: split, dispatch, wait for the last attribution --------------------------------
    t0 = time.monotonic()
    ranges = split_ranges(b)
    t_split = time.monotonic() - t0
    for after, up_to in ranges:
        tasks.attribute_range.delay(b.pk, after, up_to)
    t_dispatch = time.monotonic() - t0
    # Done = the broker holds no message, waiting or unacknowledged (acks_late: a task's message is
    # acknowledged after its last batch committed); polled every 0.1 s, it costs PostgreSQL nothing.
    # Progress every 5 s from the statistics' count of inserted rows (cheap, may lag by a second);
    # count(*) of 1,000,000 rows four times a second would itself load the database.
    ins0 = _inserted(b)
    progress, next_mark, seen = [], 0.0, 0
    while True:
        now = time.monotonic()
        if now - t0 >= next_mark:
            progress.append([round(now - t0, 1), _inserted(b) - ins0])
            next_mark += 5
        if _queue_state(r) == (0, 0):
            seen += 1
            if seen == 2:
                break
        else:
            seen = 0
        if now - t0 > 3000:
            raise SystemExit("bench: attribution did not finish within 3000 s")
        time.sleep(0.1)
    t_drained = time.monotonic() - t0
    count = one(b, "SELECT count(*) FROM guides_attribution")
    t_all = t_drained
    while count < expected:  # not expected: every task had finished
        if time.monotonic() - t0 > 3300:
            raise SystemExit(f"bench: {count} of {expected} orders attributed")
        time.sleep(1)
        count = one(b, "SELECT count(*) FROM guides_attribution")
        t_all = time.monotonic() - t0
    progress.append([round(t_all, 1), count])
    t_drain = t_drained - t_all if t_drained > t_all else 0.0
    first = {
        "orders": expected,
        "ranges": len(ranges),
        "range_size": RANGE_SIZE,
        "split_s": round(t_split, 2),
        "dispatch_s": round(t_dispatch, 2),
        "seconds": round(t_all, 2),
        "drained_s": round(t_all + t_drain, 2),
        "orders_per_s": round(expected / t_all),
        "progress": progress,
    }
    print(f"attribution: {expected} orders in {t_all:.1f} s ({len(ranges)} ranges)", flush=True)

    after_first = _state_counts(b)
    t = time.monotonic()
    checks = verify_attribution(b, expected)
    checks["verify_s"] = round(time.monotonic() - t, 1)
    print(f"attribution checks: {checks['ok']}", flush=True)

    # -- re-run ----------------------------------------------------------------------------------
    t = time.monotonic()
    ranges2 = split_ranges(b)
    for after, up_to in ranges2:
        tasks.attribute_range.delay(b.pk, after, up_to)
    _wait_drained(r)
    t_again = time.monotonic() - t
    t = time.monotonic()
    n_pending = attribution.attribute_pending(brand=b, notify=False)
    t_pending = time.monotonic() - t
    t = time.monotonic()
    for after, up_to in ranges:
        tasks.attribute_range.delay(b.pk, after, up_to)
    _wait_drained(r)
    t_worker = time.monotonic() - t
    after_rerun = _state_counts(b)
    rerun = {
        "procedure_s": round(t_again, 2),
        "procedure_ranges": len(ranges2),
        "pending_s": round(t_pending, 2),
        "pending_attributed": n_pending,
        "worker_ranges": len(ranges),
        "worker_s": round(t_worker, 2),
        "unchanged": after_rerun == after_first,
        "before": after_first,
        "after": after_rerun,
    }
    rerun["seconds"] = max(rerun["procedure_s"], rerun["pending_s"], rerun["worker_s"])
    print(f"re-run: {rerun}", flush=True)
    emit(
        {
            "expected": expected,
            "before": before,
            "first": first,
            "checks": checks,
            "rerun": rerun,
        }
    )


# The independent computation: the rules of guides/models.py and guides/services/compute.py written
# again in SQL, over every paid order. Exactly checked: orders without refunds, and orders whose
# lines are each either untouched or wholly returned (and no amount refunded beyond them); for
# amount-only refunds (spread over the lines by largest remainder) only 0 <= now <= full.
EXPECT_SQL = """
CREATE TEMP TABLE bench_expect ON COMMIT DROP AS
WITH staff_members AS (
    SELECT DISTINCT mi.member_id
    FROM members_memberidentity mi
    JOIN retail_user u ON u.phone = mi.value
    JOIN retail_staff s ON s.user_id = u.id
    WHERE mi.kind = 'phone'
),
guide_store AS (SELECT staff_id, min(store_id) AS store_id FROM retail_staffstore GROUP BY staff_id),
o AS (
    SELECT o.id AS order_id, o.channel, o.store_id, o.paid_at, o.paid_fen, o.refunded_fen,
           CASE o.channel WHEN 'cloud_store' THEN r.cloud_store WHEN 'flagship' THEN r.flagship ELSE r.pos END AS prec,
           r.dual_credit_store, r.exclude_staff_purchases AND sm.member_id IS NOT NULL AS staff_purchase,
           o.paid_fen < r.min_order_fen AS below,
           ex.id AS ex, sv.id AS sv,
           CASE WHEN t.created_at >= o.paid_at - make_interval(days => r.touch_window_days) THEN sh.id END AS sh
    FROM cloudstore_order o
    LEFT JOIN cloudstore_touch t ON t.id = o.touch_id
    LEFT JOIN staff_members sm ON sm.member_id = o.member_id
    LEFT JOIN retail_staff ex ON ex.id = o.exclusive_guide_id AND ex.status = 'active'
    LEFT JOIN retail_staff sh ON sh.id = o.share_guide_id AND sh.status = 'active'
    LEFT JOIN retail_staff sv ON sv.id = o.served_by_id AND sv.status = 'active'
    CROSS JOIN LATERAL (
        SELECT * FROM guides_attributionrule r WHERE r.effective_from <= o.paid_at
        ORDER BY r.effective_from DESC, r.version DESC LIMIT 1
    ) r
    WHERE o.paid_at IS NOT NULL AND o.status IN %s
),
d AS (
    SELECT o.*,
           CASE WHEN prec = 'none' THEN 'channel_off' WHEN staff_purchase THEN 'staff_purchase'
                WHEN below THEN 'below_threshold' END AS off,
           CASE prec WHEN 'exclusive>touch' THEN coalesce(ex, sh) WHEN 'touch>exclusive' THEN coalesce(sh, ex)
                     WHEN 'served>exclusive' THEN coalesce(sv, ex) WHEN 'exclusive' THEN ex WHEN 'touch' THEN sh
           END AS cand,
           CASE prec WHEN 'exclusive>touch' THEN CASE WHEN ex IS NOT NULL THEN 'exclusive' WHEN sh IS NOT NULL THEN 'touch' END
                     WHEN 'touch>exclusive' THEN CASE WHEN sh IS NOT NULL THEN 'touch' WHEN ex IS NOT NULL THEN 'exclusive' END
                     WHEN 'served>exclusive' THEN CASE WHEN sv IS NOT NULL THEN 'served' WHEN ex IS NOT NULL THEN 'exclusive' END
                     WHEN 'exclusive' THEN CASE WHEN ex IS NOT NULL THEN 'exclusive' END
                     WHEN 'touch' THEN CASE WHEN sh IS NOT NULL THEN 'touch' END
           END AS cand_source
    FROM o
)
SELECT d.order_id, d.channel, d.paid_at, d.refunded_fen,
       CASE WHEN off IS NULL THEN cand END AS guide,
       CASE WHEN off IS NULL AND cand IS NOT NULL THEN cand_source ELSE 'none' END AS source,
       coalesce(off, CASE WHEN cand IS NULL THEN 'no_guide' ELSE '' END) AS excluded,
       CASE WHEN off IS NULL AND cand IS NOT NULL AND d.store_id IS NULL AND d.dual_credit_store
            THEN gs.store_id ELSE d.store_id END AS store_id
FROM d LEFT JOIN guide_store gs ON gs.staff_id = CASE WHEN off IS NULL THEN d.cand END;

CREATE TEMP TABLE bench_expect_lines ON COMMIT DROP AS
SELECT l.order_id, l.quantity AS qty, l.unit_price_fen * l.quantity - l.discount_fen AS base,
       l.refunded_quantity AS rqty, l.refunded_fen AS rfen,
       CASE WHEN r.id IS NULL OR l.unit_price_fen * l.quantity - l.discount_fen <= 0 THEN 0
            ELSE greatest(0, least(
                CASE WHEN r.kind = 'percent' THEN (l.unit_price_fen * l.quantity - l.discount_fen) * r.rate_bp / 10000
                     ELSE r.fixed_fen * l.quantity END,
                coalesce(r.cap_fen, 9223372036854775807))) END AS full_fen
FROM cloudstore_orderline l
JOIN bench_expect e ON e.order_id = l.order_id AND e.guide IS NOT NULL
JOIN cloudstore_sku k ON k.id = l.sku_id
JOIN cloudstore_product p ON p.id = k.product_id
LEFT JOIN LATERAL (
    SELECT r.* FROM guides_commissionrule r
    WHERE (r.sku_id = l.sku_id OR (r.sku_id IS NULL AND r.category_id = p.category_id)
           OR (r.sku_id IS NULL AND r.category_id IS NULL))
      AND r.effective_from <= e.paid_at AND (r.effective_to IS NULL OR r.effective_to > e.paid_at)
      AND (r.channel = '' OR r.channel = e.channel)
    ORDER BY (CASE WHEN r.sku_id IS NOT NULL THEN 4 WHEN r.category_id IS NOT NULL THEN 2 ELSE 0 END
              + CASE WHEN r.channel <> '' THEN 1 ELSE 0 END) DESC, r.effective_from DESC, r.id DESC
    LIMIT 1
) r ON true;

CREATE TEMP TABLE bench_expect_orders ON COMMIT DROP AS
SELECT e.order_id, e.guide, e.refunded_fen, coalesce(c.full_fen, 0) AS full_fen,
       CASE WHEN e.guide IS NULL THEN 0
            WHEN e.refunded_fen = 0 AND coalesce(c.line_refunds, 0) = 0 THEN coalesce(c.full_fen, 0)
            WHEN c.lines_whole AND (e.refunded_fen <= c.line_refunds OR c.left_fen = 0) THEN c.untouched_fen
       END AS now_fen
FROM bench_expect e
LEFT JOIN (
    SELECT order_id, sum(full_fen) AS full_fen, sum(rfen) AS line_refunds,
           coalesce(sum(full_fen) FILTER (WHERE rqty = 0 AND rfen = 0), 0) AS untouched_fen,
           bool_and((rqty = 0 AND rfen = 0) OR (rqty = qty AND rfen = base)) AS lines_whole,
           sum(greatest(0, base - rfen)) AS left_fen
    FROM bench_expect_lines GROUP BY order_id
) c USING (order_id);
"""

COMPARE_SQL = """
WITH ent AS (
    SELECT order_id, count(*) AS n,
           sum(amount_fen) AS net,
           sum(amount_fen) FILTER (WHERE kind = 'earn') AS earn,
           count(*) FILTER (WHERE kind = 'earn') AS earns,
           sum(amount_fen) FILTER (WHERE kind = 'clawback') AS clawback,
           count(DISTINCT guide_id) AS guides, min(guide_id) AS guide
    FROM guides_commissionentry GROUP BY order_id
)
SELECT
    count(*) AS orders,
    count(*) FILTER (WHERE a.id IS NULL) AS missing_attribution,
    count(*) FILTER (WHERE a.guide_id IS DISTINCT FROM e.guide) AS guide_off,
    count(*) FILTER (WHERE a.source IS DISTINCT FROM e.source) AS source_off,
    count(*) FILTER (WHERE a.excluded IS DISTINCT FROM e.excluded) AS excluded_off,
    count(*) FILTER (WHERE a.store_id IS DISTINCT FROM e.store_id) AS store_off,
    count(*) FILTER (WHERE x.now_fen IS NOT NULL) AS exact_orders,
    count(*) FILTER (WHERE x.now_fen IS NOT NULL AND a.commission_fen IS DISTINCT FROM x.now_fen) AS commission_off,
    count(*) FILTER (WHERE x.now_fen IS NULL AND NOT (a.commission_fen BETWEEN 0 AND x.full_fen)) AS bounds_off,
    count(*) FILTER (WHERE x.now_fen IS NULL) AS amount_refund_orders,
    count(*) FILTER (WHERE coalesce(t.earn, 0) IS DISTINCT FROM CASE WHEN e.guide IS NOT NULL THEN x.full_fen ELSE 0 END
                        OR coalesce(t.earns, 0) <> CASE WHEN e.guide IS NOT NULL AND x.full_fen > 0 THEN 1 ELSE 0 END)
        AS earn_off,
    count(*) FILTER (WHERE coalesce(t.net, 0) <> a.commission_fen) AS net_off,
    count(*) FILTER (WHERE coalesce(t.clawback, 0) <> a.commission_fen - coalesce(t.earn, 0)) AS clawback_off,
    count(*) FILTER (WHERE t.n IS NOT NULL AND (t.guides <> 1 OR t.guide IS DISTINCT FROM a.guide_id)) AS entry_guide_off,
    count(*) FILTER (WHERE a.sales_fen <> (SELECT sum(unit_price_fen * quantity - discount_fen)
                                           FROM cloudstore_orderline l WHERE l.order_id = e.order_id)) AS sales_off,
    coalesce(sum(a.commission_fen), 0) AS commission_fen,
    count(*) FILTER (WHERE e.guide IS NOT NULL) AS credited,
    count(*) FILTER (WHERE t.clawback IS NOT NULL) AS clawbacks
FROM bench_expect e
JOIN bench_expect_orders x USING (order_id)
LEFT JOIN guides_attribution a ON a.order_id = e.order_id
LEFT JOIN ent t ON t.order_id = e.order_id
"""

GUIDE_SQL = """
WITH got AS (
    SELECT c.guide_id, sum(c.amount_fen) AS fen FROM guides_commissionentry c
    JOIN bench_expect_orders x ON x.order_id = c.order_id AND x.now_fen IS NOT NULL GROUP BY 1
), want AS (
    SELECT guide AS guide_id, sum(now_fen) AS fen FROM bench_expect_orders
    WHERE guide IS NOT NULL AND now_fen IS NOT NULL GROUP BY 1
)
SELECT count(*), count(*) FILTER (WHERE got.fen IS DISTINCT FROM want.fen),
       count(*) FILTER (WHERE coalesce(want.fen, 0) > 0)
FROM got FULL JOIN want USING (guide_id)
"""


def verify_attribution(b, expected: int) -> dict:
    from django.db import connection

    from retail.tenancy import brand_scope

    with brand_scope(b), connection.cursor() as cur:
        t = time.monotonic()
        cur.execute(EXPECT_SQL, [PAID_STATUSES])
        t_expect = time.monotonic() - t
        cur.execute(COMPARE_SQL)
        cmp = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
        cur.execute(GUIDE_SQL)
        g = cur.fetchone()
        cur.execute(
            """SELECT
                 (SELECT count(*) FROM guides_attribution),
                 (SELECT count(*) FROM guides_attribution a JOIN cloudstore_order o ON o.id = a.order_id
                  WHERE o.paid_at IS NULL OR o.status NOT IN %s),
                 (SELECT count(*) - count(DISTINCT order_id) FROM guides_attribution),
                 (SELECT count(*) FROM guides_commissionentry),
                 (SELECT count(*) - count(DISTINCT key) FROM guides_commissionentry),
                 (SELECT count(*) FROM guides_commissionentry WHERE kind = 'earn'),
                 (SELECT count(*) FROM guides_commissionentry WHERE kind = 'earn' AND key <> 'earn:' || order_id),
                 (SELECT count(*) FROM guides_commissionentry WHERE kind = 'clawback'),
                 (SELECT coalesce(sum((data->>'orders')::bigint), 0) FROM guides_event WHERE name = 'orders.attributed'),
                 (SELECT count(*) FROM guides_event WHERE name = 'order.attributed'),
                 (SELECT count(DISTINCT guide_id) FROM guides_commissionentry),
                 (SELECT coalesce(sum(amount_fen), 0) FROM guides_commissionentry),
                 (SELECT count(*) FROM guides_attribution WHERE commission_fen < 0),
                 (SELECT count(*) FROM cloudstore_order o JOIN cloudstore_touch t ON t.id = o.touch_id
                  WHERE o.paid_at IS NOT NULL AND t.created_at < o.paid_at - interval '14 days'),
                 (SELECT json_object_agg(k, n) FROM (SELECT source || '/' || coalesce(nullif(excluded, ''), '-') AS k,
                         count(*) AS n FROM guides_attribution GROUP BY 1 ORDER BY 1) s)""",
            [PAID_STATUSES],
        )
        (
            attributions,
            unpaid_attributed,
            dup_attr,
            entries,
            dup_keys,
            earns,
            earn_key_off,
            clawbacks,
            events,
            dup_events,
            guides_credited,
            entries_fen,
            negative,
            old_touches,
            breakdown,
        ) = cur.fetchone()
    breakdown = json.loads(breakdown) if isinstance(breakdown, str) else breakdown
    checks = {
        "attributions == paid orders": attributions == expected,
        "no attribution of an unpaid order": unpaid_attributed == 0,
        "one attribution per order": dup_attr == 0 and cmp["missing_attribution"] == 0,
        "entry keys unique": dup_keys == 0,
        "one earn entry per credited order, key earn:<order>": earn_key_off == 0 and cmp["earn_off"] == 0,
        "orders.attributed batch events cover every order, no per-order events": events == attributions
        and dup_events == 0,
        "guide, source, exclusion, store == SQL recomputation (every order)": cmp["guide_off"] == 0
        and cmp["source_off"] == 0
        and cmp["excluded_off"] == 0
        and cmp["store_off"] == 0,
        "commission == SQL recomputation (orders without amount-only refunds)": cmp["commission_off"] == 0,
        "amount-only refunds: 0 <= commission <= full": cmp["bounds_off"] == 0,
        "commission_fen == sum(earn + clawback) per order": cmp["net_off"] == 0 and cmp["clawback_off"] == 0,
        "entries credit the attribution's guide": cmp["entry_guide_off"] == 0,
        "sales_fen == sum of the lines": cmp["sales_off"] == 0,
        "per guide: entries == SQL recomputation": g[1] == 0,
        "no negative commission": negative == 0,
    }
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "compare": cmp,
        "guides_compared": g[0],
        "guides_off": g[1],
        "guides_with_commission": g[2],
        "attributions": attributions,
        "entries": entries,
        "earn_entries": earns,
        "clawback_entries": clawbacks,
        "events": events,
        "guides_credited": guides_credited,
        "entries_fen": entries_fen,
        "touches_older_than_14_days": old_touches,
        "breakdown": breakdown,
        "expect_s": round(t_expect, 1),
    }


# --- settlement -----------------------------------------------------------------------------------


def _fund(b, admin, need_fen: int, label: str) -> dict:
    from guides.services import settlement
    from redpackets.services import funding

    t = time.monotonic()
    have = settlement.pool_balance(brand=b)
    n = 0
    while have < need_fen:
        amount = min(funding.TOPUP_MAX_FEN, need_fen - have)
        top_up(b, admin, amount, key=f"bench-commission-{label}-{n}")
        n += 1
        have = settlement.pool_balance(brand=b)
    return {"topups": n, "pool_fen": have, "seconds": round(time.monotonic() - t, 2)}


def _period(b, admin, start, end, label: str, *, second_payer: bool) -> dict:
    import threading

    from django.db import connection

    from guides.models import SettlementPeriod, Statement
    from guides.services import settlement
    from retail.events import Actor
    from retail.tenancy import brand_scope

    unsettled = one(
        b,
        "SELECT count(*), count(DISTINCT guide_id), coalesce(sum(amount_fen), 0), "
        "count(*) FILTER (WHERE occurred_at >= %s) FROM guides_commissionentry "
        "WHERE statement_id IS NULL AND occurred_at < %s",
        [start, end],
    )
    close_sql = SqlTimer()
    t0 = time.monotonic()
    with connection.execute_wrapper(close_sql):
        period = settlement.period_close(brand=b, start=start, end=end, label=label)
    t_close = time.monotonic() - t0
    with brand_scope(b):
        due = sum(
            Statement.objects.filter(period=period, status="pending").values_list("total_fen", flat=True)
        )
    funding = _fund(b, admin, due, label)
    pool_before = settlement.pool_balance(brand=b)
    packets_before = one(b, "SELECT count(*) FROM redpackets_redpacket")

    direct = {}
    t1 = time.monotonic()
    period = settlement.period_approve(
        brand=b, staff=admin, actor=Actor.system(), period=period, key=f"bench-approve-{label}"
    )
    t_approve = time.monotonic() - t1
    # period_approve queued pay_period for the worker when it committed. For the back-log this
    # process pays too, at the same time (two payers: each statement must still be paid once).
    if second_payer:

        def pay():
            t = time.monotonic()
            timer = SqlTimer()
            try:
                with connection.execute_wrapper(timer):
                    direct["paid"] = settlement.period_pay(brand=b, period=period)
            finally:
                direct["seconds"] = round(time.monotonic() - t, 2)
                direct["sql"] = _sql_summary(timer)
                connection.close()

        thread = threading.Thread(target=pay)
        thread.start()
    while True:
        status = one(b, "SELECT status FROM guides_settlementperiod WHERE id = %s", [period.pk])
        if status == SettlementPeriod.Status.PAID:
            break
        if time.monotonic() - t1 > 1800:
            raise SystemExit(f"bench: period {label} not paid within 30 minutes")
        time.sleep(0.05)
    t_pay = time.monotonic() - t1 - t_approve
    if second_payer:
        thread.join(timeout=600)
    pool_after = settlement.pool_balance(brand=b)

    t = time.monotonic()
    again = settlement.period_pay(brand=b, period=period)
    t_again = time.monotonic() - t
    packets_after_again = one(b, "SELECT count(*) FROM redpackets_redpacket")

    checks_raw = one(
        b,
        """
        WITH s AS (SELECT * FROM guides_statement WHERE period_id = %(p)s),
        e AS (SELECT statement_id, sum(amount_fen) AS fen, count(*) AS n, max(occurred_at) AS last
              FROM guides_commissionentry WHERE statement_id IN (SELECT id FROM s) GROUP BY 1)
        SELECT
          (SELECT count(*) FROM s),
          (SELECT count(DISTINCT guide_id) FROM s),
          (SELECT count(*) FROM s WHERE status = 'paid'),
          (SELECT count(*) FROM s WHERE status = 'nothing'),
          (SELECT count(*) FROM s WHERE status NOT IN ('paid', 'nothing')),
          (SELECT coalesce(sum(total_fen), 0) FROM s),
          (SELECT count(DISTINCT packet_id) FROM s WHERE status = 'paid'),
          (SELECT count(*) FROM s JOIN redpackets_redpacket rp ON rp.key = 'commission:' || s.id),
          (SELECT count(*) FROM s JOIN redpackets_redpacket rp ON rp.id = s.packet_id
             WHERE rp.key <> 'commission:' || s.id OR rp.total_fen <> s.total_fen OR rp.source <> 'commission'
                OR rp.source_ref <> 'statement:' || s.id OR rp.status <> 'finished' OR rp.claimed_fen <> s.total_fen),
          (SELECT coalesce(sum(rp.total_fen), 0) FROM s JOIN redpackets_redpacket rp ON rp.id = s.packet_id),
          (SELECT count(*) FROM s JOIN redpackets_packetshare sh ON sh.packet_id = s.packet_id),
          (SELECT count(*) FROM s JOIN redpackets_packetshare sh ON sh.packet_id = s.packet_id
             WHERE sh.staff_id <> s.guide_id OR sh.amount_fen <> s.total_fen),
          (SELECT count(*) FROM s LEFT JOIN e ON e.statement_id = s.id
             WHERE coalesce(e.fen, 0) <> s.total_fen + s.carried_out_fen OR e.last >= %(end)s),
          (SELECT coalesce(sum(e.n), 0) FROM e),
          (SELECT count(*) FROM guides_commissionentry WHERE statement_id IS NULL AND occurred_at < %(end)s),
          (SELECT count(*) FROM guides_event WHERE name = 'statement.paid'
             AND (data->>'statement')::bigint IN (SELECT id FROM s)),
          (SELECT count(*) FROM guides_notification WHERE kind = 'statement'
             AND (data->>'statement')::bigint IN (SELECT id FROM s)),
          (SELECT total_fen FROM guides_settlementperiod WHERE id = %(p)s),
          (SELECT count(*) FROM redpackets_transaction t JOIN s ON t.packet_id = s.packet_id)
        """,
        {"p": period.pk, "end": end},
    )
    (
        statements,
        guides,
        paid,
        nothing,
        other,
        total_fen,
        distinct_packets,
        packets_by_key,
        packet_off,
        packets_fen,
        shares,
        share_off,
        entries_off,
        entries,
        left_unsettled,
        paid_events,
        notes,
        period_total,
        txns,
    ) = checks_raw
    pending_before = paid  # every statement that was pending is paid now (none was held)
    checks = {
        "one statement per guide with unsettled entries": statements == unsettled[1] == guides,
        "every statement paid (none held, none left pending)": other == 0 and paid + nothing == statements,
        "one red packet per paid statement, key commission:<statement>": distinct_packets == paid
        and packets_by_key == paid
        and packets_after_again - packets_before == paid,
        "packets match their statements (amount, source, finished)": packet_off == 0,
        "one share per packet, to the guide, the whole amount": shares == paid and share_off == 0,
        "sum of packets == sum of statements == period total": packets_fen == total_fen == period_total,
        "pool went down by exactly the total": pool_before - pool_after == total_fen,
        "entries of each statement add up to it, all before the end": entries_off == 0,
        "no unsettled entry before the period end": left_unsettled == 0,
        "entries settled == entries unsettled before the close": entries == unsettled[0],
        "period_pay again pays nothing": again == 0,
        "one statement.paid event and one notification per statement": paid_events == paid and notes == paid,
        "two ledger transactions (send, claim) per packet": txns == 2 * paid,
    }
    return {
        "label": label,
        "start": start,
        "end": end,
        "entries": unsettled[0],
        "entries_in_period": unsettled[3],
        "guides": unsettled[1],
        "statements": statements,
        "paid": paid,
        "nothing": nothing,
        "total_fen": total_fen,
        "funding": funding,
        "close_s": round(t_close, 2),
        "close_sql": _sql_summary(close_sql),
        "approve_s": round(t_approve, 2),
        "pay_s": round(t_pay, 2),
        "seconds": round(t_close + t_approve + t_pay, 2),
        "second_payer": direct if second_payer else None,
        "pay_again": again,
        "pay_again_s": round(t_again, 2),
        "pool_before": pool_before,
        "pool_after": pool_after,
        "checks": checks,
        "ok": all(checks.values()),
        "pending_paid": pending_before,
    }


def settle() -> None:
    import datetime

    from django.utils import timezone

    from guides.services import settlement
    from guides.services.rules import settings_get
    from redpackets.services import reconcile

    b = brand()
    admin = admin_of(b)
    cfg = settings_get(brand=b)
    start, end, label = settlement.last_complete_period(brand=b, now=timezone.now())
    b_start, b_end, b_label = settlement.period_bounds(cfg, start - datetime.timedelta(seconds=1))
    backlog = _period(b, admin, b_start, b_end, b_label, second_payer=True)
    print(f"settlement back-log {b_label}: {backlog['seconds']} s, ok {backlog['ok']}", flush=True)
    month = _period(b, admin, start, end, label, second_payer=False)
    print(f"settlement {label}: {month['seconds']} s, ok {month['ok']}", flush=True)

    t = time.monotonic()
    rec = reconcile.reconcile(brand=b)
    t_rec = time.monotonic() - t
    wallets = one(
        b,
        """WITH w AS (SELECT staff_id, balance_fen FROM redpackets_account WHERE kind = 'wallet'),
                s AS (SELECT guide_id, sum(total_fen) AS fen FROM guides_statement WHERE status = 'paid' GROUP BY 1)
           SELECT count(*), count(*) FILTER (WHERE w.balance_fen IS DISTINCT FROM s.fen)
           FROM w FULL JOIN s ON s.guide_id = w.staff_id""",
    )
    emit(
        {
            "timezone": cfg.timezone,
            "period": cfg.period,
            "backlog": backlog,
            "month": month,
            "reconcile": {
                "ok": rec.ok,
                "problems": len(rec.problems),
                "checked": rec.checked,
                "seconds": round(t_rec, 2),
            },
            "wallets": {"count": wallets[0], "off": wallets[1]},
            "ok": backlog["ok"] and month["ok"] and rec.ok and wallets[1] == 0,
        }
    )


STEPS = {"seed": seed, "profile": profile, "attribute": attribute, "settle": settle, "reset": reset}

# --- the runner ---------------------------------------------------------------------------------

TASK_LINE = re.compile(r"Task guides\.tasks\.(\w+)\[[^\]]+\] succeeded in ([\d.]+)s: (\S+)")


def worker_cmd(py: str | None = None) -> list[str]:
    options = ("-l", "info", "-c", str(WORKERS), "--without-gossip", "--without-mingle", "-Q", "celery",
               "-n", "bench-commission@%h")  # fmt: skip
    return celery_cmd(*options, **({"py": py} if py else {}))


def task_times(logfile: Path) -> dict[str, list[tuple[float, str]]]:
    times: dict[str, list[tuple[float, str]]] = {}
    for name, seconds, result in TASK_LINE.findall(logfile.read_text(errors="replace")):
        times.setdefault(name, []).append((float(seconds), result))
    return times


def run(run: Run) -> dict:
    load_before = load_average()
    code = short_revision()
    reuse = os.environ.get("BENCH_COMM_REUSE", "")
    if reuse:
        # Measure again on the database an earlier run seeded (its results file names the seed).
        earlier = json.loads(Path(reuse).read_text())
        run.db = earlier["database"]
    run.prepare(recreate=not reuse, migrate=not reuse, migrate_timeout=600)
    pg = pg_settings(
        run.db_url, "max_connections", "synchronous_commit", "fsync", "shared_buffers", "work_mem"
    )
    if reuse:
        seed_ = {**earlier["seed"], "reused_from": reuse}
        seed_["reset"] = run.step("reset", timeout=1800)
        log(f"reusing the data set of {reuse}: {seed_['reset']}")
    else:
        seed_ = run.step("seed", timeout=3600)
        log(f"seeded in {seed_['seconds']} s: {seed_['counts']}")
    profiled = None
    if PROFILE:
        profile_file = run.file("commission-profile.txt")
        busy = wait_for_quiet(window=1.0, seconds=QUIET_SECONDS)
        with CpuSampler() as cpu:
            profiled = run.step("profile", profile_file, timeout=1800)
        profiled.update({"cpus": cpu.cpus, "busy_before": busy, "file": str(profile_file.relative_to(ROOT))})
        log(f"profile of one range: {profiled['orders']} orders in {profiled['wall_s']} s")

    worker_log = run.file("commission-celery.log")
    worker = start_worker(worker_cmd(), run.env, worker_log, wait_ready=True)
    try:
        memory_idle = worker_memory(worker.pid)
        phases = {}
        for phase in ("attribute", "settle"):
            busy = wait_for_quiet(window=1.0, seconds=QUIET_SECONDS)
            with DbSampler(run.db_url) as dbs, CpuSampler(worker.pid) as cpu:
                phases[phase] = run.step(phase, timeout=3600)
            phases[phase].update({"cpus": cpu.cpus, "db": dbs.figures(), "busy_before": busy})
            phases[phase]["memory"] = worker_memory(worker.pid)
            if phase == "attribute":
                first = phases[phase]["first"]
                log(f"attribution: {first['orders']} orders in {first['seconds']} s")
    finally:
        stop_worker(worker, timeout=60)
    attribution, settlement = phases["attribute"], phases["settle"]
    memory = {"idle": memory_idle, "after_attribution": attribution.pop("memory"),
              "after_settlement": settlement.pop("memory")}  # fmt: skip
    machine = run.machine()
    return run.finish(
        {
            "machine": {**machine, "code": code, "code_detail": machine["code"]},
            "load_before": load_before,
            "load_after": load_average(),
            "database": run.db,
            "pg": pg,
            "env": {k: v for k, v in run.env_vars.items() if v},
            "worker_cmd": " ".join(worker_cmd("python")),
            "settings": {
                "orders": ORDERS,
                "order_ids": ORDER_IDS,
                "members": MEMBERS,
                "guides": GUIDES,
                "stores": STORES,
                "skus": SKUS,
                "categories": CATEGORIES,
                "range_size": RANGE_SIZE,
                "workers": WORKERS,
                "quiet_seconds": QUIET_SECONDS,
            },
            "targets": TARGETS,
            "seed": seed_,
            "profile": profiled,
            "attribution": attribution,
            "settlement": settlement,
            "tasks": task_times(worker_log),
            "memory": memory,
        }
    )
