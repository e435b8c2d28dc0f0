"""REST API of the tenancy core: the caller, stores and staff."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response

from retail import api_fields, filters, roles, selectors, services
from retail.api_base import BrandAPIView, BrandGenericView
from retail.events import Actor
from retail.models import AuditLog, Staff, Store
from retail.phones import mask_phone


class IsBrandAdminOrReadOnly(permissions.BasePermission):
    message = _("Only brand admins may change stores.")

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or roles.can_manage_stores(view.staff)


class CanManageStaffOrReadOnly(permissions.BasePermission):
    message = _("Only brand admins and store managers may change staff.")

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or roles.can_manage_staff(view.staff)


class StoreRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "code", "name"]


class StoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", *services.STORE_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]
        # Uniqueness per brand is checked by the service inside the brand's scope.
        validators: list = []


class StoreFilter(filters.SelectorFilterSet):
    q = filters.CharFilter(max_length=100)
    status = filters.ChoiceFilter(choices=Store.Status.choices)

    class Meta:
        model = Store
        fields: list = []


class StoreListView(filters.FilteredListView):
    """Stores of the caller's brand; guides and managers see the stores they work in."""

    scopes = {"GET": "stores:read", "POST": "stores:write"}
    serializer_class = StoreSerializer
    filterset_class = StoreFilter
    permission_classes = [permissions.IsAuthenticated, IsBrandAdminOrReadOnly]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no brand
            return Store.unscoped.none()
        return selectors.store_list(brand=self.brand, viewer=self.staff, **self.filter_values())

    @extend_schema(request=StoreSerializer, responses={201: StoreSerializer})
    def post(self, request):
        s = self.get_serializer(data=request.data)
        s.is_valid(raise_exception=True)
        store = services.store_create(
            brand=self.brand, manager=self.staff, actor=Actor.from_request(request), data=s.validated_data
        )
        return Response(self.get_serializer(store).data, status=status.HTTP_201_CREATED)


class StoreDetailView(BrandGenericView):
    """Stores of the caller's brand; guides and managers see the stores they work in."""

    scopes = {"GET": "stores:read", "PUT": "stores:write", "PATCH": "stores:write"}
    serializer_class = StoreSerializer
    permission_classes = [permissions.IsAuthenticated, IsBrandAdminOrReadOnly]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no brand
            return Store.unscoped.none()
        return selectors.store_list(brand=self.brand, viewer=self.staff)

    def get_object(self):
        return selectors.store_get(brand=self.brand, viewer=self.staff, store_id=self.kwargs["pk"])

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    def _update(self, request, partial: bool) -> Response:
        s = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        s.is_valid(raise_exception=True)
        store = services.store_update(
            brand=self.brand,
            manager=self.staff,
            actor=Actor.from_request(request),
            store=s.instance,
            data=s.validated_data,
        )
        return Response(self.get_serializer(store).data)

    def put(self, request, pk: int):
        return self._update(request, partial=False)

    def patch(self, request, pk: int):
        return self._update(request, partial=True)


class StaffSerializer(serializers.ModelSerializer):
    phone = serializers.SerializerMethodField()
    stores = StoreRefSerializer(many=True, read_only=True)

    class Meta:
        model = Staff
        fields = [
            "id",
            "name",
            "employee_no",
            "role",
            "status",
            "phone",
            "stores",
            "hired_on",
            "left_on",
            "created_at",
        ]
        read_only_fields = fields

    def get_phone(self, obj) -> str:
        viewer = self.context.get("viewer")
        phone = obj.user.phone or ""
        if viewer is not None and (roles.can_manage_staff(viewer) or viewer.pk == obj.pk):
            return phone
        return mask_phone(phone)


class StaffInviteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    phone = serializers.CharField(max_length=32)
    role = serializers.ChoiceField(choices=Staff.Role.choices)
    store_ids = serializers.ListField(child=api_fields.IdField(), required=False, max_length=500)
    employee_no = serializers.CharField(max_length=32, required=False, allow_blank=True)
    hired_on = api_fields.DateField(required=False, allow_null=True, min_date=api_fields.EARLIEST_LIFE_DATE)


class StaffUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False)
    role = serializers.ChoiceField(choices=Staff.Role.choices, required=False)
    store_ids = serializers.ListField(child=api_fields.IdField(), required=False, max_length=500)
    employee_no = serializers.CharField(max_length=32, required=False, allow_blank=True)
    hired_on = api_fields.DateField(required=False, allow_null=True, min_date=api_fields.EARLIEST_LIFE_DATE)


class StaffDeactivateSerializer(serializers.Serializer):
    left_on = api_fields.DateField(required=False, allow_null=True, min_date=api_fields.EARLIEST_LIFE_DATE)


class StaffFilter(filters.SelectorFilterSet):
    q = filters.CharFilter(max_length=100)
    role = filters.ChoiceFilter(choices=Staff.Role.choices)
    status = filters.ChoiceFilter(choices=Staff.Status.choices)
    store_id = filters.IdFilter()

    class Meta:
        model = Staff
        fields: list = []


