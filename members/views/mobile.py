"""The guide's mobile pages: my members, a member's record and tags, scanning a member code, my join QR."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members import codes, labels, selectors, services, shopper
from members.forms import MemberCodeForm, TagChangeForm
from members.models import Member
from members.selectors import MemberFilters
from members.views.display import HISTORY_SIZE, member_identities, member_phone
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.pages import posted, safe_next, staff_required

MEMBER_PAGE_SIZE = 30


def _follow_merges(brand: Brand, viewer: Staff, member: Member | None) -> Member | None:
    hops = 0
    visible = selectors.member_list(brand=brand, viewer=viewer, filters=MemberFilters(status=""))
    while (
        member is not None and member.status == Member.Status.MERGED and member.merged_into_id and hops < 10
    ):
        member = visible.filter(pk=member.merged_into_id).first()
        hops += 1
    return member


# --- guide mobile pages ---------------------------------------------------------------------------


@staff_required
@require_GET
def member_list(request):
    """My members (a store manager: their stores' members; a brand admin: everyone)."""
    q = request.GET.get("q", "")[:100].strip()
    qs = selectors.member_list(brand=request.brand, viewer=request.staff, filters=MemberFilters(q=q))
    page = Paginator(qs, MEMBER_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"m": m, "phone": member_phone(m, full=False)} for m in page.object_list]
    ctx = {
        "tab": "members",
        "page": page,
        "rows": rows,
        "q": q,
        "can_serve": services.can_serve(request.staff),
    }
    template = "members/m/_rows.html" if request.htmx else "members/m/list.html"
    return render(request, template, ctx)


def _tags_context(request, member: Member) -> dict:
    member_tags = sorted(member.member_tags.all(), key=lambda mt: (mt.tag.group, mt.tag.name))
    have = {mt.tag_id for mt in member_tags}
    return {
        "member": member,
        "member_tags": member_tags,
        "other_tags": [t for t in selectors.tag_list(brand=request.brand) if t.pk not in have],
    }


def member_detail_context(request, member: Member) -> dict:
    brand, viewer = request.brand, request.staff
    return {
        **_tags_context(request, member),
        "identities": member_identities(member, full=roles.can_manage_staff(viewer)),
        "history": labels.describe_points(
            selectors.points_history(brand=brand, member=member)[:HISTORY_SIZE]
        ),
        "bindings": list(selectors.binding_history(brand=brand, member=member)),
        "merged_into": (
            _follow_merges(brand, viewer, member) if member.status == Member.Status.MERGED else None
        ),
    }


@staff_required
@require_GET
def member_detail(request, member_id: int):
    member = selectors.member_get(brand=request.brand, viewer=request.staff, member_id=member_id)
    ctx = member_detail_context(request, member)
    ctx.update({"tab": "members", "tags_next": request.path})
    return render(request, "members/m/detail.html", ctx)


@staff_required
@require_POST
def member_tags(request, member_id: int):
    """Add or remove one tag (htmx swaps the tag box; without htmx, back to the page)."""
    member = selectors.member_get(brand=request.brand, viewer=request.staff, member_id=member_id)
    form = TagChangeForm(request.POST)
    error = ""
    if not member.is_active:
        error = _("This membership is not active.")
    elif not form.is_valid():
        error = " ".join(form.non_field_errors() or [e for errs in form.errors.values() for e in errs])
    else:
        d = form.cleaned_data
        try:
            services.member_tags_change(
                brand=request.brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                member=member,
                add=[d["add"]] if d.get("add") else [],
                remove=[d["remove"]] if d.get("remove") else [],
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    status = 400 if error else 200
    if not request.htmx:
        if error:
            messages.error(request, error)
        default = reverse("m-member", args=[member.pk])
        return redirect(safe_next(request, default))
    member = selectors.member_get(brand=request.brand, viewer=request.staff, member_id=member.pk)
    ctx = _tags_context(request, member)
    ctx.update({"tag_error": error, "tags_next": safe_next(request, reverse("m-member", args=[member.pk]))})
    return render(request, "members/_tags.html", ctx, status=status)


CODE_ERRORS = {
    "expired_code": lambda: _("This member code has expired. Ask the member to refresh their member card."),
    "invalid_code": lambda: _("This is not a valid member code of this brand."),
}


@staff_required
@require_http_methods(["GET", "POST"])
def member_scan(request):
    """Resolve a member code: camera, a scanner gun typing into the field, or a photo."""
    form = MemberCodeForm(posted(request))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                member_id = codes.member_code_read(form.cleaned_data["code"], brand_id=request.brand.pk)
            except codes.CodeError as exc:
                form.add_error("code", CODE_ERRORS.get(exc.code, CODE_ERRORS["invalid_code"])())
            else:
                # The record now standing for the person (merges followed), if the viewer may see it.
                member = selectors.member_by_id(
                    brand=request.brand, viewer=request.staff, member_id=member_id
                )
                visible = member is not None and (
                    selectors.member_list(brand=request.brand, viewer=request.staff, filters=MemberFilters())
                    .filter(pk=member.pk)
                    .exists()
                )
                if member is None:
                    form.add_error("code", _("This membership is closed."))
                elif not visible:
                    status = 403
                    form.add_error(
                        "code", _("This member is served in another store; you cannot open their record.")
                    )
                else:
                    return redirect("m-member", member.pk)
    return render(request, "members/m/scan.html", {"tab": "members", "form": form}, status=status)


@staff_required
@require_GET
def join_qr(request):
    """The guide's own join QR: shoppers who scan it join the brand as this guide's members."""
    if not services.can_serve(request.staff):
        raise PermissionDenied
    token = codes.guide_join_token(brand_id=request.brand.pk, staff_id=request.staff.pk)
    url = request.build_absolute_uri(reverse("member-join", args=[request.brand.slug, token]))
    store = shopper.guide_store(request.staff)
    return render(request, "members/m/join_qr.html", {"tab": "home", "join_url": url, "store": store})
