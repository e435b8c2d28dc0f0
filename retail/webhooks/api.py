"""The webhooks REST API (mounted under /api/v1/webhooks/): endpoints, deliveries with their
attempts, replay, test events and the event catalogue. Scope ``webhooks:manage``.

A partner app sees and manages only its own endpoints (and their deliveries); a brand admin's
session sees every app's and names the app when creating one."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from retail import api_fields, filters, roles
from retail.api_base import BrandAPIView, BrandGenericView
from retail.events import Actor
from retail.partners.models import PartnerApp
from retail.webhooks import catalogue, selectors, services
from retail.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from retail.webhooks.sender import MAX_URL_LENGTH

MANAGE = "webhooks:manage"


class IsBrandAdmin(permissions.BasePermission):
    message = _("Only brand admins may manage webhooks.")

    def has_permission(self, request, view):
        return roles.can_manage_stores(view.staff)


def partner_app(request) -> PartnerApp | None:
    """The partner app making the call (set by the token middleware), or None for a session."""
    return getattr(request._request, "partner_app", None)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    app = serializers.IntegerField(source="app_id", read_only=True)
    app_name = serializers.CharField(source="app.name", read_only=True)
    event_types = serializers.ListField(child=serializers.CharField(), read_only=True)
    previous_secret_expires_at = api_fields.DateTimeField(
        source="previous_secret_valid_until",
        read_only=True,
        allow_null=True,
        help_text="While the previous secret's grace lasts, requests carry a second v1 signature.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "app",
            "app_name",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret, shown this once.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(serializers.Serializer):
    app = api_fields.IdField(
        required=False,
        help_text="The app the endpoint belongs to: required for a staff session, "
        "left out by a partner app (its own).",
    )
    url = serializers.CharField(max_length=MAX_URL_LENGTH, help_text="https URL of a public address.")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, max_length=services.MAX_EVENT_TYPES
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=MAX_URL_LENGTH, required=False)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64),
        allow_empty=False,
        max_length=services.MAX_EVENT_TYPES,
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class WebhookRotateSecretSerializer(serializers.Serializer):
    grace_hours = serializers.IntegerField(
        min_value=0,
        max_value=168,
        required=False,
        help_text="How long the previous secret keeps signing too (default 24).",
    )


SecretRotated = inline_serializer(
    "WebhookSecretRotated",
    {
        "secret": serializers.CharField(help_text="The new signing secret, shown this once."),
        "previous_secret_expires_at": api_fields.DateTimeField(allow_null=True),
    },
)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "endpoint",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status",
            "last_error",
            "delivered_at",
            "manual",
            "created_at",
        ]
        read_only_fields = fields


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "id",
            "at",
            "url",
            "request_headers",
            "request_body",
            "response_status",
            "response_headers",
            "response_body",
            "error",
            "duration_ms",
        ]
        read_only_fields = fields


class WebhookEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    created_at = api_fields.DateTimeField()
    livemode = serializers.BooleanField()
    data = serializers.JSONField()


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    event = serializers.SerializerMethodField()
    attempt_log = serializers.SerializerMethodField()

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "event", "attempt_log"]
        read_only_fields = fields

    @extend_schema_field(WebhookEventSerializer)
    def get_event(self, obj) -> dict:
        return obj.event.envelope()

    @extend_schema_field(WebhookAttemptSerializer(many=True))
    def get_attempt_log(self, obj) -> list[dict]:
        return WebhookAttemptSerializer(selectors.attempt_list(obj), many=True).data


class WebhookEventTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    schema = serializers.JSONField(help_text="JSON Schema (draft 2020-12) of the event's data.")


class WebhookEndpointFilter(filters.SelectorFilterSet):
    app = filters.IdFilter()

    class Meta:
        model = WebhookEndpoint
        fields: list = []


class WebhookDeliveryFilter(filters.SelectorFilterSet):
    endpoint = filters.IdFilter()
    status = filters.ChoiceFilter(choices=WebhookDelivery.Status.choices)

    class Meta:
        model = WebhookDelivery
        fields: list = []


class EndpointListView(filters.FilteredListView):
    """Webhook endpoints: a partner app's own, or every app's for a brand admin."""

    scopes = {"GET": MANAGE, "POST": MANAGE}
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.unscoped.none()
        values = self.filter_values()
        qs = selectors.endpoint_list(self.brand, app=partner_app(self.request))
        if "app" in values:
            qs = qs.filter(app_id=values["app"])
        return qs

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer})
    def post(self, request):
        """Subscribe a URL to event types; the answer shows the signing secret this once."""
        s = WebhookEndpointCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        own = partner_app(request)
        if own is not None:
            if data.get("app") not in (None, own.pk):
                raise ValidationError({"app": [_("An app creates endpoints for itself only.")]})
            app = own
        else:
            if not data.get("app"):
                raise ValidationError({"app": [_("Name the app the endpoint belongs to.")]})
            app = PartnerApp.objects.for_brand(self.brand).filter(pk=data["app"]).first()
            if app is None:
                raise ValidationError({"app": [_("Choose an app of this brand.")]})
        endpoint, secret = services.endpoint_create(
            brand=self.brand,
            actor=Actor.from_request(request),
            app=app,
            url=data["url"],
            event_types=data["event_types"],
            description=data.get("description", ""),
        )
        endpoint = selectors.endpoint_get(self.brand, endpoint.pk)
        return Response(
            {**WebhookEndpointSerializer(endpoint).data, "secret": secret}, status=status.HTTP_201_CREATED
        )


class _EndpointView(BrandGenericView, abstract=True):
    serializer_class = WebhookEndpointSerializer
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.unscoped.none()
        return selectors.endpoint_list(self.brand, app=partner_app(self.request))

    def get_object(self):
        return selectors.endpoint_get(self.brand, self.kwargs["pk"], app=partner_app(self.request))

    def _out(self, endpoint, code=status.HTTP_200_OK) -> Response:
        endpoint = selectors.endpoint_get(self.brand, endpoint.pk)
        return Response(WebhookEndpointSerializer(endpoint).data, status=code)


class EndpointDetailView(_EndpointView):
    """One webhook endpoint: read, change (URL, event types, description, enabled) or delete."""

    scopes = {"GET": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}

    def get(self, request, pk: int):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def patch(self, request, pk: int):
        endpoint = self.get_object()
        s = WebhookEndpointUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(
            endpoint=endpoint, actor=Actor.from_request(request), **s.validated_data
        )
        return self._out(endpoint)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.endpoint_delete(endpoint=self.get_object(), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretView(_EndpointView):
    """A new signing secret (shown this once); the previous one keeps signing during the grace."""

    scopes = {"POST": MANAGE}

    @extend_schema(request=WebhookRotateSecretSerializer, responses=SecretRotated)
    def post(self, request, pk: int):
        endpoint = self.get_object()
        s = WebhookRotateSecretSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        secret = services.endpoint_rotate_secret(
            endpoint=endpoint,
            actor=Actor.from_request(request),
            grace_hours=s.validated_data.get("grace_hours"),
        )
        expires = endpoint.previous_secret_expires_at
        return Response(
            {
                "secret": secret,
                "previous_secret_expires_at": api_fields.DateTimeField().to_representation(expires)
                if expires
                else None,
            }
        )


class EndpointTestView(_EndpointView):
    """Send a ``ping`` event to the endpoint now; the answer is its (pending) delivery."""

    scopes = {"POST": MANAGE}

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    def post(self, request, pk: int):
        delivery = services.send_test_event(endpoint=self.get_object(), actor=Actor.from_request(request))
        delivery = selectors.delivery_get(self.brand, delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListView(filters.FilteredListView):
    """Webhook deliveries, newest first (a partner app's own endpoints only)."""

    scopes = {"GET": MANAGE}
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.unscoped.none()
        return selectors.delivery_list(self.brand, app=partner_app(self.request), **self.filter_values())


class _DeliveryView(BrandGenericView, abstract=True):
    serializer_class = WebhookDeliveryDetailSerializer
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.unscoped.none()
        return selectors.delivery_list(self.brand, app=partner_app(self.request))

    def get_object(self):
        return selectors.delivery_get(self.brand, self.kwargs["pk"], app=partner_app(self.request))


class DeliveryDetailView(_DeliveryView):
    """One delivery with its event and every attempt (request and response, bodies cut to 4 KB)."""

    scopes = {"GET": MANAGE}

    def get(self, request, pk: int):
        return Response(WebhookDeliveryDetailSerializer(self.get_object()).data)


class DeliveryReplayView(_DeliveryView):
    """Send the delivery's event to its endpoint again, as a new delivery."""

    scopes = {"POST": MANAGE}

    @extend_schema(request=None, responses={201: WebhookDeliverySerializer})
    def post(self, request, pk: int):
        replay = services.delivery_replay(delivery=self.get_object(), actor=Actor.from_request(request))
        replay = selectors.delivery_get(self.brand, replay.pk)
        return Response(WebhookDeliverySerializer(replay).data, status=status.HTTP_201_CREATED)


class EventTypeListView(BrandAPIView):
    """The event types endpoints can subscribe to, each with the JSON Schema of its data."""

    scopes = {"GET": MANAGE}
    permission_classes = [permissions.IsAuthenticated, IsBrandAdmin]

    @extend_schema(responses=WebhookEventTypeSerializer(many=True))
    def get(self, request):
        return Response(
            [
                {"name": t.name, "description": str(t.description), "schema": t.schema}
                for t in catalogue.event_types().values()
            ]
        )
