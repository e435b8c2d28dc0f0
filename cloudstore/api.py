"""REST API of the cloud store for ISVs and staff tools: catalogue, inventory (bulk), orders from
external channels (create, status, refunds) and coupons (validate, redeem)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from cloudstore import selectors
from cloudstore.models import Campaign, Category, Coupon, Inventory, Order, OrderLine, Product, Sku
from cloudstore.services import catalogue, inventory, orders, promotions
from members import selectors as member_selectors
from members.api import IDEMPOTENCY_HEADER, MemberFilterSerializer, _idempotency_key
from members.models import Member, MemberIdentity
from members.services import request_fingerprint
from retail import api_fields, roles
from retail.api_base import BrandAPIView, BrandViewSet, PayloadTooLarge
from retail.events import Actor
from retail.models import Store
from retail.pagination import Pagination
from retail.parsers import load_json
from retail.tenancy import get_for_brand_or_404

# --- catalogue -------------------------------------------------------------------------------------


class SkuSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Sku
        fields = ["id", "product_id", "code", "spec", "barcode", "list_price_fen", "active"]
        read_only_fields = ["id", "product_id"]


class SkuWriteSerializer(serializers.Serializer):
    product_id = api_fields.IdField(required=False)
    code = serializers.RegexField(r"^[A-Za-z0-9._-]{1,64}$", required=False)
    spec = serializers.CharField(max_length=64, required=False, allow_blank=True)
    barcode = serializers.RegexField(r"^[0-9A-Za-z-]{0,32}$", required=False, allow_blank=True)
    list_price_fen = serializers.IntegerField(min_value=0, max_value=10**10, required=False)
    active = serializers.BooleanField(required=False)


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.SerializerMethodField()
    skus = SkuSerializer(many=True, read_only=True)
    images = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "name", "category", "description", "status", "skus", "images", "created_at"]
        read_only_fields = fields

    def get_category(self, p) -> dict | None:
        return {"id": p.category_id, "name": p.category.name} if p.category_id else None

    def get_images(self, p) -> list[dict]:
        return [
            {"url": i.image.url, "thumbnail": i.thumbnail.url, "width": i.width, "height": i.height}
            for i in p.images.all()
        ]


class ProductWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    category_id = api_fields.IdField(required=False, allow_null=True)
    description = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=Product.Status.choices, required=False)


class ProductFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=64)
    category = api_fields.IdField(required=False)
    status = serializers.ChoiceField(choices=Product.Status.choices, required=False)


class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BrandViewSet):
    """The brand's catalogue. Reads for any staff; writes for brand admins."""

    serializer_class = ProductSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Product]:
        if getattr(self, "swagger_fake_view", False):
            return Product.unscoped.none()
        f = ProductFilterSerializer(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        d = f.validated_data
        return selectors.product_list(
            brand=self.brand, q=d.get("q", ""), category_id=d.get("category"), status=d.get("status", "")
        ).prefetch_related("skus", "images")

    def get_object(self) -> Product:
        return get_for_brand_or_404(self.get_queryset(), self.brand, pk=self.kwargs["pk"])

    def _save(self, request, product=None, code=status.HTTP_200_OK):
        s = ProductWriteSerializer(data=request.data, partial=product is not None)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        if product is None and not data.get("name"):
            raise exceptions.ValidationError({"name": [_("This field is required.")]})
        if "category_id" in data:
            cid = data.pop("category_id")
            data["category"] = get_for_brand_or_404(Category, self.brand, pk=cid) if cid else None
        product = catalogue.product_save(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), data=data, product=product
        )
        return Response(ProductSerializer(self.get_object_by_pk(product.pk)).data, status=code)

    def get_object_by_pk(self, pk):
        return get_for_brand_or_404(self.get_queryset(), self.brand, pk=pk)

    @extend_schema(parameters=[ProductFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ProductWriteSerializer, responses={201: ProductSerializer})
    def create(self, request):
        return self._save(request, code=status.HTTP_201_CREATED)

    @extend_schema(request=ProductWriteSerializer, responses=ProductSerializer)
    def partial_update(self, request, pk=None):
        return self._save(request, product=self.get_object())


class SkuViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BrandViewSet):
    """SKUs of the brand's products. Reads for any staff; writes for brand admins."""

    serializer_class = SkuSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Sku]:
        if getattr(self, "swagger_fake_view", False):
            return Sku.unscoped.none()
        q = self.request.query_params.get("q", "")[:64]
        return selectors.sku_list(brand=self.brand, q=q)

    def get_object(self) -> Sku:
        return get_for_brand_or_404(Sku, self.brand, pk=self.kwargs["pk"])

    @extend_schema(request=SkuWriteSerializer, responses={201: SkuSerializer})
    def create(self, request):
        s = SkuWriteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        missing = [f for f in ("product_id", "code", "list_price_fen") if f not in d]
        if missing:
            raise exceptions.ValidationError({f: [_("This field is required.")] for f in missing})
        product = get_for_brand_or_404(Product, self.brand, pk=d.pop("product_id"))
        sku = catalogue.sku_save(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), product=product, data=d
        )
        return Response(SkuSerializer(sku).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SkuWriteSerializer, responses=SkuSerializer)
    def partial_update(self, request, pk=None):
        sku = self.get_object()
        s = SkuWriteSerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        product = (
            get_for_brand_or_404(Product, self.brand, pk=d.pop("product_id"))
            if "product_id" in d
            else sku.product
        )
        sku = catalogue.sku_save(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            product=product,
            data=d,
            sku=sku,
        )
        return Response(SkuSerializer(sku).data)


