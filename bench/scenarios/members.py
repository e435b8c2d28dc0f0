"""Membership: 1,000,000 members in one brand on PostgreSQL under row-level security.

Look-up by any identity and member-code resolve through wrk (target: p95 under 20 ms); 200
concurrent redemptions against one member (an exact, never negative balance); a 100,000-row CSV
import with a real Celery worker (target: under 60 s). See bench/README.md.

Data formulas (the wrk scripts next to this file derive their random look-ups from them): member
number n = 0..N-1 has id n + 1, phone ``139`` + n as 8 digits and card ``VIP`` + n as 8 digits.

Tunables: BENCH_MEMBERS (1000000), BENCH_MEMBERS_DURATION (10s), BENCH_MEMBERS_REPEAT (2),
BENCH_MEMBERS_CONNECTIONS (1,2,4,16), BENCH_REDEEM_COUNT (200), BENCH_REDEEM_CLIENTS (32),
BENCH_IMPORT_ROWS (100000).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shlex
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.harness.cpu import wait_for_quiet
from bench.harness.database import DbSampler, pg_settings
from bench.harness.load import percentile, wrk_series
from bench.harness.proc import PY, ROOT, emit, log
from bench.harness.runs import Run
from bench.harness.servers import csrf_secret, request, server_cmd_text, start_server, stop_group
from bench.harness.workers import celery_cmd, start_worker, stop_worker
from bench.scenarios.staff import person_name, seed_staff
from members import codes, jobs, services
from members.models import GuideBinding, Member, MemberIdentity, MemberJob, MemberTag, PointsEntry, Tag, Tier
from retail.events import Actor
from retail.models import Brand, Staff, StaffStore
from retail.tenancy import brand_scope, rls_bypass

BRAND_SLUG = "bench-a"
N_MEMBERS = int(os.environ.get("BENCH_MEMBERS", 1_000_000))
PHONE = "139{:08d}"  # member number n -> phone; id = n + 1
CARD = "VIP{:08d}"
NEW_PHONE = "136{:08d}"  # phones of the imported rows (never seeded)
NEW_CARD = "IMP{:08d}"
TAGS = ["高价值", "爱促销", "新客", "老客", "价格敏感", "品牌忠诚", "母婴", "美妆"]
TIERS = [("normal", "普通会员", 0), ("silver", "银卡", 100_000), ("gold", "金卡", 500_000)]
JOINED_FROM = 1_546_300_800  # 2019-01-01 UTC; joins spread evenly over about six years
JOINED_SPAN = 6 * 365 * 86400
# Redemptions: REDEEM_COUNT requests of REDEEM_POINTS each against a member holding fewer
# points than they would need (EARN_LOTS lots), so some must be refused.
REDEEM_COUNT = int(os.environ.get("BENCH_REDEEM_COUNT", 200))
REDEEM_POINTS = 10
EARN_LOTS = [300, 300, 300, 300, 295]  # 1,495 points: 149 redemptions fit, 5 points stay


DURATION = os.environ.get("BENCH_MEMBERS_DURATION", "10s")
WARMUP = "3s"
REPEAT = int(os.environ.get("BENCH_MEMBERS_REPEAT", 2))
# 1: one request at a time (a request's own latency); 2: one per uvicorn worker; 4: light load
# (two per worker); 16: busy.
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_MEMBERS_CONNECTIONS", "1,2,4,16").split(",")]
# The card look-up runs the same code as the phone look-up: measured at the loaded levels only.
CARD_CONNECTIONS = [c for c in CONNECTIONS if c >= 4] or CONNECTIONS
THREADS = 2
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", 100_000))
CODES_PER_RUN = 5000
# Redemption passes: (name, concurrent client connections, member id). REDEEM_COUNT requests
# each; "bounded" stays under PostgreSQL's connection limit, "all at once" does not have to
# (every in-flight request holds its own database connection).
REDEEM_CLIENTS = int(os.environ.get("BENCH_REDEEM_CLIENTS", 32))
REDEEM_PASSES = [
    ("bounded", REDEEM_CLIENTS, N_MEMBERS // 2),
    ("all at once", REDEEM_COUNT, N_MEMBERS // 2 + 1),
]
LOOKUP_PATH = "/api/v1/members/lookup/"
RESOLVE_PATH = "/api/v1/member-codes/resolve/"
WORKER_CMD = celery_cmd("-l", "warning", "-c", "1")


def brand() -> Brand:
    return Brand.objects.get(slug=BRAND_SLUG)


def staff_of(b: Brand, role: str) -> Staff:
    with brand_scope(b):
        return (
            Staff.objects.filter(role=role, status=Staff.Status.ACTIVE)
            .select_related("user", "brand")
            .order_by("pk")
            .first()
        )


# --- seed ---------------------------------------------------------------------------------


class LineStream(io.RawIOBase):
    """A file-like view of a generator of text lines, for COPY FROM STDIN without a temp file."""

    def __init__(self, lines):
        self._lines = lines
        self._buf = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = "".join(line for _, line in zip(range(2000), self._lines, strict=False))
            if not chunk:
                break
            self._buf += chunk.encode()
        if size < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data


def _spend(n: int) -> int:
    return (n * 7919) % 800_000  # fen, 0 .. ¥8,000


def seed() -> None:
    """Seed N_MEMBERS members of brand bench-a with COPY inside one audited RLS bypass.

    The member tables have FORCE ROW LEVEL SECURITY, and PostgreSQL refuses COPY FROM into a
    table where row-level security applies, so the rows are copied into temporary tables
    first and moved with INSERT ... SELECT (which the bypass policy allows).
    """
    b = brand()
    n = N_MEMBERS
    timings = {}
    t_all = time.monotonic()
    with transaction.atomic(), rls_bypass(reason="bench seed members"):
        cur = connection.cursor()
        cur.execute("SELECT count(*) FROM members_member")
        if cur.fetchone()[0]:
            raise SystemExit("bench: members exist already; the runner recreates the database")
        tiers = Tier.objects.bulk_create(
            [Tier(brand=b, code=c, name=name, min_spend_fen=fen) for c, name, fen in TIERS]
        )
        tags = Tag.objects.bulk_create([Tag(brand=b, name=t) for t in TAGS])
        guides = list(
            StaffStore.unscoped.filter(
                brand=b, staff__role=Staff.Role.GUIDE, staff__status=Staff.Status.ACTIVE
            )
            .order_by("staff_id")
            .values_list("staff_id", "store_id")
        )

        def tier_for(spend: int) -> int:
            return next(t.pk for t in reversed(tiers) if t.min_spend_fen <= spend)

        def member_lines():
            for i in range(n):
                joined = JOINED_FROM + (i * JOINED_SPAN) // n
                guide, store = guides[i % len(guides)] if i % 5 else ("\\N", "\\N")
                spend = _spend(i)
                yield (
                    f"{i + 1}\t{person_name(i)}\t{'fm'[i % 2] if i % 3 else ''}\t"
                    f"{(i * 37) % 18000 if i % 4 else chr(92) + 'N'}\t{tier_for(spend)}\t{spend}\t"
                    f"{'t' if i % 2 == 0 else 'f'}\t{store}\t{guide}\t{guide}\t{joined}\t"
                    f"{joined + 86400 * (i % 300) if spend else chr(92) + 'N'}\n"
                )

        def identity_lines():
            for i in range(n):
                joined = JOINED_FROM + (i * JOINED_SPAN) // n
                yield f"{i + 1}\tphone\t{PHONE.format(i)}\tt\t{joined}\n"
                yield f"{i + 1}\tcard\t{CARD.format(i)}\tf\t{joined}\n"

        t0 = time.monotonic()
        cur.execute(
            "CREATE TEMP TABLE bench_member (id bigint, name text, gender text, birthday_days int, "
            "tier_id bigint, spend bigint, consent bool, store_id bigint, join_guide_id bigint, "
            "guide_id bigint, joined bigint, last_purchase bigint) ON COMMIT DROP"
        )
        cur.copy_expert("COPY bench_member FROM STDIN", LineStream(member_lines()))
        timings["copy_members_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        cur.execute(
            "INSERT INTO members_member (id, brand_id, name, gender, birthday, status, tier_id, "
            "points_balance, qualifying_spend_fen, marketing_consent, join_store_id, join_guide_id, "
            "guide_id, joined_at, last_purchase_at) "
            "SELECT id, %s, name, gender, date '1960-01-01' + birthday_days, 'active', tier_id, 0, spend, "
            "consent, store_id, join_guide_id, guide_id, to_timestamp(joined), to_timestamp(last_purchase) "
            "FROM bench_member ORDER BY id",
            [b.pk],
        )
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('members_member', 'id'), "
            "(SELECT max(id) FROM members_member))"
        )
        timings["insert_members_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        cur.execute(
            "CREATE TEMP TABLE bench_identity (member_id bigint, kind text, value text, verified bool, "
            "created bigint) ON COMMIT DROP"
        )
        cur.copy_expert("COPY bench_identity FROM STDIN", LineStream(identity_lines()))
        timings["copy_identities_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        cur.execute(
            "INSERT INTO members_memberidentity (brand_id, member_id, kind, value, verified, created_at) "
            "SELECT %s, member_id, kind, value, verified, to_timestamp(created) FROM bench_identity",
            [b.pk],
        )
        timings["insert_identities_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        # The open guide binding of every member with a guide, and a tag on every third member.
        cur.execute(
            "INSERT INTO members_guidebinding (brand_id, member_id, guide_id, started_at, start_reason, "
            "end_reason) SELECT brand_id, id, guide_id, joined_at, 'join', '' FROM members_member "
            "WHERE guide_id IS NOT NULL"
        )
        cur.execute(
            "INSERT INTO members_membertag (brand_id, member_id, tag_id, source, created_at) "
            "SELECT m.brand_id, m.id, (%s::bigint[])[1 + m.id %% %s], 'import', m.joined_at "
            "FROM members_member m WHERE m.id %% 3 = 0",
            [[t.pk for t in tags], len(tags)],
        )
        timings["bindings_and_tags_s"] = round(time.monotonic() - t0, 1)
        t_commit = time.monotonic()
    timings["commit_s"] = round(time.monotonic() - t_commit, 1)  # deferred foreign-key checks
    seed_seconds = round(time.monotonic() - t_all, 1)
    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute(
            "VACUUM (ANALYZE) members_member, members_memberidentity, members_guidebinding, "
            "members_membertag, members_tier, members_tag"
        )
    timings["vacuum_analyze_s"] = round(time.monotonic() - t0, 1)
    with rls_bypass(reason="bench seed members: counts"), connection.cursor() as cur:
        counts = {}
        for table in ("member", "memberidentity", "guidebinding", "membertag"):
            cur.execute(f"SELECT count(*) FROM members_{table}")  # noqa: S608
            counts[table] = cur.fetchone()[0]
        cur.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('members_member')), "
            "pg_size_pretty(pg_total_relation_size('members_memberidentity'))"
        )
        sizes = cur.fetchone()
    emit(
        {
            "members": n,
            "brand_id": b.pk,
            "seed_seconds": seed_seconds,
            "total_seconds": round(time.monotonic() - t_all, 1),
            "timings": timings,
            "counts": counts,
            "sizes": {"members_member": sizes[0], "members_memberidentity": sizes[1]},
            "guides": len(guides),
        }
    )


# --- member codes ----------------------------------------------------------------------------


def issue_codes(path: str, count: int) -> None:
    """``count`` fresh codes of random members (valid for codes.CODE_MAX_AGE seconds)."""
    b = brand()
    rng = random.Random()
    t0 = time.monotonic()
    lines = [
        codes.member_code_issue(brand_id=b.pk, member_id=rng.randrange(N_MEMBERS) + 1) for _ in range(count)
    ]
    Path(path).write_text("\n".join(lines) + "\n")
    emit({"codes": count, "seconds": round(time.monotonic() - t0, 2), "issued_at": time.time()})


# --- queries per request ------------------------------------------------------------------------


def _measure(session_key: str, method: str, path: str, body: dict | None = None, headers=None) -> dict:
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key

    def call():
        if method == "GET":
            return client.get(path)
        return client.post(path, body or {}, content_type="application/json", headers=headers or {})

    call()  # warm-up: one-off caches
    if headers and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] += "-measured"
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    return {
        "method": method,
        "path": path,
        "status": response.status_code,
        "queries": len(ctx),
        "sql": [q["sql"][:300] for q in ctx.captured_queries],
    }


def queries(sessions: dict) -> None:
    b = brand()
    n = N_MEMBERS // 3
    phone, card = PHONE.format(n), CARD.format(n)
    rows = []
    for role in ("guide", "brand_admin"):
        for kind, value in (("phone", phone), ("card", card)):
            r = _measure(sessions[role], "GET", f"/api/v1/members/lookup/?kind={kind}&value={value}")
            rows.append({**r, "as": role})
        code = codes.member_code_issue(brand_id=b.pk, member_id=n + 1)
        r = _measure(sessions[role], "POST", "/api/v1/member-codes/resolve/", {"code": code})
        rows.append({**r, "as": role})
    # One redemption (of a member given points for it first), as the store manager.
    member_id = n + 2
    with brand_scope(b):
        member = Member.objects.get(pk=member_id)
    services.points_earn(brand=b, member=member, points=100, source="bench:queries:earn")
    r = _measure(
        sessions["store_manager"],
        "POST",
        f"/api/v1/members/{member_id}/points/redeem/",
        {"points": 10},
        headers={"Idempotency-Key": "bench-queries-redeem"},
    )
    rows.append({**r, "as": "store_manager"})
    emit(rows)


# --- concurrent redemptions ---------------------------------------------------------------------


def redeem_setup(member_id: int) -> None:
    """Give the redemption member EARN_LOTS lots of points through the service."""
    b = brand()
    with brand_scope(b):
        member = Member.objects.get(pk=member_id)
    for i, points in enumerate(EARN_LOTS):
        services.points_earn(
            brand=b, member=member, points=points, source=f"bench:redeem:{member_id}:earn:{i}"
        )
    with brand_scope(b):
        balance = Member.objects.get(pk=member_id).points_balance
    emit(
        {
            "member_id": member_id,
            "balance_before": balance,
            "points_each": REDEEM_POINTS,
            "requests": REDEEM_COUNT,
            "expected_ok": min(REDEEM_COUNT, balance // REDEEM_POINTS),
            "lots": EARN_LOTS,
        }
    )


def redeem_verify(client: dict) -> None:
    """Check the ledger against what the clients saw; run points_reconcile for the brand."""
    b = brand()
    member_id = client["member_id"]
    with brand_scope(b):
        member = Member.objects.get(pk=member_id)
        entries = PointsEntry.objects.filter(member=member)
        ledger_sum = sum(entries.values_list("amount", flat=True))
        open_sum = sum(entries.values_list("remaining", flat=True))
        redeemed = list(entries.filter(kind=PointsEntry.Kind.REDEEM).values_list("amount", flat=True))
        min_after = min(entries.values_list("balance_after", flat=True))
        keys_ok = set(
            entries.filter(kind=PointsEntry.Kind.REDEEM, source__startswith="api:").values_list(
                "source", flat=True
            )
        )
    earned = sum(EARN_LOTS)
    t0 = time.monotonic()
    bad = services.points_reconcile(brand=b)
    reconcile_seconds = round(time.monotonic() - t0, 2)
    client_ok = set(client["ok_keys"])
    checks = {
        "balance == sum(ledger)": member.points_balance == ledger_sum,
        "balance == sum(open lots)": member.points_balance == open_sum,
        "balance >= 0 and every balance_after >= 0": member.points_balance >= 0 and min_after >= 0,
        "redeem entries == 201 answers": len(redeemed) == client["ok"],
        # Ledger sources are the API's keys as stored ("api:<key>", or "api:<staff id>:<key>").
        "ledger keys == keys answered 201": {k.rsplit(":", 1)[-1] for k in keys_ok} == client_ok,
        "points spent == 201 answers x points": -sum(redeemed) == client["ok"] * REDEEM_POINTS,
        "balance == earned - spent": member.points_balance == earned + sum(redeemed),
        "every other answer 400 insufficient_points": client["refused"] == client["requests"] - client["ok"],
        "201 answers == redemptions that fit": client["ok"]
        == min(client["requests"], earned // REDEEM_POINTS),
        "replays answered 200 without a new entry": client.get("replays_ok", True),
        "points_reconcile() == []": bad == [],
    }
    emit(
        {
            "member_id": member_id,
            "earned": earned,
            "balance_after": member.points_balance,
            "ledger_sum": ledger_sum,
            "redeem_entries": len(redeemed),
            "points_spent": -sum(redeemed),
            "reconcile": bad[:20],
            "reconcile_seconds": reconcile_seconds,
            "checks": checks,
            "all_ok": all(checks.values()),
        }
    )


# --- CSV import -----------------------------------------------------------------------------------


def import_csv(path: str, rows: int) -> None:
    """A CSV of ``rows`` rows: 1% bad, 10% duplicates (half of existing members, half of earlier
    rows of the file), the rest new members; prints the counts the job must report."""
    b = brand()
    rng = random.Random(20261122)
    with brand_scope(b):
        guides = list(
            Staff.objects.filter(role=Staff.Role.GUIDE, status=Staff.Status.ACTIVE)
            .exclude(employee_no="")
            .values_list("employee_no", flat=True)[:200]
        )
    n_bad = rows // 100
    n_dup_existing = rows // 20
    n_dup_file = rows // 20
    n_new = rows - n_bad - n_dup_existing - n_dup_file
    kinds = ["new"] * n_new + ["existing"] * n_dup_existing + ["file"] * n_dup_file + ["bad"] * n_bad
    # In-file duplicates must come after the row they repeat: shuffle, then move any that
    # would precede every new row to the end.
    rng.shuffle(kinds)
    existing = rng.sample(range(N_MEMBERS), n_dup_existing)  # distinct existing members
    bad_kinds = ["phone", "date", "consent", "guide"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["phone", "name", "card_no", "tags", "consent", "guide", "joined_at"])
    new_written: list[int] = []
    pending_file_dups = 0
    k_new = k_existing = k_bad = 0

    def tags() -> str:
        return ";".join(rng.sample(TAGS + ["导入标签A", "导入标签B"], rng.randrange(0, 3)))

    def file_dup_row():
        j = rng.choice(new_written)
        # the same person written differently: +86 prefix and spaces, card omitted
        p = NEW_PHONE.format(j)
        return [f"+86 {p[:3]} {p[3:7]} {p[7:]}", f"重复{j}", "", tags(), "yes", "", ""]

    for kind in kinds:
        if kind == "new":
            j = k_new
            k_new += 1
            w.writerow(
                [
                    NEW_PHONE.format(j),
                    person_name(j + 7),
                    NEW_CARD.format(j) if j % 2 else "",
                    tags(),
                    "yes" if j % 3 else "no",
                    rng.choice(guides) if j % 4 == 0 else "",
                    f"2025-{1 + j % 12:02d}-{1 + j % 28:02d}" if j % 5 else "",
                ]
            )
            new_written.append(j)
            while pending_file_dups:
                w.writerow(file_dup_row())
                pending_file_dups -= 1
        elif kind == "existing":
            i = existing[k_existing]
            k_existing += 1
            # an existing member by phone; some also bring their (same) card
            w.writerow([PHONE.format(i), "", CARD.format(i) if i % 2 else "", tags(), "yes", "", ""])
        elif kind == "file":
            if new_written:
                w.writerow(file_dup_row())
            else:
                pending_file_dups += 1
        else:
            j = k_bad
            k_bad += 1
            p = NEW_PHONE.format(50_000_000 + j)  # never a member, never elsewhere in the file
            bad = bad_kinds[j % len(bad_kinds)]
            w.writerow(
                [
                    "12345" if bad == "phone" else p,
                    "坏行",
                    "",
                    "",
                    "maybe" if bad == "consent" else "yes",
                    "NO-SUCH-GUIDE" if bad == "guide" else "",
                    "2025-13-01" if bad == "date" else "",
                ]
            )
    data = ("\ufeff" + buf.getvalue()).encode()
    Path(path).write_bytes(data)
    emit(
        {
            "rows": rows,
            "bytes": len(data),
            "expected": {
                "created": n_new,
                "matched": n_dup_existing + n_dup_file,
                "errors": n_bad,
                "total": rows,
            },
            "mix": {
                "new": n_new,
                "duplicates_of_existing_members": n_dup_existing,
                "duplicates_of_earlier_rows": n_dup_file,
                "bad": n_bad,
                "bad_kinds": bad_kinds,
            },
        }
    )


def import_run(path: str, expected: dict, limit: float = 600) -> None:
    """Upload through members.jobs.import_start (as the brand admin) and wait (bounded) until the
    Celery worker has finished the job; check the counts and the rows written."""
    b = brand()
    admin = staff_of(b, Staff.Role.BRAND_ADMIN)

    def table_counts() -> dict:
        with brand_scope(b):
            return {
                "members": Member.objects.count(),
                "identities": MemberIdentity.objects.count(),
                "member_tags": MemberTag.objects.count(),
                "bindings": GuideBinding.objects.count(),
            }

    before = table_counts()
    data = Path(path).read_bytes()
    upload = SimpleUploadedFile("members.csv", data, content_type="text/csv")
    t0 = time.monotonic()
    job = jobs.import_start(brand=b, manager=admin, actor=Actor(user=admin.user), upload=upload)
    queued = time.monotonic() - t0
    phases: list[tuple[float, str, int]] = []
    deadline = t0 + limit
    while True:
        with brand_scope(b):
            job = MemberJob.objects.get(pk=job.pk)
        progress = jobs.progress_get(job)
        phase = progress.get("phase", job.status)
        if not phases or phases[-1][1] != phase:
            phases.append((round(time.monotonic() - t0, 1), phase, progress.get("processed", 0)))
        if job.status in (MemberJob.Status.DONE, MemberJob.Status.FAILED) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    seconds = time.monotonic() - t0
    after = table_counts()
    got = {
        "created": job.created_count,
        "matched": job.matched_count,
        "errors": job.error_count,
        "total": job.total,
    }
    emit(
        {
            "job_id": job.pk,
            "status": job.status,
            "message": job.message,
            "timed_out": job.status not in (MemberJob.Status.DONE, MemberJob.Status.FAILED),
            "seconds": round(seconds, 1),
            "queue_seconds": round(queued, 2),
            "job_seconds": round((job.finished_at - job.created_at).total_seconds(), 1)
            if job.finished_at
            else None,
            "phases": phases,
            "counts": got,
            "expected": expected,
            "counts_match": got == expected,
            "rows_added": {k: after[k] - before[k] for k in after},
            "members_added_match": after["members"] - before["members"] == expected["created"],
        }
    )


def concurrent_redeem(setup: dict, session: str, csrf: str, clients: int) -> dict:
    """``setup["requests"]`` redemptions of one member, each POSTed with its own Idempotency-Key
    by ``clients`` client threads (one connection per request) released together by a barrier;
    each thread takes the next request until none is left. Then a few keys are replayed."""
    member_id, points, count = setup["member_id"], setup["points_each"], setup["requests"]
    path = f"/api/v1/members/{member_id}/points/redeem/"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    keys = [f"bench-redeem-{member_id}-{stamp}-{i:04d}" for i in range(count)]
    base_headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}
    results: list[dict | None] = [None] * count
    clients = min(clients, count)
    barrier = threading.Barrier(clients + 1, timeout=60)
    queue = iter(range(count))
    lock = threading.Lock()

    def client() -> None:
        barrier.wait()
        while True:
            with lock:
                i = next(queue, None)
            if i is None:
                return
            headers = {**base_headers, "Idempotency-Key": keys[i]}
            try:
                status, body, _h, seconds = request("POST", path, headers, {"points": points}, timeout=120)
                code = (body.get("error") or {}).get("code", "") if isinstance(body, dict) else ""
                results[i] = {"status": status, "code": code, "seconds": seconds, "entry": body.get("id")}
            except Exception as exc:  # a refused connection, a timeout: counted, not raised
                results[i] = {"status": 0, "code": type(exc).__name__, "seconds": 0.0, "entry": None}

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # every thread is waiting on the barrier
    t0 = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join(timeout=max(0.1, t0 + 300 - time.monotonic()))
    wall = time.monotonic() - t0
    done = [r for r in results if r is not None]
    ok = [i for i, r in enumerate(results) if r and r["status"] == 201]
    refused = [r for r in done if r["status"] == 400 and r["code"] == "insufficient_points"]
    statuses: dict[str, int] = {}
    for r in done:
        key = f"{r['status']} {r['code']}".strip() if r["status"] != 201 else "201"
        statuses[key] = statuses.get(key, 0) + 1
    latencies = [r["seconds"] * 1000 for r in done if r["status"]]
    # Replays: the first 10 successful keys again, one by one: 200, same entry, no new row.
    replays = []
    for i in ok[:10]:
        status, body, hdrs, _s = request(
            "POST", path, {**base_headers, "Idempotency-Key": keys[i]}, {"points": points}
        )
        replays.append(
            status == 200
            and hdrs.get("idempotent-replayed") == "true"
            and body.get("id") == results[i]["entry"]
        )
    return {
        "member_id": member_id,
        "clients": clients,
        "requests": count,
        "answered": len(done),
        "ok": len(ok),
        "ok_keys": [keys[i] for i in ok],
        "refused": len(refused),
        "statuses": statuses,
        "wall_s": round(wall, 2),
        "requests_per_s": round(count / wall, 1),
        "redemptions_per_s": round(len(ok) / wall, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0), 1),
        "replays": len(replays),
        "replays_ok": all(replays) and len(replays) > 0,
    }


STEPS = {
    "seed": seed,
    "codes": lambda path, count: issue_codes(path, int(count)),
    "queries": lambda sessions: queries(json.loads(sessions)),
    "redeem-setup": lambda member_id: redeem_setup(int(member_id)),
    "redeem-verify": lambda client: redeem_verify(json.loads(client)),
    "import-csv": lambda path, rows: import_csv(path, int(rows)),
    "import-run": lambda path, expected: import_run(path, json.loads(expected)),
}


def redact(cmd: list[str], session: str, csrf: str) -> list[str]:
    return [c.replace(session, "<session key>").replace(csrf, "<csrf token>") for c in cmd]


def run(run: Run) -> dict:
    db = run.prepare()
    db["max_connections"] = pg_settings(run.db_url, "max_connections")["max_connections"]
    run.env_vars["MEDIA_ROOT"] = str(ROOT / "bench" / "results" / "media")
    run.env_vars["BENCH_MEMBERS"] = str(N_MEMBERS)
    staff_seed = seed_staff(run)
    sessions = staff_seed.pop("sessions")
    seed_ = run.step("seed")
    log(
        f"members seeded in {seed_['seed_seconds']} s (+ VACUUM ANALYZE): "
        f"{seed_['counts']} {seed_['timings']}"
    )
    counted = run.step("queries", json.dumps(sessions), timeout=300)
    for q in counted:
        log(f"queries {q['as']:>13} {q['method']} {q['path']}: {q['queries']} (status {q['status']})")

    csrf = csrf_secret()
    codes_file = run.file("codes.txt")
    issued: list[dict] = []
    http: list[dict] = []
    redeem: list[dict] = []
    server_log = run.file("uvicorn.log")
    server = start_server(run.env, server_log)
    try:
        role = "guide"  # a guide at the till identifies the shopper
        session = sessions[role]

        def issue_before_run():
            # Codes live 90 s: issue a fresh batch right before the warm-up and the run.
            info = run.step("codes", codes_file, CODES_PER_RUN, timeout=120)
            issued.append(info)
            return lambda figures: figures.update(
                seconds_after_issue=round(time.time() - info["issued_at"], 1)
            )

        series = [
            ("look-up by phone", f"GET {LOOKUP_PATH}?kind=phone&value=<random>", LOOKUP_PATH, session,
             {"script": "bench/scenarios/members_lookup.lua", "script_args": (str(N_MEMBERS), "phone")}),
            ("look-up by card", f"GET {LOOKUP_PATH}?kind=card&value=<random>", LOOKUP_PATH, session,
             {"script": "bench/scenarios/members_lookup.lua", "script_args": (str(N_MEMBERS), "card")}),
            ("member-code resolve", f"POST {RESOLVE_PATH}", RESOLVE_PATH, None,
             {"script": "bench/scenarios/members_resolve.lua", "before_run": issue_before_run,
              "headers": (f"Cookie: sessionid={session}; csrftoken={csrf}", f"X-CSRFToken: {csrf}"),
              "script_args": (str(codes_file.relative_to(ROOT)),)}),
        ]  # fmt: skip
        probe = f"{LOOKUP_PATH}?kind=phone&value=139{N_MEMBERS // 7:08d}"
        status = request("GET", probe, {"Cookie": f"sessionid={session}"})[0]
        for label, shown, path, wrk_session, args in series:
            if status != 200:
                http.append(
                    {"label": label, "as": role, "path": shown, "skipped": f"HTTP {status} before the run"}
                )
                continue
            for c in CARD_CONNECTIONS if "card" in label else CONNECTIONS:
                entry = {"label": label, "as": role, "path": shown, "connections": c}
                entry.update(
                    wrk_series(
                        path,
                        wrk_session,
                        repeat=REPEAT,
                        duration=DURATION,
                        warmup=WARMUP,
                        server_pgid=server.pid,
                        db_url=run.db_url,
                        threads=min(THREADS, c),
                        connections=c,
                        env=run.env,
                        **args,
                    )  # fmt: skip
                )
                entry["cmd"] = redact(entry["cmd"], session, csrf)
                http.append(entry)

        # Concurrent redemptions against one member, as a store manager: through a bounded
        # pool of client connections, then all at once.
        for name, clients, member_id in REDEEM_PASSES:
            setup = run.step("redeem-setup", member_id, timeout=120)
            wait_for_quiet()
            log_from = server_log.stat().st_size
            with DbSampler(run.db_url) as sampler:
                client = concurrent_redeem(setup, sessions["store_manager"], csrf, clients)
            client["db_connections_peak"] = sampler.peak
            with server_log.open("rb") as fh:
                fh.seek(log_from)
                text = fh.read().decode(errors="replace")
            refused = text.count("remaining connection slots are reserved") + text.count(
                "too many clients already"
            )
            client["server_errors"] = {"too many connections (PostgreSQL refused a connection)": refused}
            log(f"redemptions ({name}): {client['statuses']}, {client['requests_per_s']} req/s, "
                f"peak {sampler.peak} DB connections, server log: {client['server_errors']}")  # fmt: skip
            redeem.append({"name": name, "setup": setup, "client": client})
    finally:
        stop_group(server)
    for r in redeem:
        r["check"] = run.step("redeem-verify", json.dumps(r["client"]), timeout=600)
        r["client"].pop("ok_keys")
        log(f"redemption checks ({r['name']}): {r['check']['checks']}")

    # CSV import through the job service with a real Celery worker.
    csv_path = run.file("import.csv")
    csv_info = run.step("import-csv", csv_path, IMPORT_ROWS, timeout=300)
    worker = start_worker(WORKER_CMD, run.env, run.file("celery.log"))
    try:
        wait_for_quiet()
        imp = run.step("import-run", csv_path, json.dumps(csv_info["expected"]))
    finally:
        stop_worker(worker)
    log(f"import: {imp['status']} in {imp['seconds']} s: {imp['counts']} (expected {imp['expected']})")
    csv_path.unlink(missing_ok=True)
    codes_file.unlink(missing_ok=True)
    return run.finish(
        {
            "machine": run.machine(),
            "database": db,
            "staff_seed": staff_seed,
            "seed": seed_,
            "queries": counted,
            "http": http,
            "codes_issued": issued,
            "redeem": redeem,
            "import_csv": csv_info,
            "import": imp,
            "env": {k: v for k, v in run.env_vars.items() if v},
            "server_cmd": server_cmd_text(),
            "worker_cmd": " ".join(shlex.quote(c) for c in WORKER_CMD).replace(PY, "python"),
            "settings": {
                "duration": DURATION,
                "warmup": WARMUP,
                "repeat": REPEAT,
                "connections": CONNECTIONS,
                "threads": THREADS,
                "codes_per_run": CODES_PER_RUN,
            },  # fmt: skip
        }
    )
