"""Commission events: written to ``guides.Event`` in the transaction of the change (ready for
webhooks) and emitted through the outbox (retail/outbox.py) to their subscribers after commit.

Names: ``order.attributed`` (also after a re-attribution, with its revision),
``orders.attributed`` (a batch of a historic import: its order id range and counts),
``commission.clawed_back``, ``statement.approved``, ``statement.paid``."""

from __future__ import annotations

import datetime

from django.utils import timezone

from guides.models import Event
from retail import outbox
from retail.bulk import insert_rows
from retail.models import Brand


def order_attributed_row(
    *,
    brand: Brand,
    order_id: int,
    guide_id: int | None,
    source: str,
    excluded: str,
    store_id: int | None,
    commission_fen: int,
    at: datetime.datetime,
    revision: int = 1,
) -> dict:
    return {
        "brand_id": brand.pk,
        "name": "order.attributed",
        "data": {
            "order": order_id,
            "guide": guide_id,
            "source": source,
            "excluded": excluded,
            "store": store_id,
            "commission_fen": commission_fen,
            "revision": revision,
        },
        "created_at": at,
    }


def orders_attributed_row(
    *,
    brand: Brand,
    first_order: int,
    last_order: int,
    orders: int,
    credited: int,
    commission_fen: int,
    at: datetime.datetime,
) -> dict:
    return {
        "brand_id": brand.pk,
        "name": "orders.attributed",
        "data": {
            "first_order": first_order,
            "last_order": last_order,
            "orders": orders,
            "credited": credited,
            "commission_fen": commission_fen,
        },
        "created_at": at,
    }


def write_rows(rows: list[dict]) -> None:
    """Write many events in one statement (COPY on PostgreSQL) and emit them."""
    insert_rows(Event, rows)
    outbox.emit_many((row["brand_id"], row["name"], row["data"]) for row in rows)


def _one(brand: Brand, name: str, data: dict) -> Event:
    ev = Event.objects.create(brand=brand, name=name, data=data, created_at=timezone.now())
    outbox.emit(brand_id=brand.pk, name=name, payload=data)
    return ev


def commission_clawed_back(*, brand: Brand, attribution, amount_fen: int) -> Event:
    return _one(
        brand,
        "commission.clawed_back",
        {"order": attribution.order_id, "guide": attribution.guide_id, "amount_fen": amount_fen},
    )


def statements_approved(*, brand: Brand, period, statements: list) -> None:
    now = timezone.now()
    write_rows(
        [
            {
                "brand_id": brand.pk,
                "name": "statement.approved",
                "data": {
                    "statement": s.pk,
                    "period": period.label,
                    "guide": s.guide_id,
                    "total_fen": s.total_fen,
                    "status": s.status,
                },
                "created_at": now,
            }
            for s in statements
        ]
    )


def statements_paid(*, brand: Brand, statements: list) -> None:
    now = timezone.now()
    write_rows(
        [
            {
                "brand_id": brand.pk,
                "name": "statement.paid",
                "data": {
                    "statement": s.pk,
                    "guide": s.guide_id,
                    "total_fen": s.total_fen,
                    "red_packet": s.packet_id,
                },
                "created_at": now,
            }
            for s in statements
        ]
    )