# --- inventory -------------------------------------------------------------------------------------


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


class InventoryView(BrandAPIView):
    """A store's stock and prices (GET ?store=CODE); bulk updates (POST .../bulk/)."""

    pagination_class = Pagination

    @extend_schema(
        parameters=[
            inline_serializer(
                "InventoryQuery",
                {"store": serializers.CharField(), "low": serializers.BooleanField(required=False)},
            )
        ],
        responses=InventorySerializer(many=True),
    )
    def get(self, request):
        code = request.query_params.get("store", "")[:32]
        store = Store.objects.for_brand(self.brand).filter(code=code).first()
        if store is None or not roles.works_at(self.staff, store.pk):
            raise exceptions.NotFound(_("Unknown store."))
        qs = selectors.store_stock(
            brand=self.brand, store=store, low_only=request.query_params.get("low") in ("1", "true")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(qs.select_related("store"), request, view=self)
        return paginator.get_paginated_response(InventorySerializer(page, many=True).data)


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


# --- orders ----------------------------------------------------------------------------------------


class OrderLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "sku",
            "name",
            "quantity",
            "unit_price_fen",
            "discount_fen",
            "refunded_quantity",
            "refunded_fen",
        ]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    store = serializers.SerializerMethodField()
    member = serializers.SerializerMethodField()
    lines = OrderLineSerializer(many=True, read_only=True)
    attribution = serializers.SerializerMethodField()
    payments = serializers.SerializerMethodField()
    refunds = serializers.SerializerMethodField()
    coupon = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "channel",
            "external_id",
            "status",
            "fulfilment",
            "store",
            "member",
            "attribution",
            "subtotal_fen",
            "discount_fen",
            "shipping_fen",
            "total_fen",
            "paid_fen",
            "refunded_fen",
            "coupon",
            "points_earned",
            "points_reversed",
            "lines",
            "payments",
            "refunds",
            "created_at",
            "paid_at",
            "closed_at",
        ]
        read_only_fields = fields

    def get_store(self, o) -> dict | None:
        return {"id": o.store_id, "code": o.store.code, "name": o.store.name} if o.store_id else None

    def get_member(self, o) -> dict | None:
        return {"id": o.member_id, "name": o.member.name} if o.member_id else None

    def get_attribution(self, o) -> dict:
        return {
            "exclusive_guide_id": o.exclusive_guide_id,
            "share_guide_id": o.share_guide_id,
            "touch_id": o.touch_id,
            "served_by_id": o.served_by_id,
        }

    def get_payments(self, o) -> list[dict]:
        return [
            {
                "provider": p.provider,
                "method": p.method,
                "reference": p.reference,
                "external_reference": p.external_reference,
                "amount_fen": p.amount_fen,
                "status": p.status,
                "notifications": p.notifications,
            }
            for p in o.payments.all()
        ]

    def get_refunds(self, o) -> list[dict]:
        return [
            {
                "id": r.pk,
                "amount_fen": r.amount_fen,
                "restock": r.restock,
                "reason": r.reason,
                "shopper_note": r.shopper_note,
                "lines": r.lines,
                "points_reversed": r.points_reversed,
                "created_at": r.created_at,
            }
            for r in o.refunds.all()
        ]

    def get_coupon(self, o) -> str | None:
        return o.coupon.code if o.coupon_id else None


class MemberRefSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MemberIdentity.Kind.choices, required=False)
    value = serializers.CharField(max_length=64, required=False)
    member_code = serializers.CharField(max_length=200, required=False)

    def validate(self, attrs):
        if not attrs.get("member_code") and not (attrs.get("kind") and attrs.get("value")):
            raise serializers.ValidationError(_("Give kind and value of an identity, or a member_code."))
        return attrs


class ExternalLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)
    unit_price_fen = serializers.IntegerField(min_value=0, max_value=10**10)


class ExternalPaymentSerializer(serializers.Serializer):
    method = serializers.CharField(max_length=32, required=False, allow_blank=True)
    amount_fen = serializers.IntegerField(min_value=0, max_value=10**11)
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True)


class ExternalOrderSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=[Order.Channel.FLAGSHIP, Order.Channel.POS])
    external_id = serializers.RegexField(r"^[\x21-\x7e]{1,64}$")
    store = serializers.CharField(max_length=32, required=False, allow_blank=True)
    member = MemberRefSerializer(required=False, allow_null=True)
    lines = ExternalLineSerializer(many=True, min_length=1, max_length=200)
    discount_fen = serializers.IntegerField(min_value=0, max_value=10**11, default=0)
    shipping_fen = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    coupon = serializers.CharField(max_length=16, required=False, allow_blank=True)
    status = serializers.ChoiceField(
        choices=[Order.Status.CREATED, Order.Status.PAID, Order.Status.COMPLETED], default=Order.Status.PAID
    )
    payments = ExternalPaymentSerializer(many=True, required=False, max_length=20)
    served_by = api_fields.IdField(required=False)
    occurred_at = api_fields.DateTimeField(required=False)


class OrderStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[
            Order.Status.PAID,
            Order.Status.FULFILLED,
            Order.Status.PICKED_UP,
            Order.Status.COMPLETED,
            Order.Status.CANCELLED,
        ]
    )
    payments = ExternalPaymentSerializer(many=True, required=False, max_length=20)


