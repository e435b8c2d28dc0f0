"""REST API of attendance for partner apps (payroll, HR) and staff sessions.

Scope ``attendance:read``: punches, day records, shift templates and schedules, filtered by store,
person and dates, in pages. Scope ``attendance:write``: put a person on a shift on some dates
(``POST``, answered once per ``Idempotency-Key``) or take them off (``DELETE``, idempotent by
nature).

Staff sessions: brand admins see every store, store managers their stores, guides nothing (403).
A partner app acts with brand-admin visibility. Never answered: face data of any kind, a punch's
coordinates (only its distance from the store), PINs.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response

from attendance import records
from attendance.models import DayRecord, Punch, Schedule, ShiftTemplate
from retail import api_fields, filters, roles
from retail.api import StoreRefSerializer
from retail.events import Actor
from retail.models import Staff, Store
from retail.tenancy import brand_scope

READ, WRITE = "attendance:read", "attendance:write"


class IsManager(permissions.BasePermission):
    message = _("Only brand admins and store managers may see attendance.")

    def has_permission(self, request, view):
        return roles.can_manage_staff(view.staff)


def _visible(qs, staff: Staff, values: dict):
    """Narrow ``qs`` (rows with a ``store``) to the stores the caller may see and the filters
    ``store`` and ``staff``."""
    if not roles.sees_all_stores(staff):
        qs = qs.filter(store_id__in=roles.store_ids(staff))
    if "store" in values:
        qs = qs.filter(store_id=values["store"])
    if "staff" in values:
        qs = qs.filter(staff_id=values["staff"])
    return qs


def _dates(qs, values: dict):
    if "date_from" in values:
        qs = qs.filter(date__gte=values["date_from"])
    if "date_to" in values:
        qs = qs.filter(date__lte=values["date_to"])
    return qs


# --- filters -------------------------------------------------------------------------------------


class _PersonFilter(filters.SelectorFilterSet):
    store = filters.IdFilter(help_text="Only this store.")
    staff = filters.IdFilter(help_text="Only this person (a staff id).")


class PunchFilter(_PersonFilter):
    source = filters.ChoiceFilter(choices=Punch.Source.choices, help_text="How the punch was made.")
    since = filters.DateTimeFilter(help_text="Punches made at or after this moment.")
    until = filters.DateTimeFilter(help_text="Punches made before this moment.")
    offline = filters.BooleanFilter(help_text="Only punches a device sent after reconnecting (or not).")

    class Meta:
        model = Punch
        fields: list = []


class DayRecordFilter(_PersonFilter):
    date_from = filters.DateFilter(help_text="Days from this date (the store's local date).")
    date_to = filters.DateFilter(help_text="Days up to and including this date.")
    status = filters.ChoiceFilter(choices=DayRecord.Status.choices)
    corrected = filters.BooleanFilter(help_text="Only days a manager corrected (or not).")

    class Meta:
        model = DayRecord
        fields: list = []


class ShiftFilter(filters.SelectorFilterSet):
    store = filters.IdFilter(help_text="Only this store's shifts.")
    active = filters.BooleanFilter(help_text="Only shifts in use (or no longer in use).")

    class Meta:
        model = ShiftTemplate
        fields: list = []


class ScheduleFilter(_PersonFilter):
    date_from = filters.DateFilter(help_text="Schedules from this date.")
    date_to = filters.DateFilter(help_text="Schedules up to and including this date.")
    shift = filters.IdFilter(help_text="Only this shift.")

    class Meta:
        model = Schedule
        fields: list = []


# --- serializers ---------------------------------------------------------------------------------


class StaffRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Staff
        fields = ["id", "name", "employee_no"]
        read_only_fields = fields


class ShiftRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShiftTemplate
        fields = ["id", "name", "start", "end"]
        read_only_fields = fields


class ShiftSerializer(serializers.ModelSerializer):
    store = StoreRefSerializer(read_only=True)
    overnight = serializers.SerializerMethodField(
        help_text="The shift ends the next day (its end is before its start)."
    )

    class Meta:
        model = ShiftTemplate
        fields = [
            "id",
            "store",
            "name",
            "start",
            "end",
            "overnight",
            "late_grace_minutes",
            "early_grace_minutes",
            "active",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "start": {"help_text": "Local time in the store's time zone."},
            "end": {"help_text": "Local time in the store's time zone."},
            "late_grace_minutes": {"help_text": "A clock-in later than start + this is late."},
            "early_grace_minutes": {"help_text": "A clock-out earlier than end − this left early."},
        }

    def get_overnight(self, obj) -> bool:
        return obj.end < obj.start


class ScheduleSerializer(serializers.ModelSerializer):
    staff = StaffRefSerializer(read_only=True)
    store = StoreRefSerializer(read_only=True)
    shift = ShiftRefSerializer(read_only=True)

    class Meta:
        model = Schedule
        fields = ["id", "staff", "store", "date", "shift", "created_at"]
        read_only_fields = fields


class DayRecordSerializer(serializers.ModelSerializer):
    staff = StaffRefSerializer(read_only=True)
    store = StoreRefSerializer(read_only=True)
    shift = ShiftRefSerializer(
        source="schedule.shift", read_only=True, allow_null=True, help_text="The shift of the day, if any."
    )

    class Meta:
        model = DayRecord
        fields = [
            "id",
            "staff",
            "store",
            "date",
            "shift",
            "status",
            "first_in",
            "last_out",
            "late_minutes",
            "early_minutes",
            "corrected",
            "computed_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "date": {"help_text": "The working day, in the store's time zone."},
            "first_in": {"help_text": "The clock-in (the day's first punch)."},
            "last_out": {"help_text": "The clock-out (the day's last punch, when there are two or more)."},
            "corrected": {
                "help_text": "A manager corrected the day (with a reason); punches no longer change it."
            },
        }


class PunchSerializer(serializers.ModelSerializer):
    staff = StaffRefSerializer(read_only=True)
    store = StoreRefSerializer(read_only=True)
    device = serializers.IntegerField(source="device_id", read_only=True, allow_null=True)

    class Meta:
        model = Punch
        fields = [
            "id",
            "staff",
            "store",
            "device",
            "source",
            "occurred_at",
            "received_at",
            "offline",
            "face_checked",
            "distance_m",
            "risk",
            "reason",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "device": {"help_text": "The kiosk or door device's id (null for a phone punch)."},
            "occurred_at": {"help_text": "When the punch was made (the device's clock, skew corrected)."},
            "offline": {"help_text": "Sent by a device after reconnecting."},
            "face_checked": {"help_text": "The person's face was matched for this punch."},
            "distance_m": {"help_text": "A phone punch's distance from the store in metres."},
            "risk": {"help_text": "What made a phone punch look risky (new_device, outside, odd_hour, ...)."},
            "reason": {"help_text": "Why the punch was made without the face (the non-face path)."},
        }


MAX_DAYS = records.MAX_SCHEDULE_DAYS


class ScheduleSetSerializer(serializers.Serializer):
    store = api_fields.IdField(help_text="The store the person works the shift in.")
    staff = api_fields.IdField(help_text="The person (a staff id); they must work in the store.")
    shift = api_fields.IdField(help_text="One of the store's shifts in use.")
    dates = serializers.ListField(
        child=api_fields.DateField(),
        min_length=1,
        max_length=MAX_DAYS,
        help_text="The dates (the store's local dates); a date already scheduled is replaced.",
    )


class ScheduleClearSerializer(serializers.Serializer):
    store = api_fields.IdField(help_text="The store.")
    staff = api_fields.IdField(help_text="The person (a staff id).")
    date_from = api_fields.DateField(help_text="The first date to clear.")
    date_to = api_fields.DateField(help_text="The last date to clear (at most 62 days in all).")

    def validate(self, attrs):
        span = (attrs["date_to"] - attrs["date_from"]).days
        if span < 0:
            raise serializers.ValidationError({"date_to": [_("Not before date_from.")]})
        if span >= MAX_DAYS:
            raise serializers.ValidationError({"date_to": [_("At most 62 days at once.")]})
        return attrs


# --- views ---------------------------------------------------------------------------------------


class _ReadView(filters.FilteredListView, abstract=True):
    permission_classes = [permissions.IsAuthenticated, IsManager]
    model: type

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no brand
            return self.model.unscoped.none()
        return self.rows(self.filter_values())


class PunchListView(_ReadView):
    """Punches of the brand's staff, latest first: kiosk, door and phone, face or PIN."""

    scopes = {"GET": READ}
    serializer_class = PunchSerializer
    filterset_class = PunchFilter
    model = Punch

    def rows(self, values):
        qs = Punch.objects.for_brand(self.brand).select_related("staff", "store")
        qs = _visible(qs, self.staff, values)
        if "source" in values:
            qs = qs.filter(source=values["source"])
        if "offline" in values:
            qs = qs.filter(offline=values["offline"])
        if "since" in values:
            qs = qs.filter(occurred_at__gte=values["since"])
        if "until" in values:
            qs = qs.filter(occurred_at__lt=values["until"])
        return qs.order_by("-occurred_at", "-id")


