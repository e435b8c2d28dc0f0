"""Reads of the tenancy core. Every function takes the brand it reads for."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from retail import roles
from retail.labels import group_prefixes
from retail.models import AuditLog, Brand, Staff, StaffStore, Store, User
from retail.tenancy import get_for_brand_or_404, user_scope


def membership_list(*, user: User) -> list[Staff]:
    """The user's staff records in every brand, for the brand picker."""
    with user_scope(user.pk):
        return list(
            Staff.unscoped.filter(user=user)
            .exclude(status=Staff.Status.LEFT)
            .select_related("brand")
            .order_by("brand__name")
        )


def membership_get(*, user: User, brand_id: int, user_scoped: bool = False) -> Staff | None:
    """The user's staff record at ``brand_id`` if both it and the brand are active, else None.

    ``user_scoped`` says the caller's transaction already carries the user's RLS setting.
    """
    qs = Staff.unscoped.filter(
        user=user, brand_id=brand_id, status=Staff.Status.ACTIVE, brand__status=Brand.Status.ACTIVE
    ).select_related("brand", "user")
    if user_scoped:
        return qs.first()
    with user_scope(user.pk):
        return qs.first()


def store_list(*, brand: Brand, viewer: Staff, q: str = "", status: str = "") -> QuerySet[Store]:
    qs = Store.objects.for_brand(brand)
    if not roles.sees_all_stores(viewer):
        qs = qs.filter(id__in=roles.store_ids(viewer))
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(address__icontains=q))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("code")


def store_get(*, brand: Brand, viewer: Staff, store_id) -> Store:
    return get_for_brand_or_404(store_list(brand=brand, viewer=viewer), brand, pk=store_id)


def staff_list(
    *, brand: Brand, viewer: Staff, q: str = "", role: str = "", status: str = "", store_id=None
) -> QuerySet[Staff]:
    """Staff the viewer may see, with user and stores loaded in a constant number of queries."""
    qs = Staff.objects.for_brand(brand)
    if viewer.role == Staff.Role.BRAND_ADMIN:
        pass
    elif viewer.role == Staff.Role.STORE_MANAGER:
        qs = qs.filter(
            id__in=StaffStore.objects.for_brand(brand)
            .filter(store_id__in=roles.store_ids(viewer))
            .values("staff_id")
        )
    else:
        qs = qs.filter(pk=viewer.pk)
    if q:
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(user__phone__contains=q)
            | Q(employee_no__icontains=q)
            | Q(user__username__icontains=q)
        )
    if role:
        qs = qs.filter(role=role)
    if status:
        qs = qs.filter(status=status)
    if store_id:
        qs = qs.filter(store_links__store_id=store_id)
    return (
        qs.select_related("user")
        .prefetch_related(
            Prefetch("stores", queryset=Store.objects.for_brand(brand).only("id", "code", "name"))
        )
        .order_by("name", "id")
    )


def staff_get(*, brand: Brand, viewer: Staff, staff_id) -> Staff:
    return get_for_brand_or_404(staff_list(brand=brand, viewer=viewer), brand, pk=staff_id)


def staff_counts(*, brand: Brand) -> dict:
    """Headcount by role and status, for the dashboard overview."""
    rows = Staff.objects.for_brand(brand).values("role", "status").annotate(n=Count("id"))
    out: dict = {"total": 0, "active": 0, "invited": 0, "by_role": {r.value: 0 for r in Staff.Role}}
    for row in rows:
        if row["status"] == Staff.Status.LEFT:
            continue
        out["total"] += row["n"]
        out[row["status"]] = out.get(row["status"], 0) + row["n"]
        out["by_role"][row["role"]] += row["n"]
    return out


def audit_log_list(*, brand: Brand, action: str = "") -> QuerySet[AuditLog]:
    """The brand's audit log, newest first; ``action`` is a filter of the log (a family of actions)."""
    qs = AuditLog.objects.for_brand(brand).select_related("actor")
    prefixes = group_prefixes(action)
    if prefixes:
        match = Q()
        for prefix in prefixes:
            match |= Q(action__startswith=prefix)
        qs = qs.filter(match)
    return qs.order_by("-created_at", "-id")


def brand_is_suspended(*, brand_id) -> bool:
    return Brand.objects.filter(pk=brand_id, status=Brand.Status.SUSPENDED).exists()
