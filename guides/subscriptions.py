"""Events from other apps reach guides here, after their transaction commits: order events for
commission, device alerts for the store's managers. Listed in settings.OUTBOX_SUBSCRIBERS; only
the payload is read (guides does not import the apps below that send them)."""

from guides import tasks
from guides.messaging import autoreply
from guides.messaging import tasks as chat_tasks


def on_order_paid(*, brand_id: int, name: str, payload: dict) -> None:
    tasks.attribute_order.delay(brand_id, payload["order_id"])


def on_order_refunded(*, brand_id: int, name: str, payload: dict) -> None:
    tasks.clawback_order.delay(brand_id, payload["order_id"])


def on_device_offline(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"device_id", "store_id", "name"}: a device stayed offline past the alert delay."""
    tasks.device_status_notify.delay(
        brand_id, payload["device_id"], payload.get("store_id"), payload.get("name", ""), False
    )


def on_device_online(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"device_id"}: a device reported offline is connected again."""
    tasks.device_status_notify.delay(brand_id, payload["device_id"], None, "", True)


def on_access_alert(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"device_id", "store_id", "name", "refusals", "minutes"}: faces or PINs were refused
    again and again at one device (attendance/kiosk.py, once per window)."""
    tasks.access_alert_notify.delay(brand_id, payload)


def on_punch_recorded(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"punch_id", "staff_id", "store_id", "source", "occurred_at", "offline"}: a punch was
    recorded once (attendance/records.py); the person is told (notification and push), and her chat's
    auto-reply sees that she clocked in or out at once."""
    autoreply.guide_changed(brand=brand_id, staff_id=payload["staff_id"])
    tasks.punch_notify.delay(brand_id, payload)


def on_face_duplicate(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"staff_id", "other_id", "staff", "other"}: an enrollment was refused because the face
    is already enrolled for another person (attendance/services.py); the brand's admins are told."""
    tasks.face_duplicate_notify.delay(brand_id, payload)


# --- messaging (guides/messaging/) ------------------------------------------------------------


def on_member_joined(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"member_id", "guide_id"}: the member's conversation is opened, with the brand's
    welcome message from their guide."""
    chat_tasks.member_joined.delay(brand_id, payload["member_id"], payload.get("guide_id"))


def on_member_guide_changed(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"member_ids", "guide_id", "previous_guide_id", "reason"}: the members are told who
    their new guide is."""
    chat_tasks.guide_changed.delay(brand_id, payload)


def on_staff_left(*, brand_id: int, name: str, payload: dict) -> None:
    """payload: {"staff_id"}: the person's chat sockets are closed (access is already gone: a
    conversation is only ever its member's current guide's)."""
    chat_tasks.staff_left.delay(brand_id, payload["staff_id"])
