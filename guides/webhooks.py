"""Commission's public webhook events (see retail/webhooks/catalogue.py): order.attributed and
commission.statement_paid (from the internal statement.paid)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from cloudstore.models import Order
from guides.models import Attribution, Statement
from retail.webhooks.catalogue import FEN, ID, NULLABLE_ID, NULLABLE_TIME, TIME, EventType, data_schema, iso


def build_order_attributed(brand_id: int, payload: dict) -> dict | None:
    number = (
        Order.objects.for_brand(brand_id).filter(pk=payload.get("order")).values_list("number", flat=True)
    )
    number = number.first()
    if number is None:
        return None
    return {
        "order_id": int(payload["order"]),
        "order_number": number,
        "guide_id": payload.get("guide"),
        "store_id": payload.get("store"),
        "source": payload.get("source") or Attribution.Source.NONE,
        "excluded": payload.get("excluded") or None,
        "commission_fen": int(payload.get("commission_fen") or 0),
        "revision": int(payload.get("revision") or 1),
    }


def build_statement_paid(brand_id: int, payload: dict) -> dict | None:
    s = (
        Statement.objects.for_brand(brand_id)
        .select_related("period")
        .filter(pk=payload.get("statement"))
        .first()
    )
    if s is None:
        return None
    return {
        "statement_id": s.pk,
        "guide_id": s.guide_id,
        "period": {"label": s.period.label, "start": iso(s.period.start), "end": iso(s.period.end)},
        "orders": s.orders,
        "sales_fen": s.sales_fen,
        "earned_fen": s.earned_fen,
        "clawback_fen": s.clawback_fen,
        "total_fen": s.total_fen,
        "red_packet_id": s.packet_id,
        "paid_at": iso(s.paid_at),
    }


EVENTS = [
    EventType(
        name="order.attributed",
        source="order.attributed",
        description=_(
            "A paid order was credited to a guide (or to nobody), with its commission; "
            "sent again with a higher revision after a re-attribution."
        ),
        schema=data_schema(
            {
                "order_id": ID,
                "order_number": {"type": "string"},
                "guide_id": NULLABLE_ID,
                "store_id": NULLABLE_ID,
                "source": {"type": "string", "enum": list(Attribution.Source.values)},
                "excluded": {
                    "type": ["string", "null"],
                    "enum": [v for v in Attribution.Excluded.values if v] + [None],
                },
                "commission_fen": FEN,
                "revision": {"type": "integer", "minimum": 1},
            },
            title="order.attributed",
        ),
        build=build_order_attributed,
    ),
    EventType(
        name="commission.statement_paid",
        source="statement.paid",
        description=_("A guide's commission statement was paid out."),
        schema=data_schema(
            {
                "statement_id": ID,
                "guide_id": ID,
                "period": {
                    "type": "object",
                    "properties": {"label": {"type": "string"}, "start": TIME, "end": TIME},
                    "required": ["label", "start", "end"],
                    "additionalProperties": False,
                },
                "orders": {"type": "integer", "minimum": 0},
                "sales_fen": FEN,
                "earned_fen": FEN,
                "clawback_fen": FEN,
                "total_fen": FEN,
                "red_packet_id": NULLABLE_ID,
                "paid_at": NULLABLE_TIME,
            },
            title="commission.statement_paid",
        ),
        build=build_statement_paid,
    ),
]
