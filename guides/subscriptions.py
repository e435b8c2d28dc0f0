"""Order events from the cloud store reach commission here, after their transaction commits.
Listed in settings.OUTBOX_SUBSCRIBERS."""

from guides import tasks


def on_order_paid(*, brand_id: int, name: str, payload: dict) -> None:
    tasks.attribute_order.delay(brand_id, payload["order_id"])


def on_order_refunded(*, brand_id: int, name: str, payload: dict) -> None:
    tasks.clawback_order.delay(brand_id, payload["order_id"])
