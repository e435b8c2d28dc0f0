"""The event catalogue: every public event type the apps emit is recorded from the real flows
(joining, merging, paying, attributing, refunding, paying a statement), and every payload built
validates against its JSON Schema (draft 2020-12): ids, integer fen, UTC times, phones masked,
no internal notes."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker

from guides import events as guide_events
from guides.models import SettlementPeriod, Statement
from members.services.merge import members_merge
from retail.events import Actor
from retail.tenancy import brand_scope
from retail.webhooks import catalogue, recording, services
from retail.webhooks.models import WebhookEvent
from tests.factories import MemberFactory, SkuFactory
from tests.helpers.commission import cloud_order, join, refund
from tests.helpers.partners import make_app

pytestmark = pytest.mark.django_db

ISSUE_TYPES = {
    "member.joined",
    "member.merged",
    "order.paid",
    "order.refunded",
    "order.attributed",
    "commission.statement_paid",
}

formats = FormatChecker()


@formats.checks("date-time")
def _utc_time(value) -> bool:
    if not isinstance(value, str):
        return True
    return value.endswith("Z") and datetime.datetime.fromisoformat(value[:-1] + "+00:00") is not None


def validate(event_type: str, data: dict) -> None:
    schema = catalogue.get(event_type).schema
    Draft202012Validator(schema, format_checker=formats).validate(data)


def test_the_catalogue_has_the_issues_event_types_with_valid_schemas():
    types = catalogue.event_types()
    assert set(types) >= ISSUE_TYPES
    for event in [*types.values(), catalogue.get(catalogue.PING)]:
        Draft202012Validator.check_schema(event.schema)
        assert event.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert str(event.description)
    assert catalogue.get("commission.statement_paid").source == "statement.paid"


def test_every_event_from_the_real_flows_matches_its_schema(brand, store, brand_admin, guide, monkeypatch):
    monkeypatch.setattr(recording, "kick", lambda brand_id, endpoint_id: None)  # recorded, not sent
    app, _s = make_app(brand, brand_admin, scopes=["webhooks:manage"])
    services.endpoint_create(
        brand=brand,
        actor=Actor.system(),
        app=app,
        url="http://127.0.0.1:9/hook",
        event_types=sorted(catalogue.event_types()),
    )

    member = join(brand, guide, phone="13800138000", name="李娜")
    members_merge(
        brand=brand,
        survivor=member,
        absorbed=MemberFactory(brand=brand),
        actor=Actor.system(),
        reason="内部备注",
    )
    order = cloud_order(brand, store, member, SkuFactory(brand=brand))
    refund(brand, brand_admin, order, amount_fen=100)
    with brand_scope(brand):
        now = timezone.now()
        period = SettlementPeriod.objects.create(
            brand=brand, start=now - datetime.timedelta(days=30), end=now, label="2026-11"
        )
        statement = Statement.objects.create(
            brand=brand, period=period, guide=guide, orders=3, earned_fen=1234, total_fen=1234, paid_at=now
        )
        guide_events.statements_paid(brand=brand, statements=[statement])

    with brand_scope(brand):
        events = list(WebhookEvent.objects.order_by("created_at"))
    assert {e.type for e in events} >= ISSUE_TYPES
    for event in events:
        validate(event.type, event.data)
        text = json.dumps(event.envelope(), ensure_ascii=False)
        assert "13800138000" not in text  # phones only masked
        assert "退货" not in text and "内部备注" not in text  # internal notes stay inside
    by_type = {e.type: e.data for e in events}
    assert by_type["member.joined"]["phone_masked"] == "138****8000"
    assert by_type["member.joined"]["member_id"] == member.pk
    assert by_type["member.merged"]["survivor_id"] == member.pk
    assert by_type["order.paid"]["order_id"] == order.pk and by_type["order.paid"]["lines"]
    assert by_type["order.refunded"]["amount_fen"] == 100
    assert by_type["order.attributed"]["order_number"] == order.number
    assert by_type["commission.statement_paid"] == {
        **by_type["commission.statement_paid"],
        "statement_id": statement.pk,
        "total_fen": 1234,
        "guide_id": guide.pk,
    }


@pytest.mark.parametrize("event_type", sorted(ISSUE_TYPES))
def test_a_payload_with_a_phone_in_clear_or_an_extra_field_is_refused_by_the_schema(event_type):
    schema = catalogue.get(event_type).schema
    assert schema["additionalProperties"] is False and set(schema["required"]) == set(schema["properties"])
