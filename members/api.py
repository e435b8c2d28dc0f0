"""REST API of the membership programme: members, identities, tags, points, member codes."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from members import codes, selectors, services
from members.identities import mask_identity
from members.models import Member, MemberIdentity, PointsEntry, Tag
from retail import api_fields, filters, idempotency, roles
from retail.api_base import BrandAPIView, BrandGenericView
from retail.events import Actor
from retail.models import Staff
from retail.schema import IDEMPOTENCY_HEADER
from retail.tenancy import get_for_brand_or_404


class IdentitySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MemberIdentity.Kind.choices)
    value = serializers.CharField(max_length=64)
    verified = serializers.BooleanField(read_only=True)


class MemberSerializer(serializers.ModelSerializer):
    tier = serializers.SerializerMethodField()
    guide = serializers.SerializerMethodField()
    identities = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = [
            "id",
            "name",
            "gender",
            "birthday",
            "status",
            "tier",
            "points_balance",
            "qualifying_spend_fen",
            "marketing_consent",
            "guide",
            "identities",
            "tags",
            "joined_at",
            "last_purchase_at",
        ]
        read_only_fields = fields

    def get_tier(self, m) -> dict | None:
        return {"code": m.tier.code, "name": m.tier.name} if m.tier_id else None

    def get_guide(self, m) -> dict | None:
        return {"id": m.guide_id, "name": m.guide.name} if m.guide_id else None

    def get_identities(self, m) -> list[dict]:
        full = self.context.get("full_identities", False)
        return [
            {
                "kind": i.kind,
                "value": i.value if full else mask_identity(i.kind, i.value),
                "verified": i.verified,
            }
            for i in m.identities.all()
        ]

    def get_tags(self, m) -> list[dict]:
        return [{"id": mt.tag_id, "name": mt.tag.name} for mt in m.member_tags.all()]


class MemberCreateSerializer(serializers.Serializer):
    identities = IdentitySerializer(many=True, min_length=1, max_length=6)
    name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    guide_id = api_fields.IdField(required=False)
    consent = serializers.BooleanField(default=False)
    verified = serializers.BooleanField(default=False)


class MemberUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    gender = serializers.ChoiceField(choices=Member.Gender.choices, required=False)
    birthday = api_fields.DateField(required=False, allow_null=True, min_date=api_fields.EARLIEST_LIFE_DATE)


class MemberFilter(filters.SelectorFilterSet):
    q = filters.CharFilter(max_length=64)
    tag = filters.IdListFilter(max_length=20)
    tier = filters.IdFilter()
    store = filters.IdFilter()
    guide = filters.IdFilter()
    joined_from = filters.DateFilter()
    joined_to = filters.DateFilter()
    purchased_from = filters.DateFilter()
    purchased_to = filters.DateFilter()

    class Meta:
        model = Member
        fields: list = []


class LookupSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MemberIdentity.Kind.choices)
    value = serializers.CharField(max_length=64)


class TagsChangeSerializer(serializers.Serializer):
    add = serializers.ListField(child=api_fields.IdField(), required=False, max_length=50)
    remove = serializers.ListField(child=api_fields.IdField(), required=False, max_length=50)


class PointsEarnSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=10_000_000)
    spend_fen = serializers.IntegerField(min_value=0, max_value=10**12, default=0)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class PointsRedeemSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=10_000_000)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class PointsEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = PointsEntry
        fields = ["id", "kind", "amount", "balance_after", "source", "note", "expires_at", "created_at"]
        read_only_fields = fields


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "group"]
        read_only_fields = fields


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=200)


class CanMovePoints(permissions.BasePermission):
    message = _("Only store managers and brand admins may move points through the API.")

    def has_permission(self, request, view):
        return roles.can_manage_staff(view.staff)


class _MemberView(BrandGenericView, abstract=True):
    """Members of the caller's brand: a guide sees their own members, a store manager those
    served in their stores, a brand admin all."""

    serializer_class = MemberSerializer

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "full_identities": self.staff and roles.can_manage_staff(self.staff),
        }

    def get_queryset(self) -> QuerySet[Member]:
        if getattr(self, "swagger_fake_view", False):
            return Member.unscoped.none()
        return selectors.member_list(brand=self.brand, viewer=self.staff)

    def get_object(self) -> Member:
        return selectors.member_get(brand=self.brand, viewer=self.staff, member_id=self.kwargs["pk"])

    def _out(self, member: Member, code=status.HTTP_200_OK, **extra) -> Response:
        member = selectors.member_get(brand=self.brand, viewer=self.staff, member_id=member.pk)
        return Response({**self.get_serializer(member).data, **extra}, status=code)

    def _brand_wide_out(
        self, member: Member, code=status.HTTP_200_OK, refetch: bool = True, **extra
    ) -> Response:
        """A member found by identity or code, shown to any staff of the brand (checkout)."""
        if refetch:
            member = selectors.member_by_id(brand=self.brand, viewer=self.staff, member_id=member.pk)
        if member is None:
            raise Http404
        return Response({**self.get_serializer(member).data, **extra}, status=code)


class MemberListView(filters.FilteredListView, _MemberView):
    """Members of the caller's brand: a guide sees their own members, a store manager those
    served in their stores, a brand admin all."""

    scopes = {"GET": "members:read", "POST": "members:write"}
    filterset_class = MemberFilter

    def get_queryset(self) -> QuerySet[Member]:
        if getattr(self, "swagger_fake_view", False):
            return Member.unscoped.none()
        d = self.filter_values()
        d["tags"] = d.pop("tag", [])
        return selectors.member_list(
            brand=self.brand, viewer=self.staff, filters=selectors.MemberFilters(**d)
        )

    @extend_schema(
        request=MemberCreateSerializer,
        responses={201: MemberSerializer, 200: MemberSerializer},
        description="Create a member from channel identities. If an identity already belongs to a "
        "member, that member is returned (200) with the missing identities added.",
    )
    def post(self, request):
        s = MemberCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        guide = None
        if d.get("guide_id"):
            guide = get_for_brand_or_404(Staff, self.brand, pk=d["guide_id"])
        member, created = services.member_create(
            brand=self.brand,
            actor=Actor.from_request(request),
            identities=[(i["kind"], i["value"]) for i in d["identities"]],
            name=d.get("name", ""),
            guide=guide,
            consent=d["consent"],
            verified=d["verified"],
        )
        return self._brand_wide_out(
            member, status.HTTP_201_CREATED if created else status.HTTP_200_OK, created=created
        )


class MemberDetailView(_MemberView):
    scopes = {"GET": "members:read", "PATCH": "members:write"}

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer)
    def patch(self, request, pk: int):
        member = self.get_object()
        s = MemberUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        services.member_update(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            member=member,
            data=dict(s.validated_data),
        )
        return self._out(member)


class MemberLookupView(_MemberView):
    scopes = {"GET": "members:read"}

    @extend_schema(parameters=[LookupSerializer], responses=MemberSerializer)
    def get(self, request):
        """Find a member by any channel identity (phone, card, shop, payment, open ids)."""
        s = LookupSerializer(data=request.query_params)
        s.is_valid(raise_exception=True)
        member = selectors.member_lookup(
            brand=self.brand,
            viewer=self.staff,
            kind=s.validated_data["kind"],
            value=s.validated_data["value"],
        )
        return self._brand_wide_out(member, refetch=False)


class MemberIdentitiesView(_MemberView):
    scopes = {"POST": "members:write"}

    @extend_schema(
        request=IdentitySerializer,
        responses=inline_serializer(
            "IdentityAdded", {"member": MemberSerializer(), "merged": serializers.BooleanField()}
        ),
    )
    def post(self, request, pk: int):
        """Attach a channel identity. A verified phone or payment account that belongs to another
        member proves they are one person: the two records are merged."""
        member = self.get_object()
        s = IdentitySerializer(data=request.data)
        s.is_valid(raise_exception=True)
        verified = bool(request.data.get("verified") is True)
        survivor, merge = services.member_identity_add(
            brand=self.brand,
            member=member,
            kind=s.validated_data["kind"],
            value=s.validated_data["value"],
            verified=verified,
            actor=Actor.from_request(request),
        )
        out = self._brand_wide_out(survivor).data
        return Response({"member": out, "merged": merge is not None})


class MemberTagsView(_MemberView):
    scopes = {"POST": "members:write"}
    pagination_class = None  # the member's tags, all of them

    @extend_schema(request=TagsChangeSerializer, responses=TagSerializer(many=True))
    def post(self, request, pk: int):
        member = self.get_object()
        s = TagsChangeSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        tags = services.member_tags_change(
            brand=self.brand,
            staff=self.staff,
            actor=Actor.from_request(request),
            member=member,
            add=s.validated_data.get("add", []),
            remove=s.validated_data.get("remove", []),
            source="api",
        )
        return Response(TagSerializer(tags, many=True).data)


class MemberPointsView(_MemberView):
    scopes = {"GET": "members:read"}

    @extend_schema(responses=PointsEntrySerializer(many=True))
    def get(self, request, pk: int):
        """The member's points ledger, newest first."""
        member = self.get_object()
        page = self.paginate_queryset(selectors.points_history(brand=self.brand, member=member))
        return self.get_paginated_response(PointsEntrySerializer(page, many=True).data)


