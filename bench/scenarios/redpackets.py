"""Red packets: one lucky packet of 1,000 shares and 3,000 concurrent claimers through HTTP
(exactly 1,000 claims succeed, the shares sum to the total, nobody claims twice), next to
pgbench's one-row update at the same concurrency; service-level races from threads and
processes; a randomised soak of 20,000 operations with the payout provider's chaos on
(redpackets_soak.py), then everything resolved and the ledger reconciled. See bench/README.md.

Tunables: BENCH_RP_PGBENCH_CLIENTS (2,16,32), BENCH_RP_PGBENCH_SECONDS (10), BENCH_RP_RACE_THREADS
(16,32), BENCH_RP_RACE_PROCESSES (16), BENCH_RP_CLAIMERS (3000), BENCH_RP_SHARES (1000),
BENCH_RP_TOTAL_FEN (500000), BENCH_SOAK_SEED (20260401), BENCH_SOAK_OPS (20000), BENCH_SOAK_THREADS
(8), BENCH_RP_QUIET_BUDGET (120), BENCH_RP_HTTP_TIMEOUT (600).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.db.models import Count, Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.harness.cpu import CpuSampler, QuietBudget, load_average
from bench.harness.database import DbSampler, pg_connect, pg_settings
from bench.harness.fixtures import error_codes, login_session, top_up
from bench.harness.load import percentile, pgbench
from bench.harness.proc import emit, log
from bench.harness.runs import Run
from bench.harness.servers import HOST, PORT, csrf_secret, server_cmd_text, start_server, stop_group
from bench.scenarios.staff import seed_staff
from redpackets.models import (
    Account,
    Entry,
    Event,
    PacketRecipient,
    PacketShare,
    RedPacket,
    Transaction,
)
from redpackets.services import accounts, funding, limits, packets, reconcile
from retail.events import Actor
from retail.middleware import SESSION_BRAND_KEY
from retail.models import Brand, Staff, StaffStore
from retail.tenancy import brand_scope

BRAND = "bench-a"
CLAIMERS = int(os.environ.get("BENCH_RP_CLAIMERS", 3000))
SHARES = int(os.environ.get("BENCH_RP_SHARES", 1000))
# The largest packet the default limits allow (¥5,000), split at random into the shares.
RACE_TOTAL_FEN = int(os.environ.get("BENCH_RP_TOTAL_FEN", 500_000))
TOPUPS = 4  # x ¥1,000,000 into the pool
TOPUP_FEN = funding.TOPUP_MAX_FEN
SOAK_STORES = int(os.environ.get("BENCH_SOAK_STORES", 24))  # S0001.. : the soak's people
BACKEND = "retail.auth_backends.PhoneOrUsernameBackend"
# Limits raised for the benchmark (the defaults: ¥20,000 sent per sender per day, 10 withdrawals
# of at most ¥5,000 per person per day), so the soak measures the paths, not the daily limits.
LIMITS = {"daily_send_max_fen": 10**10, "withdraw_daily_count": 1000, "withdraw_daily_max_fen": 10**10}


def brand() -> Brand:
    return Brand.objects.get(slug=BRAND)


def admin_of(b: Brand) -> Staff:
    with brand_scope(b):
        return Staff.objects.select_related("user").get(role=Staff.Role.BRAND_ADMIN, employee_no="E000000")


def claimer_ids(b: Brand) -> list[int]:
    """The race's claimers: the first CLAIMERS active staff of the brand who are not its admin."""
    with brand_scope(b):
        ids = list(
            Staff.objects.filter(status=Staff.Status.ACTIVE)
            .exclude(role=Staff.Role.BRAND_ADMIN)
            .order_by("pk")
            .values_list("pk", flat=True)[:CLAIMERS]
        )
    if len(ids) < CLAIMERS:
        raise SystemExit(f"bench: {len(ids)} active staff, {CLAIMERS} needed")
    return ids


def soak_people(b: Brand) -> tuple[list[int], dict[int, list[int]], dict[int, int]]:
    """(active staff of stores S0001..S00nn, store id -> its active staff, manager id -> store id)."""
    codes = [f"S{n:04d}" for n in range(1, SOAK_STORES + 1)]
    with brand_scope(b):
        links = list(
            StaffStore.objects.filter(store__code__in=codes, staff__status=Staff.Status.ACTIVE)
            .exclude(staff__role=Staff.Role.BRAND_ADMIN)
            .values_list("store_id", "staff_id", "staff__role")
            .order_by("store_id", "staff_id")
        )
    by_store: dict[int, list[int]] = {}
    managers: dict[int, int] = {}
    for store_id, staff_id, role in links:
        by_store.setdefault(store_id, []).append(staff_id)
        if role == Staff.Role.STORE_MANAGER:
            managers[staff_id] = store_id
    people = sorted({s for _st, s, _r in links})
    return people, by_store, managers


