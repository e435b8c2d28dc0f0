"""Promotions API: coupons (issue, validate, redeem) and coupon campaigns."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from cloudstore import selectors
from cloudstore.api.orders import MemberRefSerializer
from cloudstore.models import Campaign, Coupon
from cloudstore.services import external_orders, promotions
from members import selectors as member_selectors
from members.models import Member
from retail import api_fields, idempotency
from retail.api_base import BrandAPIView, BrandGenericView
from retail.events import Actor
from retail.tenancy import get_for_brand_or_404

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
    return external_orders.member_from(brand, ref) if ref else None


class CouponValidateView(BrandAPIView):
    """Check a coupon against a sale before using it: the discount it gives, or why not."""

    scopes = {"POST": "promotions:read"}

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

    scopes = {"POST": "promotions:write"}

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
            status=idempotency.answer_status(replayed),
            headers=idempotency.answer_headers(replayed),
        )


class CouponIssueView(BrandAPIView):
    """Give a member a coupon of a campaign (limits per member and in total apply)."""

    scopes = {"POST": "promotions:write"}

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


class CampaignIssueSerializer(serializers.Serializer):
    """Who gets a coupon: the members matching these filters (all active members if none)."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=64)
    tag = serializers.ListField(child=api_fields.IdField(), required=False, max_length=20)
    tier = api_fields.IdField(required=False)
    store = api_fields.IdField(required=False)
    guide = api_fields.IdField(required=False)
    joined_from = api_fields.DateField(required=False)
    joined_to = api_fields.DateField(required=False)
    purchased_from = api_fields.DateField(required=False)
    purchased_to = api_fields.DateField(required=False)

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):  # a form-encoded body repeats tag=
            data = {**{k: data.get(k) for k in data}, "tag": data.getlist("tag")}
        return super().to_internal_value(data)


class _CampaignView(BrandGenericView, abstract=True):
    """Coupon campaigns. Any staff reads (guides see what they may share); brand admins write."""

    serializer_class = CampaignSerializer

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


class CampaignListView(_CampaignView):
    scopes = {"GET": "promotions:read", "POST": "promotions:write"}

    @extend_schema(responses=CampaignSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=CampaignSerializer, responses={201: CampaignSerializer})
    def post(self, request):
        return self._save(request, code=status.HTTP_201_CREATED)


class CampaignDetailView(_CampaignView):
    scopes = {"GET": "promotions:read", "PATCH": "promotions:write"}

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=CampaignSerializer, responses=CampaignSerializer)
    def patch(self, request, pk: int):
        return self._save(
            request, campaign=Campaign.objects.for_brand(self.brand).get(pk=self.get_object().pk)
        )


class CampaignIssueView(_CampaignView):
    scopes = {"POST": "promotions:write"}

    @extend_schema(
        request=CampaignIssueSerializer,
        responses=inline_serializer(
            "CampaignIssued", {"issued": serializers.IntegerField(), "skipped": serializers.IntegerField()}
        ),
    )
    def post(self, request, pk: int):
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
