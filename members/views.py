"""Pages of the membership programme (会员通).

* Shopper pages (no staff login; the brand comes from the URL): joining through a guide's QR,
  the member card with its rotating member code, "my data", logging in by phone.
* The guide's mobile pages: my members, a member's record, scanning a member code, my join QR.
* The brand dashboard: member list and export, member detail, merges, import jobs, hand-over
  and the programme's settings.

Views are thin: forms validate, services write, selectors read, and every lookup by id is
scoped to the brand (another brand's ids answer 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members import codes, jobs, labels, otp, selectors, services, shopper
from members.forms import (
    ConsentForm,
    EraseForm,
    GuideSetForm,
    HandoverForm,
    ImportForm,
    JoinForm,
    MemberCodeForm,
    MemberFilterForm,
    PhoneCodeForm,
    PhoneForm,
    PointsAdjustForm,
    PolicyForm,
    ProgramForm,
    TagChangeForm,
    TagForm,
    TagRuleForm,
    TierForm,
    fen_to_yuan,
)
from members.identities import mask_identity
from members.models import ConsentRecord, Member, MemberIdentity, MemberJob, MemberPolicy, Tag, TagRule
from members.selectors import MemberFilters
from retail import csv_export, private_files, roles
from retail import selectors as retail_selectors
from retail.events import Actor
from retail.middleware import brandless
from retail.models import Brand, Staff
from retail.tenancy import brand_scope, get_for_brand_or_404
from retail.views import (
    admin_required,
    apply_service_errors,
    form_status,
    manager_required,
    safe_next,
    staff_required,
)

MEMBER_PAGE_SIZE = 30
HISTORY_SIZE = 20

# --- helpers -------------------------------------------------------------------------------------


def _posted(request):
    """The POST data of a POST (even an empty one, which must fail validation), else None."""
    return request.POST if request.method == "POST" else None


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _shopper_actor(request) -> Actor:
    """The shopper acting on their own data: no staff user, even if one is logged in here."""
    return Actor(ip=_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))


def _identities(member: Member, *, full: bool) -> list[dict]:
    """The member's channel identities for display; masked unless ``full``."""
    return [
        {
            "kind": i.kind,
            "label": MemberIdentity.Kind(i.kind).label if i.kind in MemberIdentity.Kind.values else i.kind,
            "value": i.value if full else mask_identity(i.kind, i.value),
            "verified": i.verified,
        }
        for i in member.identities.all()
    ]


def _phone(member: Member, *, full: bool) -> str:
    for i in member.identities.all():
        if i.kind == MemberIdentity.Kind.PHONE:
            return i.value if full else mask_identity(i.kind, i.value)
    return ""


def _follow_merges(brand: Brand, viewer: Staff, member: Member | None) -> Member | None:
    hops = 0
    visible = selectors.member_list(brand=brand, viewer=viewer, filters=MemberFilters(status=""))
    while (
        member is not None and member.status == Member.Status.MERGED and member.merged_into_id and hops < 10
    ):
        member = visible.filter(pk=member.merged_into_id).first()
        hops += 1
    return member


# --- shopper pages -------------------------------------------------------------------------------
#
# Public: the brand comes from the URL slug (suspended or unknown brands answer 404), never from
# a staff session, so these views are `brandless` and open the brand's scope themselves.


def _join_guide(brand: Brand, token: str) -> Staff:
    """The staff member named by a join token of this brand; 404 for anything else."""
    staff_id = codes.guide_join_read(token, brand_id=brand.pk)
    if staff_id is None:
        raise Http404("Not a join link of this brand.")
    guide = Staff.objects.for_brand(brand).filter(pk=staff_id).first()
    if guide is None:
        raise Http404("Not a join link of this brand.")
    return guide


def _shopper_login_redirect(request, brand: Brand):
    url = reverse("shopper-login", args=[brand.slug])
    if request.htmx:  # a polled partial: send the whole page to the login
        return HttpResponse(status=200, headers={"HX-Redirect": url})
    return redirect(url)


