"""The benchmarks seed their data with hand-written SQL (bench/scenarios: the .sql files and the
statements inside the scenario modules). A column the models make NOT NULL without a database
default must be in every INSERT into its table, or the benchmark breaks the day the column is
added, long after its own run. This checks every such INSERT against the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db.models import NOT_PROVIDED

SCENARIOS = Path(settings.BASE_DIR) / "bench" / "scenarios"
INSERT = re.compile(r"INSERT INTO\s+([a-z_][a-z0-9_]*)\s*\(([^)]*)\)", re.IGNORECASE)


def _inserts() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in sorted([*SCENARIOS.glob("*.sql"), *SCENARIOS.glob("*.py")]):
        for match in INSERT.finditer(path.read_text(encoding="utf-8")):
            columns = [c.strip().strip('"') for c in match.group(2).split(",")]
            if all(re.fullmatch(r"[a-z_][a-z0-9_]*", c) for c in columns):
                found.append((path.name, match.group(1), columns))
    return found


def _models_by_table() -> dict:
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}


def _required_columns(model) -> set[str]:
    """Columns that are NOT NULL and have no default in the database."""
    required = set()
    for field in model._meta.concrete_fields:
        if field.null or field.primary_key or getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
            continue
        required.add(field.column)
    return required


INSERTS = _inserts()


def test_the_bench_seeds_are_found():
    tables = {table for _, table, _ in INSERTS}
    assert {"retail_staff", "members_member", "cloudstore_order"} <= tables


@pytest.mark.parametrize(("source", "table", "columns"), INSERTS, ids=[f"{s}:{t}" for s, t, _ in INSERTS])
def test_every_seed_insert_fills_the_tables_required_columns(source, table, columns):
    model = _models_by_table().get(table)
    assert model is not None, f"{source}: no model has the table {table}"
    known = {f.column for f in model._meta.concrete_fields}
    assert set(columns) <= known, f"{source}: {table} has no column {sorted(set(columns) - known)}"
    missing = _required_columns(model) - set(columns)
    assert not missing, f"{source}: INSERT INTO {table} leaves out NOT NULL columns {sorted(missing)}"