def account_no(staff_id: int) -> str:
    """A payout account number of the simulated provider (a mobile number) per staff member."""
    return f"17{staff_id:09d}"


def unbound(staff_id: int) -> bool:
    """1 in 20 of the soak's people never bind a payout account (their withdrawals are refused)."""
    return staff_id % 20 == 7


# --- seed -----------------------------------------------------------------------------------------


def seed() -> None:
    """Raise the daily limits, fund the pool (4 top-ups through the simulated payment provider),
    log in the 3,000 claimers (database sessions, as the login view leaves them) and bind the soak's
    people's payout accounts (verified by the simulated payout provider)."""
    b = brand()
    admin = admin_of(b)
    t0 = time.monotonic()
    limits.settings_update(brand=b, staff=admin, actor=Actor.system(), data=LIMITS)
    for n in range(TOPUPS):
        top_up(b, admin, TOPUP_FEN, key=f"bench-topup-{n}")
    t_fund = time.monotonic() - t0

    t1 = time.monotonic()
    ids = claimer_ids(b)
    with brand_scope(b):
        staff = {s.pk: s for s in Staff.objects.filter(pk__in=ids).select_related("user")}
    expire = timezone.now() + datetime.timedelta(days=1)
    sessions, rows = [], []
    store = SessionStore()
    for staff_id in ids:
        s = staff[staff_id]
        key = store._get_new_session_key()
        data = {
            "_auth_user_id": str(s.user.pk),
            "_auth_user_backend": BACKEND,
            "_auth_user_hash": s.user.get_session_auth_hash(),
            SESSION_BRAND_KEY: s.brand_id,
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        sessions.append([staff_id, key])
    Session.objects.bulk_create(rows, batch_size=1000)
    t_sessions = time.monotonic() - t1

    t2 = time.monotonic()
    people, by_store, managers = soak_people(b)
    with brand_scope(b):
        soak_staff = list(Staff.objects.filter(pk__in=people))
    bound = 0
    for s in soak_staff:
        if unbound(s.pk):
            continue
        accounts.payout_account_bind(
            brand=b, staff=s, actor=Actor.system(), account_no=account_no(s.pk), real_name=s.name
        )
        bound += 1
    t_bind = time.monotonic() - t2
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    with brand_scope(b):
        pool = Account.objects.get(kind=Account.Kind.POOL).balance_fen
    emit(
        {
            "claimers": len(ids),
            "sessions": sessions,
            "limits": LIMITS,
            "pool_fen": pool,
            "topups": TOPUPS,
            "topup_fen": TOPUP_FEN,
            "soak_people": len(people),
            "soak_stores": len(by_store),
            "soak_managers": len(managers),
            "payout_accounts_bound": bound,
            "fund_seconds": round(t_fund, 2),
            "session_seconds": round(t_sessions, 2),
            "bind_seconds": round(t_bind, 2),
        }
    )


# --- the claim race ----------------------------------------------------------------------------------


def new_packet(b: Brand, admin: Staff, label: str, ids: list[int]) -> RedPacket:
    return packets.packet_send(
        brand=b,
        sender=admin,
        actor=Actor.system(),
        kind=RedPacket.Kind.LUCKY,
        audience=RedPacket.Audience.GROUP,
        greeting=f"抢红包 {label}",
        key=f"bench-race-{label}",
        fingerprint=f"bench-race-{label}",
        staff_ids=ids,
        total_fen=RACE_TOTAL_FEN,
        shares=SHARES,
    )


def packet(label: str) -> None:
    """A fresh lucky packet of SHARES shares (RACE_TOTAL_FEN in all) for the CLAIMERS claimers."""
    b = brand()
    ids = claimer_ids(b)
    t0 = time.monotonic()
    p = new_packet(b, admin_of(b), label, ids)
    emit(
        {
            "packet_id": p.pk,
            "total_fen": p.total_fen,
            "shares": p.shares,
            "claimers": len(ids),
            "send_seconds": round(time.monotonic() - t0, 2),
        }
    )


def _gaps_ms(times: list) -> dict:
    """Median gap between consecutive claims (claimed_at: taken under the packet's row lock) over the
    first and the last 100 claims: does a claim get slower as the packet fills?"""
    ts = sorted(times)
    gaps = [(b - a).total_seconds() * 1000 for a, b in zip(ts, ts[1:], strict=False)]
    if not gaps:
        return {}
    return {
        "first_100_median_ms": round(percentile(gaps[:100], 50), 2),
        "last_100_median_ms": round(percentile(gaps[-100:], 50), 2),
        "all_median_ms": round(percentile(gaps, 50), 2),
    }


def verify_packet(packet_id: int) -> dict:
    """Everything the database says about a race's packet, with the checks."""
    b = brand()
    with brand_scope(b):
        p = RedPacket.objects.get(pk=packet_id)
        claimed = PacketShare.objects.filter(packet=p, staff__isnull=False)
        agg = claimed.aggregate(n=Count("pk"), fen=Sum("amount_fen"), people=Count("staff", distinct=True))
        times = list(claimed.values_list("claimed_at", flat=True))
        unclaimed = PacketShare.objects.filter(packet=p, staff__isnull=True).count()
        all_shares_fen = PacketShare.objects.filter(packet=p).aggregate(s=Sum("amount_fen"))["s"]
        holder = Account.objects.get(packet=p)
        txns = Transaction.objects.filter(packet=p, kind=Transaction.Kind.PACKET_CLAIM)
        n_txn = txns.count()
        # Each claim: one transaction, two legs, summing to zero; the winner's wallet got the share.
        legs = (
            Entry.objects.filter(transaction__in=txns)
            .values("transaction_id")
            .annotate(n=Count("pk"), s=Sum("amount_fen"))
        )
        bad_legs = sum(1 for x in legs if x["n"] != 2 or x["s"] != 0)
        wallet_in = (
            Entry.objects.filter(transaction__in=txns, account__kind=Account.Kind.WALLET)
            .values("account__staff_id")
            .annotate(n=Count("pk"), s=Sum("amount_fen"))
        )
        share_of = dict(claimed.values_list("staff_id", "amount_fen"))
        wallets_ok = len(wallet_in) == agg["n"] and all(
            x["n"] == 1 and share_of.get(x["account__staff_id"]) == x["s"] for x in wallet_in
        )
        flagged = PacketRecipient.objects.filter(packet=p, claimed=True).count()
        recipients = PacketRecipient.objects.filter(packet=p).count()
        events = Event.objects.filter(packet=p, name="packet.claimed").count()
    t0 = time.monotonic()
    run = reconcile.reconcile(brand=b)
    reconcile_s = time.monotonic() - t0
    span = (max(times) - min(times)).total_seconds() if times else 0.0
    checks = {
        f"claims == {p.shares}": agg["n"] == p.shares == p.claimed_count,
        "status finished, no unclaimed share": p.status == RedPacket.Status.FINISHED and unclaimed == 0,
        "shares sum to the total": agg["fen"] == p.total_fen == p.claimed_fen == all_shares_fen,
        "distinct claimers == claims (nobody twice)": agg["people"] == agg["n"],
        "packet account balance 0": holder.balance_fen == 0,
        "one balanced 2-leg transaction per claim": n_txn == agg["n"] and bad_legs == 0,
        "each winner's wallet got exactly its share, once": wallets_ok,
        "recipients marked claimed == claims": flagged == agg["n"],
        "packet.claimed events == claims": events == agg["n"],
        "reconcile(brand).ok": run.ok,
    }
    return {
        "packet_id": p.pk,
        "total_fen": p.total_fen,
        "shares": p.shares,
        "recipients": recipients,
        "claimed": agg["n"],
        "claimed_fen": agg["fen"],
        "distinct_claimers": agg["people"],
        "packet_balance_fen": holder.balance_fen,
        "claim_transactions": n_txn,
        "events": events,
        "smallest_share_fen": min(share_of.values(), default=0),
        "largest_share_fen": max(share_of.values(), default=0),
        "db_first_to_last_claim_s": round(span, 3),
        "db_claims_per_s": round(agg["n"] / span, 1) if span else 0,
        "claim_gaps": _gaps_ms(times),
        "reconcile": {"ok": run.ok, "problems": run.problems[:10], "checked": run.checked},
        "reconcile_s": round(reconcile_s, 2),
        "checks": checks,
        "all_ok": all(checks.values()),
    }


def verify(packet_id: int) -> None:
    emit(verify_packet(packet_id))


def _claim_one(b: Brand, s: Staff, p: RedPacket, run: int, i: int) -> tuple:
    t0 = time.monotonic()
    try:
        share = packets.packet_claim(brand=b, staff=s, packet=p, key=f"race-{run}-{i}")
        outcome, detail = ("replayed" if share.replayed else "ok"), share.amount_fen
    except ValidationError as exc:
        outcome, detail = "refused", ",".join(error_codes(exc))
    except PermissionDenied as exc:
        outcome, detail = "refused", f"permission: {exc}"
    except Exception as exc:  # a deadlock, a lost connection: counted, not raised
        outcome, detail = "error", f"{type(exc).__name__}: {exc}"[:300]
    return (i, s.pk, outcome, detail, t0, time.monotonic())


def _race_threads(b, p, run: int, staff: list[Staff], threads: int) -> tuple[list, list, float]:
    """Each thread (its own connection) takes the next claimant from a shared list."""
    todo = list(enumerate(staff))
    todo.reverse()
    take = threading.Lock()
    barrier = threading.Barrier(threads + 1, timeout=120)
    results: list[tuple] = []
    errors: list[str] = []

    def worker() -> None:
        mine = []
        try:
            connection.ensure_connection()
            barrier.wait()
            while True:
                with take:
                    if not todo:
                        break
                    i, st = todo.pop()
                mine.append(_claim_one(b, st, p, run, i))
        except Exception as exc:
            errors.append(f"thread: {type(exc).__name__}: {exc}"[:300])
            barrier.abort()
        finally:
            connection.close()
            with take:
                results.extend(mine)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t_go = time.monotonic()
    for t in pool:
        t.join(timeout=600)
    return results, errors, t_go


def _race_processes(b, p, run: int, staff: list[Staff], workers: int) -> tuple[list, list, float]:
    """Each process (forked after django.setup(), its own connection) takes the next claimant from a
    shared counter: no GIL shared between the claimants."""
    connections.close_all()  # nothing open is inherited by the forked workers
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers + 1, timeout=120)
    counter = ctx.Value("i", 0)
    queue = ctx.Queue()

    def worker() -> None:
        mine, errors = [], []
        try:
            connection.ensure_connection()
            barrier.wait()
            while True:
                with counter.get_lock():
                    i = counter.value
                    counter.value += 1
                if i >= len(staff):
                    break
                mine.append(_claim_one(b, staff[i], p, run, i))
        except Exception as exc:
            errors.append(f"process: {type(exc).__name__}: {exc}"[:300])
            barrier.abort()
        finally:
            connection.close()
            queue.put((mine, errors))

    procs = [ctx.Process(target=worker, daemon=True) for _ in range(workers)]
    for pr in procs:
        pr.start()
    barrier.wait()
    t_go = time.monotonic()
    results, errors = [], []
    for _ in procs:
        mine, errs = queue.get(timeout=600)
        results += mine
        errors += errs
    for pr in procs:
        pr.join(timeout=60)
    return results, errors, t_go