def _send_code(request, brand: Brand):
    """Send a one-time code to the posted phone; answers the htmx status line under the button."""
    form = PhoneForm(request.POST)
    status, sent_to, error = 200, "", ""
    if not form.is_valid():
        status, error = 400, " ".join(form.errors.get("phone", [])) or _("Enter your mobile number.")
    else:
        phone = form.cleaned_data["phone"]
        try:
            otp.otp_send(brand_id=brand.pk, brand_name=brand.name, phone=phone, ip=_ip(request))
        except otp.OtpError as exc:
            status, error = 429, str(exc)
        else:
            sent_to = mask_identity(MemberIdentity.Kind.PHONE, phone)
    return render(
        request,
        "shopper/_code_status.html",
        {"sent_to": sent_to, "error": error, "wait": otp.RESEND_AFTER},
        status=status,
    )


@brandless
@never_cache
@require_http_methods(["GET", "POST"])
def join(request, brand_slug: str, token: str):
    """A shopper joins (or is recognised) through a guide's QR code."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        guide = _join_guide(brand, token)
        serving = services.can_serve(guide)
        current = shopper.current_member(request, brand)
        form = JoinForm(_posted(request))
        if request.method == "POST" and form.is_valid():
            phone = form.cleaned_data["phone"]
            try:
                otp.otp_check(brand_id=brand.pk, phone=phone, code=form.cleaned_data["code"])
                result = services.member_join(
                    brand=brand,
                    phone=phone,
                    guide=guide if serving else None,
                    consent=form.cleaned_data["consent"],
                    source=ConsentRecord.Source.JOIN_PAGE,
                    ip=_ip(request),
                    agreed=form.agreed(),
                )
            except otp.OtpError as exc:
                form.add_error("code", str(exc))
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                shopper.login(request, brand, result.member)
                shopper.switch_clear(request, brand)
                if result.kept_guide is not None and result.kept_guide.pk != guide.pk and serving:
                    shopper.switch_offer(request, brand, guide)
                if result.created:
                    messages.success(
                        request, _("Welcome! You are now a member of %(brand)s.") % {"brand": brand.name}
                    )
                else:
                    messages.success(request, _("Welcome back! You are already a member, here is your card."))
                return redirect("shopper-home", brand.slug)
        return render(
            request,
            "shopper/join.html",
            {
                "brand": brand,
                "guide": guide,
                "serving": serving,
                "store": shopper.guide_store(guide) if serving else None,
                "form": form,
                "current": current,
                "token": token,
                "policies": selectors.policies_current(brand=brand),
            },
            status=form_status(form),
        )


@brandless
@require_GET
def shopper_policy(request, brand_slug: str, kind: str, version: int | None = None):
    """A text members agree to, public: the version in force, or an earlier one by number."""
    brand = shopper.brand_for_slug(brand_slug)
    if kind not in MemberPolicy.Kind.values:
        raise Http404("No such text.")
    with brand_scope(brand):
        versions = selectors.policy_versions(brand=brand, kind=kind)
        current = versions.first()
        policy = current if version is None else versions.filter(version=version).first()
        if policy is None:
            raise Http404("No such text.")
        return render(request, "shopper/policy.html", {"brand": brand, "policy": policy, "current": current})


@brandless
@require_POST
def join_send_code(request, brand_slug: str, token: str):
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        _join_guide(brand, token)
        return _send_code(request, brand)


@brandless
@never_cache
@require_http_methods(["GET", "POST"])
def shopper_login(request, brand_slug: str):
    """Members come back by phone and one-time code; this page never creates members."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        if shopper.current_member(request, brand) is not None:
            return redirect("shopper-home", brand.slug)
        form = PhoneCodeForm(_posted(request))
        not_member = False
        if request.method == "POST" and form.is_valid():
            phone = form.cleaned_data["phone"]
            try:
                otp.otp_check(brand_id=brand.pk, phone=phone, code=form.cleaned_data["code"])
            except otp.OtpError as exc:
                form.add_error("code", str(exc))
            else:
                # Told only after the code proved the phone, so nobody can probe who is a member.
                member = services.member_find(brand=brand, kind=MemberIdentity.Kind.PHONE, value=phone)
                if member is None or not member.is_active:
                    not_member = True
                    form.add_error(
                        None, _("This number is not a member yet. Ask a guide for their code to join.")
                    )
                else:
                    shopper.login(request, brand, member)
                    return redirect("shopper-home", brand.slug)
        return render(
            request,
            "shopper/login.html",
            {"brand": brand, "form": form, "not_member": not_member},
            status=form_status(form),
        )


