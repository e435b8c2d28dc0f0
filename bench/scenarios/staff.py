"""Staff endpoints: 2 brands x 200 stores x 5,000 staff; SQL queries per request at two page
sizes; wrk against the health check, the staff API, the guide's home page and the dashboard.

Tunables: BENCH_DURATION (20s), BENCH_REPEAT (3), BENCH_CONNECTIONS (16), BENCH_THREADS (2),
BENCH_STORES (200), BENCH_STAFF (5000). The seed is also the base of the members, cloud store and
red packet scenarios.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.harness.fixtures import login_session
from bench.harness.load import wrk_series
from bench.harness.proc import emit, log, step
from bench.harness.runs import Run
from bench.harness.servers import http_status, server_cmd_text, start_server, stop_group
from retail.models import Brand, Staff, StaffStore, Store, User
from retail.tenancy import rls_bypass

THREADS = int(os.environ.get("BENCH_THREADS", 2))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 16))
DURATION = os.environ.get("BENCH_DURATION", "20s")
WARMUP = "3s"
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))

ENDPOINTS = [
    # (label, session role or None, path)
    ("health check (no session, baseline)", None, "/healthz"),
    ("API staff list, page_size=50 (brand admin)", "brand_admin", "/api/v1/staff/?page_size=50"),
    ("staff home page /m/ (guide)", "guide", "/m/"),
    ("dashboard staff list (brand admin)", "brand_admin", "/dashboard/staff/"),
]
QUERY_CASES = [
    ("brand_admin", "/api/v1/staff/?page_size=50"),
    ("brand_admin", "/api/v1/staff/?page_size=200"),
    ("store_manager", "/api/v1/staff/?page_size=50"),
    ("store_manager", "/api/v1/staff/?page_size=200"),
    ("brand_admin", "/api/v1/stores/?page_size=50"),
    ("brand_admin", "/api/v1/stores/?page_size=200"),
    ("guide", "/m/"),
    ("brand_admin", "/dashboard/staff/"),
    ("brand_admin", "/dashboard/staff/?page=40"),
]

# --- seed ---------------------------------------------------------------------------------------

BRANDS = [("bench-a", "基准品牌甲", "150"), ("bench-b", "基准品牌乙", "151")]
STORES_PER_BRAND = int(os.environ.get("BENCH_STORES", 200))
STAFF_PER_BRAND = int(os.environ.get("BENCH_STAFF", 5000))
PASSWORD = "Retail#2026"
BATCH = 2000
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉玲燕"
CITIES = ["上海", "北京", "杭州", "广州", "深圳", "成都", "南京", "武汉", "西安", "苏州"]


def person_name(i: int) -> str:
    return (
        SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)] + GIVEN[(i * 7) % len(GIVEN)]
    )


def seed_brand(slug: str, name: str, phone_prefix: str, password_hash: str) -> dict:
    brand = Brand.objects.create(slug=slug, name=name)
    stores = Store.unscoped.bulk_create(
        [
            Store(
                brand=brand,
                code=f"S{n:04d}",
                name=f"{CITIES[n % len(CITIES)]}{n:03d}号店",
                address=f"{CITIES[n % len(CITIES)]}市中山路{n}号",
                latitude=Decimal("31.229200") + Decimal(n) / 1000,
                longitude=Decimal("121.448800") + Decimal(n) / 1000,
            )
            for n in range(1, STORES_PER_BRAND + 1)
        ],
        batch_size=BATCH,
    )
    users = User.objects.bulk_create(
        [
            User(
                username=f"{slug}-{i:05d}",
                phone=f"{phone_prefix}{i:08d}",
                display_name=person_name(i),
                password=password_hash,
            )  # fmt: skip
            for i in range(STAFF_PER_BRAND)
        ],
        batch_size=BATCH,
    )

    def role(i: int) -> str:
        if i == 0:
            return Staff.Role.BRAND_ADMIN
        if i <= STORES_PER_BRAND:  # one manager per store
            return Staff.Role.STORE_MANAGER
        return Staff.Role.STAFF if i % 10 == 0 else Staff.Role.GUIDE

    def status(i: int) -> str:
        return Staff.Status.INVITED if i > STORES_PER_BRAND and i % 50 == 0 else Staff.Status.ACTIVE

    hired = datetime.date(2025, 3, 1)
    staff = Staff.unscoped.bulk_create(
        [
            Staff(
                brand=brand,
                user=u,
                name=u.display_name,
                employee_no=f"E{i:06d}",
                role=role(i),
                status=status(i),
                hired_on=hired,
            )  # fmt: skip
            for i, u in enumerate(users)
        ],
        batch_size=BATCH,
    )
    # Every staff member works in exactly one store; store managers in "their" store.
    StaffStore.unscoped.bulk_create(
        [
            StaffStore(brand=brand, staff=s, store=stores[(i - 1) % STORES_PER_BRAND if i else 0])
            for i, s in enumerate(staff)
        ],
        batch_size=BATCH,
    )
    guide = next(s for s in staff if s.role == Staff.Role.GUIDE and s.status == "active")
    return {"brand": brand, "admin": staff[0], "manager": staff[1], "guide": guide}


def seed() -> None:
    """2 brands x STORES_PER_BRAND stores x STAFF_PER_BRAND staff with bulk inserts inside one
    audited RLS bypass, ANALYZE, then login sessions for the benchmark clients."""
    if Brand.objects.exists():
        sys.exit("bench: the database already has brands; the runner recreates it")
    t0 = time.monotonic()
    password_hash = make_password(PASSWORD)  # hashed once, shared by every bench user
    with transaction.atomic(), rls_bypass(reason="bench seed"):
        seeded = [seed_brand(slug, name, prefix, password_hash) for slug, name, prefix in BRANDS]
    seconds = time.monotonic() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    first = seeded[0]
    with rls_bypass(reason="bench sessions"):
        emit(
            {
                "seed_seconds": round(seconds, 2),
                "brands": len(seeded),
                "stores_per_brand": STORES_PER_BRAND,
                "staff_per_brand": STAFF_PER_BRAND,
                "counts": {
                    "stores": Store.unscoped.count(),
                    "staff": Staff.unscoped.count(),
                    "staff_store_links": StaffStore.unscoped.count(),
                    "users": User.objects.count(),
                },
                "sessions": {k: login_session(first[r]) for k, r in SESSION_ROLES.items()},
                "users": {k: first[r].user.username for k, r in SESSION_ROLES.items()},
            }
        )


SESSION_ROLES = {"brand_admin": "admin", "store_manager": "manager", "guide": "guide"}


def seed_staff(run: Run) -> dict:
    """The staff data set, for this and the other scenarios on retail_bench."""
    seeded = step("staff", "seed", timeout=900, env=run.env)
    log(f"staff seeded in {seeded['seed_seconds']} s: {seeded['counts']}")
    return seeded


# --- measure ------------------------------------------------------------------------------------


def queries(sessions: str) -> None:
    """SQL queries per request (test client, second request), at two page sizes."""
    import json

    sessions_ = json.loads(sessions)
    out = []
    for role, path in QUERY_CASES:
        client = Client(raise_request_exception=False)
        client.cookies[settings.SESSION_COOKIE_NAME] = sessions_[role]
        client.get(path)  # warm caches (templates, permissions) so the count is the steady state
        with CaptureQueriesContext(connection) as ctx:
            try:
                response = client.get(path)
                status, error = response.status_code, ""
                rows = (
                    len(response.json().get("results", []))
                    if status == 200 and path.startswith("/api/")
                    else None
                )
            except Exception as exc:  # a page whose template has not landed yet, say
                status, error, rows = 500, f"{type(exc).__name__}: {exc}"[:200], None
        out.append(
            {"path": path, "status": status, "queries": len(ctx), "rows": rows, "error": error, "as": role}
        )
    emit(out)


STEPS = {"seed": seed, "queries": queries}


def run(run: Run) -> dict:
    import json

    run.prepare()
    seeded = seed_staff(run)
    sessions = seeded.pop("sessions")
    counted = run.step("queries", json.dumps(sessions), timeout=300)
    for q in counted:
        log(f"queries {q['as']:>13} GET {q['path']}: {q['queries']} (status {q['status']}) {q['error']}")
    server = start_server(run.env)
    http = []
    try:
        for label, role, path in ENDPOINTS:
            session = sessions[role] if role else None
            status = http_status(path, session)
            entry = {"label": label, "as": role, "path": path, "status": status}
            if status != 200:
                entry["skipped"] = f"HTTP {status} before the run"
                log(f"skip GET {path}: HTTP {status}")
            else:
                entry.update(
                    wrk_series(
                        path,
                        session,
                        repeat=REPEAT,
                        duration=DURATION,
                        warmup=WARMUP,
                        server_pgid=server.pid,
                        threads=THREADS,
                        connections=CONNECTIONS,
                    )  # fmt: skip
                )
                if session:
                    entry["cmd"] = [c.replace(session, "<session key>") for c in entry["cmd"]]
            http.append(entry)
    finally:
        stop_group(server)
    return run.finish(
        {
            "machine": run.machine(),
            "database": run.db,
            "seed": seeded,
            "queries": counted,
            "http": http,
            "env": {k: v for k, v in run.env_vars.items() if v},
            "server_cmd": server_cmd_text(),
            "settings": {
                "threads": THREADS,
                "connections": CONNECTIONS,
                "duration": DURATION,
                "warmup": WARMUP,
                "repeat": REPEAT,
            },  # fmt: skip
        }
    )
