# ruff: noqa: E501
"""A mass message (群发) to 100,000 members with the monthly cap applied (issue 17: ≤ 60 s).

Not part of `make bench`: `python -m bench messaging_mass` (about 2 minutes; `--quick`: 10,000
members). Steps, each its own process:

1. ``seed``: recreates **`retail_bench_messaging_mass`** (``BENCH_MESSAGING_MASS_DATABASE_URL``),
   migrates, then one brand with ``BENCH_MASS_STORES`` (10) stores, ``BENCH_MASS_GUIDES`` (100)
   guides and a brand admin, and ``BENCH_MASS_MEMBERS`` (100,000) members, set-based SQL in one
   audited ``rls_bypass``: member m's guide is ((m - 1) % GUIDES) + 1; m % 10 = 0 has no marketing
   consent (muted); m % 10 = 1 already had the month's 4 mass messages (capped); m % 10 = 2 had 3
   (one left); odd members already have a conversation (with a message), even ones none. Then
   ``VACUUM (ANALYZE)``.
2. ``send``: the brand admin creates a broadcast to every member (``broadcasts.broadcast_create``,
   send at a later time so nothing is queued), then ``broadcasts.broadcast_send`` runs it in this
   process exactly as the Celery task ``guides.messaging.tasks.broadcast_send`` does: the claim, the
   batches of ``BATCH`` members (the cap statement, conversations, messages, conversation updates,
   statistics) — timed from the call to its return. Then a second broadcast the same way (the cap
   now stops the members at 4). The live-delivery follow-up tasks go to the broker (Redis
   database 15, flushed first) and are not run.
3. ``verify``: messages per broadcast = its ``sent``; no member's quota above the cap; every
   recipient has one conversation; ``member_unread`` of a recipient = the messages it got.
"""

from __future__ import annotations

import os
import time

from bench.harness.cpu import wait_for_quiet
from bench.harness.proc import emit, log
from bench.harness.runs import Run

BRAND = "bench-mass"
MEMBERS = int(os.environ.get("BENCH_MASS_MEMBERS", "100000"))
GUIDES = int(os.environ.get("BENCH_MASS_GUIDES", "100"))
STORES = int(os.environ.get("BENCH_MASS_STORES", "10"))
CAP = 4
LIMIT_SECONDS = 60