class RefundLineSerializer(serializers.Serializer):
    line = api_fields.IdField()
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class RefundSerializer(serializers.Serializer):
    lines = RefundLineSerializer(many=True, required=False, max_length=200)
    amount_fen = serializers.IntegerField(min_value=1, max_value=10**11, required=False)
    restock = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Put returned items back into the store's stock. Absent: yes when the order was sold "
        "from a store's stock; true is refused for an order that was not.",
    )
    reason = serializers.CharField(max_length=200, help_text="Internal note, for staff only.")
    shopper_note = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Shown to the shopper."
    )


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    channel = serializers.ChoiceField(choices=Order.Channel.choices, required=False)
    store = api_fields.IdField(required=False)
    member = api_fields.IdField(required=False)
    number = serializers.CharField(max_length=64, required=False)
    date_from = api_fields.DateField(required=False)
    date_to = api_fields.DateField(required=False)


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BrandViewSet):
    """Orders of every channel. Store staff see their stores' orders; brand admins all. ISVs create
    flagship and POS orders here, idempotent on (channel, external_id)."""

    serializer_class = OrderSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.unscoped.none()
        f = OrderFilterSerializer(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        return (
            selectors.order_list(
                brand=self.brand, viewer=self.staff, filters=selectors.OrderFilters(**f.validated_data)
            )
            .select_related("coupon")
            .prefetch_related("lines__sku", "payments", "refunds")
        )

    def get_object(self) -> Order:
        try:
            return selectors.order_get(brand=self.brand, viewer=self.staff, order_id=int(self.kwargs["pk"]))
        except (Order.DoesNotExist, ValueError):
            raise Http404 from None

    def _out(self, order: Order, code=status.HTTP_200_OK, headers=None) -> Response:
        order = selectors.order_get(brand=self.brand, viewer=self.staff, order_id=order.pk)
        return Response(OrderSerializer(order).data, status=code, headers=headers)

    @extend_schema(parameters=[OrderFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=ExternalOrderSerializer,
        responses={201: OrderSerializer, 200: OrderSerializer},
        description="Record an order from the online flagship or a store POS. The same "
        "(channel, external_id) with the same body returns the first order (200, Idempotent-Replayed); "
        "a different body gets 409.",
    )
    def create(self, request):
        s = ExternalOrderSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        fingerprint = request_fingerprint(request.data if isinstance(request.data, dict) else {})
        order, created = orders.order_external_create(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            channel=d.pop("channel"),
            data=d,
            fingerprint=fingerprint,
        )
        return self._out(
            order,
            status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            None if created else {"Idempotent-Replayed": "true"},
        )

    @extend_schema(request=OrderStatusSerializer, responses=OrderSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        """Move an order on: paid (with payments, for external orders), fulfilled, picked up, completed,
        cancelled (unpaid external orders)."""
        order = self.get_object()
        s = OrderStatusSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        actor = Actor.from_request(request)
        if order.channel == Order.Channel.CLOUD_STORE:
            if d["status"] not in (Order.Status.FULFILLED, Order.Status.PICKED_UP, Order.Status.COMPLETED):
                raise DjangoValidationError(
                    {
                        "status": DjangoValidationError(
                            _("Cloud-store orders are paid and cancelled by the shopper's payment."),
                            code="invalid_transition",
                        )
                    }
                )
            order = orders.order_advance(
                brand=self.brand, staff=self.staff, actor=actor, order=order, to=d["status"]
            )
        else:
            order = orders.order_external_status(
                brand=self.brand,
                staff=self.staff,
                actor=actor,
                order=order,
                to=d["status"],
                payments_data=d.get("payments"),
            )
        return self._out(order)

    @extend_schema(
        request=RefundSerializer, responses={201: OrderSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    @action(detail=True, methods=["post"])
    def refunds(self, request, pk=None):
        """Refund part or all of a paid order, by lines (restocking them if they came back) or by amount.
        Idempotency-Key required: a replay returns the first result; another body with the key gets 409."""
        key = _idempotency_key(request)
        order = self.get_object()
        s = RefundSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        _refund, replayed = orders.refund_create(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            order=order,
            key=key,
            fingerprint=request_fingerprint({"order": order.pk, **request.data}),
            lines=[dict(x) for x in d.get("lines", [])] or None,
            amount_fen=d.get("amount_fen"),
            restock=d["restock"],
            reason=d["reason"],
            shopper_note=d["shopper_note"],
        )
        return self._out(
            order,
            status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
            {"Idempotent-Replayed": "true"} if replayed else None,
        )


# --- coupons ---------------------------------------------------------------------------------------


class CouponCheckSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=16)
    subtotal_fen = serializers.IntegerField(min_value=0, max_value=10**11)
    member = MemberRefSerializer(required=False, allow_null=True)


class CouponRedeemSerializer(CouponCheckSerializer):
    reference = serializers.RegexField(
        r"^[\x21-\x7e]{1,100}$", help_text="The POS sale this coupon pays towards."
    )


class CouponIssueSerializer(serializers.Serializer):
    campaign_id = api_fields.IdField()
    member_id = api_fields.IdField()


class CouponSerializer(serializers.ModelSerializer):
    campaign = serializers.SerializerMethodField()

    class Meta:
        model = Coupon
        fields = ["id", "code", "status", "campaign", "member_id", "issued_at", "used_at", "external_ref"]
        read_only_fields = fields

    def get_campaign(self, c) -> dict:
        k = c.campaign
        return {
            "id": k.pk,
            "name": k.name,
            "kind": k.kind,
            "amount_off_fen": k.amount_off_fen,
            "percent_off": k.percent_off,
            "threshold_fen": k.threshold_fen,
            "ends_at": k.ends_at,
        }


def _member(brand, ref) -> Member | None:
    return orders._member_from(brand, ref) if ref else None


class CouponValidateView(BrandAPIView):
    """Check a coupon against a sale before using it: the discount it gives, or why not."""

    @extend_schema(
        request=CouponCheckSerializer,
        responses=inline_serializer(
            "CouponQuote",
            {
                "code": serializers.CharField(),
                "discount_fen": serializers.IntegerField(),
                "coupon": CouponSerializer(),
            },
        ),
    )
    def post(self, request):
        s = CouponCheckSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        coupon = promotions.coupon_find(brand=self.brand, code=d["code"])
        member = _member(self.brand, d.get("member"))
        discount = promotions.coupon_check(coupon, member=member, subtotal_fen=d["subtotal_fen"])
        return Response(
            {"code": coupon.code, "discount_fen": discount, "coupon": CouponSerializer(coupon).data}
        )


class CouponRedeemView(BrandAPIView):
    """Use a coupon against a POS sale, at most once: the same reference replays the first answer."""

    @extend_schema(request=CouponRedeemSerializer, responses={201: CouponSerializer, 200: CouponSerializer})
    def post(self, request):
        s = CouponRedeemSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        coupon, discount, replayed = promotions.coupon_redeem_external(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            code=d["code"],
            member=_member(self.brand, d.get("member")),
            subtotal_fen=d["subtotal_fen"],
            reference=d["reference"],
        )
        return Response(
            {**CouponSerializer(coupon).data, "discount_fen": discount},
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
            headers={"Idempotent-Replayed": "true"} if replayed else None,
        )


class CouponIssueView(BrandAPIView):
    """Give a member a coupon of a campaign (limits per member and in total apply)."""

    @extend_schema(request=CouponIssueSerializer, responses={201: CouponSerializer})
    def post(self, request):
        s = CouponIssueSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        campaign = get_for_brand_or_404(Campaign, self.brand, pk=d["campaign_id"])
        member = get_for_brand_or_404(Member, self.brand, pk=d["member_id"])
        coupon = promotions.coupon_issue(
            brand=self.brand,
            campaign=campaign,
            member=member,
            issued_by=self.staff,
            actor=Actor.from_request(request),
        )
        return Response(CouponSerializer(coupon).data, status=status.HTTP_201_CREATED)


# --- campaigns -------------------------------------------------------------------------------------


class CampaignSerializer(serializers.ModelSerializer):
    used = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "amount_off_fen",
            "percent_off",
            "max_discount_fen",
            "threshold_fen",
            "per_member_limit",
            "total_limit",
            "issued_count",
            "used",
            "starts_at",
            "ends_at",
            "guides_may_issue",
            "active",
        ]
        read_only_fields = ["id", "issued_count", "used"]
        extra_kwargs = {"per_member_limit": {"min_value": 1, "max_value": 1000}}


class CampaignIssueSerializer(MemberFilterSerializer):
    """Who gets a coupon: the members matching these filters (all active members if none)."""


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BrandViewSet):
    """Coupon campaigns. Any staff reads (guides see what they may share); brand admins write."""

    serializer_class = CampaignSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Campaign]:
        if getattr(self, "swagger_fake_view", False):
            return Campaign.unscoped.none()
        return selectors.campaign_list(brand=self.brand)

    def get_object(self) -> Campaign:
        return get_for_brand_or_404(self.get_queryset(), self.brand, pk=self.kwargs["pk"])

    def _save(self, request, campaign=None, code=status.HTTP_200_OK):
        s = CampaignSerializer(campaign, data=request.data, partial=campaign is not None)
        s.is_valid(raise_exception=True)
        campaign = promotions.campaign_save(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            data=dict(s.validated_data),
            campaign=campaign,
        )
        return Response(CampaignSerializer(self.get_queryset().get(pk=campaign.pk)).data, status=code)

    @extend_schema(request=CampaignSerializer, responses={201: CampaignSerializer})
    def create(self, request):
        return self._save(request, code=status.HTTP_201_CREATED)

    @extend_schema(request=CampaignSerializer, responses=CampaignSerializer)
    def partial_update(self, request, pk=None):
        return self._save(
            request, campaign=Campaign.objects.for_brand(self.brand).get(pk=self.get_object().pk)
        )

    @extend_schema(
        request=CampaignIssueSerializer,
        responses=inline_serializer(
            "CampaignIssued", {"issued": serializers.IntegerField(), "skipped": serializers.IntegerField()}
        ),
    )
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        """Give a coupon to every member of a segment (tags, tier, store, guide, join or purchase
        dates) who has fewer than the per-member limit, as far as the total limit reaches."""
        campaign = Campaign.objects.for_brand(self.brand).get(pk=self.get_object().pk)
        f = CampaignIssueSerializer(data=request.data)
        f.is_valid(raise_exception=True)
        d = dict(f.validated_data)
        d["tags"] = d.pop("tag", [])
        members = member_selectors.member_list(
            brand=self.brand, viewer=self.staff, filters=member_selectors.MemberFilters(**d), brand_wide=True
        )
        result = promotions.campaign_issue_to_members(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            campaign=campaign,
            members=members,
        )
        return Response(result)