def race(run: int, workers: int, mode: str = "threads") -> None:
    """CLAIMERS claims of a fresh packet of SHARES shares (each claimer once, in a shuffled order)
    from ``workers`` threads of this process, or ``workers`` processes (mode "processes"), each with
    its own database connection, released by one barrier; each takes the next claimant until none is
    left. Then the checks."""
    b = brand()
    admin = admin_of(b)
    ids = claimer_ids(b)
    p = new_packet(b, admin, f"service-{run}-{workers}-{mode}", ids)
    with brand_scope(b):
        staff = list(Staff.objects.filter(pk__in=ids))
    random.Random(run).shuffle(staff)
    if mode == "processes":
        results, errors, t_go = _race_processes(b, p, run, staff, workers)
    else:
        results, errors, t_go = _race_threads(b, p, run, staff, workers)
    won = [r for r in results if r[2] == "ok"]
    refused = [r for r in results if r[2] == "refused"]
    failed = [r for r in results if r[2] == "error"]
    codes: dict[str, int] = {}
    for r in refused:
        codes[r[3]] = codes.get(r[3], 0) + 1
    ends = [r[5] for r in results]
    race_s = max(ends) - t_go if ends else 0.0
    last_win = max((r[5] for r in won), default=t_go) - t_go
    lat_won = [(r[5] - r[4]) * 1000 for r in won]
    lat_refused = [(r[5] - r[4]) * 1000 for r in refused]
    v = verify_packet(p.pk)
    client_checks = {
        f"{SHARES} answered with a share": len(won) == SHARES,
        f"{CLAIMERS - SHARES} refused, all packet_empty": len(refused) == CLAIMERS - SHARES
        and set(codes) == {"packet_empty"},
        "no other answers or errors": not failed and not errors,
        "the winners' shares sum to the total": sum(r[3] for r in won) == p.total_fen,
        "no claimant answered twice with a share": len({r[1] for r in won}) == len(won),
    }
    emit(
        {
            "run": run,
            "threads": workers,
            "mode": mode,
            "claimers": len(ids),
            "answered": len(results),
            "won": len(won),
            "refused": len(refused),
            "refusal_codes": codes,
            "errors": len(failed) + len(errors),
            "error_samples": [r[3] for r in failed[:5]] + errors[:5],
            "race_s": round(race_s, 3),
            "last_win_s": round(last_win, 3),
            "claims_per_s": round(len(won) / last_win, 1) if last_win else 0,
            "answers_per_s": round(len(results) / race_s, 1) if race_s else 0,
            "latency_ms": {
                "won_p50": round(percentile(lat_won, 50), 1),
                "won_p95": round(percentile(lat_won, 95), 1),
                "won_max": round(max(lat_won, default=0), 1),
                "refused_p50": round(percentile(lat_refused, 50), 1),
                "refused_p95": round(percentile(lat_refused, 95), 1),
            },
            "db": v,
            "checks": {**client_checks, **v["checks"]},
            "all_ok": all(client_checks.values()) and v["all_ok"],
        }
    )


