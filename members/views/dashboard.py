"""The brand dashboard's member pages: member list and export, member detail, merges, import
jobs, hand-over and the programme's settings."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members import jobs, selectors, services, shopper
from members.forms import (
    GuideSetForm,
    HandoverForm,
    ImportForm,
    MemberFilterForm,
    PointsAdjustForm,
    PolicyForm,
    ProgramForm,
    TagForm,
    TagRuleForm,
    TierForm,
)
from members.identities import mask_identity
from members.labels import member_labels
from members.models import Member, MemberIdentity, MemberJob, MemberPolicy, Tag, TagRule
from members.selectors import MemberFilters
from members.views.display import member_phone
from members.views.mobile import member_detail_context
from retail import csv_export, private_files, roles
from retail import selectors as retail_selectors
from retail.events import Actor
from retail.models import Staff
from retail.money import fen_to_yuan
from retail.pages import admin_required, apply_service_errors, form_status, manager_required, posted
from retail.tenancy import get_for_brand_or_404

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
        {"m": m, "phone": member_phone(m, full=full), "tags": [mt.tag for mt in m.member_tags.all()]}
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
    ctx = member_detail_context(request, member)
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


def _merge_rows(merges) -> list[dict]:
    """The rows of the merges table, the members in words (one lookup for all rows)."""
    merges = list(merges)
    names = member_labels([m for r in merges for m in (r.survivor, r.absorbed)])
    rows = []
    for merge in merges:
        evidence = mask_identity(merge.evidence_kind, merge.evidence_value) if merge.evidence_value else ""
        kind = merge.evidence_kind
        label = MemberIdentity.Kind(kind).label if kind in MemberIdentity.Kind.values else kind
        rows.append(
            {
                "r": merge,
                "evidence": evidence,
                "evidence_label": label,
                "survivor_name": names[merge.survivor_id],
                "absorbed_name": names[merge.absorbed_id],
            }
        )
    return rows


@admin_required
@require_GET
def dash_merges(request):
    page = Paginator(selectors.merge_list(brand=request.brand), 50).get_page(request.GET.get("page"))
    rows = _merge_rows(page.object_list)
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
            {**_merge_rows([record])[0], "error": error},
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
    form = _handover_form(request, posted(request))
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
    form = ProgramForm(posted(request), initial=_program_initial(program))
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
    form = PolicyForm(posted(request), initial={"body": current.body if current else ""})
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
    form = TierForm(posted(request), initial=initial)
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
    form = TagForm(posted(request))
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
    form = TagRuleForm(posted(request), initial=initial)
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
