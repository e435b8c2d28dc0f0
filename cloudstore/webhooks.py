"""The cloud store's public webhook events (see retail/webhooks/catalogue.py): order.paid and
order.refunded, built from the order in the transaction of the change."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from cloudstore.models import Order, OrderLine, Refund
from retail.phones import mask_phone
from retail.webhooks.catalogue import FEN, ID, NULLABLE_ID, NULLABLE_TIME, TIME, EventType, data_schema, iso

NULLABLE_TEXT = {"type": ["string", "null"]}

LINE_SCHEMA = {
    "type": "object",
    "properties": {
        "line_id": ID,
        "sku_id": ID,
        "sku_code": {"type": "string"},
        "name": {"type": "string"},
        "quantity": {"type": "integer", "minimum": 1},
        "unit_price_fen": FEN,
        "discount_fen": FEN,
    },
    "required": ["line_id", "sku_id", "sku_code", "name", "quantity", "unit_price_fen", "discount_fen"],
    "additionalProperties": False,
}

ORDER_PROPERTIES = {
    "order_id": ID,
    "number": {"type": "string"},
    "external_id": NULLABLE_TEXT,
    "channel": {"type": "string", "enum": list(Order.Channel.values)},
    "fulfilment": {"type": "string", "enum": list(Order.Fulfilment.values)},
    "store_id": NULLABLE_ID,
    "store_code": NULLABLE_TEXT,
    "member_id": NULLABLE_ID,
    "recipient_phone_masked": {
        **NULLABLE_TEXT,
        "description": "The recipient's phone, masked (138****0000).",
    },
    "subtotal_fen": FEN,
    "discount_fen": FEN,
    "shipping_fen": FEN,
    "total_fen": FEN,
    "paid_fen": FEN,
    "created_at": TIME,
    "paid_at": NULLABLE_TIME,
}


def _order(brand_id: int, order_id) -> Order | None:
    return Order.objects.for_brand(brand_id).select_related("store").filter(pk=order_id).first()


def _order_fields(order: Order) -> dict:
    return {
        "order_id": order.pk,
        "number": order.number,
        "external_id": order.external_id or None,
        "channel": order.channel,
        "fulfilment": order.fulfilment,
        "store_id": order.store_id,
        "store_code": order.store.code if order.store_id else None,
        "member_id": order.member_id,
        "recipient_phone_masked": mask_phone(order.phone) or None,
        "subtotal_fen": order.subtotal_fen,
        "discount_fen": order.discount_fen,
        "shipping_fen": order.shipping_fen,
        "total_fen": order.total_fen,
        "paid_fen": order.paid_fen,
        "created_at": iso(order.created_at),
        "paid_at": iso(order.paid_at),
    }


def build_order_paid(brand_id: int, payload: dict) -> dict | None:
    order = _order(brand_id, payload.get("order_id"))
    if order is None:
        return None
    lines = OrderLine.objects.for_brand(brand_id).filter(order=order).select_related("sku").order_by("id")
    return {
        **_order_fields(order),
        "lines": [
            {
                "line_id": line.pk,
                "sku_id": line.sku_id,
                "sku_code": line.sku.code,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price_fen": line.unit_price_fen,
                "discount_fen": line.discount_fen,
            }
            for line in lines
        ],
    }


def build_order_refunded(brand_id: int, payload: dict) -> dict | None:
    order = _order(brand_id, payload.get("order_id"))
    refund = Refund.objects.for_brand(brand_id).filter(pk=payload.get("refund_id"), order=order).first()
    if order is None or refund is None:
        return None
    return {
        "order_id": order.pk,
        "number": order.number,
        "external_id": order.external_id or None,
        "refund_id": refund.pk,
        "amount_fen": refund.amount_fen,
        "restock": refund.restock,
        "lines": [
            {"line_id": int(x["line"]), "sku_id": int(x["sku"]), "quantity": int(x["quantity"])}
            for x in refund.lines or []
        ],
        "order_paid_fen": order.paid_fen,
        "order_refunded_fen": order.refunded_fen,
        "created_at": iso(refund.created_at),
    }


EVENTS = [
    EventType(
        name="order.paid",
        source="order.paid",
        description=_("An order was paid (cloud store, or an order pushed through the API)."),
        schema=data_schema(
            {**ORDER_PROPERTIES, "lines": {"type": "array", "items": LINE_SCHEMA}}, title="order.paid"
        ),
        build=build_order_paid,
    ),
    EventType(
        name="order.refunded",
        source="order.refunded",
        description=_("Money of a paid order was refunded, in part or in full."),
        schema=data_schema(
            {
                "order_id": ID,
                "number": {"type": "string"},
                "external_id": NULLABLE_TEXT,
                "refund_id": ID,
                "amount_fen": FEN,
                "restock": {"type": "boolean"},
                "lines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "line_id": ID,
                            "sku_id": ID,
                            "quantity": {"type": "integer", "minimum": 1},
                        },
                        "required": ["line_id", "sku_id", "quantity"],
                        "additionalProperties": False,
                    },
                },
                "order_paid_fen": FEN,
                "order_refunded_fen": FEN,
                "created_at": TIME,
            },
            title="order.refunded",
        ),
        build=build_order_refunded,
    ),
]
