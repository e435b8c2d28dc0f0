"""REST API of devices, read only (scope ``devices:read``): the brand's devices with their state,
one device's settings and versions, and the events devices reported.

Staff sessions: brand admins see every device, store managers their stores' devices, guides
nothing (403). A partner app reads with brand-admin visibility. A device's credential (its secret's
digest) and its live connection are never answered."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions, serializers
from rest_framework.response import Response

from devices import selectors
from devices.models import Device, DeviceEvent
from retail import api_fields, filters, roles
from retail.api import StoreRefSerializer
from retail.api_base import BrandGenericView

# The filter `status` reads the dashboard's state: disabled devices are "disabled" whatever their
# connection, the others not paired, online or offline.
STATES = [
    (Device.Status.ONLINE.value, Device.Status.ONLINE.label),
    (Device.Status.OFFLINE.value, Device.Status.OFFLINE.label),
    (Device.Status.UNPAIRED.value, Device.Status.UNPAIRED.label),
    ("disabled", _("Disabled")),
]


class IsManager(permissions.BasePermission):
    message = _("Only brand admins and store managers may see devices.")

    def has_permission(self, request, view):
        return roles.can_manage_staff(view.staff)


# --- filters -------------------------------------------------------------------------------------


class DeviceFilter(filters.SelectorFilterSet):
    store = filters.IdFilter()
    status = filters.ChoiceFilter(
        choices=STATES, help_text="online, offline, unpaired (not paired yet) or disabled."
    )
    kind = filters.ChoiceFilter(choices=Device.Kind.choices)
    q = filters.CharFilter(max_length=100, help_text="Part of the device's name or location.")

    class Meta:
        model = Device
        fields: list = []


class DeviceEventFilter(filters.SelectorFilterSet):
    type = filters.ChoiceFilter(choices=DeviceEvent.Type.choices)
    since = filters.DateTimeFilter(help_text="Events that occurred at or after this moment.")
    until = filters.DateTimeFilter(help_text="Events that occurred before this moment.")

    class Meta:
        model = DeviceEvent
        fields: list = []


class AllDeviceEventFilter(DeviceEventFilter):
    device = filters.IdFilter()
    store = filters.IdFilter()

    class Meta:
        model = DeviceEvent
        fields: list = []


# --- serializers ---------------------------------------------------------------------------------


class DeviceSerializer(serializers.ModelSerializer):
    store = StoreRefSerializer(read_only=True)
    state = serializers.ChoiceField(
        choices=STATES,
        read_only=True,
        help_text="What the dashboard shows: disabled, else unpaired, online or offline.",
    )
    paired = serializers.BooleanField(read_only=True, help_text="Whether the device holds a credential.")
    config = api_fields.JSONField(
        read_only=True,
        help_text='The device\'s settings: {"door_open_seconds", "volume", "language", "door_windows"}.',
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "uid",
            "store",
            "name",
            "location",
            "kind",
            "state",
            "enabled",
            "paired",
            "paired_at",
            "last_seen_at",
            "last_connected_at",
            "last_disconnected_at",
            "app_version",
            "firmware_version",
            "protocol_version",
            "clock_skew_ms",
            "config",
            "config_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DeviceEventSerializer(serializers.ModelSerializer):
    device = serializers.IntegerField(source="device_id", read_only=True)
    device_uid = serializers.UUIDField(source="device.uid", read_only=True)

    class Meta:
        model = DeviceEvent
        fields = [
            "id",
            "device",
            "device_uid",
            "event_id",
            "type",
            "device_time",
            "occurred_at",
            "received_at",
            "offline",
            "payload",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "event_id": {"help_text": "The id the device gave the event (unique per device)."},
            "device_time": {"help_text": "The time on the device's clock."},
            "occurred_at": {"help_text": "The device's time corrected by its measured clock skew."},
            "offline": {"help_text": "Sent in a batch after reconnecting, or more than a minute late."},
            "payload": {"help_text": "What the device reported (never a PIN, never a camera frame)."},
        }


# --- views ---------------------------------------------------------------------------------------


def _events(qs, values: dict):
    """Narrow a selector's events by the time filters (since inclusive, until exclusive)."""
    if "since" in values:
        qs = qs.filter(occurred_at__gte=values["since"])
    if "until" in values:
        qs = qs.filter(occurred_at__lt=values["until"])
    return qs


class DeviceListView(filters.FilteredListView):
    """The brand's devices with their state (brand admins: all; store managers: their stores')."""

    scopes = {"GET": "devices:read"}
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter
    permission_classes = [permissions.IsAuthenticated, IsManager]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no brand
            return Device.unscoped.none()
        values = self.filter_values()
        return selectors.device_list(
            brand=self.brand,
            viewer=self.staff,
            store_id=values.get("store"),
            status=values.get("status", ""),
            kind=values.get("kind", ""),
            q=values.get("q", ""),
        )


class DeviceDetailView(BrandGenericView):
    """One device: its store, state, versions, clock skew and settings."""

    scopes = {"GET": "devices:read"}
    serializer_class = DeviceSerializer
    permission_classes = [permissions.IsAuthenticated, IsManager]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Device.unscoped.none()
        return selectors.device_list(brand=self.brand, viewer=self.staff)

    def get(self, request, pk: int):
        device = selectors.device_get(brand=self.brand, viewer=self.staff, device_id=pk)
        return Response(self.get_serializer(device).data)


class DeviceEventListView(filters.FilteredListView):
    """The events one device reported, latest first (by when they occurred)."""

    scopes = {"GET": "devices:read"}
    serializer_class = DeviceEventSerializer
    filterset_class = DeviceEventFilter
    permission_classes = [permissions.IsAuthenticated, IsManager]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DeviceEvent.unscoped.none()
        values = self.filter_values()  # a bad filter is a 400 whatever the device
        device = selectors.device_get(brand=self.brand, viewer=self.staff, device_id=self.kwargs["pk"])
        qs = selectors.device_event_list(brand=self.brand, device=device, type=values.get("type", ""))
        return _events(qs, values)


class AllDeviceEventListView(filters.FilteredListView):
    """The events of every device the caller may see, latest first (by when they occurred)."""

    scopes = {"GET": "devices:read"}
    serializer_class = DeviceEventSerializer
    filterset_class = AllDeviceEventFilter
    permission_classes = [permissions.IsAuthenticated, IsManager]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DeviceEvent.unscoped.none()
        values = self.filter_values()
        qs = selectors.device_event_list(brand=self.brand, type=values.get("type", ""))
        if not roles.sees_all_stores(self.staff):
            qs = qs.filter(device__store_id__in=roles.store_ids(self.staff))
        if "store" in values:
            qs = qs.filter(device__store_id=values["store"])
        if "device" in values:
            qs = qs.filter(device_id=values["device"])
        return _events(qs, values)
