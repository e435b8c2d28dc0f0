"""Audit events: one function per event, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from django.db import models

from retail.models import AuditLog, Brand, User


class Actor:
    """Who did something and from where (taken from the request, or a system job)."""

    def __init__(self, user: User | None = None, ip: str | None = None, user_agent: str = ""):
        self.user = user if (user is not None and user.is_authenticated) else None
        self.ip = ip
        self.user_agent = (user_agent or "")[:255]

    @classmethod
    def from_request(cls, request) -> Actor:
        return cls(
            user=getattr(request, "user", None),
            ip=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )

    @classmethod
    def system(cls) -> Actor:
        return cls()


def record(
    *,
    brand: Brand | None,
    actor: Actor | None,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    target_repr: str | None = None,
) -> AuditLog:
    actor = actor or Actor.system()
    return AuditLog.unscoped.create(
        brand=brand,
        actor=actor.user,
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=(target_repr if target_repr is not None else str(target) if target is not None else "")[
            :200
        ],
        data=data or {},
        ip=actor.ip,
        user_agent=actor.user_agent,
    )


def store_created(*, brand: Brand, actor: Actor, store) -> AuditLog:
    return record(brand=brand, actor=actor, action="store.created", target=store)


def store_updated(*, brand: Brand, actor: Actor, store, changes: dict) -> AuditLog:
    return record(brand=brand, actor=actor, action="store.updated", target=store, data={"changes": changes})


def staff_invited(*, brand: Brand, actor: Actor, staff) -> AuditLog:
    return record(brand=brand, actor=actor, action="staff.invited", target=staff, data={"role": staff.role})


def staff_updated(*, brand: Brand, actor: Actor, staff, changes: dict) -> AuditLog:
    return record(brand=brand, actor=actor, action="staff.updated", target=staff, data={"changes": changes})


def staff_deactivated(*, brand: Brand, actor: Actor, staff) -> AuditLog:
    return record(brand=brand, actor=actor, action="staff.deactivated", target=staff)


def staff_reactivated(*, brand: Brand, actor: Actor, staff) -> AuditLog:
    return record(brand=brand, actor=actor, action="staff.reactivated", target=staff)


def invitation_accepted(*, brand: Brand, actor: Actor, staff) -> AuditLog:
    return record(brand=brand, actor=actor, action="invitation.accepted", target=staff)


def password_changed(*, brand: Brand, actor: Actor, user: User) -> AuditLog:
    return record(brand=brand, actor=actor, action="user.password_changed", target=user)


def brand_status_changed(*, brand: Brand, actor: Actor, status: str) -> AuditLog:
    return record(
        brand=brand,
        actor=actor,
        action="brand.status_changed",
        target=brand,
        data={"status": status},
    )


def platform_bypass(*, actor: Any, reason: str, ip: str | None = None) -> AuditLog:
    user = actor if isinstance(actor, User) else getattr(actor, "user", None)
    return record(
        brand=None,
        actor=Actor(user=user, ip=ip),
        action="platform.rls_bypass",
        data={"reason": reason[:500]},
    )


def private_file_downloaded(
    *, brand: Brand, actor: Actor, target: models.Model, label: str, field: str
) -> AuditLog:
    """A file holding personal data was downloaded (who, which file, from where)."""
    return record(
        brand=brand,
        actor=actor,
        action="file.downloaded",
        target=target,
        target_repr=label,
        data={"field": field},
    )
