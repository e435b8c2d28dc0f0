"""The API's list filters: django-filter FilterSets with the API's bounds and error shape.

A list's FilterSet validates its query parameters (a bad one is a 400 in the API's one error
shape, ``{"error": {"code": "invalid", "message", "fields"}}``) and its selector applies them: the
filtering logic stays in the selector, which also takes ``brand=``, so a filter can only narrow
the brand's rows. drf-spectacular documents every filter from the API field it is declared with,
so the parameters keep the bounds of the body fields (ids 1..2**63-1, dates 2000..2100).
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.drainage import set_override
from drf_spectacular.plumbing import get_view_model
from rest_framework import mixins, serializers

from retail import api_fields
from retail.api_base import BrandGenericView


def _documented(filter_: django_filters.Filter, field_class, **kw) -> None:
    """Document ``filter_`` in the schema as the API field ``field_class(**kw)``: its type, bounds
    and enum, with the filter's help text."""
    field = field_class(required=False, help_text=filter_.extra.get("help_text"), **kw)
    set_override(filter_, "field", field)


def _documented_schema(filter_: django_filters.Filter, schema: dict) -> None:
    """Document ``filter_`` with a raw schema: drf-spectacular maps a lone field without its
    length validators (``maxLength``, ``maxItems``)."""
    help_text = filter_.extra.get("help_text")
    set_override(filter_, "field", {**schema, **({"description": str(help_text)} if help_text else {})})


class _BoundedDateField(forms.DateField):
    default_error_messages = {"out_of_range": _("Enter a date from {min} to {max}.")}

    def __init__(self, *, min_date: datetime.date, max_date: datetime.date, **kw):
        self.min_date, self.max_date = min_date, max_date
        kw.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kw)

    def clean(self, value):
        day = super().clean(value)
        if day is not None and not self.min_date <= day <= self.max_date:
            raise ValidationError(
                str(self.error_messages["out_of_range"]).format(
                    min=self.min_date.isoformat(), max=self.max_date.isoformat()
                ),
                code="out_of_range",
            )
        return day


class DateFilter(django_filters.Filter):
    """A date from 2000-01-01 to 2100-12-31 (ISO 8601), like ``api_fields.DateField``."""

    field_class = _BoundedDateField

    def __init__(
        self,
        *,
        min_date: datetime.date = api_fields.EARLIEST_DATE,
        max_date: datetime.date = api_fields.LATEST_DATE,
        **kw,
    ):
        super().__init__(min_date=min_date, max_date=max_date, **kw)
        _documented(self, api_fields.DateField, min_date=min_date, max_date=max_date)


class _BoundedDateTimeField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            return api_fields.DateTimeField().to_internal_value(value)
        except serializers.ValidationError as exc:
            raise ValidationError([str(m) for m in exc.detail], code="invalid") from None


class DateTimeFilter(django_filters.Filter):
    """A moment in ISO 8601 from 2000 to 2100, like ``api_fields.DateTimeField`` (without an
    offset: the server's time zone)."""

    field_class = _BoundedDateTimeField

    def __init__(self, **kw):
        super().__init__(**kw)
        _documented(self, api_fields.DateTimeField)


class NumberFilter(django_filters.Filter):
    """A whole number from ``min_value`` to ``max_value`` (both required: nothing is unbounded)."""

    field_class = forms.IntegerField

    def __init__(self, *, min_value: int, max_value: int, **kw):
        super().__init__(min_value=min_value, max_value=max_value, **kw)
        _documented(self, serializers.IntegerField, min_value=min_value, max_value=max_value)


class IdFilter(NumberFilter):
    """The id of a row: 1 to 2**63 - 1, like ``api_fields.IdField``."""

    def __init__(self, **kw):
        super().__init__(min_value=1, max_value=api_fields.ID_MAX, **kw)
        _documented(self, api_fields.IdField)


class _IdListField(forms.Field):
    widget = forms.MultipleHiddenInput  # reads every value of a repeated parameter (?tag=1&tag=2)
    default_error_messages = {"too_many": _("Ensure this field has no more than {max_length} elements.")}

    def __init__(self, *, max_length: int, **kw):
        self.max_length = max_length
        self.item = forms.IntegerField(min_value=1, max_value=api_fields.ID_MAX)
        super().__init__(**kw)

    def to_python(self, value) -> list[int]:
        values = [v for v in (value or []) if v not in ("", None)]
        if len(values) > self.max_length:
            message = str(self.error_messages["too_many"]).format(max_length=self.max_length)
            raise ValidationError(message, code="max_length")
        return [self.item.clean(v) for v in values]