class DayRecordListView(_ReadView):
    """Day records (on time, late, left early, absent, missing punch...), latest day first."""

    scopes = {"GET": READ}
    serializer_class = DayRecordSerializer
    filterset_class = DayRecordFilter
    model = DayRecord

    def rows(self, values):
        qs = DayRecord.objects.for_brand(self.brand).select_related("staff", "store", "schedule__shift")
        qs = _dates(_visible(qs, self.staff, values), values)
        if "status" in values:
            qs = qs.filter(status=values["status"])
        if "corrected" in values:
            qs = qs.filter(corrected=values["corrected"])
        return qs.order_by("-date", "staff_id", "id")


class ShiftListView(_ReadView):
    """The stores' shift templates (start, end, grace minutes)."""

    scopes = {"GET": READ}
    serializer_class = ShiftSerializer
    filterset_class = ShiftFilter
    model = ShiftTemplate

    def rows(self, values):
        qs = ShiftTemplate.objects.for_brand(self.brand).select_related("store")
        qs = _visible(qs, self.staff, values)
        if "active" in values:
            qs = qs.filter(active=values["active"])
        return qs.order_by("store_id", "start", "name", "id")


def _pick(model, brand, pk: int, field: str, message):
    with brand_scope(brand):
        row = model.objects.for_brand(brand).filter(pk=pk).first()
    if row is None:
        raise serializers.ValidationError({field: [message]})
    return row


