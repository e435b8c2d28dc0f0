"""Order events from the cloud store reach commission here, after their transaction commits."""

from cloudstore import events as order_events


def _paid(brand_id: int, order_id: int, data: dict) -> None:
    from guides import tasks

    tasks.attribute_order.delay(brand_id, order_id)


def _refunded(brand_id: int, order_id: int, data: dict) -> None:
    from guides import tasks

    tasks.clawback_order.delay(brand_id, order_id)


order_events.SUBSCRIBERS["order.paid"].append(_paid)
order_events.SUBSCRIBERS["order.refunded"].append(_refunded)
