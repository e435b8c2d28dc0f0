"""Who may change the membership programme, and who can serve members."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from retail import roles
from retail.models import Brand, Staff


def require_admin(brand: Brand, manager: Staff) -> None:
    if (
        manager.brand_id != brand.pk
        or manager.status != Staff.Status.ACTIVE
        or not roles.can_manage_stores(manager)
    ):
        raise PermissionDenied(_("You are not allowed to do this."))


def require_staff(brand: Brand, staff: Staff) -> None:
    if staff.brand_id != brand.pk or staff.status != Staff.Status.ACTIVE:
        raise PermissionDenied(_("You are not allowed to do this."))


def can_serve(staff: Staff | None) -> bool:
    """Whether a staff member can be a member's exclusive guide."""
    return staff is not None and staff.status == Staff.Status.ACTIVE and staff.role != Staff.Role.BRAND_ADMIN
