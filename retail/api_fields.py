"""The API's date, time and id fields: inputs bounded to a sane range, times answered in UTC.

Every date and datetime of the API goes through these: ModelSerializer maps model fields to them
(``install``, run when the app is ready) and serializers declare them instead of DRF's own. Ids
are bounded to the database's 64-bit range: a larger number names nothing and is a 400, not an
overflow in the database driver.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

EARLIEST_DATE = datetime.date(2000, 1, 1)
LATEST_DATE = datetime.date(2100, 12, 31)
# Birthdays and employment dates reach further back.
EARLIEST_LIFE_DATE = datetime.date(1900, 1, 1)
ID_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    """The id of a row: 1 to 2**63 - 1."""

    def __init__(self, **kw):
        kw.setdefault("min_value", 1)
        kw.setdefault("max_value", ID_MAX)
        super().__init__(**kw)


class DateField(serializers.DateField):
    """A date from ``min_date`` (2000-01-01) to ``max_date`` (2100-12-31)."""

    default_error_messages = {"out_of_range": _("Enter a date from {min} to {max}.")}

    def __init__(
        self, *, min_date: datetime.date = EARLIEST_DATE, max_date: datetime.date = LATEST_DATE, **kw
    ):
        self.min_date, self.max_date = min_date, max_date
        super().__init__(**kw)

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not self.min_date <= day <= self.max_date:
            self.fail("out_of_range", min=self.min_date.isoformat(), max=self.max_date.isoformat())
        return day


class DateTimeField(serializers.DateTimeField):
    """A moment from 2000-01-01 to 2100-12-31, answered in UTC (``…Z``).

    An input without an offset is read in the server's time zone (China time)."""

    default_error_messages = {"out_of_range": _("Enter a time from {min} to {max}.")}

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        day = moment.astimezone(datetime.UTC).date() if moment.tzinfo else moment.date()
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            self.fail("out_of_range", min=EARLIEST_DATE.isoformat(), max=LATEST_DATE.isoformat())
        return moment

    def to_representation(self, value):
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
            return value.isoformat().replace("+00:00", "Z")
        return super().to_representation(value)


def utc_times(value):
    """``value`` (parsed JSON) with every ISO 8601 time that has an offset rewritten in UTC (``…Z``)."""
    if isinstance(value, dict):
        return {k: utc_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [utc_times(v) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T" and value[:4].isdigit():
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return value


class JSONField(serializers.JSONField):
    """Free-form JSON (e.g. what an audit entry recorded), its times answered in UTC like the rest."""

    def to_representation(self, value):
        return utc_times(super().to_representation(value))


def install() -> None:
    """ModelSerializer maps model dates, datetimes and JSON to the API's fields."""
    mapping = serializers.ModelSerializer.serializer_field_mapping
    mapping[models.DateField] = DateField
    mapping[models.DateTimeField] = DateTimeField
    mapping[models.JSONField] = JSONField


def unbounded_fields(serializers_) -> list[str]:
    """Input fields of these serializers (classes or instances) that take a date, time or whole
    number without the API's bounds."""
    found = []
    for s in serializers_:
        cls = s if isinstance(s, type) else type(s)
        fields = (s() if isinstance(s, type) else s).fields
        for name, field in _input_fields(fields):
            dated = isinstance(field, serializers.DateTimeField | serializers.DateField)
            if dated and not isinstance(field, DateTimeField | DateField):
                found.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
            if isinstance(field, serializers.IntegerField) and (
                field.max_value is None or field.min_value is None or field.max_value > ID_MAX
            ):
                found.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return found


def local_time_fields(serializers_) -> list[str]:
    """Fields of these answers (serializer classes or instances) that would answer a time in the
    server's time zone rather than in UTC."""
    found = []
    for s in serializers_:
        s = s() if isinstance(s, type) else s
        s = s.child if isinstance(s, serializers.ListSerializer) else s
        cls = type(s)
        for name, field in _input_fields(s.fields, read_only=True):
            if isinstance(field, serializers.DateTimeField) and not isinstance(field, DateTimeField):
                found.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return found


def _input_fields(fields, prefix="", read_only=False):
    for name, field in fields.items():
        if field.read_only and not read_only:
            continue
        path = f"{prefix}{name}"
        if isinstance(field, serializers.ListField):
            yield from _input_fields({"*": field.child}, f"{path}.", read_only)
        elif isinstance(field, serializers.ListSerializer):
            yield from _input_fields(field.child.fields, f"{path}.*.", read_only)
        elif isinstance(field, serializers.Serializer):
            yield from _input_fields(field.fields, f"{path}.", read_only)
        else:
            yield path, field
