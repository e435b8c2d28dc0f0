"""Cloud store: checkout races for 100 units of one SKU, the shopper's store page of 5,000 SKUs
(p95 under 100 ms server time, constant query count), 50,000-row bulk stock updates through the
API (under 30 s). The data formulas are in cloudstore_data.py next to this file. See
bench/README.md.

Tunables: BENCH_CLOUDSTORE_DURATION (5s), BENCH_CLOUDSTORE_REPEAT (3), BENCH_CLOUDSTORE_CONNECTIONS
(1,2,16), BENCH_CS_VIEW_REQUESTS (200), BENCH_CS_PRODUCTS (2000), BENCH_RACE_WORKERS (16),
BENCH_RACE_RUNS (3), BENCH_RACE_SWEEP (2,8), BENCH_RACE_CHECKOUTS (500), BENCH_RACE_STOCK (100),
BENCH_BULK_RUNS (3), BENCH_BULK_STORES (10), BENCH_BULK_REPEAT_LIMIT (60), BENCH_CS_QUIET_BUDGET
(120).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import time
from urllib.parse import quote

from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.db.models import Count, F, Q, Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.harness.cpu import ForeignCpu, QuietBudget
from bench.harness.database import DbSampler, pg_settings
from bench.harness.fixtures import error_codes
from bench.harness.load import percentile, wrk_series
from bench.harness.proc import emit, log
from bench.harness.runs import Run
from bench.harness.servers import (
    csrf_secret,
    http_status,
    request,
    server_cmd_text,
    session_headers,
    start_server,
    stop_group,
)
from bench.scenarios import cloudstore_data as data
from bench.scenarios.staff import seed_staff
from cloudstore import selectors
from cloudstore.models import (
    Category,
    Inventory,
    Order,
    OrderLine,
    Payment,
    Product,
    ProductImage,
    Sku,
    StockMovement,
)
from cloudstore.services import checkout, order_payments
from members import services as member_services
from members.models import Member
from retail import payments
from retail.models import Brand, Store
from retail.tenancy import brand_scope, rls_bypass

BRAND_A, BRAND_B = "bench-a", "bench-b"
BATCH = 5000
RACE_STOCK = int(os.environ.get("BENCH_RACE_STOCK", 100))
RACE_CHECKOUTS = int(os.environ.get("BENCH_RACE_CHECKOUTS", 500))
PRICE_RACE = 9900


def brand(slug: str = BRAND_A) -> Brand:
    return Brand.objects.get(slug=slug)


# --- seed ---------------------------------------------------------------------------------------


def _seed_catalogue(b: Brand, mark: str) -> tuple[list[Category], list[Product], list[Sku]]:
    cats = Category.objects.bulk_create(
        [Category(brand=b, name=name, sort=i) for i, name in enumerate(data.CATEGORIES)]
    )
    products = Product.objects.bulk_create(
        [
            Product(
                brand=b,
                name=data.product_name(p, mark),
                category=cats[p % len(cats)],
                description=f"{data.product_name(p, mark)}:基准测试商品。",
            )
            for p in range(data.N_PRODUCTS)
        ],
        batch_size=BATCH,
    )
    skus, n = [], 0
    for p, product in enumerate(products):
        for k in range(data.skus_of(p)):
            skus.append(
                Sku(
                    brand=b,
                    product=product,
                    code=data.sku_code(n),
                    spec=data.SPECS[k],
                    barcode=f"69{b.pk:02d}{n:09d}",
                    list_price_fen=data.list_price(n),
                )
            )
            n += 1
    skus = Sku.objects.bulk_create(skus, batch_size=BATCH)
    # A photo (thumbnail path only: the page links it, nothing reads the file) on every other product.
    ProductImage.objects.bulk_create(
        [
            ProductImage(
                brand=b,
                product=product,
                image=f"products/2026/01/bench-{b.pk}-{p}.jpg",
                thumbnail=f"products/2026/01/bench-{b.pk}-{p}-t.jpg",
                width=800,
                height=800,
            )
            for p, product in enumerate(products)
            if p % 2 == 0
        ],
        batch_size=BATCH,
    )
    return cats, products, skus


def _stock(b: Brand, store: Store, skus: list[Sku], number: int) -> list[Inventory]:
    return [
        Inventory(
            brand=b,
            store=store,
            sku=sku,
            on_hand=data.seed_on_hand(n, number),
            price_fen=data.seed_store_price(n, number),
        )
        for n, sku in enumerate(skus)
    ]


def seed() -> None:
    """Both brands' catalogues (2,000 products, 5,000 SKUs each), their stores' stock, and the
    members who race for the last units; one audited RLS bypass, then ANALYZE."""
    a, b = brand(BRAND_A), brand(BRAND_B)
    t0 = time.monotonic()
    with transaction.atomic(), rls_bypass(reason="bench seed cloudstore"):
        if Product.unscoped.exists():
            raise SystemExit("bench: products exist already; the runner recreates the database")
        cats_a, _products_a, skus_a = _seed_catalogue(a, "")
        _seed_catalogue(b, "乙·")
        skus_b = list(Sku.unscoped.filter(brand=b).order_by("pk"))
        stores_a = {s.code: s for s in Store.unscoped.filter(brand=a)}
        stores_b = {s.code: s for s in Store.unscoped.filter(brand=b)}
        rows = _stock(a, stores_a[data.store_code(data.BIG_STORE)], skus_a, data.BIG_STORE)
        small = sum(data.skus_of(p) for p in range(data.small_store_products()))
        rows += _stock(a, stores_a[data.store_code(data.SMALL_STORE)], skus_a[:small], data.SMALL_STORE)
        for number in data.OTHER_FULL_STORES:
            rows += _stock(a, stores_a[data.store_code(number)], skus_a, number)
        for number in data.B_FULL_STORES:
            rows += _stock(b, stores_b[data.store_code(number)], skus_b, number)
        Inventory.objects.bulk_create(rows, batch_size=BATCH)
        Member.objects.bulk_create(
            [Member(brand=a, name=f"抢购会员{i:03d}") for i in range(RACE_CHECKOUTS)], batch_size=BATCH
        )
    seed_seconds = round(time.monotonic() - t0, 1)
    member_services.program_get(brand=a)  # the points programme paying winners earns points in
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    with rls_bypass(reason="bench seed cloudstore: counts"):
        counts = {
            "categories": Category.unscoped.count(),
            "products": Product.unscoped.count(),
            "skus": Sku.unscoped.count(),
            "product_images": ProductImage.unscoped.count(),
            "inventory": Inventory.unscoped.count(),
            "members": Member.unscoped.filter(brand=a).count(),
        }
        listed = dict(
            Inventory.unscoped.filter(brand=a, store__code__in=["S0001", "S0002"])
            .values_list("store__code")
            .annotate(n=Count("id"))
        )
    with brand_scope(a):
        big = stores_a[data.store_code(data.BIG_STORE)]
        small_store = stores_a[data.store_code(data.SMALL_STORE)]
        shown = {
            "big": selectors.store_products(brand=a, store=big).count(),
            "small": selectors.store_products(brand=a, store=small_store).count(),
            "search": selectors.store_products(brand=a, store=big, q=data.SEARCH_WORD).count(),
            "category": selectors.store_products(brand=a, store=big, category_id=cats_a[3].pk).count(),
        }
    emit(
        {
            "seed_seconds": seed_seconds,
            "products_per_brand": data.N_PRODUCTS,
            "skus_per_brand": data.N_SKUS,
            "counts": counts,
            "listed": {"big": listed.get("S0001", 0), "small": listed.get("S0002", 0)},
            "products_shown": shown,
            "per_page": _per_page(),
            "category": {"id": cats_a[3].pk, "name": cats_a[3].name},
            "search_word": data.SEARCH_WORD,
            "other_full_stores": len(data.OTHER_FULL_STORES),
            "brand_b_full_stores": len(data.B_FULL_STORES),
        }
    )


def _per_page() -> int:
    """Products per store page (the view's constant; 24 if the view cannot be imported)."""
    try:
        from cloudstore.views.shop import PRODUCTS_PER_PAGE
    except Exception:
        return 24
    return PRODUCTS_PER_PAGE


# --- the checkout race ---------------------------------------------------------------------------


def _race_worker(w, workers, run, brand_id, store_id, sku_id, member_ids, barrier, queue) -> None:
    """One process: its own connection, its share of the checkouts, one after the other."""
    results = []
    try:
        b = Brand.objects.get(pk=brand_id)
        mine = list(range(w, len(member_ids), workers))
        with brand_scope(b):
            store = Store.objects.get(pk=store_id)
            members = Member.objects.in_bulk([member_ids[i] for i in mine])
        connection.ensure_connection()
        barrier.wait()
        for i in mine:
            t0 = time.monotonic()
            try:
                order = checkout.checkout(
                    brand=b,
                    store=store,
                    member=members[member_ids[i]],
                    items=[(sku_id, 1)],
                    fulfilment="pickup",
                    checkout_key=f"bench-race-{run}-{i:04d}",
                )
                outcome, detail = "ok", order.pk
            except ValidationError as exc:
                outcome, detail = "refused", ",".join(error_codes(exc))
            except Exception as exc:  # a deadlock, a lost connection: counted, not raised
                outcome, detail = "error", f"{type(exc).__name__}: {exc}"[:200]
            results.append((i, outcome, detail, t0, time.monotonic()))
    except Exception as exc:  # the worker could not start: reported by the parent
        results.append((-1, "error", f"worker {w}: {type(exc).__name__}: {exc}"[:200], 0.0, 0.0))
        barrier.abort()
    finally:
        connection.close()
        queue.put(results)


def _pay(b: Brand, order: Order) -> Payment:
    """As tests/cloudstore/conftest.py pay(): start, the payer pays, the signed notice arrives."""
    payment, _url = order_payments.payment_start(brand=b, order=order)
    sim = payments.provider("sim")
    sim.settle(payment.reference, "succeeded")
    body, sig = sim.signed_notice(payment.reference)
    return order_payments.payment_notice(brand=b, provider_name="sim", notice=sim.parse_notice(body, sig))


def race(run: int, workers: int) -> None:
    """RACE_CHECKOUTS checkouts (each a distinct member, 1 unit) of a fresh SKU with RACE_STOCK
    units, from ``workers`` processes released by one barrier; then the winners are paid (from
    this process, so the simulated provider's records need no shared cache) and checked."""
    b = brand(BRAND_A)
    with brand_scope(b):
        store = Store.objects.get(code=data.store_code(data.RACE_STORE))
        product = Product.objects.create(brand=b, name=f"限量抢购 {run}")
        sku = Sku.objects.create(brand=b, product=product, code=f"RACE{run:02d}", list_price_fen=PRICE_RACE)
        inv = Inventory.objects.create(brand=b, store=store, sku=sku, on_hand=RACE_STOCK)
        member_ids = list(Member.objects.order_by("pk").values_list("pk", flat=True)[:RACE_CHECKOUTS])
    if len(member_ids) < RACE_CHECKOUTS:
        raise SystemExit(f"bench: {len(member_ids)} members, {RACE_CHECKOUTS} needed")
    connections.close_all()  # nothing open is inherited by the forked workers
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers + 1, timeout=120)
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=_race_worker,
            args=(w, workers, run, b.pk, store.pk, sku.pk, member_ids, barrier, queue),
            daemon=True,
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    barrier.wait()  # every worker is connected and waiting: go
    t0 = time.monotonic()
    results = []
    for _ in procs:
        results += queue.get(timeout=600)
    for p in procs:
        p.join(timeout=60)
    ends = [r[4] for r in results if r[0] >= 0]
    race_s = max(ends) - t0 if ends else 0.0
    won = [r for r in results if r[1] == "ok"]
    refused = [r for r in results if r[1] == "refused"]
    failed = [r for r in results if r[1] == "error"]
    refusal_codes: dict[str, int] = {}
    for r in refused:
        refusal_codes[r[2]] = refusal_codes.get(r[2], 0) + 1

    # The winners pay, one after the other, as the shopper's payment notices would arrive.
    t_pay = time.monotonic()
    pay_errors = []
    with brand_scope(b):
        won_orders = list(Order.objects.filter(pk__in=[r[2] for r in won]).order_by("pk"))
    for order in won_orders:
        try:
            _pay(b, order)
        except Exception as exc:
            pay_errors.append(f"{order.number}: {type(exc).__name__}: {exc}"[:200])
    pay_s = time.monotonic() - t_pay

    with brand_scope(b):
        inv.refresh_from_db()
        prefix = f"bench-race-{run}-"
        race_orders = Order.objects.filter(checkout_key__startswith=prefix)
        n_orders = race_orders.count()
        n_paid = race_orders.filter(status=Order.Status.PAID).count()
        lines = OrderLine.objects.filter(sku=sku).aggregate(n=Count("id"), units=Sum("quantity"))
        moves = dict(
            StockMovement.objects.filter(sku=sku)
            .values_list("kind")
            .annotate(n=Count("id"))
            .values_list("kind", "n")
        )
        succeeded = Payment.objects.filter(order__in=race_orders, status=Payment.Status.SUCCEEDED).count()
        won_ids = {r[2] for r in won}
        orders_are_winners = set(race_orders.values_list("pk", flat=True)) == won_ids
    with rls_bypass(reason="bench race check: every brand's stock"):
        bad_rows = Inventory.unscoped.filter(Q(on_hand__lt=F("reserved")) | Q(reserved__lt=0)).count()
    winners_expected = min(RACE_STOCK, RACE_CHECKOUTS)
    checks = {
        f"winners == {winners_expected}": len(won) == winners_expected,
        f"refusals == {RACE_CHECKOUTS - winners_expected} (all out_of_stock)": len(refused)
        == RACE_CHECKOUTS - winners_expected
        and set(refusal_codes) <= {"out_of_stock"},
        "no other errors": not failed,
        "every winner paid": not pay_errors and n_paid == len(won) and succeeded == len(won),
        "on_hand == 0 and reserved == 0": inv.on_hand == RACE_STOCK - len(won) == 0 and inv.reserved == 0,
        "no stock row (any brand) with on_hand < reserved or reserved < 0": bad_rows == 0,
        f"orders == {winners_expected} (refused checkouts left none)": n_orders == winners_expected
        and orders_are_winners,
        "order lines == units sold": lines["n"] == len(won) and (lines["units"] or 0) == len(won),
        "stock movements: one reserve and one sale per winner": moves.get("reserve") == len(won)
        and moves.get("sale") == len(won)
        and set(moves) == {"reserve", "sale"},
    }
    lat_ok = [(r[4] - r[3]) * 1000 for r in won]
    lat_refused = [(r[4] - r[3]) * 1000 for r in refused]
    lat_all = lat_ok + lat_refused
    first_refusal = min((r[4] for r in refused), default=t0) - t0
    last_win = max((r[4] for r in won), default=t0) - t0
    emit(
        {
            "run": run,
            "workers": workers,
            "checkouts": RACE_CHECKOUTS,
            "stock": RACE_STOCK,
            "sku": sku.code,
            "store": store.code,
            "race_s": round(race_s, 3),
            "checkouts_per_s": round(RACE_CHECKOUTS / race_s, 1) if race_s else 0,
            "won": len(won),
            "refused": len(refused),
            "refusal_codes": refusal_codes,
            "errors": len(failed),
            "error_samples": [r[2] for r in failed[:5]],
            "last_win_s": round(last_win, 3),
            "first_refusal_s": round(first_refusal, 3),
            "latency_ms": {
                "all_p50": round(percentile(lat_all, 50), 1),
                "all_p95": round(percentile(lat_all, 95), 1),
                "all_max": round(max(lat_all, default=0), 1),
                "won_p50": round(percentile(lat_ok, 50), 1),
                "won_p95": round(percentile(lat_ok, 95), 1),
                "refused_p50": round(percentile(lat_refused, 50), 1),
                "refused_p95": round(percentile(lat_refused, 95), 1),
            },
            "pay_s": round(pay_s, 2),
            "payments_per_s": round(len(won_orders) / pay_s, 1) if pay_s else 0,
            "pay_errors": pay_errors[:5],
            "after": {
                "on_hand": inv.on_hand,
                "reserved": inv.reserved,
                "orders": n_orders,
                "paid": n_paid,
                "payments_succeeded": succeeded,
                "order_lines": lines["n"],
                "movements": moves,
                "bad_stock_rows": bad_rows,
            },
            "checks": checks,
            "all_ok": all(checks.values()),
        }
    )


