"""Writes of the tenancy core. Each function owns its transaction inside the brand's scope."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from retail import events, outbox, roles
from retail.events import Actor
from retail.models import Brand, Invitation, Staff, StaffStore, Store, User
from retail.outbox import enqueue_on_commit
from retail.phones import normalize_phone
from retail.tenancy import brand_scope

STORE_FIELDS = (
    "code",
    "name",
    "address",
    "latitude",
    "longitude",
    "geofence_radius_m",
    "timezone",
    "opens_at",
    "closes_at",
    "status",
)
STAFF_FIELDS = ("name", "employee_no", "role", "hired_on")


def _require(brand: Brand, manager: Staff, allowed: bool) -> None:
    """The acting staff member works for this brand, is active, and has the right."""
    if manager.brand_id != brand.pk or manager.status != Staff.Status.ACTIVE or not allowed:
        raise PermissionDenied(_("You are not allowed to do this."))


def _full_clean(obj, exclude: Iterable[str] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_constraints=True)


# Cloud-store paths under /c/<brand>/ that a store code would otherwise shadow.
RESERVED_STORE_CODES = {"login", "orders", "coupons"}


def _save_store(brand: Brand, store: Store) -> None:
    if (store.code or "").lower() in RESERVED_STORE_CODES:
        raise ValidationError({"code": _("This code is reserved; choose another.")})
    clash = Store.objects.for_brand(brand).filter(code=store.code).exclude(pk=store.pk)
    if clash.exists():
        raise ValidationError({"code": _("Another store already has this code.")})
    _full_clean(store)
    try:
        with transaction.atomic():
            store.save()
    except IntegrityError as exc:  # a concurrent create with the same code
        raise ValidationError({"code": _("Another store already has this code.")}) from exc


def store_create(*, brand: Brand, manager: Staff, actor: Actor, data: dict[str, Any]) -> Store:
    """Create a store; only brand admins may."""
    _require(brand, manager, roles.can_manage_stores(manager))
    with brand_scope(brand):
        store = Store(brand=brand, **{k: v for k, v in data.items() if k in STORE_FIELDS})
        _save_store(brand, store)
        events.store_created(brand=brand, actor=actor, store=store)
    return store


def store_update(*, brand: Brand, manager: Staff, actor: Actor, store: Store, data: dict[str, Any]) -> Store:
    _require(brand, manager, roles.can_manage_stores(manager))
    with brand_scope(brand):
        store = Store.objects.select_for_update().get(pk=store.pk)
        changes = {}
        for field in STORE_FIELDS:
            if field in data and getattr(store, field) != data[field]:
                changes[field] = [str(getattr(store, field)), str(data[field])]
                setattr(store, field, data[field])
        if changes:
            _save_store(brand, store)
            events.store_updated(brand=brand, actor=actor, store=store, changes=changes)
    return store


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_stores(brand: Brand, manager: Staff, store_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(s) for s in store_ids})
    found = set(Store.objects.for_brand(brand).filter(pk__in=ids).values_list("pk", flat=True))
    if found != set(ids):
        raise ValidationError({"stores": _("Unknown store.")})
    if not roles.sees_all_stores(manager) and not set(ids) <= roles.store_ids(manager):
        raise ValidationError({"stores": _("You can only assign your own stores.")})
    return ids


def _set_stores(brand: Brand, staff: Staff, store_ids: list[int]) -> None:
    StaffStore.objects.for_brand(brand).filter(staff=staff).exclude(store_id__in=store_ids).delete()
    have = set(StaffStore.objects.for_brand(brand).filter(staff=staff).values_list("store_id", flat=True))
    StaffStore.objects.bulk_create(
        [StaffStore(brand=brand, staff=staff, store_id=s) for s in store_ids if s not in have]
    )
    staff._store_ids = set(store_ids)


def staff_invite(
    *,
    brand: Brand,
    manager: Staff,
    actor: Actor,
    name: str,
    phone: str,
    role: str,
    store_ids: Iterable[int] = (),
    employee_no: str = "",
    hired_on: datetime.date | None = None,
) -> tuple[Staff, str]:
    """Create a staff record in 'invited' state and a one-time invitation; return (staff, link path).

    A person who already has a login (a promoter working for several brands) is linked to the
    new employment rather than duplicated.
    """
    _require(brand, manager, roles.can_manage_staff(manager))
    if role not in roles.roles_assignable_by(manager):
        raise ValidationError({"role": _("You cannot give this role.")})
    try:
        phone = normalize_phone(phone) if phone else ""
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from exc
    if not phone:
        raise ValidationError({"phone": _("This field is required.")})
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("This field is required.")})
    with brand_scope(brand):
        ids = _check_stores(brand, manager, store_ids)
        if role != Staff.Role.BRAND_ADMIN and not ids:
            raise ValidationError({"stores": _("Choose at least one store.")})
        user = User.objects.select_for_update().filter(phone=phone).first()
        if user is None:
            user = User(username=phone, phone=phone, display_name=name)
            user.set_unusable_password()
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError as exc:
                raise ValidationError({"phone": _("This phone number is already registered.")}) from exc
        elif Staff.unscoped.filter(brand=brand, user=user).exists():
            raise ValidationError({"phone": _("This person is already on your staff.")})
        staff = Staff(
            brand=brand,
            user=user,
            name=name,
            employee_no=(employee_no or "").strip(),
            role=role,
            status=Staff.Status.INVITED,
            hired_on=hired_on,
        )
        _full_clean(staff, exclude=["user"])
        try:
            with transaction.atomic():
                staff.save()
        except IntegrityError as exc:
            raise ValidationError({"employee_no": _("This employee number is already in use.")}) from exc
        _set_stores(brand, staff, ids)
        events.staff_invited(brand=brand, actor=actor, staff=staff)
        link = _invitation_issue(brand=brand, staff=staff, created_by=actor.user or manager.user)
    return staff, link


def _invitation_issue(*, brand: Brand, staff: Staff, created_by: User) -> str:
    now = timezone.now()
    Invitation.objects.for_brand(brand).filter(
        staff=staff, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        brand=brand,
        staff=staff,
        token_hash=_hash_token(token),
        created_by=created_by,
        expires_at=now + settings.INVITATION_TTL,
    )
    link = f"/invite/{brand.slug}/{token}/"
    enqueue_on_commit("retail.tasks.deliver_invitation", brand.pk, staff.pk, link)
    return link


def invitation_resend(*, brand: Brand, manager: Staff, actor: Actor, staff: Staff) -> str:
    """Revoke any open invitation of ``staff`` and issue a new link."""
    with brand_scope(brand):
        _require(brand, manager, roles.can_manage_member_of_staff(manager, staff))
        if staff.status != Staff.Status.INVITED:
            raise ValidationError(_("This person has already joined."))
        link = _invitation_issue(brand=brand, staff=staff, created_by=actor.user or manager.user)
        events.staff_invited(brand=brand, actor=actor, staff=staff)
    return link


def invitation_get(*, brand: Brand, token: str) -> Invitation | None:
    """The usable invitation behind ``token`` at ``brand``, or None."""
    with brand_scope(brand):
        inv = (
            Invitation.objects.for_brand(brand)
            .select_related("staff", "staff__user")
            .filter(token_hash=_hash_token(token or ""))
            .first()
        )
        return inv if inv is not None and inv.is_usable else None


def invitation_accept(
    *, brand: Brand, token: str, password: str, current_password: str = "", ip: str | None = None
) -> Staff:
    """Use a one-time invitation: set (or prove) the password and activate the staff record."""
    with brand_scope(brand):
        inv = (
            Invitation.objects.for_brand(brand)
            .select_for_update()
            .filter(token_hash=_hash_token(token or ""))
            .first()
        )
        if inv is None or not inv.is_usable:
            raise ValidationError(
                _("This invitation link is invalid, used or expired."), code="invalid_invitation"
            )
        staff = Staff.objects.select_related("user").get(pk=inv.staff_id)
        user = staff.user
        if user.has_usable_password():
            if not user.check_password(current_password or ""):
                raise ValidationError({"current_password": _("Wrong password.")})
        else:
            validate_password(password, user)
            user.set_password(password)
            user.save(update_fields=["password"])
        inv.used_at = timezone.now()
        inv.save(update_fields=["used_at"])
        staff.status = Staff.Status.ACTIVE
        staff.save(update_fields=["status"])
        events.invitation_accepted(brand=brand, actor=Actor(user=user, ip=ip), staff=staff)
    return staff


def staff_update(*, brand: Brand, manager: Staff, actor: Actor, staff: Staff, data: dict[str, Any]) -> Staff:
    if (
        "role" in data
        and data["role"] != staff.role
        and data["role"] not in roles.roles_assignable_by(manager)
    ):
        raise ValidationError({"role": _("You cannot give this role.")})
    with brand_scope(brand):
        _require(brand, manager, roles.can_manage_member_of_staff(manager, staff))
        ids = _check_stores(brand, manager, data["store_ids"]) if "store_ids" in data else None
        staff = Staff.objects.select_for_update().get(pk=staff.pk)
        changes = {}
        for field in STAFF_FIELDS:
            if field in data:
                value = data[field].strip() if isinstance(data[field], str) else data[field]
                if getattr(staff, field) != value:
                    changes[field] = [str(getattr(staff, field)), str(value)]
                    setattr(staff, field, value)
        if ids is not None:
            before = sorted(roles.store_ids(staff))
            if before != ids:
                if staff.role != Staff.Role.BRAND_ADMIN and not ids:
                    raise ValidationError({"stores": _("Choose at least one store.")})
                changes["stores"] = [before, ids]
                _set_stores(brand, staff, ids)
        if changes:
            _full_clean(staff, exclude=["user"])
            try:
                with transaction.atomic():
                    staff.save()
            except IntegrityError as exc:
                raise ValidationError({"employee_no": _("This employee number is already in use.")}) from exc
            events.staff_updated(brand=brand, actor=actor, staff=staff, changes=changes)
    return staff


def staff_deactivate(
    *,
    brand: Brand,
    manager: Staff,
    actor: Actor,
    staff: Staff,
    left_on: datetime.date | None = None,
) -> Staff:
    """Mark a staff member as having left: they can no longer act for the brand; history stays."""
    with brand_scope(brand):
        _require(brand, manager, roles.can_manage_member_of_staff(manager, staff))
        staff = Staff.objects.select_for_update().get(pk=staff.pk)
        if staff.status == Staff.Status.LEFT:
            return staff
        staff.status = Staff.Status.LEFT
        staff.left_on = left_on or timezone.localdate()
        staff.save(update_fields=["status", "left_on"])
        Invitation.objects.filter(staff=staff, used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        events.staff_deactivated(brand=brand, actor=actor, staff=staff)
        # Apps that keep data about the person only while they work here (face encodings) delete it.
        outbox.emit(brand_id=brand.pk, name="staff.left", payload={"staff_id": staff.pk})
    return staff


def staff_reactivate(*, brand: Brand, manager: Staff, actor: Actor, staff: Staff) -> Staff:
    with brand_scope(brand):
        _require(brand, manager, roles.can_manage_member_of_staff(manager, staff))
        staff = Staff.objects.select_for_update().get(pk=staff.pk)
        if staff.status != Staff.Status.LEFT:
            return staff
        staff.status = Staff.Status.ACTIVE if staff.user.has_usable_password() else Staff.Status.INVITED
        staff.left_on = None
        staff.save(update_fields=["status", "left_on"])
        events.staff_reactivated(brand=brand, actor=actor, staff=staff)
    return staff


def user_change_password(
    *, brand: Brand, actor: Actor, user: User, old_password: str, new_password: str
) -> None:
    if not user.check_password(old_password or ""):
        raise ValidationError({"old_password": _("Wrong password.")})
    validate_password(new_password, user)
    with brand_scope(brand):
        user.set_password(new_password)
        user.save(update_fields=["password"])
        events.password_changed(brand=brand, actor=actor, user=user)


def brand_set_status(*, brand: Brand, actor: Actor, status: str) -> Brand:
    """Suspend or reactivate a tenant (platform operators). Data stays intact."""
    if status not in Brand.Status.values:
        raise ValidationError({"status": _("Unknown status.")})
    with brand_scope(brand):
        brand = Brand.objects.select_for_update().get(pk=brand.pk)
        if brand.status != status:
            brand.status = status
            brand.save(update_fields=["status"])
            events.brand_status_changed(brand=brand, actor=actor, status=status)
    return brand
