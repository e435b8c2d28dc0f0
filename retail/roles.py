"""What each staff role may see and do: a guide their own things, a store manager their
store(s), a brand admin the whole brand."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from retail.models import Staff, StaffStore
from retail.tenancy import brand_scope


def store_ids(staff: Staff) -> set[int]:
    """Ids of the stores the staff member works in (cached on the instance)."""
    cached = getattr(staff, "_store_ids", None)
    if cached is None:
        with brand_scope(staff.brand_id):  # callers may ask before entering their own scope
            cached = set(
                StaffStore.objects.for_brand(staff.brand_id)
                .filter(staff=staff)
                .values_list("store_id", flat=True)
            )
        staff._store_ids = cached
    return cached


def sees_all_stores(staff: Staff) -> bool:
    return staff.role == Staff.Role.BRAND_ADMIN


def can_manage_stores(staff: Staff) -> bool:
    return staff.role == Staff.Role.BRAND_ADMIN


def can_manage_staff(staff: Staff) -> bool:
    return staff.role in (Staff.Role.BRAND_ADMIN, Staff.Role.STORE_MANAGER)


def roles_assignable_by(staff: Staff) -> list[str]:
    """Roles a manager may give: a store manager only hires guides and staff."""
    if staff.role == Staff.Role.BRAND_ADMIN:
        return [r.value for r in Staff.Role]
    if staff.role == Staff.Role.STORE_MANAGER:
        return [Staff.Role.GUIDE.value, Staff.Role.STAFF.value]
    return []


def can_manage_member_of_staff(manager: Staff, target: Staff) -> bool:
    """Whether ``manager`` may edit or deactivate ``target``."""
    if manager.brand_id != target.brand_id or manager.pk == target.pk:
        return False
    if manager.role == Staff.Role.BRAND_ADMIN:
        return True
    if manager.role == Staff.Role.STORE_MANAGER:
        return target.role in roles_assignable_by(manager) and bool(store_ids(target) & store_ids(manager))
    return False


def require(brand, staff: Staff | None, allowed: bool) -> None:
    """Refuse unless ``staff`` is an active member of ``brand`` and ``allowed`` holds."""
    if staff is None or staff.brand_id != brand.pk or staff.status != Staff.Status.ACTIVE or not allowed:
        raise PermissionDenied(_("You are not allowed to do this."))


def can_manage_store(staff: Staff, store_id: int) -> bool:
    """A brand admin, or a store manager of this store."""
    if staff.role == Staff.Role.BRAND_ADMIN:
        return True
    return staff.role == Staff.Role.STORE_MANAGER and store_id in store_ids(staff)


def works_at(staff: Staff, store_id: int) -> bool:
    return staff.role == Staff.Role.BRAND_ADMIN or store_id in store_ids(staff)
