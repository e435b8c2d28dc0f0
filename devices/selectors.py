"""Every non-trivial read of devices, scoped by brand and by the stores the viewer manages."""

from __future__ import annotations

import hashlib
import json

from django.db.models import Count, Q, QuerySet

from devices.models import Device, DeviceCommand, DeviceEvent
from retail import roles
from retail.models import Brand, Staff
from retail.tenancy import get_for_brand_or_404, within_brand


def device_list(
    *, brand: Brand, viewer: Staff, store_id=None, status: str = "", kind: str = "", q: str = ""
) -> QuerySet[Device]:
    """Devices in the stores the viewer may see (all for a brand admin), store loaded."""
    qs = Device.objects.for_brand(brand).select_related("store")
    if not roles.sees_all_stores(viewer):
        qs = qs.filter(store_id__in=roles.store_ids(viewer))
    if store_id:
        qs = qs.filter(store_id=store_id)
    if status == "disabled":
        qs = qs.filter(enabled=False)
    elif status:
        qs = qs.filter(enabled=True, status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(location__icontains=q))
    return qs.order_by("store__code", "name", "id")


def device_get(*, brand: Brand, viewer: Staff, device_id) -> Device:
    return get_for_brand_or_404(device_list(brand=brand, viewer=viewer), brand, pk=device_id)


def device_counts(*, brand: Brand, viewer: Staff) -> dict:
    """How many of the viewer's devices are online, offline, not paired and disabled."""
    qs = device_list(brand=brand, viewer=viewer)
    return qs.aggregate(
        total=Count("id"),
        online=Count("id", filter=Q(enabled=True, status=Device.Status.ONLINE)),
        offline=Count("id", filter=Q(enabled=True, status=Device.Status.OFFLINE)),
        unpaired=Count("id", filter=Q(enabled=True, status=Device.Status.UNPAIRED)),
        disabled=Count("id", filter=Q(enabled=False)),
    )


def device_event_list(*, brand: Brand, device: Device | None = None, type: str = "") -> QuerySet[DeviceEvent]:
    qs = DeviceEvent.objects.for_brand(brand).select_related("device")
    if device is not None:
        qs = qs.filter(device=device)
    if type:
        qs = qs.filter(type=type)
    return qs.order_by("-occurred_at", "-id")


def device_command_list(*, brand: Brand, device: Device) -> QuerySet[DeviceCommand]:
    return DeviceCommand.objects.for_brand(brand).filter(device=device).select_related("created_by")


def staff_for_device(*, brand_id: int, store_id: int) -> tuple[str, list[dict]]:
    """The active people of the device's store, and a version that changes when the list does."""
    with within_brand(brand_id):
        rows = list(
            Staff.objects.for_brand(brand_id)
            .filter(store_links__store_id=store_id, status=Staff.Status.ACTIVE)
            .order_by("id")
            .values("id", "name", "employee_no")
        )
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]
    return digest, rows
