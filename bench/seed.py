"""Seed the benchmark database: 2 brands x 200 stores x 5,000 staff (each with a user and one
store link), fast, with bulk inserts inside one audited RLS bypass. Then create login
sessions for the benchmark clients and print them as JSON on stdout.

Run by bench/run.py with DATABASE_URL pointing at the benchmark database (never the test
database); refuses to seed a database that already holds brands.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retail.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from retail.middleware import SESSION_BRAND_KEY  # noqa: E402
from retail.models import Brand, Staff, StaffStore, Store, User  # noqa: E402
from retail.tenancy import rls_bypass  # noqa: E402

BRANDS = [("bench-a", "基准品牌甲", "150"), ("bench-b", "基准品牌乙", "151")]
STORES_PER_BRAND = int(os.environ.get("BENCH_STORES", 200))
STAFF_PER_BRAND = int(os.environ.get("BENCH_STAFF", 5000))
PASSWORD = "Retail#2026"
BATCH = 2000
BACKEND = "retail.auth_backends.PhoneOrUsernameBackend"

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
            )
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
        if i > STORES_PER_BRAND and i % 50 == 0:
            return Staff.Status.INVITED
        return Staff.Status.ACTIVE

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
            )
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
    guide = next(s for i, s in enumerate(staff) if s.role == Staff.Role.GUIDE and s.status == "active")
    return {"brand": brand, "admin": staff[0], "manager": staff[1], "guide": guide}


def login_session(staff: Staff) -> str:
    """A logged-in session with the staff member's brand picked, as the login view leaves it."""
    session = SessionStore()
    session["_auth_user_id"] = str(staff.user.pk)
    session["_auth_user_backend"] = BACKEND
    session["_auth_user_hash"] = staff.user.get_session_auth_hash()
    session[SESSION_BRAND_KEY] = staff.brand_id
    session.create()
    return session.session_key


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench/seed.py: DATABASE_URL must point at PostgreSQL")
    if Brand.objects.exists():
        sys.exit("bench/seed.py: the database already has brands; bench/run.py recreates it")
    t0 = time.monotonic()
    password_hash = make_password(PASSWORD)  # hashed once, shared by every bench user
    with transaction.atomic(), rls_bypass(reason="bench seed"):
        seeded = [seed_brand(slug, name, prefix, password_hash) for slug, name, prefix in BRANDS]
    seconds = time.monotonic() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    first = seeded[0]
    with rls_bypass(reason="bench sessions"):
        out = {
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
            "sessions": {
                "brand_admin": login_session(first["admin"]),
                "store_manager": login_session(first["manager"]),
                "guide": login_session(first["guide"]),
            },
            "users": {
                "brand_admin": first["admin"].user.username,
                "store_manager": first["manager"].user.username,
                "guide": first["guide"].user.username,
            },
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
