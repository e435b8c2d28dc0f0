"""Django-side steps of the membership benchmark (bench/members_run.py runs them):

    python bench/members.py seed                      # 1,000,000 members in brand bench-a
    python bench/members.py codes OUT COUNT           # fresh member codes, one per line
    python bench/members.py queries '<sessions>'      # SQL queries per request
    python bench/members.py redeem-setup MEMBER_ID    # points for the member the redemptions hit
    python bench/members.py redeem-verify '<client figures>'
    python bench/members.py import-csv OUT ROWS       # the CSV to import, with expected counts
    python bench/members.py import-run CSV '<expected>'

Each prints one JSON document as its last stdout line. Runs with DATABASE_URL pointing at the
benchmark database only (refuses any other name), as the app's ordinary role.

Data formulas (the wrk scripts derive their random look-ups from them): member number
n = 0..N-1 has id n + 1, phone ``139`` + n as 8 digits and card ``VIP`` + n as 8 digits.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retail.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from seed import person_name  # noqa: E402

from members import codes, jobs, services  # noqa: E402
from members.models import (  # noqa: E402
    GuideBinding,
    Member,
    MemberIdentity,
    MemberJob,
    MemberTag,
    PointsEntry,
    Tag,
    Tier,
)
from retail.events import Actor  # noqa: E402
from retail.models import Brand, Staff, StaffStore  # noqa: E402
from retail.tenancy import brand_scope, rls_bypass  # noqa: E402

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


def out(data) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str), flush=True)


def check_database() -> None:
    name = settings.DATABASES["default"]["NAME"]
    if connection.vendor != "postgresql" or name != "retail_bench":
        sys.exit(f"bench/members.py: refusing database {name!r}: only retail_bench (PostgreSQL)")


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
    check_database()
    b = brand()
    n = N_MEMBERS
    timings = {}
    t_all = time.monotonic()
    with transaction.atomic(), rls_bypass(reason="bench seed members"):
        cur = connection.cursor()
        cur.execute("SELECT count(*) FROM members_member")
        if cur.fetchone()[0]:
            sys.exit("bench/members.py: members exist already; bench/members_run.py recreates the database")
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
    out(
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
    check_database()
    b = brand()
    rng = random.Random()
    t0 = time.monotonic()
    lines = [
        codes.member_code_issue(brand_id=b.pk, member_id=rng.randrange(N_MEMBERS) + 1) for _ in range(count)
    ]
    Path(path).write_text("\n".join(lines) + "\n")
    out({"codes": count, "seconds": round(time.monotonic() - t0, 2), "issued_at": time.time()})


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
    check_database()
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
    out(rows)


# --- concurrent redemptions ---------------------------------------------------------------------


def redeem_setup(member_id: int) -> None:
    """Give the redemption member EARN_LOTS lots of points through the service."""
    check_database()
    b = brand()
    with brand_scope(b):
        member = Member.objects.get(pk=member_id)
    for i, points in enumerate(EARN_LOTS):
        services.points_earn(
            brand=b, member=member, points=points, source=f"bench:redeem:{member_id}:earn:{i}"
        )
    with brand_scope(b):
        balance = Member.objects.get(pk=member_id).points_balance
    out(
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
    check_database()
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
        "ledger keys == keys answered 201": keys_ok == {f"api:{k}" for k in client_ok},
        "points spent == 201 answers x points": -sum(redeemed) == client["ok"] * REDEEM_POINTS,
        "balance == earned - spent": member.points_balance == earned + sum(redeemed),
        "every other answer 400 insufficient_points": client["refused"] == client["requests"] - client["ok"],
        "201 answers == redemptions that fit": client["ok"]
        == min(client["requests"], earned // REDEEM_POINTS),
        "replays answered 200 without a new entry": client.get("replays_ok", True),
        "points_reconcile() == []": bad == [],
    }
    out(
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
    check_database()
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
    out(
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
    check_database()
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
    out(
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


def main(argv: list[str]) -> None:
    cmd = argv[0] if argv else ""
    if cmd == "seed":
        seed()
    elif cmd == "codes":
        issue_codes(argv[1], int(argv[2]))
    elif cmd == "queries":
        queries(json.loads(argv[1]))
    elif cmd == "redeem-setup":
        redeem_setup(int(argv[1]))
    elif cmd == "redeem-verify":
        redeem_verify(json.loads(argv[1]))
    elif cmd == "import-csv":
        import_csv(argv[1], int(argv[2]))
    elif cmd == "import-run":
        import_run(argv[1], json.loads(argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