@brandless
@require_POST
def shopper_send_code(request, brand_slug: str):
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        return _send_code(request, brand)


def _member_card_context(request, brand: Brand, member: Member) -> dict:
    code = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    digits = codes.member_code_digits(brand_id=brand.pk, member_id=member.pk)
    return {
        "brand": brand,
        "member": member,
        "code": code,
        "digits": codes.group_digits(digits),
        "rotate": codes.CODE_ROTATE_SECONDS,
    }


@brandless
@never_cache
@require_GET
def shopper_home(request, brand_slug: str):
    """The member card: tier, points, exclusive guide, the rotating member code, recent points."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        if member is None:
            return _shopper_login_redirect(request, brand)
        switch_to = None
        switch_id = shopper.switch_guide_id(request, brand)
        if switch_id is not None:
            switch_to = Staff.objects.for_brand(brand).filter(pk=switch_id).first()
            if switch_to is None or not services.can_serve(switch_to) or switch_to.pk == member.guide_id:
                shopper.switch_clear(request, brand)
                switch_to = None
        ctx = _member_card_context(request, brand, member)
        ctx.update(
            {
                "guide_store": shopper.guide_store(member.guide) if member.guide else None,
                "history": list(selectors.points_history(brand=brand, member=member)[:HISTORY_SIZE]),
                "switch_to": switch_to,
                "switch_store": shopper.guide_store(switch_to) if switch_to else None,
            }
        )
        return render(request, "shopper/home.html", ctx)


@brandless
@never_cache
@require_GET
def shopper_code(request, brand_slug: str):
    """The member code partial, polled by the card every minute."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        if member is None:
            return _shopper_login_redirect(request, brand)
        return render(request, "shopper/_member_code.html", _member_card_context(request, brand, member))


@brandless
@require_POST
def shopper_guide(request, brand_slug: str):
    """Switch to (or decline) the guide whose code the member scanned last."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        if member is None:
            return _shopper_login_redirect(request, brand)
        guide_id = shopper.switch_guide_id(request, brand)
        shopper.switch_clear(request, brand)
        if request.POST.get("action") == "switch" and guide_id is not None:
            guide = Staff.objects.for_brand(brand).filter(pk=guide_id).first()
            try:
                if guide is None:
                    raise ValidationError(_("This person cannot be a member's guide."))
                services.member_guide_request(brand=brand, member=member, guide=guide)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("%(name)s is now your exclusive guide.") % {"name": guide.name})
        return redirect("shopper-home", brand.slug)


@brandless
@never_cache
@require_GET
def shopper_data(request, brand_slug: str):
    """Everything stored about the member (tags are staff notes and are not shown)."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        if member is None:
            return _shopper_login_redirect(request, brand)
        return render(request, "shopper/data.html", _data_context(brand, member))


def _data_context(brand: Brand, member: Member, **extra) -> dict:
    return {
        "brand": brand,
        "member": member,
        "identities": _identities(member, full=False),
        "consents": shopper.consent_history(brand, member),
        "points": list(selectors.points_history(brand=brand, member=member)[:200]),
        "bindings": list(selectors.binding_history(brand=brand, member=member)),
        "join_store": member.join_store,
        **extra,
    }