SEED_SQL = """
INSERT INTO retail_store (id, brand_id, code, name, address, latitude, longitude, geofence_radius_m,
                          timezone, opens_at, closes_at, status, created_at)
SELECT s, @BRAND@, 'S' || lpad(s::text, 4, '0'), '门店 ' || s, '', NULL, NULL, 300,
       'Asia/Shanghai', '10:00', '22:00', 'open', '@NOW@'::timestamptz - interval '3 years'
FROM generate_series(1, @STORES@) s;

INSERT INTO retail_user (id, password, last_login, is_superuser, username, first_name, last_name, email,
                         is_staff, is_active, date_joined, phone, display_name, language)
SELECT u, '!', NULL, false, 'bm' || lpad(u::text, 6, '0'), '', '', '', false, true,
       '@NOW@'::timestamptz - interval '2 years', '138' || lpad(u::text, 8, '0'), '', ''
FROM generate_series(1, @GUIDES@ + 1) u;

INSERT INTO retail_staff (id, brand_id, user_id, name, employee_no, role, status, kind, hired_on, left_on, created_at)
SELECT u, @BRAND@, u, CASE WHEN u > @GUIDES@ THEN '品牌管理员' ELSE '导购 ' || u END,
       CASE WHEN u > @GUIDES@ THEN 'A00001' ELSE 'G' || lpad(u::text, 5, '0') END,
       CASE WHEN u > @GUIDES@ THEN 'brand_admin' ELSE 'guide' END, 'active', 'person', NULL, NULL,
       '@NOW@'::timestamptz - interval '2 years'
FROM generate_series(1, @GUIDES@ + 1) u;

INSERT INTO retail_staffstore (brand_id, staff_id, store_id)
SELECT @BRAND@, g, ((g - 1) % @STORES@) + 1 FROM generate_series(1, @GUIDES@) g;

INSERT INTO members_member (id, brand_id, name, gender, birthday, status, points_balance, qualifying_spend_fen,
                            marketing_consent, joined_at, last_purchase_at, erased_at, guide_id, join_guide_id,
                            join_store_id, merged_into_id, tier_id)
SELECT m, @BRAND@, '会员 ' || m, '', NULL, 'active', 0, 0, m % 10 <> 0,
       '@NOW@'::timestamptz - interval '400 days', '@NOW@'::timestamptz - (m % 365) * interval '1 day', NULL,
       ((m - 1) % @GUIDES@) + 1, ((m - 1) % @GUIDES@) + 1, ((((m - 1) % @GUIDES@)) % @STORES@) + 1, NULL, NULL
FROM generate_series(1, @MEMBERS@) m;

INSERT INTO guides_massquota (brand_id, member_id, month, count)
SELECT @BRAND@, m, '@MONTH@'::date, CASE WHEN m % 10 = 1 THEN 4 ELSE 3 END
FROM generate_series(1, @MEMBERS@) m WHERE m % 10 IN (1, 2);

INSERT INTO guides_conversation (id, brand_id, member_id, status, last_message_at, last_preview, last_sender,
                                 guide_unread, member_unread, guide_read_upto, member_read_upto,
                                 member_delivered_upto, auto_reply_key, blocked_at, blocked_by_id,
                                 last_notice_at, created_at)
SELECT (m + 1) / 2, @BRAND@, m, 'open', '@NOW@'::timestamptz - interval '1 day', '你好', 'member',
       1, 0, 0, (m + 1) / 2, (m + 1) / 2, '', NULL, NULL, NULL, '@NOW@'::timestamptz - interval '30 days'
FROM generate_series(1, @MEMBERS@) m WHERE m % 2 = 1;

INSERT INTO guides_message (id, brand_id, conversation_id, sender, staff_id, kind, body, data, image,
                            files_expire_at, client_id, broadcast_id, created_at)
SELECT (m + 1) / 2, @BRAND@, (m + 1) / 2, 'member', NULL, 'text', '你好', '{}'::jsonb, '', NULL, '', NULL,
       '@NOW@'::timestamptz - interval '1 day'
FROM generate_series(1, @MEMBERS@) m WHERE m % 2 = 1;

INSERT INTO guides_messagingsettings (brand_id, welcome_template, auto_reply_text, mass_cap, banned_words,
                                      shopper_per_minute, notice_every_minutes, outbound_channel, updated_at)
VALUES (@BRAND@, '您好，我是{guide}', '稍后回复您', @CAP@, '', 20, 240, 'sms', '@NOW@');
"""
SEQUENCED = [
    "retail_store",
    "retail_user",
    "retail_staff",
    "members_member",
    "guides_conversation",
    "guides_message",
]


def seed() -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from guides.messaging.broadcast_selectors import quota_month
    from retail.models import Brand
    from retail.tenancy import rls_bypass

    now = timezone.now().replace(microsecond=0)
    t0 = time.monotonic()
    with transaction.atomic(), rls_bypass(reason="bench seed messaging_mass"):
        b = Brand.objects.create(slug=BRAND, name="群发基准品牌")
        sql = SEED_SQL
        for k, v in {
            "@BRAND@": b.pk,
            "@NOW@": now.isoformat(),
            "@MONTH@": quota_month(now).isoformat(),
            "@STORES@": STORES,
            "@GUIDES@": GUIDES,
            "@MEMBERS@": MEMBERS,
            "@CAP@": CAP,
        }.items():
            sql = sql.replace(k, str(v))
        with connection.cursor() as cur:
            cur.execute(sql)  # values written in above: no parameters
            for table in SEQUENCED:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
    seeded = round(time.monotonic() - t0, 1)
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
    emit({"seed_seconds": seeded, "members": MEMBERS, "guides": GUIDES, "stores": STORES})