# --- the claim answer's packet detail --------------------------------------------------------------


def _after_lock(sql: list[str]) -> int:
    """How many statements ran from the packet row's lock (SELECT ... FOR NO KEY UPDATE of
    redpackets_redpacket) to the end (COMMIT included): the time every other claimant waits."""
    for n, q in enumerate(sql):
        if 'FROM "redpackets_redpacket"' in q and "FOR NO KEY UPDATE" in q:
            return len(sql) - n
    return 0


def claim_costs(packet_id: int) -> None:
    """What one claim costs, in-process, on an idle packet: through the service (``packet_claim``)
    and through the API (Django test client, ``POST .../claim/`` with a session: middleware, the
    request's one transaction, the answer, which is built before the commit, so while the packet row
    is still locked). Then the packet's detail (``GET`` of the packet as its sender, every claim
    listed) at a packet with 1 claim and at the race packet ``packet_id`` (every share claimed). SQL
    statements counted with CaptureQueriesContext."""
    b = brand()
    admin = admin_of(b)
    # Claimants the soak never touches (no automatic withdrawal switched on, no payout account).
    soak, _by_store, _managers = soak_people(b)
    ids = [x for x in claimer_ids(b) if x not in set(soak)]
    with brand_scope(b):
        people = list(Staff.objects.filter(pk__in=ids[:4]).select_related("user").order_by("pk"))

    def small(label: str, who: list[Staff]) -> RedPacket:
        return packets.packet_send(
            brand=b,
            sender=admin,
            actor=Actor.system(),
            kind=RedPacket.Kind.FIXED,
            audience=RedPacket.Audience.GROUP if len(who) > 1 else RedPacket.Audience.PERSON,
            greeting=label,
            key=f"bench-cost-{label}-{packet_id}",
            fingerprint=f"bench-cost-{label}",
            staff_ids=[x.pk for x in who],
            amount_each_fen=100,
        )

    rows = []
    # The service, 5 times on fresh packets (the first one warms up).
    times, counts = [], []
    for n in range(6):
        p = small(f"service{n}", people[:2])
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.monotonic()
            packets.packet_claim(brand=b, staff=people[0], packet=p, key=f"bench-cost-s{n}-{packet_id}")
            ms = (time.monotonic() - t0) * 1000
        sql = [q["sql"] for q in ctx.captured_queries]
        if n:
            times.append(ms)
            counts.append((len(sql), _after_lock(sql)))
    rows.append(
        {
            "label": "claim through the service (packet_claim)",
            "queries": counts[-1][0],
            "after_lock": counts[-1][1],
            "p50_ms": round(percentile(times, 50), 1),
            "bytes": None,
        }
    )
    # The API, the same way.
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = login_session(people[1])
    times, counts, size, listed = [], [], 0, 0
    for n in range(6):
        p = small(f"api{n}", people[:2])
        path = f"/api/v1/redpackets/packets/{p.pk}/claim/"
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.monotonic()
            r = client.post(path, HTTP_IDEMPOTENCY_KEY=f"cost-{n}-{packet_id}")
            ms = (time.monotonic() - t0) * 1000
        sql = [q["sql"] for q in ctx.captured_queries]
        if r.status_code != 201:
            raise SystemExit(f"bench: the claim API answered {r.status_code}: {r.content[:300]!r}")
        if n:
            times.append(ms)
            counts.append((len(sql), _after_lock(sql)))
            size = len(r.content)
            listed = len((r.json().get("packet") or {}).get("claims") or [])
    rows.append(
        {
            "label": "claim through the API (POST .../claim/)",
            "queries": counts[-1][0],
            "after_lock": counts[-1][1],
            "p50_ms": round(percentile(times, 50), 1),
            "bytes": size,
            "claims_in_answer": listed,
        }
    )
    # The packet's detail (its claims listed), at 1 claim and at every share of the race packet claimed.
    one = small("detail", people[2:3])
    packets.packet_claim(brand=b, staff=people[2], packet=one, key=f"bench-cost-d-{packet_id}")
    client.cookies["sessionid"] = login_session(admin)
    for label, pid in (
        ("packet detail with 1 claim", one.pk),
        (f"packet detail with {SHARES} claims", packet_id),
    ):
        path = f"/api/v1/redpackets/packets/{pid}/"
        for _ in range(3):
            client.get(path)  # warm-up
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(path)
        # Read now: the next request's request_started signal empties the connection's query log.
        n_queries = len(ctx)
        times = []
        for _ in range(20):
            t0 = time.monotonic()
            r = client.get(path)
            times.append((time.monotonic() - t0) * 1000)
        rows.append(
            {
                "label": f"{label} (GET {path})",
                "claims": len(r.json().get("claims", [])) if r.status_code == 200 else None,
                "status": r.status_code,
                "queries": n_queries,
                "after_lock": None,
                "p50_ms": round(percentile(times, 50), 1),
                "bytes": len(r.content),
            }
        )
    emit(rows)