# --- the store page -------------------------------------------------------------------------------

PRODUCT_CARD = re.compile(r'data-testid="product-(\d+)"')


def _products_of(slug: str) -> set[int]:
    with brand_scope(brand(slug)):
        return set(Product.objects.values_list("pk", flat=True))


def queries(cases: list[list[str]]) -> None:
    """SQL queries of each page (second request), the products it shows, and whether all of them
    are the page's brand's (row-level security and the brand filter)."""
    own = {BRAND_A: _products_of(BRAND_A), BRAND_B: _products_of(BRAND_B)}
    rows = []
    client = Client(raise_request_exception=False)
    for label, path in cases:
        slug = path.split("/")[2]
        client.get(path)  # warm-up: one-off caches (templates, translations)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        html = response.content.decode(errors="replace")
        shown = [int(x) for x in PRODUCT_CARD.findall(html)]
        times = [float(q["time"]) * 1000 for q in ctx.captured_queries]
        slowest = max(range(len(times)), key=times.__getitem__) if times else None
        rows.append(
            {
                "label": label,
                "path": path,
                "status": response.status_code,
                "queries": len(ctx),
                "products_shown": len(shown),
                "own_brand_only": bool(shown) and set(shown) <= own[slug],
                "sql_ms": round(sum(times), 1),
                "slowest_ms": round(times[slowest], 1) if times else 0,
                "slowest_sql": ctx.captured_queries[slowest]["sql"][:240] if times else "",
                "sql": [q["sql"][:160] for q in ctx.captured_queries],
            }
        )
    emit(rows)


