"""Orders API: orders of every channel, external orders (create, status) and refunds."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from cloudstore import selectors
from cloudstore.models import Order, OrderLine
from cloudstore.services import external_orders, order_status, refunds
from members.models import MemberIdentity
from retail import api_fields, filters, idempotency
from retail.api_base import BrandGenericView
from retail.events import Actor
from retail.idempotency import request_fingerprint
from retail.schema import IDEMPOTENCY_HEADER


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


class OrderFilter(filters.SelectorFilterSet):
    status = filters.ChoiceFilter(choices=Order.Status.choices)
    channel = filters.ChoiceFilter(choices=Order.Channel.choices)
    store = filters.IdFilter()
    member = filters.IdFilter()
    number = filters.CharFilter(max_length=64)
    date_from = filters.DateFilter()
    date_to = filters.DateFilter()

    class Meta:
        model = Order
        fields: list = []


class _OrderView(BrandGenericView, abstract=True):
    """Orders of every channel. Store staff see their stores' orders; brand admins all. ISVs create
    flagship and POS orders here, idempotent on (channel, external_id)."""

    serializer_class = OrderSerializer

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.unscoped.none()
        return self._orders(selectors.OrderFilters())

    def _orders(self, wanted: selectors.OrderFilters) -> QuerySet[Order]:
        return (
            selectors.order_list(brand=self.brand, viewer=self.staff, filters=wanted)
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


class OrderListView(filters.FilteredListView, _OrderView):
    """Orders of every channel. Store staff see their stores' orders; brand admins all. ISVs create
    flagship and POS orders here, idempotent on (channel, external_id)."""

    scopes = {"GET": "orders:read", "POST": "orders:write"}
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.unscoped.none()
        return self._orders(selectors.OrderFilters(**self.filter_values()))

    @extend_schema(
        request=ExternalOrderSerializer,
        responses={201: OrderSerializer, 200: OrderSerializer},
        description="Record an order from the online flagship or a store POS. The same "
        "(channel, external_id) with the same body returns the first order (200, Idempotent-Replayed); "
        "a different body gets 409.",
    )
    def post(self, request):
        s = ExternalOrderSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        fingerprint = request_fingerprint(request.data if isinstance(request.data, dict) else {})
        order, created = external_orders.order_external_create(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            channel=d.pop("channel"),
            data=d,
            fingerprint=fingerprint,
        )
        return self._out(
            order,
            idempotency.answer_status(not created),
            idempotency.answer_headers(not created),
        )


class OrderDetailView(_OrderView):
    scopes = {"GET": "orders:read"}

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)


class OrderStatusView(_OrderView):
    scopes = {"POST": "orders:write"}

    @extend_schema(request=OrderStatusSerializer, responses=OrderSerializer)
    def post(self, request, pk: int):
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
            order = order_status.order_advance(
                brand=self.brand, staff=self.staff, actor=actor, order=order, to=d["status"]
            )
        else:
            order = external_orders.order_external_status(
                brand=self.brand,
                staff=self.staff,
                actor=actor,
                order=order,
                to=d["status"],
                payments_data=d.get("payments"),
            )
        return self._out(order)


class OrderRefundsView(_OrderView):
    scopes = {"POST": "orders:write"}
    own_idempotency = True  # reads the Idempotency-Key itself (idempotency.read_key)

    @extend_schema(
        request=RefundSerializer, responses={201: OrderSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request, pk: int):
        """Refund part or all of a paid order, by lines (restocking them if they came back) or by amount.
        Idempotency-Key required: a replay returns the first result; another body with the key gets 409."""
        key = idempotency.read_key(request, self.staff)
        order = self.get_object()
        s = RefundSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        _refund, replayed = refunds.refund_create(
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
            idempotency.answer_status(replayed),
            idempotency.answer_headers(replayed),
        )