def soak(seed: str, ops: str, threads: str) -> None:
    from bench.scenarios import redpackets_soak

    b = brand()
    people, by_store, managers = soak_people(b)
    print(f"bench: soak seed {seed}, {ops} operations, {threads} threads", file=sys.stderr, flush=True)
    emit(redpackets_soak.soak(brand=b, admin=admin_of(b), people=people, by_store=by_store, managers=managers,
                              seed=int(seed), ops=int(ops), threads=int(threads)))  # fmt: skip


STEPS = {
    "seed": seed,
    "packet": packet,
    "verify": lambda packet_id: verify(int(packet_id)),
    "race": lambda run, n, mode="threads": race(int(run), int(n), mode),
    "claim-costs": lambda packet_id: claim_costs(int(packet_id)),
    "soak": soak,
}


# --- the runner ---------------------------------------------------------------------------------

PGBENCH_CLIENTS = [
    int(c) for c in os.environ.get("BENCH_RP_PGBENCH_CLIENTS", "2,16,32").split(",") if c.strip()
]
PGBENCH_SECONDS = int(os.environ.get("BENCH_RP_PGBENCH_SECONDS", 10))
PGBENCH_SCRIPT = "bench/scenarios/redpackets_one_row.sql"
RACE_THREADS = [int(c) for c in os.environ.get("BENCH_RP_RACE_THREADS", "16,32").split(",") if c.strip()]
RACE_PROCESSES = [int(c) for c in os.environ.get("BENCH_RP_RACE_PROCESSES", "16").split(",") if c.strip()]
SOAK_SEED = int(os.environ.get("BENCH_SOAK_SEED", 20260401))
SOAK_OPS = int(os.environ.get("BENCH_SOAK_OPS", 20000))
SOAK_THREADS = int(os.environ.get("BENCH_SOAK_THREADS", 8))
HTTP_TIMEOUT = float(os.environ.get("BENCH_RP_HTTP_TIMEOUT", 600))
CLAIM_PATH = "/api/v1/redpackets/packets/{id}/claim/"
# Waiting for an idle machine: 1 s samples, at most 3 minutes a wait and BENCH_RP_QUIET_BUDGET
# seconds over the whole benchmark.
quiet = QuietBudget(float(os.environ.get("BENCH_RP_QUIET_BUDGET", 120)), window=1.0)