def view_times(cases: list[list[str]], n: int) -> None:
    """In-process time of each page over ``n`` requests (Django test client: middleware, view,
    template, SQL; no ASGI server, no network), after 5 warm-up requests."""
    client = Client(raise_request_exception=False)
    rows = []
    for label, path in cases:
        for _ in range(5):
            client.get(path)
        ms, statuses = [], set()
        for _ in range(n):
            t0 = time.perf_counter()
            response = client.get(path)
            ms.append((time.perf_counter() - t0) * 1000)
            statuses.add(response.status_code)
        rows.append(
            {
                "label": label,
                "path": path,
                "requests": n,
                "statuses": sorted(statuses),
                "mean_ms": round(sum(ms) / len(ms), 1),
                "p50_ms": round(percentile(ms, 50), 1),
                "p95_ms": round(percentile(ms, 95), 1),
                "p99_ms": round(percentile(ms, 99), 1),
                "max_ms": round(max(ms), 1),
            }
        )
    emit(rows)


# --- bulk inventory updates ------------------------------------------------------------------------


def bulk_verify(loads: dict[str, list[str]]) -> None:
    """Every row the bulk loads wrote, against the formulas: row count, values, stock movements."""
    b = brand(BRAND_A)
    result = []
    with brand_scope(b):
        skus = dict(Sku.objects.filter(code__startswith="SKU").values_list("pk", "code"))
        for load, phases in sorted(loads.items(), key=lambda x: int(x[0])):
            stores = data.bulk_stores(int(load))
            store_ids = dict(Store.objects.filter(code__in=stores).values_list("pk", "code"))
            got = {
                (store_ids[s], skus[k]): (on_hand, price, low)
                for s, k, on_hand, price, low in Inventory.objects.filter(store_id__in=store_ids).values_list(
                    "store_id", "sku_id", "on_hand", "price_fen", "low_stock_at"
                )
            }
            moves = StockMovement.objects.filter(
                store_id__in=store_ids, kind=StockMovement.Kind.IMPORT
            ).count()
            reserved = Inventory.objects.filter(store_id__in=store_ids, reserved__gt=0).count()
            expected_moves = 0
            mismatches, samples = 0, []
            for j, code in enumerate(stores):
                for n in range(data.N_SKUS):
                    want = data.bulk_expected(n, j, phases)
                    expected_moves += data.bulk_moves(n, j, phases)
                    have = got.get((code, data.sku_code(n)))
                    if have != want:
                        mismatches += 1
                    if (n * 7919 + j) % 10007 == 0 and len(samples) < 5:
                        samples.append({"store": code, "sku": data.sku_code(n), "want": want, "have": have})
            result.append(
                {
                    "load": int(load),
                    "phases": phases,
                    "stores": f"{stores[0]}–{stores[-1]}",
                    "rows_expected": len(stores) * data.N_SKUS,
                    "rows": len(got),
                    "mismatches": mismatches,
                    "movements": moves,
                    "movements_expected": expected_moves,
                    "rows_with_reservations": reserved,
                    "samples": samples,
                    "ok": len(got) == len(stores) * data.N_SKUS
                    and mismatches == 0
                    and moves == expected_moves,
                }
            )
    emit(result)


