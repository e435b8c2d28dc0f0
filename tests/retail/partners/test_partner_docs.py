"""docs/partners.md cannot drift from the code: its scope table, webhook samples and event catalogue
are what ``manage.py partner_docs`` generates from the views' scopes, docs/samples/ and
retail.webhooks.catalogue."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from retail.management.commands import partner_docs
from retail.partners.scopes import SCOPES
from retail.webhooks.catalogue import event_types


def test_the_guide_is_up_to_date():
    call_command("partner_docs", "--check")


def test_a_changed_catalogue_is_caught(tmp_path, monkeypatch):
    doc = tmp_path / "partners.md"
    text = partner_docs.DOC.read_text()
    some_event = next(iter(event_types()))
    assert f"#### `{some_event}`" in text
    doc.write_text(text.replace(f"#### `{some_event}`", "#### `renamed.event`", 1))
    monkeypatch.setattr(partner_docs, "DOC", doc)
    with pytest.raises(CommandError, match="out of date"):
        call_command("partner_docs", "--check")
    call_command("partner_docs")  # rewrites it
    assert doc.read_text() == text


def test_every_event_and_its_schema_and_every_scope_are_in_the_guide():
    text = partner_docs.DOC.read_text()
    for name, et in event_types().items():
        assert f"#### `{name}`" in text
        assert json.dumps(et.schema, indent=2, ensure_ascii=False, default=str) in text
    for scope in SCOPES:
        assert f"| `{scope}` |" in text
    # Every partner-callable operation is listed under its scope.
    for method, path, scope in partner_docs.api_operations():
        assert f"`{method} {path}`" in text, (method, path, scope)
    assert "`POST /api/v1/orders/{pk}/refunds/`" in text