def pgbench_setup(db_url: str) -> None:
    conn = pg_connect(db_url)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_one_row (id integer PRIMARY KEY, v bigint NOT NULL)")
        cur.execute("INSERT INTO bench_one_row VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
    conn.close()


def _request(packet_id: int, session: str, csrf: str, key: str) -> bytes:
    return (
        f"POST {CLAIM_PATH.format(id=packet_id)} HTTP/1.1\r\n"
        f"Host: {HOST}:{PORT}\r\n"
        f"Cookie: sessionid={session}; csrftoken={csrf}\r\n"
        f"X-CSRFToken: {csrf}\r\n"
        f"Idempotency-Key: {key}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 0\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
    body = await reader.readexactly(int(m.group(1))) if m else await reader.read()
    return status, body


async def _race(packet_id: int, sessions: list[list], csrf: str) -> dict:
    """Open one connection per claimant, then write every claim at once; read every answer."""
    n = len(sessions)

    async def connect(i: int):
        last: Exception | None = None
        for _ in range(5):
            try:
                return await asyncio.wait_for(asyncio.open_connection(HOST, PORT), 30)
            except (OSError, TimeoutError) as exc:
                last = exc
                await asyncio.sleep(0.2)
        raise last or OSError("connect failed")

    t_c = time.monotonic()
    conns = await asyncio.gather(*(connect(i) for i in range(n)), return_exceptions=True)
    connect_s = time.monotonic() - t_c
    go = asyncio.Event()
    sent: list[float] = [0.0] * n

    async def one(i: int, rw) -> tuple:
        reader, writer = rw
        staff_id, session = sessions[i]
        req = _request(packet_id, session, csrf, f"race-http-{i}")
        await go.wait()
        t0 = time.monotonic()
        sent[i] = t0
        try:
            writer.write(req)
            await writer.drain()
            status, body = await _read_response(reader)
            return (i, staff_id, status, body, t0, time.monotonic(), "")
        except Exception as exc:
            return (i, staff_id, 0, b"", t0, time.monotonic(), f"{type(exc).__name__}: {exc}"[:200])
        finally:
            writer.close()

    tasks = []
    failed_connects = []
    for i, rw in enumerate(conns):
        if isinstance(rw, BaseException):
            failed_connects.append(f"{type(rw).__name__}: {rw}"[:200])
        else:
            tasks.append(asyncio.create_task(one(i, rw)))
    await asyncio.sleep(0.5)  # every task is waiting on the start signal
    t_go = time.monotonic()
    go.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), HTTP_TIMEOUT)
    writes = [t for t in sent if t]
    return {
        "results": results,
        "t_go": t_go,
        "connect_s": connect_s,
        "failed_connects": failed_connects,
        "all_sent_within_ms": round((max(writes) - min(writes)) * 1000, 1) if writes else 0,
    }


