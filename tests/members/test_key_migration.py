"""The data migration that renames recent ``api:<key>`` idempotency keys to the caller-scoped
``api:<staff id>:<key>``: a retry sent across the upgrade is still a replay."""

from __future__ import annotations

import datetime
import importlib

from django.apps import apps
from django.db import connection
from django.utils import timezone

from members.models import PointsEntry
from retail.tenancy import brand_scope
from tests.factories import MemberFactory

migration = importlib.import_module("members.migrations.0006_idempotency_keys_by_caller")


class _Editor:
    connection = connection


def _entry(brand, member, source, user, *, days_ago=0):
    with brand_scope(brand):
        return PointsEntry.objects.create(
            brand=brand,
            member=member,
            kind=PointsEntry.Kind.ADJUST,
            amount=10,
            balance_after=10,
            source=source,
            created_by=user,
            created_at=timezone.now() - datetime.timedelta(days=days_ago),
        )


def test_recent_old_form_keys_are_scoped_by_their_caller(brand, store_manager):
    with brand_scope(brand):
        member = MemberFactory(brand=brand)
    old = _entry(brand, member, "api:order-1", store_manager.user)
    new = _entry(brand, member, f"api:{store_manager.pk}:order-2", store_manager.user)
    stale = _entry(brand, member, "api:order-3", store_manager.user, days_ago=30)
    internal = _entry(brand, member, "expiry:2026-01", None)

    migration.rename_points_keys(apps, _Editor())

    with brand_scope(brand):
        got = dict(PointsEntry.objects.values_list("pk", "source"))
    assert got[old.pk] == f"api:{store_manager.pk}:order-1"
    assert got[new.pk] == f"api:{store_manager.pk}:order-2"
    assert got[stale.pk] == "api:order-3"
    assert got[internal.pk] == "expiry:2026-01"