class IdListFilter(django_filters.Filter):
    """Ids given by repeating the parameter (``?tag=1&tag=2``), at most ``max_length`` of them."""

    field_class = _IdListField

    def __init__(self, *, max_length: int, **kw):
        super().__init__(max_length=max_length, **kw)
        _documented_schema(
            self,
            {
                "type": "array",
                "items": {"type": "integer", "format": "int64", "minimum": 1, "maximum": api_fields.ID_MAX},
                "maxItems": max_length,
            },
        )


class CharFilter(django_filters.CharFilter):
    """Text of at most ``max_length`` characters."""

    def __init__(self, *, max_length: int, **kw):
        super().__init__(max_length=max_length, **kw)
        _documented_schema(self, {"type": "string", "maxLength": max_length})


class ChoiceFilter(django_filters.ChoiceFilter):
    """One of ``choices``."""

    def __init__(self, *, choices, **kw):
        super().__init__(choices=choices, **kw)
        _documented(self, serializers.ChoiceField, choices=choices)


class _BooleanField(forms.Field):
    default_error_messages = {"invalid": _("Must be a valid boolean.")}

    def to_python(self, value) -> bool | None:
        if value in (None, ""):
            return None
        if value in serializers.BooleanField.TRUE_VALUES:
            return True
        if value in serializers.BooleanField.FALSE_VALUES:
            return False
        raise ValidationError(self.error_messages["invalid"], code="invalid")


class BooleanFilter(django_filters.Filter):
    """``true`` or ``false`` as the API's body fields take them (also ``1``/``0``, ``yes``/``no``);
    anything else is refused."""

    field_class = _BooleanField

    def __init__(self, **kw):
        super().__init__(**kw)
        _documented(self, serializers.BooleanField)


class SelectorFilterSet(django_filters.FilterSet):
    """The query parameters of a list whose selector does the filtering.

    django-filter validates them (``filter_values``); the view passes the values to its selector,
    which keeps the filtering logic and the brand scope. ``filter_queryset`` adds nothing."""

    def filter_queryset(self, queryset):
        return queryset


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend; its schema extension below reads brand-owned models without a brand."""


class FilterBackendSchema(DjangoFilterExtension):
    # drf-spectacular's django-filter extension asks the model's default manager for an empty
    # queryset, which a brand-owned model refuses without a brand: use the base manager.
    target_class = "retail.filters.FilterBackend"
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        model = get_view_model(auto_schema.view)
        filterset_class = model and self.target.get_filterset_class(
            auto_schema.view, model._base_manager.none()
        )
        if not filterset_class:
            return []
        return [
            parameter
            for name, filter_field in filterset_class.base_filters.items()
            for parameter in self.resolve_filter_field(
                auto_schema, model, filterset_class, name, filter_field
            )
        ]


def filter_values(view, data=None) -> dict:
    """The view's query parameters (or ``data``) as its ``filterset_class`` cleaned them, without
    the ones left out or empty; a 400 in the API's error shape when one is bad."""
    filterset_class = view.filterset_class
    model = filterset_class._meta.model
    filterset = filterset_class(
        data=view.request.query_params if data is None else data,
        queryset=model._base_manager.none(),
        request=view.request,
    )
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return {k: v for k, v in filterset.form.cleaned_data.items() if v not in (None, "", [])}


class FilteredListView(mixins.ListModelMixin, BrandGenericView, abstract=True):
    # Base of a brand API view whose GET is a page of a filtered list (no docstring: the schema
    # shows each view's own). django-filter's backend documents ``filterset_class`` (and nothing
    # else: no ordering parameter); ``get_queryset`` hands ``filter_values()`` to the selector.
    filter_backends = [FilterBackend]
    filterset_class: type[SelectorFilterSet]

    def filter_values(self, data=None) -> dict:
        return filter_values(self, data)

    def filter_queryset(self, queryset):
        return queryset  # get_queryset() passed the filter values to the selector

    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)
