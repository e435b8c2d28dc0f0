"""The two HTTPS calls a device makes before its websocket: pairing and (web kiosks) a ticket.

Neither is a brand API view: the device has no brand until its pairing code or its secret names
one, so they run outside any session's brand scope and take no staff or partner credential."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from devices import protocol, services
from retail.schema import ErrorSerializer
from retail.tenancy import within_brand
from retail.throttling import UserRateThrottle


class DeviceCallThrottle(UserRateThrottle):
    """Per address: pairing codes and secrets cannot be guessed at speed."""

    scope = "device"
    rate = "30/min"


class PairSerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=32, help_text="The 8-character pairing code (dashes and case ignored)"
    )
    app_version = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    firmware_version = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class TicketSerializer(serializers.Serializer):
    device = serializers.CharField(max_length=64, help_text="The device id received at pairing")
    secret = serializers.CharField(max_length=200, help_text="The secret received at pairing")


_ERROR = ErrorSerializer  # the API's one error shape


class _DeviceCall(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [DeviceCallThrottle]


class PairView(_DeviceCall):
    """Exchange a one-time pairing code for the device's id and secret (the secret is shown once)."""

    @extend_schema(
        operation_id="device_pair",
        tags=["devices"],
        auth=[{}],
        request=PairSerializer,
        responses={
            201: inline_serializer(
                "DevicePaired",
                {
                    "device": serializers.UUIDField(),
                    "secret": serializers.CharField(),
                    "name": serializers.CharField(),
                    "kind": serializers.CharField(),
                    "brand": inline_serializer(
                        "DevicePairedBrand",
                        {"id": serializers.IntegerField(), "name": serializers.CharField()},
                    ),
                    "store": inline_serializer(
                        "DevicePairedStore",
                        {"id": serializers.IntegerField(), "name": serializers.CharField()},
                    ),
                    "websocket": serializers.CharField(),
                    "protocol": serializers.IntegerField(),
                },
            ),
            400: OpenApiResponse(
                _ERROR, description="invalid_code: wrong, used or expired code; invalid: bad body"
            ),
            429: OpenApiResponse(_ERROR, description="too many attempts from this address"),
        },
    )
    def post(self, request):
        data = PairSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device, secret = services.device_pair(
            code=data.validated_data["code"],
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            app_version=data.validated_data["app_version"],
            firmware_version=data.validated_data["firmware_version"],
        )
        # The store is a brand-owned row: read it in the brand's scope (row-level security).
        with within_brand(device.brand_id):
            store_name = device.store.name
        response = Response(
            {
                "device": str(device.uid),
                "secret": secret,
                "name": device.name,
                "kind": device.kind,
                "brand": {"id": device.brand_id, "name": device.brand.name},
                "store": {"id": device.store_id, "name": store_name},
                "websocket": "/ws/device/",
                "protocol": protocol.VERSION,
            },
            status=status.HTTP_201_CREATED,
        )
        response["Cache-Control"] = "no-store"
        return response


class TicketView(_DeviceCall):
    """A single-use websocket ticket for `hello` (auth method `ticket`), valid for `expires_in` seconds."""

    @extend_schema(
        operation_id="device_ticket",
        tags=["devices"],
        auth=[{}],
        request=TicketSerializer,
        responses={
            201: inline_serializer(
                "DeviceTicket", {"ticket": serializers.CharField(), "expires_in": serializers.IntegerField()}
            ),
            400: OpenApiResponse(_ERROR, description="invalid: bad body"),
            401: OpenApiResponse(
                _ERROR, description="invalid_credentials: unknown device, wrong secret, or disabled"
            ),
            429: OpenApiResponse(_ERROR, description="too many attempts from this address"),
        },
    )
    def post(self, request):
        data = TicketSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        from django.core.exceptions import ValidationError

        try:
            ticket = services.ticket_issue(
                device_uid=data.validated_data["device"], secret=data.validated_data["secret"]
            )
        except ValidationError as exc:
            return Response(
                {"error": {"code": "invalid_credentials", "message": exc.messages[0], "fields": {}}},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        response = Response({"ticket": ticket, "expires_in": settings.DEVICE_TICKET_SECONDS}, status=201)
        response["Cache-Control"] = "no-store"
        return response
