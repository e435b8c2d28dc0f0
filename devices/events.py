"""Audit entries of device actions, written in the same transaction as the change."""

from __future__ import annotations

from retail.events import Actor, record
from retail.models import AuditLog, Brand


def device_created(*, brand: Brand, actor: Actor, device) -> AuditLog:
    return record(
        brand=brand,
        actor=actor,
        action="device.created",
        target=device,
        data={"store": device.store_id, "kind": device.kind},
    )


def pairing_code_issued(*, brand: Brand, actor: Actor, device) -> AuditLog:
    return record(brand=brand, actor=actor, action="device.pairing_code", target=device)


def device_paired(*, brand: Brand, actor: Actor, device) -> AuditLog:
    return record(
        brand=brand,
        actor=actor,
        action="device.paired",
        target=device,
        data={"credential_version": device.credential_version},
    )


def device_rotated(*, brand: Brand, actor: Actor, device) -> AuditLog:
    return record(brand=brand, actor=actor, action="device.rotated", target=device)


def device_updated(*, brand: Brand, actor: Actor, device, changes: list[str]) -> AuditLog:
    return record(brand=brand, actor=actor, action="device.updated", target=device, data={"changes": changes})


def device_disabled(*, brand: Brand, actor: Actor, device) -> AuditLog:
    return record(brand=brand, actor=actor, action="device.disabled", target=device)


def device_enabled(*, brand: Brand, actor: Actor, device) -> AuditLog:
    return record(brand=brand, actor=actor, action="device.enabled", target=device)


def door_opened_remotely(*, brand: Brand, actor: Actor, device, reason: str) -> AuditLog:
    return record(
        brand=brand,
        actor=actor,
        action="device.door_opened",
        target=device,
        data={"reason": (reason or "")[:100]},
    )


def command_sent(*, brand: Brand, actor: Actor, device, name: str) -> AuditLog:
    return record(brand=brand, actor=actor, action="device.command", target=device, data={"command": name})