def http_race(packet: dict, sessions: list[list], csrf: str, server_pgid: int, db_url: str) -> dict:
    busy = quiet()
    with DbSampler(db_url) as dbs, CpuSampler(server_pgid) as cpu:
        raw = asyncio.run(_race(packet["packet_id"], sessions, csrf))
    t_go = raw["t_go"]
    won, refused, other = [], [], []
    codes: dict[str, int] = {}
    for i, staff_id, status, body, t0, t1, err in raw["results"]:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {}
        row = {"i": i, "staff_id": staff_id, "status": status, "t0": t0, "t1": t1, "bytes": len(body)}
        if status == 201 and not data.get("already_claimed"):
            row["amount_fen"] = data.get("amount_fen")
            row["claims_in_answer"] = len((data.get("packet") or {}).get("claims") or [])
            won.append(row)
        elif status == 400 and isinstance(data.get("error"), dict):
            code = data["error"].get("code", "")
            codes[code] = codes.get(code, 0) + 1
            refused.append(row)
        else:
            row["detail"] = err or body[:200].decode(errors="replace")
            other.append(row)
    ends = [r["t1"] for r in won + refused + other]
    won.sort(key=lambda r: r["t1"])
    last_win = (won[-1]["t1"] - t_go) if won else 0.0
    lat_won = [(r["t1"] - r["t0"]) * 1000 for r in won]
    lat_refused = [(r["t1"] - r["t0"]) * 1000 for r in refused]
    shares = packet["shares"]
    claimers = len(sessions)
    client_checks = {
        f"{shares} answered with a share": len(won) == shares,
        f"{claimers - shares} refused, all packet_empty": len(refused) == claimers - shares
        and set(codes) == {"packet_empty"},
        "no other answers or errors": not other and not raw["failed_connects"],
        "the winners' shares sum to the total": sum(r["amount_fen"] or 0 for r in won) == packet["total_fen"],
        "no claimant answered twice with a share": len({r["staff_id"] for r in won}) == len(won),
    }
    r = {
        "packet": packet,
        "claimers": claimers,
        "connections": claimers,
        "connect_s": round(raw["connect_s"], 2),
        "failed_connects": len(raw["failed_connects"]),
        "failed_connect_samples": raw["failed_connects"][:5],
        "all_sent_within_ms": raw["all_sent_within_ms"],
        "answered": len(raw["results"]),
        "won": len(won),
        "refused": len(refused),
        "refusal_codes": codes,
        "other": len(other),
        "other_samples": [{k: v for k, v in x.items() if k in ("status", "detail")} for x in other[:5]],
        "last_win_s": round(last_win, 3),
        "all_answered_s": round(max(ends) - t_go, 3) if ends else 0,
        "claims_per_s_client": round(len(won) / last_win, 1) if last_win else 0,
        "answers_per_s": round(len(ends) / (max(ends) - t_go), 1) if ends else 0,
        "latency_ms": {
            "won_p50": round(percentile(lat_won, 50), 1),
            "won_p95": round(percentile(lat_won, 95), 1),
            "won_max": round(max(lat_won, default=0), 1),
            "refused_p50": round(percentile(lat_refused, 50), 1),
            "refused_p95": round(percentile(lat_refused, 95), 1),
        },
        "answer_bytes": {
            "first_win": won[0]["bytes"] if won else 0,
            "last_win": won[-1]["bytes"] if won else 0,
            "claims_in_last_win": won[-1]["claims_in_answer"] if won else 0,
            "refusal": refused[0]["bytes"] if refused else 0,
        },
        "client_checks": client_checks,
        "db_activity": dbs.figures(),
        "cpus": cpu.cpus,
        "cpu_busy_before": busy,
    }
    log(
        f"HTTP race: {r['won']} won, {r['refused']} refused {codes}, {r['other']} other; last share answered "
        f"at {r['last_win_s']} s, all {r['answered']} at {r['all_answered_s']} s; CPUs {cpu.cpus}"
    )
    return r