class _StaffView(BrandGenericView, abstract=True):
    """Staff of the caller's brand: a brand admin sees all, a store manager their stores, a
    guide only themself."""

    serializer_class = StaffSerializer
    permission_classes = [permissions.IsAuthenticated, CanManageStaffOrReadOnly]

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "viewer": self.staff}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no brand
            return Staff.unscoped.none()
        return selectors.staff_list(brand=self.brand, viewer=self.staff)

    def get_object(self):
        return selectors.staff_get(brand=self.brand, viewer=self.staff, staff_id=self.kwargs["pk"])

    def _out(self, staff: Staff, code=status.HTTP_200_OK, **extra) -> Response:
        staff = selectors.staff_get(brand=self.brand, viewer=self.staff, staff_id=staff.pk)
        return Response({**self.get_serializer(staff).data, **extra}, status=code)


class StaffListView(filters.FilteredListView, _StaffView):
    """Staff of the caller's brand: a brand admin sees all, a store manager their stores, a
    guide only themself."""

    scopes = {"GET": "staff:read", "POST": "staff:write"}
    filterset_class = StaffFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no brand
            return Staff.unscoped.none()
        return selectors.staff_list(brand=self.brand, viewer=self.staff, **self.filter_values())

    @extend_schema(
        request=StaffInviteSerializer,
        responses={201: inline_serializer("StaffInvited", {"invite_link": serializers.CharField()})},
    )
    def post(self, request):
        """Invite a person: creates the staff record and a one-time link to set up their login."""
        s = StaffInviteSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        staff, link = services.staff_invite(
            brand=self.brand,
            manager=self.staff,
            actor=Actor.from_request(request),
            store_ids=data.pop("store_ids", []),
            **data,
        )
        return self._out(staff, status.HTTP_201_CREATED, invite_link=request.build_absolute_uri(link))


class StaffDetailView(_StaffView):
    """Staff of the caller's brand: a brand admin sees all, a store manager their stores, a
    guide only themself."""

    scopes = {"GET": "staff:read", "PATCH": "staff:write"}

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=StaffUpdateSerializer, responses=StaffSerializer)
    def patch(self, request, pk: int):
        target = self.get_object()
        s = StaffUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        staff = services.staff_update(
            brand=self.brand,
            manager=self.staff,
            actor=Actor.from_request(request),
            staff=target,
            data=dict(s.validated_data),
        )
        return self._out(staff)


class StaffDeactivateView(_StaffView):
    scopes = {"POST": "staff:write"}

    @extend_schema(request=StaffDeactivateSerializer, responses=StaffSerializer)
    def post(self, request, pk: int):
        """Mark as left: the person can no longer act for the brand; their history stays."""
        target = self.get_object()
        s = StaffDeactivateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        staff = services.staff_deactivate(
            brand=self.brand,
            manager=self.staff,
            actor=Actor.from_request(request),
            staff=target,
            left_on=s.validated_data.get("left_on"),
        )
        return self._out(staff)


class StaffReactivateView(_StaffView):
    scopes = {"POST": "staff:write"}

    @extend_schema(request=None, responses=StaffSerializer)
    def post(self, request, pk: int):
        target = self.get_object()
        staff = services.staff_reactivate(
            brand=self.brand, manager=self.staff, actor=Actor.from_request(request), staff=target
        )
        return self._out(staff)


class StaffReinviteView(_StaffView):
    scopes = {"POST": "staff:write"}

    @extend_schema(
        request=None,
        responses=inline_serializer("InviteLink", {"invite_link": serializers.CharField()}),
    )
    def post(self, request, pk: int):
        """Revoke the open invitation and issue a new one-time link."""
        target = self.get_object()
        link = services.invitation_resend(
            brand=self.brand, manager=self.staff, actor=Actor.from_request(request), staff=target
        )
        return Response({"invite_link": request.build_absolute_uri(link)})


class IsBrandAdmin(permissions.BasePermission):
    message = _("Only brand admins may read the audit log.")

    def has_permission(self, request, view):
        return roles.can_manage_stores(view.staff)


class AuditLogSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "data",
            "ip",
        ]
        read_only_fields = fields

    def get_actor(self, obj) -> str:
        return str(obj.actor) if obj.actor_id else ""


class AuditLogFilter(filters.SelectorFilterSet):
    action = filters.CharFilter(max_length=64)

    class Meta:
        model = AuditLog
        fields: list = []


class AuditLogListView(filters.FilteredListView):
    """The brand's audit log (append-only), newest first; brand admins only."""

    scopes = {"GET": "audit:read"}
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilter
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditLog.unscoped.none()
        return selectors.audit_log_list(brand=self.brand, **self.filter_values())


class MeView(BrandAPIView):
    """The caller: user, the staff record they act as, and the brands they can switch to."""

    scopes = {}  # staff sessions only

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "user": inline_serializer(
                    "MeUser",
                    {"id": serializers.IntegerField(), "username": serializers.CharField()},
                ),
                "staff": StaffSerializer(),
                "brand": inline_serializer(
                    "MeBrand",
                    {
                        "id": serializers.IntegerField(),
                        "name": serializers.CharField(),
                        "slug": serializers.CharField(),
                    },
                ),
            },
        )
    )
    def get(self, request):
        staff = selectors.staff_get(brand=self.brand, viewer=self.staff, staff_id=self.staff.pk)
        return Response(
            {
                "user": {"id": request.user.pk, "username": request.user.username},
                "staff": StaffSerializer(staff, context={"viewer": self.staff}).data,
                "brand": {"id": self.brand.pk, "name": self.brand.name, "slug": self.brand.slug},
            }
        )
