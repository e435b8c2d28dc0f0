"""Demo devices for `seed_demo`: in every demo store, a door and clock-in kiosk at the staff
entrance and a door terminal at the back door, both paired (their secrets are not kept: the
simulator pairs its own). Idempotent: a brand with devices is left alone."""

from __future__ import annotations

from devices import services
from devices.models import Device
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

DEVICES = [
    ("员工入口考勤门禁", "员工入口", Device.Kind.BOTH),
    ("后门门禁", "仓库后门", Device.Kind.DOOR),
]


def seed_devices(brand: Brand, stores: list[Store] | None = None) -> None:
    with brand_scope(brand):
        # for_brand: seed_demo runs with the RLS bypass on, where unfiltered managers see every brand.
        if Device.objects.for_brand(brand).exists():
            return
        admin = (
            Staff.objects.for_brand(brand)
            .filter(role=Staff.Role.BRAND_ADMIN, status=Staff.Status.ACTIVE)
            .order_by("pk")
            .first()
        )
        stores = stores if stores is not None else list(Store.objects.for_brand(brand).order_by("code"))
    if admin is None:
        return
    system = Actor.system()
    for store in sorted(stores, key=lambda s: s.code):
        for name, location, kind in DEVICES:
            _device, code = services.device_create(
                brand=brand,
                manager=admin,
                actor=system,
                store=store,
                data={"name": name, "location": location, "kind": kind},
            )
            services.device_pair(code=code, app_version="1.0.0", firmware_version="2.3.1")
