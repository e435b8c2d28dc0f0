"""Inventory API: a store's stock and prices, and bulk stock updates by code."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from cloudstore import selectors
from cloudstore.models import Inventory
from cloudstore.services import inventory
from retail import filters, roles
from retail.api_base import BrandAPIView, PayloadTooLarge
from retail.events import Actor
from retail.models import Store
from retail.parsers import load_json


class InventorySerializer(serializers.ModelSerializer):
    store = serializers.CharField(source="store.code")
    sku = serializers.CharField(source="sku.code")
    available = serializers.IntegerField(read_only=True)
    effective_price_fen = serializers.SerializerMethodField()
    low = serializers.BooleanField(source="is_low", read_only=True)

    class Meta:
        model = Inventory
        fields = [
            "store",
            "sku",
            "on_hand",
            "reserved",
            "available",
            "price_fen",
            "effective_price_fen",
            "low_stock_at",
            "low",
            "listed",
            "updated_at",
        ]
        read_only_fields = fields

    def get_effective_price_fen(self, inv) -> int:
        return inv.price_fen if inv.price_fen is not None else inv.sku.list_price_fen


BULK_MAX_BYTES = 8 * 1024 * 1024
BULK_FIELDS = {"store", "sku", "on_hand", "price_fen", "low_stock_at"}


def _bulk_rows(raw) -> list[dict]:
    """Validate bulk rows by hand: 50,000 rows through a serializer per row would take seconds."""
    if not isinstance(raw, list):
        raise exceptions.ValidationError({"rows": [_("A list of rows is required.")]})
    if len(raw) > inventory.BULK_MAX_ROWS:
        too_many = _("At most %(n)s rows per request.") % {"n": inventory.BULK_MAX_ROWS}
        raise exceptions.ValidationError({"rows": [too_many]})
    errors: dict[str, list[str]] = {}

    def whole(v, lo=0, hi=10**10) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi

    rows = []
    for i, r in enumerate(raw):
        problem = None
        if not isinstance(r, dict):
            problem = _("Each row is an object.")
        elif set(r) - BULK_FIELDS:
            names = ", ".join(sorted(map(str, set(r) - BULK_FIELDS)))
            problem = _("Unknown fields: %(names)s.") % {"names": names}
        elif not isinstance(r.get("store"), str) or not isinstance(r.get("sku"), str):
            problem = _("store and sku are codes (strings).")
        elif not whole(r.get("on_hand"), 0, 10**9):
            problem = _("on_hand is a whole number from 0.")
        elif "price_fen" in r and r["price_fen"] is not None and not whole(r["price_fen"]):
            problem = _("price_fen is a whole number of fen from 0, or null for the brand's price.")
        elif r.get("low_stock_at") is not None and not whole(r["low_stock_at"], 0, 10**6):
            problem = _("low_stock_at is a whole number from 0.")
        if problem:
            errors[f"rows[{i}]"] = [problem]
            if len(errors) >= 100:
                break
            continue
        rows.append(r)
    if errors:
        raise exceptions.ValidationError(errors)
    return rows


class InventoryFilter(filters.SelectorFilterSet):
    store = filters.CharFilter(max_length=32, required=True, help_text="The store's code.")
    low = filters.BooleanFilter(help_text="Only rows at or below their low-stock level.")

    class Meta:
        model = Inventory
        fields: list = []


class InventoryView(filters.FilteredListView):
    """A store's stock and prices (GET ?store=CODE); bulk updates (POST .../bulk/)."""

    scopes = {"GET": "inventory:read"}
    serializer_class = InventorySerializer
    filterset_class = InventoryFilter

    def get_queryset(self) -> QuerySet[Inventory]:
        if getattr(self, "swagger_fake_view", False):
            return Inventory.unscoped.none()
        d = self.filter_values()
        store = Store.objects.for_brand(self.brand).filter(code=d["store"]).first()
        if store is None or not roles.works_at(self.staff, store.pk):
            raise exceptions.NotFound(_("Unknown store."))
        qs = selectors.store_stock(brand=self.brand, store=store, low_only=d.get("low", False))
        return qs.select_related("store")


class BulkJSONParser(BaseParser):
    """JSON of up to BULK_MAX_BYTES: 50,000 rows are several megabytes, more than the API-wide cap
    (DATA_UPLOAD_MAX_MEMORY_SIZE) that DRF's JSONParser applies. Reads the stream itself."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > BULK_MAX_BYTES:
            raise PayloadTooLarge()
        raw = stream.read(BULK_MAX_BYTES + 1) if stream is not None else b""
        if len(raw) > BULK_MAX_BYTES:
            raise PayloadTooLarge()
        return load_json(raw or b"null")  # cleaned text; too deep or malformed: 400 parse_error


class InventoryBulkView(BrandAPIView):
    """Set stock (and optionally store price / low-stock level) for up to 50,000 (store, SKU) rows at
    once, named by code. All or nothing: any bad row and nothing is written; every bad row is listed."""

    scopes = {"POST": "inventory:write"}
    parser_classes = [BulkJSONParser]

    @extend_schema(
        request=inline_serializer(
            "InventoryBulk",
            {
                "reason": serializers.CharField(required=False),
                "rows": inline_serializer(
                    "InventoryBulkRow",
                    {
                        "store": serializers.CharField(),
                        "sku": serializers.CharField(),
                        "on_hand": serializers.IntegerField(min_value=0, max_value=10**9),
                        "price_fen": serializers.IntegerField(
                            min_value=0, max_value=10**10, required=False, allow_null=True
                        ),
                        "low_stock_at": serializers.IntegerField(
                            min_value=0, max_value=10**6, required=False
                        ),
                    },
                    many=True,
                ),
            },
        ),
        responses={
            200: inline_serializer(
                "InventoryBulkResult",
                {
                    "rows": serializers.IntegerField(),
                    "created": serializers.IntegerField(),
                    "updated": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request):
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"rows": [_('Send {"reason": ..., "rows": [...]}.')]})
        rows = _bulk_rows(data.get("rows"))
        reason = data.get("reason", "")
        if not isinstance(reason, str):
            raise exceptions.ValidationError({"reason": [_("A string.")]})
        result = inventory.inventory_bulk_update(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), rows=rows, reason=reason
        )
        if result.errors:
            return Response(
                {
                    "error": {
                        "code": "invalid_rows",
                        "message": _("%(n)s rows are invalid; nothing was written.")
                        % {"n": len(result.errors)},
                        "fields": {
                            f"rows[{e['row']}].{e['field']}": [str(e["message"])]
                            for e in result.errors[:1000]
                        },
                    }
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"rows": result.rows, "created": result.created, "updated": result.updated})
