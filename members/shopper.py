"""The shopper's session on the public member pages: which member they are at which brand.

A shopper has no staff login. After proving their phone with a one-time code they are
remembered in the session under one key as ``{brand_id: member_id}``, so the same browser can
be a member of several brands. A member id that was merged away follows ``merged_into``; an
erased or otherwise inactive member is logged out.
"""

from __future__ import annotations

from django.http import Http404

from members import selectors
from members.models import ConsentRecord, Member
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

SESSION_KEY = "shopper"
# A guide the member joined through but did not switch to (the brand's rule kept the old one).
SWITCH_KEY = "shopper_switch"
MAX_MERGE_HOPS = 10


def brand_for_slug(slug: str) -> Brand:
    """The active brand with this public slug; 404 for unknown or suspended brands."""
    brand = Brand.objects.filter(slug=slug, status=Brand.Status.ACTIVE).first()
    if brand is None:
        raise Http404("No such brand.")
    return brand


def _members(request) -> dict[str, int]:
    value = request.session.get(SESSION_KEY)
    return dict(value) if isinstance(value, dict) else {}


def login(request, brand: Brand, member: Member) -> None:
    """Remember the shopper as ``member`` at ``brand`` (a new session key against fixation)."""
    members = _members(request)
    request.session.cycle_key()
    members[str(brand.pk)] = member.pk
    request.session[SESSION_KEY] = members


def logout(request, brand: Brand) -> None:
    members = _members(request)
    members.pop(str(brand.pk), None)
    request.session[SESSION_KEY] = members
    switch_clear(request, brand)


def member_id(request, brand: Brand) -> int | None:
    value = _members(request).get(str(brand.pk))
    return value if isinstance(value, int) else None


def current_member(request, brand: Brand) -> Member | None:
    """The shopper's active member record at ``brand``, following merges; None if logged out.

    Erased (or otherwise closed) members are logged out on the way."""
    pk = member_id(request, brand)
    if pk is None:
        return None
    with brand_scope(brand):
        member = Member.objects.for_brand(brand).select_related("tier", "guide").filter(pk=pk).first()
        hops = 0
        while member is not None and member.status == Member.Status.MERGED and member.merged_into_id:
            if hops >= MAX_MERGE_HOPS:
                member = None
                break
            member = (
                Member.objects.for_brand(brand)
                .select_related("tier", "guide")
                .filter(pk=member.merged_into_id)
                .first()
            )
            hops += 1
    if member is None or not member.is_active:
        logout(request, brand)
        return None
    if member.pk != pk:
        members = _members(request)
        members[str(brand.pk)] = member.pk
        request.session[SESSION_KEY] = members
    return member


def switch_offer(request, brand: Brand, guide: Staff) -> None:
    """Remember that the member may switch to ``guide`` (offered on the member page)."""
    offers = request.session.get(SWITCH_KEY)
    offers = dict(offers) if isinstance(offers, dict) else {}
    offers[str(brand.pk)] = guide.pk
    request.session[SWITCH_KEY] = offers


def switch_guide_id(request, brand: Brand) -> int | None:
    offers = request.session.get(SWITCH_KEY)
    value = offers.get(str(brand.pk)) if isinstance(offers, dict) else None
    return value if isinstance(value, int) else None


def switch_clear(request, brand: Brand) -> None:
    offers = request.session.get(SWITCH_KEY)
    if isinstance(offers, dict) and str(brand.pk) in offers:
        offers = dict(offers)
        offers.pop(str(brand.pk))
        request.session[SWITCH_KEY] = offers


def guide_store(guide: Staff) -> Store | None:
    """The store a guide works in (the first of theirs), for the join page and member card."""
    return Store.objects.for_brand(guide.brand_id).filter(staff_links__staff=guide).order_by("code").first()


def consent_history(brand: Brand, member: Member) -> list[ConsentRecord]:
    """Every grant and withdrawal of the member's marketing consent, newest first."""
    return list(selectors.consent_history(brand=brand, member=member))