class ScheduleView(_ReadView):
    """Who works which shift on which date. POST puts a person on a shift on some dates (replacing
    what they were scheduled for); DELETE takes them off the store's schedule on a range of dates.
    Day records of those dates are computed again."""

    scopes = {"GET": READ, "POST": WRITE, "DELETE": WRITE}
    serializer_class = ScheduleSerializer
    filterset_class = ScheduleFilter
    model = Schedule

    def rows(self, values):
        qs = Schedule.objects.for_brand(self.brand).select_related("staff", "store", "shift")
        qs = _dates(_visible(qs, self.staff, values), values)
        if "shift" in values:
            qs = qs.filter(shift_id=values["shift"])
        return qs.order_by("date", "staff_id", "id")

    def _store_and_staff(self, data) -> tuple[Store, Staff]:
        store = _pick(Store, self.brand, data["store"], "store", _("No such store."))
        staff = _pick(Staff, self.brand, data["staff"], "staff", _("No such person."))
        return store, staff

    @extend_schema(
        request=ScheduleSetSerializer,
        responses={
            200: inline_serializer(
                "SchedulesSet", {"schedules": ScheduleSerializer(many=True, help_text="One per date.")}
            )
        },
        filters=False,
        description="Put the person on the shift on each date (idempotent: the same request again "
        "changes nothing; with an Idempotency-Key a retry gets the first answer).",
    )
    def post(self, request):
        s = ScheduleSetSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        store, staff = self._store_and_staff(s.validated_data)
        shift = _pick(ShiftTemplate, self.brand, s.validated_data["shift"], "shift", _("No such shift."))
        if shift.store_id != store.pk:
            raise serializers.ValidationError({"shift": [_("This shift belongs to another store.")]})
        try:
            with transaction.atomic():
                rows = records.schedule_set(
                    brand=self.brand,
                    manager=self.staff,
                    actor=Actor.from_request(request),
                    store=store,
                    staff=staff,
                    days=s.validated_data["dates"],
                    shift=shift,
                )
        except ValidationError as exc:
            if getattr(exc, "code", None) == "not_in_store":
                raise serializers.ValidationError({"staff": exc.messages}, code="not_in_store") from None
            raise
        for row in rows:
            row.staff, row.store, row.shift = staff, store, shift
        return Response({"schedules": ScheduleSerializer(rows, many=True).data})

    @extend_schema(
        parameters=[ScheduleClearSerializer],
        request=None,
        filters=False,
        responses={
            200: inline_serializer(
                "ScheduleCleared",
                {"removed": serializers.IntegerField(help_text="How many scheduled days were removed.")},
            )
        },
        description="Take the person off the store's schedule from date_from to date_to (idempotent: "
        "again, nothing more is removed).",
    )
    def delete(self, request):
        s = ScheduleClearSerializer(data=request.query_params)
        s.is_valid(raise_exception=True)
        store, staff = self._store_and_staff(s.validated_data)
        first, last = s.validated_data["date_from"], s.validated_data["date_to"]
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        with transaction.atomic():
            removed = records.schedule_clear(
                brand=self.brand,
                manager=self.staff,
                actor=Actor.from_request(request),
                store=store,
                staff=staff,
                days=days,
            )
        return Response({"removed": removed})
