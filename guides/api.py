"""REST API of commission: an order's attribution, attribution rule versions, commission rules,
settlement periods and statements (review, hold, release, approve), re-attribution runs, and the
caller's own commission. Rules and settlement are for brand admins; approval takes an
``Idempotency-Key``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from cloudstore.models import Order
from guides import selectors
from guides.models import (
    Attribution,
    AttributionRule,
    CommissionEntry,
    CommissionRule,
    CommissionSettings,
    Precedence,
    Reattribution,
    SettlementPeriod,
    Statement,
)
from guides.services import attribution, rules, settlement
from retail import api_fields, filters, idempotency, roles
from retail.api_base import BrandAPIView
from retail.events import Actor
from retail.models import Staff
from retail.pagination import Pagination
from retail.schema import IDEMPOTENCY_HEADER
from retail.tenancy import brand_scope, get_for_brand_or_404


def _require_admin(view) -> None:
    roles.require(view.brand, view.staff, view.staff.is_brand_admin)


def _page(view, request, qs, serializer):
    paginator = Pagination()
    rows = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(serializer(rows, many=True).data)


# --- serializers ------------------------------------------------------------------------------------


class EntrySerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", default=None, read_only=True)
    statement_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = CommissionEntry
        fields = [
            "id",
            "guide_id",
            "kind",
            "amount_fen",
            "order_id",
            "order_number",
            "member_id",
            "occurred_at",
            "statement_id",
        ]
        read_only_fields = fields


class LineSerializer(serializers.Serializer):
    line_id = serializers.IntegerField()
    rule_id = serializers.IntegerField(allow_null=True)
    commission_fen = serializers.IntegerField(help_text="Before refunds.")


class AttributionSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number", read_only=True)
    guide = serializers.SerializerMethodField()
    rule_version = serializers.IntegerField(source="rule.version", default=None, read_only=True)
    lines = serializers.SerializerMethodField()
    entries = serializers.SerializerMethodField()

    class Meta:
        model = Attribution
        fields = [
            "order_id",
            "order_number",
            "channel",
            "member_id",
            "guide",
            "source",
            "excluded",
            "store_id",
            "rule_version",
            "paid_at",
            "sales_fen",
            "refunded_fen",
            "commission_fen",
            "revision",
            "lines",
            "entries",
            "updated_at",
        ]
        read_only_fields = fields

    def get_guide(self, obj) -> dict | None:
        return {"id": obj.guide_id, "name": obj.guide.name} if obj.guide_id else None

    @extend_schema_field(LineSerializer(many=True))
    def get_lines(self, obj) -> list[dict]:
        return [{"line_id": a, "rule_id": b, "commission_fen": c} for a, b, c in obj.lines]

    @extend_schema_field(EntrySerializer(many=True))
    def get_entries(self, obj) -> list[dict]:
        return EntrySerializer(self.context.get("entries", []), many=True).data


class AttributionRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AttributionRule
        fields = [
            "id",
            "version",
            "effective_from",
            "cloud_store",
            "flagship",
            "pos",
            "touch_window_days",
            "dual_credit_store",
            "exclude_staff_purchases",
            "min_order_fen",
            "note",
            "created_at",
        ]
        read_only_fields = ["id", "version", "created_at"]
        extra_kwargs = {"effective_from": {"required": False}}


class AttributionRuleCreateSerializer(serializers.Serializer):
    effective_from = api_fields.DateTimeField(required=False, help_text="Default: now.")
    cloud_store = serializers.ChoiceField(choices=Precedence.choices, required=False)
    flagship = serializers.ChoiceField(choices=Precedence.choices, required=False)
    pos = serializers.ChoiceField(choices=Precedence.choices, required=False)
    touch_window_days = serializers.IntegerField(min_value=1, max_value=30, required=False)
    dual_credit_store = serializers.BooleanField(required=False)
    exclude_staff_purchases = serializers.BooleanField(required=False)
    min_order_fen = serializers.IntegerField(min_value=0, max_value=10**10, required=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class CommissionRuleSerializer(serializers.ModelSerializer):
    sku = api_fields.IdField(source="sku_id", allow_null=True, required=False)
    category = api_fields.IdField(source="category_id", allow_null=True, required=False)
    effective_from = api_fields.DateTimeField(required=False)

    class Meta:
        model = CommissionRule
        fields = [
            "id",
            "name",
            "kind",
            "rate_bp",
            "fixed_fen",
            "cap_fen",
            "channel",
            "category",
            "sku",
            "effective_from",
            "effective_to",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            "rate_bp": {"min_value": 0, "max_value": 10_000},
            "fixed_fen": {"min_value": 0, "max_value": 10**9},
            "cap_fen": {"min_value": 0, "max_value": 10**10},
        }


class RuleEndSerializer(serializers.Serializer):
    at = api_fields.DateTimeField(required=False, help_text="Default: now.")


class SettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = CommissionSettings
        fields = ["period", "timezone", "greeting"]


class PeriodSerializer(serializers.ModelSerializer):
    approved_by = serializers.CharField(source="approved_by.name", default=None, read_only=True)

    class Meta:
        model = SettlementPeriod
        fields = [
            "id",
            "label",
            "start",
            "end",
            "status",
            "statements",
            "total_fen",
            "approved_by",
            "approved_at",
            "paid_at",
        ]
        read_only_fields = fields


class StatementSerializer(serializers.ModelSerializer):
    period = serializers.CharField(source="period.label", read_only=True)
    guide = serializers.SerializerMethodField()
    red_packet_id = serializers.IntegerField(source="packet_id", read_only=True, allow_null=True)

    class Meta:
        model = Statement
        fields = [
            "id",
            "period",
            "period_id",
            "guide",
            "orders",
            "sales_fen",
            "earned_fen",
            "clawback_fen",
            "carried_in_fen",
            "carried_out_fen",
            "total_fen",
            "status",
            "hold_reason",
            "red_packet_id",
            "paid_at",
        ]
        read_only_fields = fields

    def get_guide(self, obj) -> dict:
        return {"id": obj.guide_id, "name": obj.guide.name}


class StatementDetailSerializer(StatementSerializer):
    entries = serializers.SerializerMethodField()

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "entries"]
        read_only_fields = fields

    @extend_schema_field(EntrySerializer(many=True))
    def get_entries(self, obj) -> list[dict]:
        return EntrySerializer(self.context.get("entries", []), many=True).data


class HoldSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class ReattributionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reattribution
        fields = [
            "id",
            "start",
            "end",
            "reason",
            "status",
            "orders",
            "changed",
            "delta_fen",
            "created_at",
            "finished_at",
        ]
        read_only_fields = ["id", "status", "orders", "changed", "delta_fen", "created_at", "finished_at"]


class MyCommissionSerializer(serializers.Serializer):
    members_recruited = serializers.IntegerField()
    members_recruited_month = serializers.IntegerField()
    members_now = serializers.IntegerField()
    online_sales_fen = serializers.IntegerField()
    offline_sales_fen = serializers.IntegerField()
    orders_month = serializers.IntegerField()
    earned_month_fen = serializers.IntegerField()
    clawback_month_fen = serializers.IntegerField()
    unsettled_fen = serializers.IntegerField()
    recent = EntrySerializer(many=True)
    statements = StatementSerializer(many=True)


# --- views -------------------------------------------------------------------------------------------


class OrderAttributionView(BrandAPIView):
    scopes = {"GET": "commission:read"}

    @extend_schema(responses=AttributionSerializer, summary="Who an order is credited to, and its commission")
    def get(self, request, pk: int):
        """The order's attribution and commission entries (managers of its store, brand admins,
        and the guide credited). 404 until the order is paid and attributed."""
        with brand_scope(self.brand):
            order = get_for_brand_or_404(Order, self.brand, pk=pk)
        att = selectors.attribution_get(brand=self.brand, order=order)
        staff = self.staff
        allowed = (
            staff.is_brand_admin
            or (order.store_id is not None and roles.can_manage_store(staff, order.store_id))
            or (att is not None and att.guide_id == staff.pk)
        )
        roles.require(self.brand, staff, allowed)
        if att is None:
            from rest_framework.exceptions import NotFound

            raise NotFound(_("This order has not been attributed (yet)."))
        entries = selectors.attribution_entries(brand=self.brand, order=order)
        return Response(AttributionSerializer(att, context={"entries": entries}).data)


class AttributionRuleListView(BrandAPIView):
    scopes = {"GET": "commission:read", "POST": "commission:write"}

    @extend_schema(responses=AttributionRuleSerializer(many=True))
    def get(self, request):
        """Every version of the attribution rules, newest first."""
        _require_admin(self)
        return Response(
            AttributionRuleSerializer(selectors.attribution_rules(brand=self.brand), many=True).data
        )

    @extend_schema(request=AttributionRuleCreateSerializer, responses={201: AttributionRuleSerializer})
    def post(self, request):
        """A new version (fields left out are kept from the current one). Orders already attributed
        keep their result; ask for a re-attribution to apply it to them."""
        _require_admin(self)
        s = AttributionRuleCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        at = data.pop("effective_from", None)
        row = rules.attribution_rule_create(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            data=data,
            effective_from=at,
        )
        return Response(AttributionRuleSerializer(row).data, status=status.HTTP_201_CREATED)


class CommissionRuleFilter(filters.SelectorFilterSet):
    active = filters.BooleanFilter(help_text="Only rules in force now or later")

    class Meta:
        model = CommissionRule
        fields: list = []


class CommissionRuleListView(filters.FilteredListView):
    scopes = {"GET": "commission:read", "POST": "commission:write"}
    serializer_class = CommissionRuleSerializer
    filterset_class = CommissionRuleFilter
    pagination_class = None  # every rule, as one list

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CommissionRule.unscoped.none()
        active = self.filter_values().get("active", False)
        return selectors.commission_rules(brand=self.brand, include_ended=not active)

    def get(self, request):
        _require_admin(self)
        return self.list(request)

    @extend_schema(request=CommissionRuleSerializer, responses={201: CommissionRuleSerializer})
    def post(self, request):
        """A commission rule: a percentage (basis points) or a fixed amount per unit, for a SKU, a
        category, a channel or everything, optionally capped per line."""
        _require_admin(self)
        s = CommissionRuleSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = dict(s.validated_data)
        d["sku"], d["category"] = d.pop("sku_id", None), d.pop("category_id", None)
        row = rules.commission_rule_create(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), data=d
        )
        return Response(CommissionRuleSerializer(row).data, status=status.HTTP_201_CREATED)


class CommissionRuleDetailView(BrandAPIView):
    scopes = {"GET": "commission:read"}

    @extend_schema(responses=CommissionRuleSerializer)
    def get(self, request, pk: int):
        _require_admin(self)
        with brand_scope(self.brand):
            row = get_for_brand_or_404(CommissionRule, self.brand, pk=pk)
        return Response(CommissionRuleSerializer(row).data)


class CommissionRuleEndView(BrandAPIView):
    scopes = {"POST": "commission:write"}

    @extend_schema(request=RuleEndSerializer, responses=CommissionRuleSerializer)
    def post(self, request, pk: int):
        """End a rule (its terms stay for the orders it credited)."""
        _require_admin(self)
        with brand_scope(self.brand):
            row = get_for_brand_or_404(CommissionRule, self.brand, pk=pk)
        s = RuleEndSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        row = rules.commission_rule_end(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            rule=row,
            at=s.validated_data.get("at"),
        )
        return Response(CommissionRuleSerializer(row).data)


class SettingsView(BrandAPIView):
    scopes = {"GET": "commission:read", "PATCH": "commission:write"}

    @extend_schema(responses=SettingsSerializer)
    def get(self, request):
        _require_admin(self)
        return Response(SettingsSerializer(rules.settings_get(brand=self.brand)).data)

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request):
        _require_admin(self)
        s = SettingsSerializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        row = rules.settings_update(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), data=s.validated_data
        )
        return Response(SettingsSerializer(row).data)


class PeriodListView(BrandAPIView):
    scopes = {"GET": "commission:read"}
    pagination_class = Pagination

    @extend_schema(responses=PeriodSerializer(many=True))
    def get(self, request):
        _require_admin(self)
        return _page(self, request, selectors.periods_list(brand=self.brand), PeriodSerializer)


class PeriodDetailView(BrandAPIView):
    scopes = {"GET": "commission:read"}

    @extend_schema(responses=PeriodSerializer)
    def get(self, request, pk: int):
        _require_admin(self)
        with brand_scope(self.brand):
            period = get_for_brand_or_404(SettlementPeriod, self.brand, pk=pk)
        return Response(PeriodSerializer(period).data)


class RunningPeriodSerializer(serializers.Serializer):
    start = api_fields.DateTimeField(read_only=True, help_text="Where the last closed period ended.")
    end = api_fields.DateTimeField(read_only=True, help_text="The next boundary of the length set now.")
    label = serializers.CharField(read_only=True)
    length = serializers.ChoiceField(choices=CommissionSettings.Period.choices, read_only=True)


class CloseRunningSerializer(serializers.Serializer):
    start = api_fields.DateTimeField(
        help_text="The running period's start, as GET answers it. Asking again for the same start "
        "returns the period closed the first time."
    )


class RunningPeriodView(BrandAPIView):
    scopes = {"GET": "commission:read", "POST": "commission:write"}

    def _running(self) -> dict:
        start, end, label = settlement.period_running(brand=self.brand)
        return {
            "start": start,
            "end": end,
            "label": label,
            "length": rules.settings_get(brand=self.brand).period,
        }

    @extend_schema(responses=RunningPeriodSerializer)
    def get(self, request):
        """The period running now: from the end of the last closed period to the next boundary."""
        _require_admin(self)
        return Response(RunningPeriodSerializer(self._running()).data)

    @extend_schema(request=CloseRunningSerializer, responses=PeriodSerializer)
    def post(self, request):
        """Close the running period up to now: its statements are written for what was earned until
        now, and the next period starts now. Audited; a replay answers ``Idempotent-Replayed``."""
        _require_admin(self)
        s = CloseRunningSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        period = settlement.period_close_early(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            start=s.validated_data["start"],
        )
        return Response(
            PeriodSerializer(period).data,
            status=idempotency.answer_status(period),
            headers=idempotency.answer_headers(period),
        )


class PeriodApproveView(BrandAPIView):
    scopes = {"POST": "commission:write"}
    own_idempotency = True  # reads the Idempotency-Key itself (idempotency.read_key)

    @extend_schema(request=None, responses=PeriodSerializer, parameters=[IDEMPOTENCY_HEADER])
    def post(self, request, pk: int):
        """Approve the period: every statement not held is paid into its guide's wallet as a red
        packet, exactly once. Refused (400 insufficient_funds) if the pool cannot cover them."""
        _require_admin(self)
        key = idempotency.read_key(request, self.staff)
        with brand_scope(self.brand):
            period = get_for_brand_or_404(SettlementPeriod, self.brand, pk=pk)
        period = settlement.period_approve(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), period=period, key=key
        )
        with brand_scope(self.brand):
            period.refresh_from_db()
        return Response(PeriodSerializer(period).data, headers=idempotency.answer_headers(period))


class StatementFilter(filters.SelectorFilterSet):
    period = filters.IdFilter()
    guide = filters.IdFilter(help_text="Brand admins: one guide's statements (others see their own).")
    status = filters.ChoiceFilter(choices=Statement.Status.choices)

    class Meta:
        model = Statement
        fields: list = []


class StatementListView(filters.FilteredListView):
    scopes = {"GET": "commission:read"}
    serializer_class = StatementSerializer
    filterset_class = StatementFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Statement.unscoped.none()
        d = self.filter_values()
        period = guide = None
        with brand_scope(self.brand):
            if "period" in d:
                period = get_for_brand_or_404(SettlementPeriod, self.brand, pk=d["period"])
            if self.staff.is_brand_admin:
                if "guide" in d:
                    guide = get_for_brand_or_404(Staff, self.brand, pk=d["guide"])
            else:
                guide = self.staff
        return selectors.statements_list(brand=self.brand, period=period, guide=guide, status=d.get("status"))

    def get(self, request):
        """Statements: a brand admin's filter, or the caller's own."""
        with brand_scope(self.brand):
            return self.list(request)


class StatementDetailView(BrandAPIView):
    scopes = {"GET": "commission:read"}

    @extend_schema(responses=StatementDetailSerializer)
    def get(self, request, pk: int):
        """A statement with its entries (brand admins, or its guide)."""
        guide = None if self.staff.is_brand_admin else self.staff
        s = selectors.statement_get(brand=self.brand, pk=pk, guide=guide)
        if s is None:
            from django.http import Http404

            raise Http404
        entries = selectors.statement_entries(brand=self.brand, statement=s)
        return Response(StatementDetailSerializer(s, context={"entries": entries}).data)


class StatementHoldView(BrandAPIView):
    scopes = {"POST": "commission:write"}

    @extend_schema(request=HoldSerializer, responses=StatementSerializer)
    def post(self, request, pk: int):
        """Hold a statement out of the payment, with a reason."""
        _require_admin(self)
        with brand_scope(self.brand):
            s = get_for_brand_or_404(Statement, self.brand, pk=pk)
        body = HoldSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        s = settlement.statement_hold(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            statement=s,
            reason=body.validated_data["reason"],
        )
        return Response(StatementSerializer(selectors.statement_get(brand=self.brand, pk=s.pk)).data)


class StatementReleaseView(BrandAPIView):
    scopes = {"POST": "commission:write"}

    @extend_schema(request=None, responses=StatementSerializer)
    def post(self, request, pk: int):
        """Take the hold off; in an approved period the statement is paid at once."""
        _require_admin(self)
        with brand_scope(self.brand):
            s = get_for_brand_or_404(Statement, self.brand, pk=pk)
        s = settlement.statement_release(
            brand=self.brand, staff=self.staff, actor=Actor.from_request(request), statement=s
        )
        return Response(StatementSerializer(selectors.statement_get(brand=self.brand, pk=s.pk)).data)


class ReattributionListView(BrandAPIView):
    scopes = {"GET": "commission:read", "POST": "commission:write"}

    @extend_schema(responses=ReattributionSerializer(many=True))
    def get(self, request):
        _require_admin(self)
        return Response(ReattributionSerializer(selectors.reattributions(brand=self.brand), many=True).data)

    @extend_schema(request=ReattributionSerializer, responses={201: ReattributionSerializer})
    def post(self, request):
        """Attribute the orders paid in [start, end) again under the rules in force now. Changes
        are written as reversals and new credits dated now (settled money is corrected in the next
        statement)."""
        _require_admin(self)
        s = ReattributionSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        run = attribution.reattribution_request(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            start=d["start"],
            end=d["end"],
            reason=d["reason"],
        )
        with brand_scope(self.brand):
            run.refresh_from_db()
        return Response(ReattributionSerializer(run).data, status=status.HTTP_201_CREATED)


class MyCommissionView(BrandAPIView):
    scopes = {}  # staff sessions only

    @extend_schema(responses=MyCommissionSerializer)
    def get(self, request):
        """The caller's members recruited, sales credited this month online and offline, commission
        this month, what is not settled yet, the latest entries and their statements."""
        p = selectors.performance(brand=self.brand, staff=self.staff)
        return Response(MyCommissionSerializer(p).data)