# --- the runner ---------------------------------------------------------------------------------

DURATION = os.environ.get("BENCH_CLOUDSTORE_DURATION", "5s")
WARMUP = "2s"
REPEAT = int(os.environ.get("BENCH_CLOUDSTORE_REPEAT", 3))
# 1: a request's own latency; 2: one per uvicorn worker; 16: busy.
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CLOUDSTORE_CONNECTIONS", "1,2,16").split(",")]
THREADS = 2
VIEW_REQUESTS = int(os.environ.get("BENCH_CS_VIEW_REQUESTS", 200))
RACE_WORKERS = int(os.environ.get("BENCH_RACE_WORKERS", 16))
RACE_RUNS = int(os.environ.get("BENCH_RACE_RUNS", 3))
RACE_SWEEP = [int(w) for w in os.environ.get("BENCH_RACE_SWEEP", "2,8").split(",") if w.strip()]
BULK_RUNS = int(os.environ.get("BENCH_BULK_RUNS", 3))
BULK_PATH = "/api/v1/inventory/bulk/"
# A one-row update of a store no load uses: does the endpoint take the request at all?
BULK_PROBE = {"reason": "bench probe", "rows": [{"store": "S0200", "sku": data.sku_code(0), "on_hand": 0}]}
BULK_TARGET_S = 30.0
# A load slower than this is not repeated (its phase keeps the one run).
BULK_REPEAT_LIMIT_S = float(os.environ.get("BENCH_BULK_REPEAT_LIMIT", 2 * BULK_TARGET_S))
# Waiting for an idle machine: 1 s samples, at most 120 s over the whole benchmark.
quiet = QuietBudget(float(os.environ.get("BENCH_CS_QUIET_BUDGET", 120)), window=1.0)


