"""The brand's messaging console (/dashboard/messaging/, brand admins): settings, canned replies,
conversations (each one read is audited) and the guides' reports about shoppers."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guides.messaging import productivity, safety, selectors
from guides.messaging.conversations import settings_get
from guides.messaging.forms import CannedForm, ConversationFilterForm, MessagingSettingsForm
from retail.events import Actor
from retail.models import Store
from retail.pages import admin_required, apply_service_errors, call_service, form_status, posted

PAGE = 50


def _ctx(sub: str, **extra) -> dict:
    try:
        broadcasts_url = reverse("dash-messaging-broadcasts")
    except NoReverseMatch:
        broadcasts_url = ""
    return {"nav": "messaging", "sub": sub, "broadcasts_url": broadcasts_url, **extra}


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    brand = request.brand
    row = settings_get(brand=brand)
    form = MessagingSettingsForm(posted(request), instance=settings_get(brand=brand))
    if request.method == "POST" and form.is_valid():
        try:
            call_service(
                productivity.settings_update,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                data=form.cleaned_data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Messaging settings saved."))
            return redirect("dash-messaging")
    return render(
        request,
        "guides/messaging/dash/settings.html",
        _ctx("settings", form=form, row=row),
        status=form_status(form),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def canned_page(request):
    brand = request.brand
    form = CannedForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            call_service(
                productivity.canned_create,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                mine=False,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Canned reply added."))
            return redirect("dash-messaging-canned")
    rows = selectors.brand_canned(brand=brand)
    return render(
        request,
        "guides/messaging/dash/canned.html",
        _ctx("canned", form=form, rows=rows),
        status=form_status(form),
    )


@admin_required
@require_http_methods(["GET", "POST"])
def canned_edit(request, pk: int):
    brand = request.brand
    row = productivity._canned_of(brand, None).filter(pk=pk).first()
    if row is None:
        raise Http404("Not found.")
    form = CannedForm(posted(request), initial={"title": row.title, "body": row.body})
    if request.method == "POST" and form.is_valid():
        try:
            call_service(
                productivity.canned_update,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                pk=pk,
                mine=False,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Canned reply saved."))
            return redirect("dash-messaging-canned")
    return render(
        request,
        "guides/messaging/dash/canned_edit.html",
        _ctx("canned", form=form, row=row),
        status=form_status(form),
    )


@admin_required
@require_POST
def canned_delete(request, pk: int):
    call_service(
        productivity.canned_delete,
        brand=request.brand,
        staff=request.staff,
        actor=Actor.from_request(request),
        pk=pk,
        mine=False,
    )
    messages.success(request, _("Canned reply deleted."))
    return redirect("dash-messaging-canned")


@admin_required
@require_GET
def conversations_page(request):
    brand = request.brand
    form = ConversationFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(
            _("Invalid filter: %(names)s") % {"names": ", ".join(sorted(form.errors))}
        )
    f = form.cleaned_data
    qs = selectors.console_conversations(
        brand=brand, guide_id=f.get("guide"), store_id=f.get("store"), reported=bool(f.get("reported"))
    )
    page = Paginator(qs, PAGE).get_page(f.get("page") or 1)
    ctx = _ctx(
        "conversations",
        page=page,
        filters=f,
        guides=selectors.guides_with_members(brand=brand),
        stores=Store.objects.for_brand(brand).order_by("code", "id"),
    )
    return render(request, "guides/messaging/dash/conversations.html", ctx)


@admin_required
@require_GET
def conversation_page(request, pk: int):
    brand = request.brand
    conv = safety.conversation_open_for_admin(
        brand=brand, staff=request.staff, actor=Actor.from_request(request), conversation_id=pk
    )
    rows = selectors.console_messages(brand=brand, conversation=conv)
    reports = selectors.reports(brand=brand, resolved=None).filter(conversation=conv)
    ctx = _ctx("conversations", conv=conv, rows=rows, reports=reports)
    return render(request, "guides/messaging/dash/conversation.html", ctx)


@admin_required
@require_GET
def reports_page(request):
    show = request.GET.get("show", "open")
    if show not in ("open", "resolved"):
        return HttpResponseBadRequest(_("Invalid filter: %(names)s") % {"names": "show"})
    rows = selectors.reports(brand=request.brand, resolved=show == "resolved")[:200]
    return render(request, "guides/messaging/dash/reports.html", _ctx("reports", rows=rows, show=show))


@admin_required
@require_POST
def report_resolve(request, pk: int):
    call_service(
        safety.report_resolve,
        brand=request.brand,
        staff=request.staff,
        actor=Actor.from_request(request),
        report_id=pk,
    )
    messages.success(request, _("Report marked as handled."))
    return redirect("dash-messaging-reports")
