"""The devices app's public webhook events (see retail/webhooks/catalogue.py): device.offline (a
device stayed offline past the alert delay) and device.online (it came back after such an alert)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from devices.models import Device
from retail.webhooks.catalogue import ID, NULLABLE_TIME, EventType, data_schema, iso

UID = {"type": "string", "format": "uuid", "description": "The device's public id."}
DEVICE = {
    "device_id": ID,
    "uid": UID,
    "name": {"type": "string"},
    "store_id": ID,
    "kind": {"type": "string", "enum": Device.Kind.values},
    "last_seen_at": {**NULLABLE_TIME, "description": "The last time the device was heard from."},
    "offline_since": {**NULLABLE_TIME, "description": "When its connection was lost."},
}


def _device(brand_id: int, payload: dict) -> Device | None:
    return Device.objects.for_brand(brand_id).filter(pk=payload.get("device_id")).first()


def _data(device: Device) -> dict:
    return {
        "device_id": device.pk,
        "uid": str(device.uid),
        "name": device.name,
        "store_id": device.store_id,
        "kind": device.kind,
        "last_seen_at": iso(device.last_seen_at),
        "offline_since": iso(device.last_disconnected_at),
    }


def build_device_offline(brand_id: int, payload: dict) -> dict | None:
    device = _device(brand_id, payload)
    return None if device is None else _data(device)


def build_device_online(brand_id: int, payload: dict) -> dict | None:
    device = _device(brand_id, payload)
    if device is None:
        return None
    return {**_data(device), "online_since": iso(device.last_connected_at)}


EVENTS = [
    EventType(
        name="device.offline",
        source="device.offline",
        description=_(
            "A device lost its connection and has not come back within the alert delay (a few minutes)."
        ),
        schema=data_schema(DEVICE, title="device.offline"),
        build=build_device_offline,
    ),
    EventType(
        name="device.online",
        source="device.online",
        description=_("A device reported offline is connected again."),
        schema=data_schema(
            {**DEVICE, "online_since": {**NULLABLE_TIME, "description": "When it connected again."}},
            title="device.online",
        ),
        build=build_device_online,
    ),
]