def page_cases(seed: dict) -> tuple[list[list[str]], list[list[str]]]:
    """(every page counted and timed in-process, the pages wrk loads)."""
    per_page = seed["per_page"]
    deep = max(1, seed["products_shown"]["big"] // per_page)
    small_deep = max(1, seed["products_shown"]["small"] // per_page)
    big = f"/c/bench-a/{data.store_code(data.BIG_STORE)}/"
    small = f"/c/bench-a/{data.store_code(data.SMALL_STORE)}/"
    wrk_cases = [
        ["page 1", big],
        [f"deep page ({deep} of {-(-seed['products_shown']['big'] // per_page)})", f"{big}?page={deep}"],
        [f"search “{seed['search_word']}”", f"{big}?q={quote(seed['search_word'])}"],
        [f"category “{seed['category']['name']}”", f"{big}?category={seed['category']['id']}"],
    ]
    counted = [
        *wrk_cases,
        ["500-SKU store, page 1", small],
        [f"500-SKU store, page {small_deep}", f"{small}?page={small_deep}"],
        ["brand B's S0001, page 1", f"/c/bench-b/{data.store_code(data.BIG_STORE)}/"],
    ]
    return counted, wrk_cases


def bulk_post(body: bytes, session: str, csrf: str) -> dict:
    """One bulk update through the running server, timed from sending until the answer is read."""
    status, answer, _h, seconds = request(
        "POST", BULK_PATH, session_headers(session, csrf), body, timeout=300
    )
    return {"status": status, "answer": answer, "seconds": round(seconds, 2)}


def bulk_loads(run: Run, session: str, csrf: str, server_pid: int) -> tuple[list[dict], list, dict]:
    """BULK_RUNS first loads (creates), a check of what they wrote, BULK_RUNS second loads (updates)
    of the same rows; a phase whose run took longer than BULK_REPEAT_LIMIT_S is not repeated.
    Returns (the loads, the check after the first loads, {load: phases done})."""
    done: dict[int, list[str]] = {}
    runs: list[dict] = []
    for phase in ("create", "update"):
        for load in range(BULK_RUNS):
            if phase == "update" and "create" not in done.get(load, []):
                continue
            slow = [
                r
                for r in runs
                if r["phase"] == phase and not r.get("skipped") and r["seconds"] > BULK_REPEAT_LIMIT_S
            ]
            if slow:
                runs.append(
                    {
                        "load": load,
                        "phase": phase,
                        "skipped": f"not repeated: run {slow[0]['load'] + 1} took {slow[0]['seconds']} s "
                        f"(> {BULK_REPEAT_LIMIT_S:.0f} s)",
                    }
                )
                continue
            r = bulk_load(run, load, phase, session, csrf, server_pid)
            runs.append(r)
            if r["status"] == 200:
                done.setdefault(load, []).append(phase)
        if phase == "create":
            first = {k: ["create"] for k in done}
            verify_first = run.step("bulk-verify", json.dumps(first), timeout=300) if first else []
    return runs, verify_first, done


def bulk_load(run: Run, load: int, phase: str, session: str, csrf: str, server_pid: int) -> dict:
    body = data.bulk_body(load, phase)
    rows = len(data.bulk_stores(load)) * data.N_SKUS
    busy = quiet()
    with ForeignCpu(server_pid) as foreign, DbSampler(run.db_url) as sampler:
        r = bulk_post(body, session, csrf)
    stores = data.bulk_stores(load)
    r.update(
        {
            "load": load,
            "phase": phase,
            "stores": f"{stores[0]}–{stores[-1]}",
            "rows": rows,
            "bytes": len(body),
            "rows_per_s": round(rows / r["seconds"]) if r["seconds"] else 0,
            "cpu_busy_before": busy,
            "foreign_cpu": foreign.share,
            "db_connections_peak": sampler.peak,
        }
    )
    log(f"bulk {phase} load {load}: HTTP {r['status']} in {r['seconds']} s ({r['rows_per_s']} rows/s)")
    log(f"answer: {r['answer']}")
    return r


STEPS = {
    "seed": seed,
    "race": lambda run, workers: race(int(run), int(workers)),
    "queries": lambda cases: queries(json.loads(cases)),
    "view-times": lambda cases, n: view_times(json.loads(cases), int(n)),
    "bulk-verify": lambda loads: bulk_verify(json.loads(loads)),
}


def run(run: Run) -> dict:
    db = run.prepare()
    db["max_connections"] = pg_settings(run.db_url, "max_connections")["max_connections"]
    staff_seed = seed_staff(run)
    sessions = staff_seed.pop("sessions")
    seed_ = run.step("seed")
    log(
        f"cloud store seeded in {seed_['seed_seconds']} s: {seed_['counts']}, shown {seed_['products_shown']}"
    )
    counted, wrk_cases = page_cases(seed_)

    counted_queries = run.step("queries", json.dumps(counted), timeout=300)
    for q in counted_queries:
        log(f"queries {q['label']}: {q['queries']} (status {q['status']}, {q['products_shown']} products)")
    busy = quiet()
    with ForeignCpu(os.getpgid(0)) as foreign:
        times = run.step("view-times", json.dumps(counted), VIEW_REQUESTS)
    view_meta = {"cpu_busy_before": busy, "foreign_cpu": foreign.share}
    for v in times:
        log(f"in-process {v['label']}: p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms")

    # Checkout races (no server: the workers call the checkout service directly).
    races = []
    plan = [(n, RACE_WORKERS) for n in range(1, RACE_RUNS + 1)]
    plan += [(RACE_RUNS + 1 + i, w) for i, w in enumerate(RACE_SWEEP)]
    for n, workers in plan:
        busy = quiet()
        with ForeignCpu(os.getpgid(0)) as foreign, DbSampler(run.db_url) as sampler:
            r = run.step("race", n, workers, timeout=600)
        r.update(foreign_cpu=foreign.share, cpu_busy_before=busy, db_connections_peak=sampler.peak)
        r["sweep"] = n > RACE_RUNS
        log(f"race {n} ({workers} processes): {r['won']} won, {r['refused']} refused, {r['errors']} errors "
            f"in {r['race_s']} s = {r['checkouts_per_s']} checkouts/s; checks ok: {r['all_ok']}")  # fmt: skip
        races.append(r)

    csrf = csrf_secret()
    session = sessions["brand_admin"]
    http: list[dict] = []
    bulk: list[dict] = []
    verify_first: list[dict] = []
    done: dict[int, list[str]] = {}
    server = start_server(run.env, run.file("cloudstore-uvicorn.log"))
    try:
        for label, path in wrk_cases:
            status = http_status(path, None)
            if status != 200:
                log(f"skip GET {path}: HTTP {status}")
                http.append({"label": label, "path": path, "skipped": f"HTTP {status} before the run"})
                continue
            for c in CONNECTIONS:
                entry = {"label": label, "path": path, "connections": c}
                entry.update(
                    wrk_series(
                        path,
                        None,
                        repeat=REPEAT,
                        duration=DURATION,
                        warmup=WARMUP,
                        server_pgid=server.pid,
                        quiet=quiet,
                        warm_every_run=False,
                        db_url=run.db_url,
                        threads=min(THREADS, c),
                        connections=c,
                        env=run.env,
                    )  # fmt: skip
                )
                http.append(entry)
        # Bulk loads through the endpoint, as a session-authenticated client with CSRF.
        probe = bulk_post(json.dumps(BULK_PROBE).encode(), session, csrf)
        log(f"bulk endpoint probe: HTTP {probe['status']} {probe['answer']}")
        if probe["status"] == 200:
            bulk, verify_first, done = bulk_loads(run, session, csrf, server.pid)
    finally:
        stop_group(server)
    second = {k: phases for k, phases in done.items() if "update" in phases}
    verify_second = run.step("bulk-verify", json.dumps(second), timeout=300) if second else []
    for v in verify_first + verify_second:
        log(f"bulk check load {v['load']} after {'+'.join(v['phases'])}: ok {v['ok']}")
    return run.finish(
        {
            "machine": run.machine(),
            "database": db,
            "staff_seed": staff_seed,
            "seed": seed_,
            "queries": counted_queries,
            "view_times": times,
            "view_meta": view_meta,
            "races": races,
            "http": http,
            "bulk": bulk,
            "bulk_server": {"probe": probe},
            "bulk_verify": {"after_first": verify_first, "after_second": verify_second},
            "env": {k: v for k, v in run.env_vars.items() if v},
            "server_cmd": server_cmd_text(),
            "settings": {
                "duration": DURATION,
                "warmup": WARMUP,
                "repeat": REPEAT,
                "connections": CONNECTIONS,
                "threads": THREADS,
                "view_requests": VIEW_REQUESTS,
                "race_workers": RACE_WORKERS,
                "race_runs": RACE_RUNS,
                "race_sweep": RACE_SWEEP,
                "bulk_runs": BULK_RUNS,
                "bulk_repeat_limit_s": BULK_REPEAT_LIMIT_S,
            },
        }
    )
