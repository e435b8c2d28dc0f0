"""Create two demo brands with stores and staff of every role; safe to run again."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import import_string

from retail.models import Brand, Staff, StaffStore, Store, User
from retail.tenancy import rls_bypass

PASSWORD = "Retail#2026"

BRANDS = [
    {
        "slug": "yueyan",
        "name": "悦颜美妆",
        "stores": [
            ("SH001", "上海南京西路店", "上海市静安区南京西路1618号", "31.229200", "121.448800"),
            ("SH002", "上海徐家汇店", "上海市徐汇区虹桥路1号", "31.193900", "121.436800"),
            ("BJ001", "北京三里屯店", "北京市朝阳区三里屯路19号", "39.933700", "116.454600"),
        ],
        "staff": [
            ("yy_admin", "13800000001", "林雅", Staff.Role.BRAND_ADMIN, []),
            ("yy_manager", "13800000002", "陈晓", Staff.Role.STORE_MANAGER, ["SH001"]),
            ("yy_guide1", "13800000003", "王芳", Staff.Role.GUIDE, ["SH001"]),
            ("yy_guide2", "13800000004", "李娜", Staff.Role.GUIDE, ["SH002"]),
            ("yy_staff", "13800000005", "赵强", Staff.Role.STAFF, ["BJ001"]),
            ("promoter", "13900000009", "周敏", Staff.Role.GUIDE, ["SH002"]),
        ],
    },
    {
        "slug": "senhuo",
        "name": "森活超市",
        "stores": [
            ("HZ001", "杭州西湖店", "杭州市西湖区文三路259号", "30.278600", "120.130200"),
            ("HZ002", "杭州滨江店", "杭州市滨江区江南大道3850号", "30.209100", "120.211900"),
        ],
        "staff": [
            ("sh_admin", "13700000001", "孙磊", Staff.Role.BRAND_ADMIN, []),
            ("sh_manager", "13700000002", "吴静", Staff.Role.STORE_MANAGER, ["HZ001"]),
            ("sh_guide", "13700000003", "郑洁", Staff.Role.GUIDE, ["HZ001"]),
            ("sh_staff", "13700000004", "冯伟", Staff.Role.STAFF, ["HZ002"]),
            ("promoter", "13900000009", "周敏", Staff.Role.GUIDE, ["HZ001"]),
        ],
    },
]


class Command(BaseCommand):
    help = "Create two demo brands with stores and staff of every role and print their logins."

    def handle(self, *args, **options):
        logins: dict[str, list[str]] = {}
        with transaction.atomic(), rls_bypass(reason="seed_demo management command"):
            for spec in BRANDS:
                brand, _ = Brand.objects.get_or_create(slug=spec["slug"], defaults={"name": spec["name"]})
                stores = {}
                for code, name, address, lat, lng in spec["stores"]:
                    stores[code], _ = Store.unscoped.get_or_create(
                        brand=brand,
                        code=code,
                        defaults={
                            "name": name,
                            "address": address,
                            "latitude": Decimal(lat),
                            "longitude": Decimal(lng),
                        },
                    )
                for username, phone, name, role, store_codes in spec["staff"]:
                    user = User.objects.filter(username=username).first()
                    if user is None:
                        user = User(username=username, phone=phone, display_name=name)
                        user.set_password(PASSWORD)
                        user.save()
                    staff, _ = Staff.unscoped.get_or_create(
                        brand=brand,
                        user=user,
                        defaults={
                            "name": name,
                            "role": role,
                            "status": Staff.Status.ACTIVE,
                            "hired_on": datetime.date(2025, 3, 1),
                        },
                    )
                    for code in store_codes:
                        StaffStore.unscoped.get_or_create(brand=brand, staff=staff, store=stores[code])
                    logins.setdefault(f"{username} / {phone}", []).append(
                        f"{brand.name}: {staff.get_role_display()}"
                    )
                for path in settings.DEMO_SEEDERS["setup"]:
                    import_string(path)(brand, list(stores.values()))
            if not User.objects.filter(username="operator").exists():
                User.objects.create_superuser("operator", password=PASSWORD, display_name="Platform operator")
        # Members, orders and commission go through the services, each in its brand's own scope.
        for spec in BRANDS:
            brand = Brand.objects.get(slug=spec["slug"])
            for path in settings.DEMO_SEEDERS["activity"]:
                import_string(path)(brand)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Password for every login: " + PASSWORD))
        for login, roles in logins.items():
            self.stdout.write(f"  {login:28}  {'; '.join(roles)}")
        self.stdout.write("  operator                      platform operator (Django admin at /admin/)")
