"""The red packet soak (`python -m bench step redpackets soak SEED OPS THREADS`, run by
bench/scenarios/redpackets.py): OPS randomised operations from THREADS threads, each thread with its own
database connection, then everything pending is resolved and the ledger is reconciled.

Operations (weights in OPS_WEIGHTS), drawn by each thread from its own random generator seeded
with (SEED, thread number):

- send: a fixed or lucky packet from the brand admin or a store manager, to one person, to a
  store's staff or to a group; sometimes fewer shares than people (first come, first served).
- claim: a recipient claims an open packet; sometimes someone who claimed before (answered with
  the first share), a replayed idempotency key, or someone who is not a recipient (refused).
- expire: an open packet's ``expires_at`` is moved into the past and ``packets_expire`` runs.
- withdraw: a person withdraws part or all of the wallet (sometimes more than it holds, less than
  the minimum, a replayed or a reused key; 1 in 20 has no payout account). The simulated payout
  provider's chaos is on (``chaos(CHAOS, seed=SEED)``): each transfer succeeds, fails, succeeds or
  fails late, times out after acting or without acting, or answers by two callbacks. With
  ``CELERY_TASK_ALWAYS_EAGER`` the submission to the provider runs right after the request commits,
  in the same thread, as a Celery worker would a moment later.
- callback: the provider's signed notice for a withdrawal (7 in 10 among the 30 most recent; a
  late transfer is settled first, as the provider would), delivered 1-3 times, each through the
  webhook view over HTTP (``POST /pay/payout-notify/bench-a/sim/``) or straight to
  ``withdrawal_notice``.
- poll: ``withdrawals_poll(older_than_seconds=0)``.
- auto: switch automatic withdrawal on (refused until a withdrawal by hand succeeded).
- forged: a notice with a bad signature through the webhook (must be refused with 400).

Then: every open packet expires, ``withdrawals_poll`` runs until nothing is pending, one more
(duplicate) notice is delivered for a sample of finished withdrawals, and the ledger is checked by
``reconcile.reconcile`` and by the benchmark's own SQL.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import random
import threading
import time
import traceback
from collections import Counter, defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Count, Sum
from django.test import Client
from django.utils import timezone

from bench.harness.fixtures import error_codes
from bench.harness.load import percentile
from redpackets import payouts
from redpackets.models import Account, Event, PacketShare, RedPacket, Transaction, Withdrawal
from redpackets.services import accounts, ledger, packets, reconcile, withdrawals
from retail.events import Actor
from retail.idempotency import request_fingerprint
from retail.models import Staff
from retail.tenancy import brand_scope

OPS_WEIGHTS = {
    "send": 9,
    "claim": 50,
    "expire": 2,
    "withdraw": 16,
    "callback": 14,
    "poll": 5,
    "auto": 2,
    "forged": 2,
}
CHAOS = {
    "succeed": 40,
    "fail": 10,
    "late": 10,
    "late_fail": 5,
    "timeout": 10,
    "timeout_lost": 10,
    "twice": 15,
}
WEBHOOK = "/pay/payout-notify/{slug}/sim/"
# The running uvicorn (the runner starts it); without it, the webhook view is called
# in-process through Django's test client.
SERVER = os.environ.get("BENCH_RP_SERVER", "")  # "127.0.0.1:8001"


class State:
    """What the threads share: the packets sent (recipients, who claimed), the claims, the
    withdrawals; and the counters."""

    def __init__(self):
        self.lock = threading.Lock()
        self.packets: dict[int, dict] = {}
        self.open: list[int] = []
        self.claims: list[tuple[int, int, str]] = []  # (staff id, packet id, key)
        self.withdrawals: list[tuple[int, str]] = []  # (id, reference)
        self.outcomes: Counter = Counter()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.extra: Counter = Counter()
        self.errors: list[dict] = []
        self.error_kinds: Counter = Counter()

    def close(self, packet_id: int) -> None:
        with self.lock:
            p = self.packets.get(packet_id)
            if p and p["open"]:
                p["open"] = False
                self.open.remove(packet_id)


class Soak:
    def __init__(self, *, brand, admin, people, by_store, managers, staff, seed: int, ops: int, threads: int):
        self.b = brand
        self.admin = admin
        self.people = people
        self.by_store = by_store
        self.managers = managers  # manager id -> store id
        self.staff = staff  # id -> Staff (the admin included)
        self.seed = seed
        self.ops = ops
        self.threads = threads
        self.s = State()
        self.sim = payouts.provider("sim")
        self.local = threading.local()

    # --- helpers --------------------------------------------------------------------------------

    def webhook(self, body: bytes, signature: str) -> int:
        """Deliver a notice through the webhook view: over HTTP to the running server, else through
        Django's test client (one per thread)."""
        path = WEBHOOK.format(slug=self.b.slug)
        headers = {"Content-Type": "application/json", "X-Signature": signature}
        if SERVER:
            host, port = SERVER.split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                conn.request("POST", path, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                return r.status
            finally:
                conn.close()
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = Client(raise_request_exception=False)
        r = client.post(path, data=body, content_type="application/json", HTTP_X_SIGNATURE=signature)
        return r.status_code

    def status_of(self, withdrawal_id: int) -> str:
        with brand_scope(self.b):
            return Withdrawal.objects.filter(pk=withdrawal_id).values_list("status", flat=True).first()

    # --- operations -----------------------------------------------------------------------------

    def op_send(self, rng: random.Random, key: str) -> str:
        by_admin = rng.random() < 0.4 or not self.managers
        sender = self.admin if by_admin else self.staff[rng.choice(sorted(self.managers))]
        kind = rng.choice([RedPacket.Kind.FIXED, RedPacket.Kind.LUCKY])
        audience = rng.choices(["person", "store", "group"], weights=[3, 3, 4])[0]
        if by_admin:
            store_id = rng.choice(sorted(self.by_store))
            pool = self.people
        else:
            store_id = self.managers[sender.pk]
            pool = [s for s in self.by_store[store_id] if s != sender.pk]
        staff_ids = None
        if audience == "person":
            staff_ids = [rng.choice(pool)]
            n_people = 1
        elif audience == "group":
            staff_ids = rng.sample(pool, k=rng.randint(2, min(30, len(pool))))
            n_people = len(staff_ids)
        else:
            n_people = len(self.by_store[store_id]) - (0 if by_admin else 1)
        shares = None if rng.random() < 0.5 else rng.randint(1, max(1, n_people - 1))
        n = shares or n_people
        each = rng.randint(100, 5000) if kind == RedPacket.Kind.FIXED else None
        total = n * rng.randint(100, 3000) if kind == RedPacket.Kind.LUCKY else None
        params = {
            "k": kind,
            "a": audience,
            "s": staff_ids,
            "st": store_id,
            "n": shares,
            "e": each,
            "t": total,
        }
        p = packets.packet_send(
            brand=self.b,
            sender=sender,
            actor=Actor.system(),
            kind=kind,
            audience=audience,
            greeting=f"soak {key}",
            key=key,
            fingerprint=request_fingerprint(params),
            staff_ids=staff_ids,
            store_id=store_id if audience == "store" else None,
            amount_each_fen=each,
            total_fen=total,
            shares=shares,
        )
        with brand_scope(self.b):
            recipients = list(p.recipients.values_list("staff_id", flat=True))
        with self.s.lock:
            self.s.packets[p.pk] = {
                "recipients": recipients,
                "claimed": set(),
                "shares": p.shares,
                "open": True,
            }
            self.s.open.append(p.pk)
            self.s.extra[f"sent {kind} to {audience}"] += 1
        return f"ok ({kind})"

    def op_claim(self, rng: random.Random, key: str) -> str:
        with self.s.lock:
            if not self.s.open:
                return ""  # nothing to claim: the caller sends instead
            pid = rng.choice(self.s.open)
            p = self.s.packets[pid]
            left = [x for x in p["recipients"] if x not in p["claimed"]]
            r = rng.random()
            if r < 0.05 and self.s.claims:
                staff_id, pid, key = rng.choice(self.s.claims)  # the same claim again (a replayed key)
                mode = "replayed key"
            elif r < 0.12 and p["claimed"]:
                staff_id, mode = rng.choice(sorted(p["claimed"])), "claims again"
            elif r < 0.15:
                outsiders = [x for x in self.people if x not in p["recipients"]]
                staff_id, mode = rng.choice(outsiders), "not a recipient"
            elif left:
                staff_id, mode = rng.choice(left), "first claim"
            else:
                staff_id, mode = rng.choice(p["recipients"]), "claims again"
        try:
            share = packets.packet_claim(
                brand=self.b, staff=self.staff[staff_id], packet=RedPacket(pk=pid), key=key
            )
        except ValidationError as exc:
            code = ",".join(error_codes(exc, "invalid"))
            if code in ("packet_empty", "packet_expired"):
                self.s.close(pid)
            raise
        with self.s.lock:
            p = self.s.packets[pid]
            if not share.replayed:
                p["claimed"].add(staff_id)
                self.s.claims.append((staff_id, pid, key))
                self.s.extra["claimed fen"] += share.amount_fen
        if len(p["claimed"]) >= p["shares"]:
            self.s.close(pid)
        return f"{'replayed' if share.replayed else 'ok'} ({mode})"

    def op_expire(self, rng: random.Random, key: str) -> str:
        with self.s.lock:
            pid = rng.choice(self.s.open) if self.s.open else None
        if pid is not None:
            with brand_scope(self.b):
                RedPacket.objects.filter(pk=pid).update(
                    expires_at=timezone.now() - datetime.timedelta(seconds=1)
                )
        n = packets.packets_expire(brand=self.b)
        if pid is not None:
            self.s.close(pid)
        with self.s.lock:
            self.s.extra["packets expired by expire ops"] += n
        return "ok" if n else "ok (none left to expire)"

    def op_withdraw(self, rng: random.Random, key: str) -> str:
        staff = self.staff[rng.choice(self.people)]
        with brand_scope(self.b):
            balance = ledger.wallet(self.b, staff).balance_fen
        r = rng.random()
        mine = self.local.withdrawals
        if r < 0.58:
            amount, mode = rng.randint(100, max(100, balance)), "part"
        elif r < 0.72:
            amount, mode = None, "all"
        elif r < 0.80:
            amount, mode = balance + rng.randint(1, 1000), "more than the balance read before"
        elif r < 0.85:
            amount, mode = rng.randint(1, 99), "below the minimum"
        elif r < 0.95 and mine:
            staff, amount, key = rng.choice(mine)
            mode = "replayed key"
        elif mine:
            staff, amount, key = rng.choice(mine)
            amount = (amount or 0) + 1
            mode = "key reused for another amount"
        else:
            amount, mode = None, "all"
        w = withdrawals.withdrawal_request(
            brand=self.b,
            staff=staff,
            amount_fen=amount,
            key=key,
            fingerprint=request_fingerprint({"amount_fen": amount}),
        )
        if w.replayed:
            return f"replayed ({mode})"
        mine.append((staff, amount, key))
        with self.s.lock:
            self.s.withdrawals.append((w.pk, w.reference))
        # The submission to the provider ran right after the commit (eager Celery).
        return f"ok, {self.status_of(w.pk)} at once ({mode})"

    def op_callback(self, rng: random.Random, key: str) -> str:
        with self.s.lock:
            if not self.s.withdrawals:
                return "nothing to call back"
            # Mostly a recent withdrawal (a provider calls back soon after acting), sometimes any.
            recent = self.s.withdrawals[-30:] if rng.random() < 0.7 else self.s.withdrawals
            wid, ref = rng.choice(recent)
        rec = self.sim.record(ref)
        if rec is None:
            return "provider has no record (timed out before acting)"
        late = ""
        if rec["status"] == payouts.PENDING:
            self.sim.settle(ref, rec.get("late") or payouts.SUCCEEDED)  # the provider finishes late
            late = ", settled late"
        before = self.status_of(wid)
        body, sig = self.sim.signed_notice(ref)
        times = rng.choice([1, 1, 2, 2, 3])
        for _ in range(times):
            if rng.random() < 0.5:
                status = self.webhook(body, sig)
                with self.s.lock:
                    self.s.extra[f"webhook deliveries: HTTP {status}"] += 1
            else:
                withdrawals.withdrawal_notice(brand=self.b, provider_name="sim", body=body, signature=sig)
                with self.s.lock:
                    self.s.extra["withdrawal_notice deliveries"] += 1
        after = self.status_of(wid)
        what = (
            f"ended it ({after})"
            if before == Withdrawal.Status.PENDING and after != before
            else "changed nothing"
        )
        return f"{what}{late}, {times} deliver{'y' if times == 1 else 'ies'}"

    def op_poll(self, rng: random.Random, key: str) -> str:
        ended = withdrawals.withdrawals_poll(brand=self.b, older_than_seconds=0)
        with self.s.lock:
            self.s.extra["withdrawals ended by polls"] += ended
        return "ok, ended some" if ended else "ok, nothing to end"

    def op_auto(self, rng: random.Random, key: str) -> str:
        staff = self.staff[rng.choice(self.people)]
        accounts.auto_withdraw_set(brand=self.b, staff=staff, actor=Actor.system(), on=True)
        return "ok"

    def op_forged(self, rng: random.Random, key: str) -> str:
        with self.s.lock:
            if not self.s.withdrawals:
                return "nothing to forge"
            _wid, ref = rng.choice(self.s.withdrawals)
        body = json.dumps(
            {
                "brand_id": self.b.pk,
                "reference": ref,
                "status": "succeeded",
                "amount_fen": 1,
                "provider_reference": "X",
            }
        ).encode()
        return f"HTTP {self.webhook(body, 'f' * 64)}"

    # --- the run --------------------------------------------------------------------------------

    def run_one(self, rng: random.Random, op: str, key: str) -> None:
        fn = getattr(self, f"op_{op}")
        t0 = time.monotonic()
        try:
            outcome = fn(rng, key)
            if op == "claim" and not outcome:
                op, outcome = "send", self.op_send(rng, key)
        except ValidationError as exc:
            outcome = "refused: " + ",".join(error_codes(exc, "invalid"))
        except PermissionDenied:
            outcome = "refused: not allowed"
        except Exception as exc:  # a deadlock, an integrity error: counted, traceback kept
            kind = type(exc).__name__
            outcome = f"ERROR {kind}"
            with self.s.lock:
                self.s.error_kinds[f"{op}: {kind}: {str(exc)[:120]}"] += 1
                if len(self.s.errors) < 20:
                    self.s.errors.append(
                        {
                            "op": op,
                            "error": f"{kind}: {exc}"[:500],
                            "traceback": traceback.format_exc()[-3000:],
                        }
                    )
            if connection.in_atomic_block:  # never expected outside the services' own blocks
                raise
        ms = (time.monotonic() - t0) * 1000
        with self.s.lock:
            self.s.outcomes[(op, outcome)] += 1
            self.s.latency[op].append(ms)

    def worker(self, t: int, n_ops: int, barrier: threading.Barrier) -> None:
        rng = random.Random(f"{self.seed}:{t}")
        self.local.withdrawals = []
        names, weights = list(OPS_WEIGHTS), list(OPS_WEIGHTS.values())
        try:
            connection.ensure_connection()
            barrier.wait()
            for n in range(n_ops):
                op = rng.choices(names, weights=weights)[0]
                self.run_one(rng, op, f"soak-{self.seed}-{t}-{n}")
        finally:
            connection.close()

    def run(self) -> dict:
        self.sim.chaos(CHAOS, seed=self.seed)
        per = [
            self.ops // self.threads + (1 if t < self.ops % self.threads else 0) for t in range(self.threads)
        ]
        barrier = threading.Barrier(self.threads + 1, timeout=120)
        pool = [
            threading.Thread(target=self.worker, args=(t, per[t], barrier), daemon=True)
            for t in range(self.threads)
        ]
        for th in pool:
            th.start()
        barrier.wait()
        t0 = time.monotonic()
        for th in pool:
            th.join(timeout=1800)
        ops_s = time.monotonic() - t0
        return {"ops_seconds": round(ops_s, 2), "ops_per_s": round(self.ops / ops_s, 1) if ops_s else 0}

    def resolve(self) -> dict:
        """Expire every open packet; poll until no withdrawal is pending; then deliver one more
        (late, duplicate) notice for a sample of finished withdrawals, which must change nothing."""
        t0 = time.monotonic()
        with brand_scope(self.b):
            n_open = RedPacket.objects.filter(status=RedPacket.Status.ACTIVE).update(
                expires_at=timezone.now() - datetime.timedelta(seconds=1)
            )
        expired = 0
        while True:
            n = packets.packets_expire(brand=self.b)
            expired += n
            if not n:
                break
        rounds, ended = 0, 0
        while rounds < 20:
            with brand_scope(self.b):
                pending = Withdrawal.objects.filter(status=Withdrawal.Status.PENDING).count()
            if not pending:
                break
            rounds += 1
            ended += withdrawals.withdrawals_poll(brand=self.b, older_than_seconds=0, batch=5000)
        with brand_scope(self.b):
            pending_left = Withdrawal.objects.filter(status=Withdrawal.Status.PENDING).count()
            txns_before = Transaction.objects.count()
            statuses_before = dict(Withdrawal.objects.values_list("pk", "status"))
        sample = random.Random(self.seed).sample(self.s.withdrawals, k=min(300, len(self.s.withdrawals)))
        late_status = Counter()
        for _wid, ref in sample:
            notice = self.sim.signed_notice(ref)
            if notice is None:
                late_status["no notice (provider has no finished record)"] += 1
                continue
            late_status[f"HTTP {self.webhook(*notice)}"] += 1
        with brand_scope(self.b):
            txns_after = Transaction.objects.count()
            statuses_after = dict(Withdrawal.objects.values_list("pk", "status"))
        self.sim.chaos(None)
        return {
            "seconds": round(time.monotonic() - t0, 2),
            "packets_still_open": n_open,
            "packets_expired": expired,
            "poll_rounds": rounds,
            "withdrawals_ended_by_polls": ended,
            "withdrawals_pending_after": pending_left,
            "late_duplicate_notices": len(sample),
            "late_duplicate_answers": dict(late_status),
            "late_duplicates_changed_nothing": txns_after == txns_before
            and statuses_after == statuses_before,
        }


# --- checks after the soak ------------------------------------------------------------------------


def _one(sql: str, params=None):
    with connection.cursor() as cur:
        cur.execute(sql, params or [])
        return cur.fetchone()


def ledger_checks(b, sim) -> dict:
    """The benchmark's own checks, in SQL under the brand's row-level security."""
    with brand_scope(b):
        by_kind = {
            k: {"accounts": n, "fen": s or 0}
            for k, n, s in Account.objects.values("kind")
            .annotate(n=Count("pk"), s=Sum("balance_fen"))
            .values_list("kind", "n", "s")
        }
        total = _one("SELECT coalesce(sum(balance_fen), 0) FROM redpackets_account")[0]
        drift = _one(
            "SELECT count(*) FROM redpackets_account a LEFT JOIN (SELECT account_id, sum(amount_fen) s "
            "FROM redpackets_entry GROUP BY account_id) e ON e.account_id = a.id "
            "WHERE a.balance_fen <> coalesce(e.s, 0)"
        )[0]
        wallet_drift = _one(
            "SELECT count(*) FROM redpackets_account a LEFT JOIN (SELECT account_id, sum(amount_fen) s "
            "FROM redpackets_entry GROUP BY account_id) e ON e.account_id = a.id "
            "WHERE a.kind = 'wallet' AND a.balance_fen <> coalesce(e.s, 0)"
        )[0]
        chain = _one(
            "SELECT count(*) FROM (SELECT balance_after_fen, sum(amount_fen) OVER "
            "(PARTITION BY account_id ORDER BY id) AS running FROM redpackets_entry) x "
            "WHERE balance_after_fen <> running"
        )[0]
        unbalanced = _one(
            "SELECT count(*) FROM (SELECT transaction_id, sum(amount_fen) s, count(*) n FROM "
            "redpackets_entry "
            "GROUP BY transaction_id) x WHERE s <> 0 OR n < 2"
        )[0]
        bare = _one(
            "SELECT count(*) FROM redpackets_transaction t WHERE NOT EXISTS "
            "(SELECT 1 FROM redpackets_entry e WHERE e.transaction_id = t.id)"
        )[0]
        negative = _one(
            "SELECT count(*) FROM redpackets_account WHERE kind NOT IN ('funding', 'paid_out') AND "
            "balance_fen < 0"
        )[0]
        n_entries, n_txns = _one(
            "SELECT (SELECT count(*) FROM redpackets_entry), (SELECT count(*) FROM redpackets_transaction)"
        )
        packets_bad = _one(
            "SELECT count(*) FROM redpackets_redpacket p JOIN redpackets_account a ON a.packet_id = p.id "
            "LEFT JOIN (SELECT packet_id, count(*) n, sum(amount_fen) s FROM redpackets_packetshare "
            "WHERE staff_id IS NOT NULL GROUP BY packet_id) c ON c.packet_id = p.id "
            "WHERE p.status = 'active' OR a.balance_fen <> 0 OR p.claimed_count <> coalesce(c.n, 0) "
            "OR p.claimed_fen <> coalesce(c.s, 0) OR p.claimed_fen + p.refunded_fen <> p.total_fen "
            "OR (p.status = 'finished' AND p.claimed_count <> p.shares)"
        )[0]
        shares_bad = _one(
            "SELECT count(*) FROM redpackets_redpacket p LEFT JOIN (SELECT packet_id, count(*) n, "
            "sum(amount_fen) s FROM redpackets_packetshare GROUP BY packet_id) x ON x.packet_id = p.id "
            "WHERE coalesce(x.n, 0) <> p.shares OR coalesce(x.s, 0) <> p.total_fen"
        )[0]
        twice = _one(
            "SELECT count(*) FROM (SELECT packet_id, staff_id FROM redpackets_packetshare WHERE staff_id IS "
            "NOT "
            "NULL GROUP BY packet_id, staff_id HAVING count(*) > 1) x"
        )[0]
        not_recipient = _one(
            "SELECT count(*) FROM redpackets_packetshare s WHERE s.staff_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM redpackets_packetrecipient r WHERE r.packet_id = s.packet_id AND r.staff_id = "
            "s.staff_id)"
        )[0]
        # Each withdrawal: one 'withdrawal' transaction and exactly one ending that matches its status.
        w_bad = _one(
            "SELECT count(*) FROM redpackets_withdrawal w LEFT JOIN (SELECT withdrawal_id, "
            "count(*) FILTER (WHERE kind = 'withdrawal') a, "
            "count(*) FILTER (WHERE kind = 'withdrawal_succeeded') s, "
            "count(*) FILTER (WHERE kind = 'withdrawal_refunded') f FROM redpackets_transaction "
            "WHERE withdrawal_id IS NOT NULL GROUP BY withdrawal_id) t ON t.withdrawal_id = w.id "
            "WHERE w.status = 'pending' OR coalesce(t.a, 0) <> 1 "
            "OR (w.status = 'succeeded' AND (t.s <> 1 OR t.f <> 0)) "
            "OR (w.status = 'failed' AND (t.f <> 1 OR t.s <> 0))"
        )[0]
        wd = list(Withdrawal.objects.values_list("reference", "status", "amount_fen", "failure_reason"))
        w_status = Counter(s for _r, s, _a, _f in wd)
        w_reasons = Counter(f or "-" for _r, s, _a, f in wd if s == Withdrawal.Status.FAILED)
        shares_claimed = PacketShare.objects.filter(staff__isnull=False).count()
        events = dict(Event.objects.values("name").annotate(n=Count("pk")).values_list("name", "n"))
        p_status = dict(RedPacket.objects.values("status").annotate(n=Count("pk")).values_list("status", "n"))
        refunded = RedPacket.objects.aggregate(s=Sum("refunded_fen"))["s"] or 0
    provider_mismatch, provider_none = 0, 0
    for ref, status, amount, _f in wd:
        rec = sim.record(ref)
        if rec is None:
            provider_none += 1
            if status != Withdrawal.Status.FAILED:
                provider_mismatch += 1
            continue
        if rec["amount_fen"] != amount or rec["status"] != status:
            provider_mismatch += 1
    topped_up = -by_kind.get("funding", {}).get("fen", 0)
    held = sum(v["fen"] for k, v in by_kind.items() if k not in ("funding",))
    checks = {
        "every transaction has >= 2 entries summing to 0": unbalanced == 0 and bare == 0,
        "every account's balance == the sum of its entries": drift == 0,
        "every wallet == the sum of its entries": wallet_drift == 0,
        "every entry's balance_after == the running sum of its account": chain == 0,
        "sum of all balances == 0": total == 0,
        "money topped up == pool + packets + wallets + withdrawing + paid out": topped_up == held,
        "no negative balance (except the provider clearing accounts)": negative == 0,
        "every packet closed, its account 0, claimed + returned == total": packets_bad == 0,
        "every packet's shares add up to its total": shares_bad == 0,
        "nobody claimed a packet twice": twice == 0,
        "every claim by a recipient": not_recipient == 0,
        "no withdrawal pending; each has 1 request + exactly 1 matching ending": w_bad == 0,
        "every withdrawal agrees with the provider's record": provider_mismatch == 0,
        "packet.claimed events == claimed shares": events.get("packet.claimed", 0) == shares_claimed,
        "withdrawal events == finished withdrawals": events.get("withdrawal.succeeded", 0)
        == w_status.get("succeeded", 0)
        and events.get("withdrawal.failed", 0) == w_status.get("failed", 0),
    }
    return {
        "accounts_by_kind": by_kind,
        "balances_sum_fen": total,
        "topped_up_fen": topped_up,
        "entries": n_entries,
        "transactions": n_txns,
        "packets_by_status": p_status,
        "refunded_fen": refunded,
        "shares_claimed": shares_claimed,
        "withdrawals_by_status": dict(w_status),
        "withdrawal_failure_reasons": dict(w_reasons),
        "withdrawals_unknown_to_provider": provider_none,
        "events": events,
        "counts_off": {
            "unbalanced_transactions": unbalanced,
            "transactions_without_entries": bare,
            "accounts_drifted": drift,
            "wallets_drifted": wallet_drift,
            "entries_with_wrong_balance_after": chain,
            "negative_accounts": negative,
            "packets_off": packets_bad,
            "packets_shares_off": shares_bad,
            "claimed_twice": twice,
            "claims_by_non_recipients": not_recipient,
            "withdrawals_off": w_bad,
            "withdrawals_disagreeing_with_provider": provider_mismatch,
        },
        "checks": checks,
    }


def soak(*, brand, admin, people, by_store, managers, seed: int, ops: int, threads: int) -> dict:
    """Run the soak; returns its figures and checks (bench/redpackets.py soak prints them)."""
    t0 = time.monotonic()
    with brand_scope(brand):
        staff = {s.pk: s for s in Staff.objects.filter(pk__in=[*people, admin.pk])}
        start = {
            "transactions": Transaction.objects.count(),
            "withdrawals": Withdrawal.objects.count(),
            "packets": RedPacket.objects.count(),
        }
    s = Soak(
        brand=brand,
        admin=staff[admin.pk],
        people=people,
        by_store=by_store,
        managers=managers,
        staff=staff,
        seed=seed,
        ops=ops,
        threads=threads,
    )
    phase = s.run()
    resolution = s.resolve()
    t_rec = time.monotonic()
    run = reconcile.reconcile(brand=brand)
    reconcile_s = time.monotonic() - t_rec
    t_chk = time.monotonic()
    own = ledger_checks(brand, s.sim)
    checks_s = time.monotonic() - t_chk
    lat = {
        op: {
            "n": len(v),
            "p50_ms": round(percentile(v, 50), 1),
            "p95_ms": round(percentile(v, 95), 1),
            "max_ms": round(max(v), 1),
        }
        for op, v in sorted(s.s.latency.items())
    }
    outcomes = [{"op": op, "outcome": outcome, "n": n} for (op, outcome), n in sorted(s.s.outcomes.items())]
    by_op = Counter()
    for (op, _o), n in s.s.outcomes.items():
        by_op[op] += n
    errors = sum(n for (_op, o), n in s.s.outcomes.items() if o.startswith("ERROR"))
    checks = {
        "no unexpected errors (deadlocks, integrity errors, ...)": errors == 0,
        "nothing pending after resolution": resolution["withdrawals_pending_after"] == 0,
        "late duplicate notices changed nothing": resolution["late_duplicates_changed_nothing"],
        "reconcile(brand).ok": run.ok,
        **own["checks"],
    }
    return {
        "seed": seed,
        "ops": ops,
        "threads": threads,
        "weights": OPS_WEIGHTS,
        "chaos": CHAOS,
        "webhook_via": f"HTTP to {SERVER}" if SERVER else "Django test client (in-process)",
        "people": len(people),
        "stores": len(by_store),
        "managers": len(managers),
        "before": start,
        **phase,
        "ops_by_kind": dict(by_op),
        "outcomes": outcomes,
        "extra": dict(s.s.extra),
        "latency": lat,
        "errors": errors,
        "error_kinds": dict(s.s.error_kinds),
        "error_samples": s.s.errors[:10],
        "resolution": resolution,
        "reconcile": {"ok": run.ok, "problems": run.problems[:20], "checked": run.checked},
        "reconcile_s": round(reconcile_s, 2),
        "own_checks_s": round(checks_s, 2),
        "ledger": own,
        "checks": checks,
        "all_ok": all(checks.values()),
        "total_seconds": round(time.monotonic() - t0, 1),
    }
