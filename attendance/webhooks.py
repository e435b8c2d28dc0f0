"""The attendance app's public webhook events (see retail/webhooks/catalogue.py): punch.recorded
(a clock-in or clock-out was recorded once, however it was made). Never face data, never a
punch's coordinates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from attendance.models import Punch
from retail.webhooks.catalogue import ID, NULLABLE_ID, TIME, EventType, data_schema, iso

PUNCH = {
    "punch_id": ID,
    "staff_id": ID,
    "employee_no": {"type": "string", "description": "The person's employee number (may be empty)."},
    "store_id": ID,
    "device_id": {**NULLABLE_ID, "description": "The kiosk or door device; null for a phone punch."},
    "source": {"type": "string", "enum": Punch.Source.values, "description": "How the punch was made."},
    "occurred_at": {**TIME, "description": "When the punch was made."},
    "received_at": {**TIME, "description": "When the server stored it."},
    "offline": {"type": "boolean", "description": "Sent by a device after reconnecting."},
    "face_checked": {"type": "boolean", "description": "The person's face was matched for it."},
}


def build_punch_recorded(brand_id: int, payload: dict) -> dict | None:
    punch = (
        Punch.objects.for_brand(brand_id).select_related("staff").filter(pk=payload.get("punch_id")).first()
    )
    if punch is None:
        return None
    return {
        "punch_id": punch.pk,
        "staff_id": punch.staff_id,
        "employee_no": punch.staff.employee_no or "",
        "store_id": punch.store_id,
        "device_id": punch.device_id,
        "source": punch.source,
        "occurred_at": iso(punch.occurred_at),
        "received_at": iso(punch.received_at),
        "offline": punch.offline,
        "face_checked": punch.face_checked,
    }


EVENTS = [
    EventType(
        name="punch.recorded",
        source="punch.recorded",
        description=_(
            "A staff member's punch (clock-in or clock-out) was recorded: at a kiosk, a door or on "
            "a phone, with the face, a PIN or a card; a device's offline punch when it arrives."
        ),
        schema=data_schema(PUNCH, title="punch.recorded"),
        build=build_punch_recorded,
    ),
]