def send(label: str) -> None:
    import datetime

    from django.utils import timezone

    from guides.messaging import broadcasts
    from retail.models import Brand, Staff
    from retail.tenancy import brand_scope

    brand = Brand.objects.get(slug=BRAND)
    with brand_scope(brand):
        admin = Staff.objects.for_brand(brand).get(role=Staff.Role.BRAND_ADMIN)
    b = broadcasts.broadcast_create(
        brand=brand,
        staff=admin,
        actor=None,
        guide_only=False,
        body=f"会员日{label}：全场护肤品满 500 减 80",
        send_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    with brand_scope(brand):  # due now, as the beat's sweep would find it
        type(b).objects.filter(pk=b.pk).update(send_at=timezone.now())
    t = time.perf_counter()
    done = broadcasts.broadcast_send(brand=brand, broadcast_id=b.pk)
    seconds = time.perf_counter() - t
    emit(
        {
            "broadcast": b.pk,
            "seconds": round(seconds, 2),
            "status": done.status,
            "matched": done.matched,
            "sent": done.sent,
            "skipped_cap": done.skipped_cap,
            "skipped_muted": done.skipped_muted,
            "batch": broadcasts.BATCH,
        }
    )


def verify() -> None:
    from django.db.models import Count, Max

    from guides.messaging.models import Broadcast, Conversation, MassQuota, Message
    from retail.models import Brand
    from retail.tenancy import brand_scope

    brand = Brand.objects.get(slug=BRAND)
    with brand_scope(brand):
        per_broadcast = {
            b.pk: (b.sent, Message.objects.filter(broadcast=b).count())
            for b in Broadcast.objects.order_by("pk")
        }
        max_count = MassQuota.objects.aggregate(m=Max("count"))["m"]
        over = MassQuota.objects.filter(count__gt=CAP).count()
        convs_per_member = (
            Conversation.objects.values("member_id").annotate(n=Count("pk")).filter(n__gt=1).count()
        )
        got = dict(
            Message.objects.filter(broadcast__isnull=False)
            .values("conversation_id")
            .annotate(n=Count("pk"))
            .values_list("conversation_id", "n")
        )
        unread = dict(Conversation.objects.filter(pk__in=list(got)).values_list("pk", "member_unread"))
        wrong_unread = sum(1 for c, n in got.items() if unread.get(c) != n)
    ok = (
        all(s == n for s, n in per_broadcast.values())
        and not over
        and not convs_per_member
        and not wrong_unread
    )
    emit(
        {
            "ok": ok,
            "per_broadcast": {str(k): {"sent": s, "messages": n} for k, (s, n) in per_broadcast.items()},
            "max_quota": max_count,
            "quota_over_cap": over,
            "members_with_two_conversations": convs_per_member,
            "recipients_with_wrong_unread": wrong_unread,
        }
    )


STEPS = {"seed": seed, "send": send, "verify": verify}


def run(run: Run) -> dict:
    t = time.monotonic()
    db = run.prepare()
    log(f"migrated in {time.monotonic() - t:.0f} s")
    seeded = run.step("seed", timeout=900)
    log(f"seeded {seeded['members']} members in {seeded['seed_seconds']} s")
    sends = []
    for label in ("一", "二"):
        busy = wait_for_quiet()
        r = run.step("send", label, timeout=900)
        r["machine_busy_before"] = round(busy, 2)
        log(
            f"broadcast {label}: {r['seconds']} s, matched {r['matched']}, sent {r['sent']}, "
            f"skipped cap {r['skipped_cap']}, muted {r['skipped_muted']}"
        )
        sends.append(r)
    checks = run.step("verify", timeout=600)
    log(f"verify: {'ok' if checks['ok'] else 'FAILED'}")
    return run.finish(
        {
            "machine": run.machine(),
            "db": db,
            "members": MEMBERS,
            "guides": GUIDES,
            "cap": CAP,
            "limit_seconds": LIMIT_SECONDS,
            "seed": seeded,
            "sends": sends,
            "verify": checks,
        }
    )