async def _warm(sessions: list[list], csrf: str, n: int = 16) -> list[int]:
    """A few GETs of the claimants' wallets at once, so both workers have loaded everything."""

    async def one(session: str) -> int:
        reader, writer = await asyncio.open_connection(HOST, PORT)
        writer.write(
            (
                f"GET /api/v1/wallet/ HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nCookie: sessionid={session}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status, _body = await _read_response(reader)
        writer.close()
        return status

    return list(await asyncio.gather(*(one(s) for _i, s in sessions[-n:])))


def run(run: Run) -> dict:
    load_before = load_average()
    db = run.prepare()
    pg = pg_settings(run.db_url, "max_connections", "synchronous_commit", "fsync", "shared_buffers")
    staff_seed = seed_staff(run)
    staff_seed.pop("sessions")
    seed_ = run.step("seed")
    sessions = seed_.pop("sessions")
    log(f"red packets seeded: {seed_}")

    pgbench_version = "not installed"
    bench_rows: list[dict] = []
    if shutil.which("pgbench"):
        pgbench_version = subprocess.run(
            ["pgbench", "--version"], capture_output=True, text=True
        ).stdout.strip()
        pgbench_setup(run.db_url)
        bench_rows = [pgbench(run.db_url, PGBENCH_SCRIPT, c, PGBENCH_SECONDS, quiet) for c in PGBENCH_CLIENTS]
    else:
        log("pgbench is missing (apt-get install postgresql-client / postgresql-15): no comparison")

    csrf = csrf_secret()
    server = start_server({**run.env, "BENCH_RP_SERVER": ""}, run.file("redpackets-uvicorn.log"))
    try:
        warm = asyncio.run(_warm(sessions, csrf))
        log(f"warm-up GET /api/v1/wallet/: {warm}")
        packet_ = run.step("packet", "http", timeout=300)
        log(f"HTTP race packet: {packet_}")
        http = http_race(packet_, sessions, csrf, server.pid, run.db_url)
        http["db"] = run.step("verify", packet_["packet_id"], timeout=300)
        http["checks"] = {**http["client_checks"], **http["db"]["checks"]}
        http["all_ok"] = all(http["checks"].values())
        log(f"HTTP race checks ok: {http['all_ok']}; db {http['db']['db_claims_per_s']} claims/s")
        detail = run.step("claim-costs", packet_["packet_id"], timeout=300)
        for d in detail:
            log(f"{d['label']}: {d['p50_ms']} ms, {d['queries']} queries ({d['after_lock']} after the lock)")

        races = []
        plan = [(n, "threads") for n in RACE_THREADS] + [(n, "processes") for n in RACE_PROCESSES]
        for i, (workers, mode) in enumerate(plan, start=1):
            busy = quiet()
            with DbSampler(run.db_url) as dbs, CpuSampler(server.pid) as cpu:
                r = run.step("race", i, workers, mode)
            r.update({"cpu_busy_before": busy, "cpus": cpu.cpus, "db_activity": dbs.figures()})
            log(f"service race {workers} {mode}: {r['won']} won, {r['refused']} refused, {r['errors']} "
                f"errors; {r['db']['db_claims_per_s']} claims/s (DB), checks ok {r['all_ok']}; "
                f"CPUs {cpu.cpus}")  # fmt: skip
            races.append(r)

        busy = quiet()
        soak_env = {**run.env, "BENCH_RP_SERVER": f"{HOST}:{PORT}"}
        with DbSampler(run.db_url) as dbs, CpuSampler(server.pid) as cpu:
            soak_ = run.step("soak", SOAK_SEED, SOAK_OPS, SOAK_THREADS, timeout=3600, env=soak_env)
        soak_.update({"cpu_busy_before": busy, "cpus": cpu.cpus, "db": dbs.figures()})
        log(f"soak: {soak_['ops']} ops in {soak_['ops_seconds']} s = {soak_['ops_per_s']} ops/s, "
            f"{soak_['errors']} errors, checks ok {soak_['all_ok']}")  # fmt: skip
    finally:
        stop_group(server)
    return run.finish(
        {
            "machine": run.machine(),
            "load_before": load_before,
            "load_after": load_average(),
            "database": db,
            "pg": pg,
            "pgbench_version": pgbench_version,
            "staff_seed": staff_seed,
            "seed": seed_,
            "pgbench": bench_rows,
            "http": http,
            "detail": detail,
            "races": races,
            "soak": soak_,
            "env": {k: v for k, v in run.env_vars.items() if v},
            "server_cmd": server_cmd_text(),
            "settings": {
                "pgbench_clients": PGBENCH_CLIENTS,
                "pgbench_seconds": PGBENCH_SECONDS,
                "race_threads": RACE_THREADS,
                "race_processes": RACE_PROCESSES,
                "soak_seed": SOAK_SEED,
                "soak_ops": SOAK_OPS,
                "soak_threads": SOAK_THREADS,
            },
        }
    )