@brandless
@require_POST
def shopper_consent(request, brand_slug: str):
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        if member is None:
            return _shopper_login_redirect(request, brand)
        form = ConsentForm(request.POST)
        if not form.is_valid() or form.cleaned_data["granted"] is None:
            messages.error(request, _("Choose whether you want offers and news."))
            return render(request, "shopper/data.html", _data_context(brand, member), status=400)
        granted = form.cleaned_data["granted"]
        services.member_consent_set(
            brand=brand,
            member=member,
            granted=granted,
            source=ConsentRecord.Source.MEMBER_PAGE,
            ip=_ip(request),
        )
        if granted:
            messages.success(
                request, _("You will receive offers and news from %(brand)s.") % {"brand": brand.name}
            )
        else:
            messages.success(request, _("You will no longer receive offers and news."))
        return redirect("shopper-data", brand.slug)


@brandless
@never_cache
@require_http_methods(["GET", "POST"])
def shopper_erase(request, brand_slug: str):
    """Delete my data: a confirmation step, then the member's personal data is erased."""
    brand = shopper.brand_for_slug(brand_slug)
    with brand_scope(brand):
        member = shopper.current_member(request, brand)
        if member is None:
            return _shopper_login_redirect(request, brand)
        form = EraseForm(_posted(request))
        if request.method == "POST" and form.is_valid():
            services.member_erase(
                brand=brand,
                member=member,
                actor=_shopper_actor(request),
                source=ConsentRecord.Source.MEMBER_PAGE,
            )
            shopper.logout(request, brand)
            messages.success(
                request,
                _("Your member data at %(brand)s has been deleted and you have been logged out.")
                % {"brand": brand.name},
            )
            return redirect("shopper-login", brand.slug)
        return render(
            request,
            "shopper/erase.html",
            {"brand": brand, "member": member, "form": form},
            status=form_status(form),
        )


@brandless
@require_POST
def shopper_logout(request, brand_slug: str):
    brand = shopper.brand_for_slug(brand_slug)
    shopper.logout(request, brand)
    messages.info(request, _("You have logged out."))
    return redirect("shopper-login", brand.slug)


# --- guide mobile pages ---------------------------------------------------------------------------


@staff_required
@require_GET
def member_list(request):
    """My members (a store manager: their stores' members; a brand admin: everyone)."""
    q = request.GET.get("q", "")[:100].strip()
    qs = selectors.member_list(brand=request.brand, viewer=request.staff, filters=MemberFilters(q=q))
    page = Paginator(qs, MEMBER_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"m": m, "phone": _phone(m, full=False)} for m in page.object_list]
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


