"""Audit entries of partner apps, written in the transaction of the change."""

from __future__ import annotations

from retail.events import Actor, record
from retail.models import AuditLog, Brand


def app_created(*, brand: Brand, actor: Actor, app) -> AuditLog:
    return record(
        brand=brand,
        actor=actor,
        action="partner_app.created",
        target=app,
        data={"client_id": app.application.client_id, "scopes": app.scopes, "test_mode": app.test_mode},
    )


def app_updated(*, brand: Brand, actor: Actor, app, changes: dict) -> AuditLog:
    return record(
        brand=brand, actor=actor, action="partner_app.updated", target=app, data={"changes": changes}
    )


def app_secret_rotated(*, brand: Brand, actor: Actor, app, grace_hours: int) -> AuditLog:
    return record(
        brand=brand,
        actor=actor,
        action="partner_app.secret_rotated",
        target=app,
        data={"grace_hours": grace_hours},
    )


def app_revoked(*, brand: Brand, actor: Actor, app) -> AuditLog:
    return record(brand=brand, actor=actor, action="partner_app.revoked", target=app)
