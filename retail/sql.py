"""What hand-written SQL needs to know of a model: its table and its stored fields (Django's
model metadata, read in one place)."""

from __future__ import annotations

from django.db.models import Field, Model


def table(model: type[Model]) -> str:
    return model._meta.db_table


def stored_fields(model: type[Model]) -> list[Field]:
    """The fields with a column, in the model's order (what ``SELECT *`` would give)."""
    return list(model._meta.concrete_fields)