def _member_detail_context(request, member: Member) -> dict:
    brand, viewer = request.brand, request.staff
    return {
        **_tags_context(request, member),
        "identities": _identities(member, full=roles.can_manage_staff(viewer)),
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
    ctx = _member_detail_context(request, member)
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
    form = MemberCodeForm(_posted(request))
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


# --- dashboard: members ---------------------------------------------------------------------------


def _filter_form(request, data):
    brand, viewer = request.brand, request.staff
    return MemberFilterForm(
        data,
        tags=selectors.tag_list(brand=brand),
        tiers=selectors.tier_list(brand=brand),
        stores=retail_selectors.store_list(brand=brand, viewer=viewer).only("id", "name"),
        guides=_guide_choices(request),
    )


def _guide_choices(request):
    """Staff who serve (or served) members, within the viewer's reach; people who left included."""
    return (
        retail_selectors.staff_list(brand=request.brand, viewer=request.staff)
        .exclude(role=Staff.Role.BRAND_ADMIN)
        .exclude(status=Staff.Status.INVITED)
    )


def _member_rows(request, qs, full: bool):
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rows = [
        {"m": m, "phone": _phone(m, full=full), "tags": [mt.tag for mt in m.member_tags.all()]}
        for m in page.object_list
    ]
    return page, rows


@manager_required
@require_GET
def dash_member_list(request):
    form = _filter_form(request, request.GET or None)
    if form.is_bound:
        form.is_valid()
    qs = selectors.member_list(brand=request.brand, viewer=request.staff, filters=form.filters())
    full = roles.can_manage_stores(request.staff)
    page, rows = _member_rows(request, qs, full)
    ctx = {"nav": "members", "sub": "list", "form": form, "page": page, "rows": rows}
    template = "members/dash/_member_rows.html" if request.htmx else "members/dash/list.html"
    return render(request, template, ctx, status=form_status(form))


@manager_required
@require_POST
def dash_member_export(request):
    form = _filter_form(request, request.POST)
    if not form.is_valid():
        qs = selectors.member_list(brand=request.brand, viewer=request.staff, filters=form.filters())
        page, rows = _member_rows(request, qs, roles.can_manage_stores(request.staff))
        ctx = {"nav": "members", "sub": "list", "form": form, "page": page, "rows": rows}
        return render(request, "members/dash/list.html", ctx, status=400)
    job = jobs.export_start(
        brand=request.brand, viewer=request.staff, actor=Actor.from_request(request), filters=form.filters()
    )
    messages.success(request, _("The export has started. The file will be ready here in a moment."))
    return redirect("dash-member-job", job.pk)


def _dash_detail(request, member: Member, *, guide_form=None, points_form=None, status=200):
    brand, viewer = request.brand, request.staff
    ctx = _member_detail_context(request, member)
    is_admin = roles.can_manage_stores(viewer)
    ctx.update(
        {
            "nav": "members",
            "sub": "list",
            "tags_next": request.path,
            "guide_form": guide_form
            or GuideSetForm(
                guides=selectors.guides_for_handover(brand=brand, viewer=viewer),
                initial={"guide": member.guide_id},
            ),
            "points_form": points_form or (PointsAdjustForm() if is_admin else None),
            "merges": list(
                selectors.merge_list(brand=brand).filter(Q(survivor=member) | Q(absorbed=member))[:50]
            ),
            "consents": shopper.consent_history(brand, member)[:10],
        }
    )
    return render(request, "members/dash/detail.html", ctx, status=status)


@manager_required
@require_GET
def dash_member_detail(request, member_id: int):
    member = selectors.member_get(brand=request.brand, viewer=request.staff, member_id=member_id)
    return _dash_detail(request, member)


@manager_required
@require_POST
def dash_member_guide(request, member_id: int):
    brand, viewer = request.brand, request.staff
    member = selectors.member_get(brand=brand, viewer=viewer, member_id=member_id)
    form = GuideSetForm(request.POST, guides=selectors.guides_for_handover(brand=brand, viewer=viewer))
    if form.is_valid():
        if not member.is_active:
            form.add_error(None, _("This membership is not active."))
        else:
            guide = form.cleaned_data["guide"]
            try:
                services.member_guide_set(
                    brand=brand, staff=viewer, actor=Actor.from_request(request), member=member, guide=guide
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(
                    request, _("%(name)s is now the member's exclusive guide.") % {"name": guide.name}
                )
                return redirect("dash-member", member.pk)
    return _dash_detail(request, member, guide_form=form, status=400)


@admin_required
@require_POST
def dash_member_points(request, member_id: int):
    brand, viewer = request.brand, request.staff
    member = selectors.member_get(brand=brand, viewer=viewer, member_id=member_id)
    form = PointsAdjustForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            entry = services.points_adjust(
                brand=brand,
                manager=viewer,
                member=member,
                points=d["points"],
                source=d["source"],
                note=d["note"],
                actor=Actor.from_request(request),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if getattr(entry, "replayed", False):
                messages.info(request, _("This adjustment was already applied; it was not applied twice."))
            else:
                messages.success(
                    request,
                    _("Points adjusted. New balance: %(balance)s.") % {"balance": entry.balance_after},
                )
            return redirect("dash-member", member.pk)
    return _dash_detail(request, member, points_form=form, status=400)


# --- dashboard: merges ------------------------------------------------------------------------------


def _merge_row(merge) -> dict:
    evidence = mask_identity(merge.evidence_kind, merge.evidence_value) if merge.evidence_value else ""
    kind = merge.evidence_kind
    label = MemberIdentity.Kind(kind).label if kind in MemberIdentity.Kind.values else kind
    return {"r": merge, "evidence": evidence, "evidence_label": label}


@admin_required
@require_GET
def dash_merges(request):
    page = Paginator(selectors.merge_list(brand=request.brand), 50).get_page(request.GET.get("page"))
    rows = [_merge_row(r) for r in page.object_list]
    return render(
        request, "members/dash/merges.html", {"nav": "members", "sub": "merges", "page": page, "rows": rows}
    )


@admin_required
@require_POST
def dash_merge_undo(request, merge_id: int):
    record = get_for_brand_or_404(selectors.merge_list(brand=request.brand), request.brand, pk=merge_id)
    error = ""
    try:
        services.merge_undo(
            brand=request.brand, manager=request.staff, actor=Actor.from_request(request), record=record
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
    record = get_for_brand_or_404(selectors.merge_list(brand=request.brand), request.brand, pk=merge_id)
    if request.htmx:
        return render(
            request,
            "members/dash/_merge_row.html",
            {**_merge_row(record), "error": error},
            status=400 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            _("The merge was undone: %(a)s and %(b)s are separate members again.")
            % {"a": record.survivor, "b": record.absorbed},
        )
    return redirect("dash-merges")


# --- dashboard: import and export jobs ----------------------------------------------------------------


def _import_page(request, form, status=200):
    jobs_page = Paginator(selectors.job_list(brand=request.brand, viewer=request.staff), 20).get_page(
        request.GET.get("page")
    )
    ctx = {
        "nav": "members",
        "sub": "jobs",
        "form": form,
        "jobs_page": jobs_page,
        "columns": jobs.IMPORT_COLUMNS,
        "identity_columns": list(jobs.IDENTITY_COLUMNS),
        "now": timezone.now(),
    }
    return render(request, "members/dash/import.html", ctx, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def dash_import(request):
    """Imports and exports: brand admins upload a CSV here and see every job; store managers see
    their own exports (and may not upload)."""
    is_admin = roles.can_manage_stores(request.staff)
    if request.method == "GET":
        return _import_page(request, ImportForm() if is_admin else None)
    if not is_admin:
        raise PermissionDenied
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = jobs.import_start(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                upload=form.cleaned_data["file"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("The file was uploaded and the import has started."))
            return redirect("dash-member-job", job.pk)
    return _import_page(request, form, status=400)


@admin_required
@require_GET
def dash_import_template(request):
    """An empty import file with the expected columns and one example row."""
    example = {
        "phone": "13800138000",
        "card_no": "VIP0001",
        "name": "张三",
        "tags": "高价值;护肤",
        "consent": "yes",
        "joined_at": "2024-05-01",
    }
    rows = [jobs.IMPORT_COLUMNS, [example.get(c, "") for c in jobs.IMPORT_COLUMNS]]
    return csv_export.csv_download(rows, "member-import-template.csv")


def _job(request, job_id: int) -> MemberJob:
    return get_for_brand_or_404(
        selectors.job_list(brand=request.brand, viewer=request.staff), request.brand, pk=job_id
    )


def _job_context(job: MemberJob) -> dict:
    progress = jobs.progress_get(job)
    total, processed = progress.get("total") or 0, progress.get("processed") or 0
    finished = job.status in (MemberJob.Status.DONE, MemberJob.Status.FAILED)
    percent = 100 if finished else (min(99, processed * 100 // total) if total else 0)
    return {
        "job": job,
        "progress": progress,
        "percent": percent,
        "finished": finished,
        "files_expired": job.files_expire_at is not None and job.files_expire_at <= timezone.now(),
        "max_attempts": jobs.JOB_MAX_ATTEMPTS,
    }


@manager_required
@require_GET
def dash_job(request, job_id: int):
    job = _job(request, job_id)
    return render(request, "members/dash/job.html", {"nav": "members", "sub": "jobs", **_job_context(job)})


@manager_required
@require_GET
def dash_job_progress(request, job_id: int):
    job = _job(request, job_id)
    return render(request, "members/dash/_job_progress.html", _job_context(job))


@require_GET
@never_cache
def dash_job_file(request, job_id: int):
    """The export file or import error report, to staff of the job's brand who may see the job.

    Anyone else (logged out, another brand, a role without access to jobs) gets a plain 404: the
    file's existence is not given away. Expired files answer a readable 410 page."""
    staff = getattr(request, "staff", None)
    if not request.user.is_authenticated or staff is None or not roles.can_manage_staff(staff):
        raise Http404("No such file.")
    job = _job(request, job_id)
    if job.kind == MemberJob.Kind.IMPORT:
        filename = f"member-import-{job.pk}-errors.csv"
    else:
        filename = f"members-{request.brand.slug}-{job.pk}.csv"
    return private_files.serve(
        request,
        job.result_file,
        brand=request.brand,
        filename=filename,
        expires_at=job.files_expire_at,
        target=job,
        label=f"{job.get_kind_display()} {timezone.localtime(job.created_at):%Y-%m-%d %H:%M}",
        content_type="text/csv; charset=utf-8",
    )


# --- dashboard: hand-over ---------------------------------------------------------------------------------


def _handover_form(request, data=None):
    return HandoverForm(
        data,
        from_guides=_guide_choices(request),
        to_guides=selectors.guides_for_handover(brand=request.brand, viewer=request.staff),
    )


def _guide_members(request, guide_id) -> list[Member]:
    if not guide_id:
        return []
    qs = selectors.member_list(
        brand=request.brand, viewer=request.staff, filters=MemberFilters(guide=guide_id)
    )
    return list(qs[:500])


@manager_required
@require_http_methods(["GET", "POST"])
def dash_handover(request):
    """离职继承: move a guide's members (all, or the ones ticked) to another guide."""
    form = _handover_form(request, _posted(request))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            count = services.members_handover(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                from_guide=d["from_guide"],
                to_guide=d["to_guide"],
                member_ids=form.member_ids(),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if count:
                messages.success(
                    request,
                    _("%(count)s members moved from %(from)s to %(to)s.")
                    % {"count": count, "from": d["from_guide"].name, "to": d["to_guide"].name},
                )
            else:
                messages.info(
                    request, _("%(name)s has no members to hand over.") % {"name": d["from_guide"].name}
                )
            return redirect("dash-handover")
    guide_id = form["from_guide"].value() if form.is_bound else None
    guide_id = int(guide_id) if str(guide_id or "").isdigit() else None
    ticked = {int(v) for v in (request.POST.getlist("members") if form.is_bound else []) if v.isdigit()}
    ctx = {
        "nav": "members",
        "sub": "handover",
        "form": form,
        "guide_members": _guide_members(request, guide_id)
        if guide_id and "from_guide" not in form.errors
        else [],
        "ticked": ticked,
        "guide_chosen": bool(guide_id) and "from_guide" not in form.errors,
    }
    return render(request, "members/dash/handover.html", ctx, status=form_status(form))


@manager_required
@require_GET
def dash_handover_members(request):
    """The chosen guide's members as a checkbox list (htmx, when the leaving guide changes)."""
    raw = request.GET.get("from_guide", "")
    guide = None
    if raw.isdigit():
        guide = _guide_choices(request).filter(pk=int(raw)).first()
        if guide is None:
            raise Http404("No such guide.")
    members = _guide_members(request, guide.pk) if guide else []
    return render(
        request,
        "members/dash/_handover_members.html",
        {"guide_members": members, "ticked": set(), "guide_chosen": guide is not None},
    )


# --- dashboard: programme settings ------------------------------------------------------------------


def _program_initial(program) -> dict:
    return {
        "points_per_yuan": program.points_per_yuan,
        "points_expiry": program.points_expiry,
        "binding_policy": program.binding_policy,
        "binding_ttl_days": program.binding_ttl_days,
    }


@admin_required
@require_http_methods(["GET", "POST"])
def dash_program(request):
    program = services.program_get(brand=request.brand)
    form = ProgramForm(_posted(request), initial=_program_initial(program))
    if request.method == "POST" and form.is_valid():
        try:
            services.program_update(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                data=form.cleaned_data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Membership settings saved."))
            return redirect("dash-program")
    tags = list(selectors.tag_list(brand=request.brand))
    ctx = {
        "nav": "membership",
        "policy_rows": [
            {"kind": kind, "label": MemberPolicy.Kind(kind).label, "policy": policy}
            for kind, policy in selectors.policies_current(brand=request.brand).items()
        ],
        "form": form,
        "tiers": list(selectors.tier_list(brand=request.brand)),
        "tags": [{"t": t, "rule": _rule_display(t)} for t in tags],
    }
    return render(request, "members/dash/program.html", ctx, status=form_status(form))


@admin_required
@require_http_methods(["GET", "POST"])
def dash_policy(request, kind: str):
    """Edit the privacy policy or the member agreement; each changed text is a new version."""
    if kind not in MemberPolicy.Kind.values:
        raise Http404("No such text.")
    versions = list(selectors.policy_versions(brand=request.brand, kind=kind)[:50])
    current = versions[0] if versions else None
    form = PolicyForm(_posted(request), initial={"body": current.body if current else ""})
    if request.method == "POST" and form.is_valid():
        try:
            policy, created = services.member_policy_publish(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                kind=kind,
                body=form.cleaned_data["body"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if created:
                messages.success(request, _("Version %(v)s is now in force.") % {"v": policy.version})
            else:
                messages.info(request, _("The text is the same as the version in force; nothing changed."))
            return redirect("dash-policy", kind)
    ctx = {
        "nav": "membership",
        "kind": kind,
        "kind_label": MemberPolicy.Kind(kind).label,
        "versions": versions,
        "current": current,
        "form": form,
    }
    return render(request, "members/dash/policy.html", ctx, status=form_status(form))


def _rule_display(tag: Tag) -> dict | None:
    rule = next(iter(tag.rules.all()), None)
    if rule is None:
        return None
    return {"field": rule.field, "op": rule.get_op_display(), "value": rule.value}


@admin_required
@require_http_methods(["GET", "POST"])
def dash_tier(request, tier_id: int | None = None):
    tier = (
        get_for_brand_or_404(selectors.tier_list(brand=request.brand), request.brand, pk=tier_id)
        if tier_id
        else None
    )
    initial = (
        {"code": tier.code, "name": tier.name, "min_spend_yuan": fen_to_yuan(tier.min_spend_fen)}
        if tier
        else None
    )
    form = TierForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.data_for_service()
        try:
            services.tier_save(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                data=data,
                tier=tier,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename={"min_spend_fen": "min_spend_yuan"})
        else:
            messages.success(request, _("Tier saved."))
            return redirect("dash-program")
    return render(
        request,
        "members/dash/tier_form.html",
        {"nav": "membership", "form": form, "tier": tier},
        status=form_status(form),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def dash_tag_new(request):
    form = TagForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        d, actor = form.cleaned_data, Actor.from_request(request)
        try:
            with transaction.atomic():  # a tag and its rule, or neither
                tag = services.tag_create(
                    brand=request.brand, manager=request.staff, actor=actor, name=d["name"], group=d["group"]
                )
                rule = form.rule()
                if rule:
                    services.tag_rule_save(
                        brand=request.brand, manager=request.staff, actor=actor, tag=tag, **rule
                    )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Tag “%(name)s” created.") % {"name": tag.name})
            return redirect("dash-program")
    return render(
        request,
        "members/dash/tag_form.html",
        {"nav": "membership", "form": form, "tag": None},
        status=form_status(form),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def dash_tag_rule(request, tag_id: int):
    tag = get_for_brand_or_404(selectors.tag_list(brand=request.brand), request.brand, pk=tag_id)
    rule = next(iter(tag.rules.all()), None)
    initial = None
    if rule is not None:
        value = fen_to_yuan(rule.value) if rule.field == TagRule.Field.SPEND else rule.value
        initial = {"rule_field": rule.field, "rule_op": rule.op, "rule_value": value}
    form = TagRuleForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.tag_rule_save(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                tag=tag,
                **form.rule(),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Rule saved; matching members are tagged now."))
            return redirect("dash-program")
    return render(
        request,
        "members/dash/tag_form.html",
        {"nav": "membership", "form": form, "tag": tag},
        status=form_status(form),
    )