class _PointsMoveView(_MemberView, abstract=True):
    own_idempotency = True  # reads the Idempotency-Key itself (idempotency.read_key)
    permission_classes = [permissions.IsAuthenticated, CanMovePoints]

    def _points(self, request, pk, serializer_class, fn):
        source = idempotency.read_key(request, self.staff)
        member = _brand_member(self.brand, self.staff, pk)
        s = serializer_class(data=request.data)
        s.is_valid(raise_exception=True)
        entry = fn(
            brand=self.brand,
            member=member,
            source=source,
            actor=Actor.from_request(request),
            **s.validated_data,
        )
        return Response(
            PointsEntrySerializer(entry).data,
            status=idempotency.answer_status(entry),
            headers=idempotency.answer_headers(entry),
        )


class MemberPointsEarnView(_PointsMoveView):
    scopes = {"POST": "points:write"}

    @extend_schema(
        request=PointsEarnSerializer, responses={201: PointsEntrySerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def post(self, request, pk: int):
        """Add points (with the qualifying spend of the purchase, if any). Idempotency-Key required."""
        return self._points(request, pk, PointsEarnSerializer, services.points_earn)


class MemberPointsRedeemView(_PointsMoveView):
    scopes = {"POST": "points:write"}

    @extend_schema(
        request=PointsRedeemSerializer,
        responses={201: PointsEntrySerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request, pk: int):
        """Spend points; refused if the balance is short. Idempotency-Key required."""
        return self._points(request, pk, PointsRedeemSerializer, services.points_redeem)


def _brand_member(brand, staff, pk) -> Member:
    """The active member of ``brand`` now standing for id ``pk`` (merges followed), or 404."""
    member = selectors.member_by_id(brand=brand, viewer=staff, member_id=pk)
    if member is None:
        raise Http404
    return member


class MemberCodeResolveView(BrandAPIView):
    """Resolve a member code (会员码) scanned at checkout to the member. Codes are signed, name
    their brand and expire after 90 seconds."""

    scopes = {"POST": "members:read"}

    @extend_schema(request=CodeSerializer, responses=MemberSerializer)
    def post(self, request):
        s = CodeSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            member_id = codes.member_code_read(s.validated_data["code"], brand_id=self.brand.pk)
        except codes.CodeError as exc:
            return Response(
                {"error": {"code": exc.code, "message": str(exc), "fields": {}}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        member = _brand_member(self.brand, self.staff, member_id)
        full = roles.can_manage_staff(self.staff)
        return Response(MemberSerializer(member, context={"full_identities": full}).data)


class TagListView(BrandAPIView):
    """The brand's member tags."""

    scopes = {"GET": "members:read"}

    @extend_schema(responses=TagSerializer(many=True))
    def get(self, request):
        return Response(TagSerializer(selectors.tag_list(brand=self.brand), many=True).data)
