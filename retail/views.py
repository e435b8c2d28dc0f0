"""Pages of the tenancy core: login, brand picker, staff mobile shell, brand admin dashboard."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.forms.utils import ErrorDict
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from retail import labels, navigation, roles, selectors, services
from retail.events import Actor
from retail.forms import AcceptInvitationForm, LoginForm, StaffEditForm, StaffInviteForm, StoreForm
from retail.middleware import SESSION_BRAND_KEY, brandless, error_response
from retail.models import Brand, Staff, Store, User
from retail.pages import apply_service_errors, form_status, manager_required, safe_next, staff_required

# --- public -------------------------------------------------------------------------------


def set_language(request):
    """Django's language switch; a logged-in person's choice is also kept on their account, so
    that what is sent to them later (pushes) is written in it."""
    from django.views.i18n import set_language as switch

    response = switch(request)
    lang = request.POST.get("language")
    user = getattr(request, "user", None)
    if (
        request.method == "POST"
        and user is not None
        and user.is_authenticated
        and lang in dict(settings.LANGUAGES)
        and user.language != lang
    ):
        User.objects.filter(pk=user.pk).update(language=lang)
    return response


def healthz(request):
    return JsonResponse({"status": "ok"})


def root(request):
    if not request.user.is_authenticated:
        return redirect("login")
    if request.staff is None:
        return redirect("brand-picker")
    return redirect("dashboard" if roles.can_manage_stores(request.staff) else "home")


def _enter_brand(request, staff: Staff):
    request.session[SESSION_BRAND_KEY] = staff.brand_id
    home = reverse("dashboard" if roles.can_manage_stores(staff) else "home")
    return redirect(safe_next(request, home))


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect("root")
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        memberships = [m for m in selectors.membership_list(user=user) if m.status == Staff.Status.ACTIVE]
        active = [m for m in memberships if m.brand.is_active]
        if not active and not user.is_staff:
            if memberships:
                form.add_error(None, _("Your brand's account is suspended. Please contact your brand."))
            else:
                form.add_error(None, _("You are not on the staff of any brand."))
        else:
            login(request, user)
            if len(active) == 1:
                return _enter_brand(request, active[0])
            if not active:
                return redirect("admin:index")
            return redirect("brand-picker")
    return render(request, "auth/login.html", {"form": form}, status=form_status(form))


def lockout(request, credentials=None, *args, **kwargs):
    """django-axes: too many failed logins."""
    message = _("Too many failed attempts. Try again in 15 minutes.")
    if request.path.startswith("/api/"):
        return error_response(429, "locked_out", message)
    form = LoginForm(request, initial={"username": request.POST.get("username", "")[:150]})
    form._errors, form.cleaned_data = ErrorDict(), {}  # an unbound form carrying one error
    form.add_error(None, message)
    return render(request, "auth/login.html", {"form": form, "locked": True}, status=429)


@require_POST
def logout_view(request):
    logout(request)
    return redirect("login")


@require_http_methods(["GET", "POST"])
def brand_picker(request):
    if not request.user.is_authenticated:
        return redirect("login")
    memberships = selectors.membership_list(user=request.user)
    if request.method == "POST":
        try:
            brand_id = int(request.POST.get("brand_id", ""))
        except ValueError:
            brand_id = 0
        staff = selectors.membership_get(user=request.user, brand_id=brand_id)
        if staff is None:
            messages.error(request, _("You cannot act for this brand."))
            return redirect("brand-picker")
        return _enter_brand(request, staff)
    return render(
        request,
        "auth/brand_picker.html",
        {"memberships": memberships, "suspended": request.brand_suspended},
    )


@brandless
@require_http_methods(["GET", "POST"])
def invitation_accept(request, brand_slug: str, token: str):
    brand = get_object_or_404(Brand, slug=brand_slug, status=Brand.Status.ACTIVE)
    inv = services.invitation_get(brand=brand, token=token)
    if inv is None:
        return render(request, "auth/invitation_invalid.html", status=404)
    existing = inv.staff.user.has_usable_password()
    form = AcceptInvitationForm(request.POST or None, existing_user=existing)
    if request.method == "POST" and form.is_valid():
        try:
            staff = services.invitation_accept(
                brand=brand,
                token=token,
                password=form.cleaned_data.get("password1", ""),
                current_password=form.cleaned_data.get("current_password", ""),
                ip=request.META.get("REMOTE_ADDR"),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            login(request, staff.user, backend="retail.auth_backends.PhoneOrUsernameBackend")
            messages.success(request, _("Welcome to %(brand)s!") % {"brand": brand.name})
            return _enter_brand(request, staff)
    return render(
        request,
        "auth/invitation_accept.html",
        {"form": form, "invitation": inv, "brand": brand, "existing": existing},
        status=form_status(form),
    )


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return error_response(404, "not_found", _("Not found."))
    return render(request, "errors/404.html", status=404)


def server_error(request):
    if request.path.startswith("/api/"):
        return error_response(500, "server_error", _("Something went wrong on our side."))
    return render(request, "errors/500.html", status=500)


# --- staff mobile UI ----------------------------------------------------------------------


@staff_required
def home(request):
    staff = request.staff
    stores = list(selectors.store_list(brand=request.brand, viewer=staff)[:20])
    team_size = None
    if staff.role == Staff.Role.STORE_MANAGER:
        team_size = (
            selectors.staff_list(brand=request.brand, viewer=staff).exclude(status=Staff.Status.LEFT).count()
        )
    return render(
        request,
        "staff/home.html",
        {"tab": "home", "stores": stores, "team_size": team_size, **navigation.home_cards(request, "home")},
    )


@staff_required
def me_tab(request):
    memberships = selectors.membership_list(user=request.user)
    return render(
        request,
        "staff/me.html",
        {"tab": "me", "memberships": memberships, **navigation.home_cards(request, "me")},
    )


@staff_required
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_change_password(
            brand=request.brand,
            actor=Actor.from_request(request),
            user=request.user,
            old_password=form.cleaned_data["old_password"],
            new_password=form.cleaned_data["new_password1"],
        )
        update_session_auth_hash(request, request.user)
        messages.success(request, _("Your password has been changed."))
        return redirect("me-tab")
    return render(
        request, "staff/password_change.html", {"tab": "me", "form": form}, status=form_status(form)
    )


@manager_required
def team(request):
    qs = selectors.staff_list(brand=request.brand, viewer=request.staff).exclude(status=Staff.Status.LEFT)
    return render(request, "staff/team.html", {"tab": "home", "team": qs[:200]})


# --- brand admin dashboard ----------------------------------------------------------------


@manager_required
def dashboard(request):
    brand = request.brand
    counts = selectors.staff_counts(brand=brand)
    stores = selectors.store_list(brand=brand, viewer=request.staff)
    return render(
        request,
        "dashboard/home.html",
        {
            "nav": "overview",
            "counts": counts,
            "store_total": stores.count(),
            "store_open": stores.filter(status=Store.Status.OPEN).count(),
            "recent": labels.describe_targets(selectors.audit_log_list(brand=brand)[:8])
            if roles.can_manage_stores(request.staff)
            else [],
            "role_labels": dict(Staff.Role.choices),
        },
    )


@manager_required
def store_list(request):
    q = request.GET.get("q", "")[:100]
    qs = selectors.store_list(brand=request.brand, viewer=request.staff, q=q)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    template = "dashboard/_store_rows.html" if request.htmx else "dashboard/stores.html"
    return render(request, template, {"nav": "stores", "page": page, "q": q})


@manager_required
@require_http_methods(["GET", "POST"])
def store_edit(request, store_id: int | None = None):
    store = (
        selectors.store_get(brand=request.brand, viewer=request.staff, store_id=store_id)
        if store_id
        else None
    )
    if not roles.can_manage_stores(request.staff):
        raise PermissionDenied
    form = StoreForm(request.POST or None, instance=store)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        data = {f: form.cleaned_data[f] for f in form.Meta.fields}
        try:
            if store is None:
                services.store_create(brand=request.brand, manager=request.staff, actor=actor, data=data)
            else:
                services.store_update(
                    brand=request.brand, manager=request.staff, actor=actor, store=store, data=data
                )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Store saved."))
            return redirect("dash-stores")
    return render(
        request,
        "dashboard/store_form.html",
        {"nav": "stores", "form": form, "store": store},
        status=form_status(form),
    )


@manager_required
def staff_list(request):
    f = {
        "q": request.GET.get("q", "")[:100],
        "role": request.GET.get("role", "") if request.GET.get("role") in Staff.Role.values else "",
        "status": request.GET.get("status", "") if request.GET.get("status") in Staff.Status.values else "",
    }
    store_id = request.GET.get("store", "")
    f["store_id"] = int(store_id) if store_id.isdigit() else None
    qs = selectors.staff_list(brand=request.brand, viewer=request.staff, **f)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    ctx = {
        "nav": "staff",
        "page": page,
        "f": f,
        "roles": Staff.Role.choices,
        "statuses": Staff.Status.choices,
        "stores": selectors.store_list(brand=request.brand, viewer=request.staff).only("id", "code", "name"),
    }
    template = "dashboard/_staff_rows.html" if request.htmx else "dashboard/staff.html"
    return render(request, template, ctx)


@manager_required
@require_http_methods(["GET", "POST"])
def staff_invite(request):
    form = StaffInviteForm(request.POST or None, manager=request.staff)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            staff, link = services.staff_invite(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                name=d["name"],
                phone=d["phone"],
                role=d["role"],
                store_ids=[s.pk for s in d["stores"]],
                employee_no=d["employee_no"],
                hired_on=d["hired_on"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            return _invite_link_redirect(request, staff, link)
    return render(
        request,
        "dashboard/staff_form.html",
        {"nav": "staff", "form": form, "staff": None},
        status=form_status(form),
    )


@manager_required
@require_http_methods(["GET", "POST"])
def staff_edit(request, staff_id: int):
    target = selectors.staff_get(brand=request.brand, viewer=request.staff, staff_id=staff_id)
    can_edit = roles.can_manage_member_of_staff(request.staff, target)
    initial = {
        "name": target.name,
        "role": target.role,
        "stores": list(target.stores.all()),
        "employee_no": target.employee_no,
        "hired_on": target.hired_on,
    }
    form = StaffEditForm(request.POST or None, initial=initial, manager=request.staff)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.staff_update(
                    brand=request.brand,
                    manager=request.staff,
                    actor=Actor.from_request(request),
                    staff=target,
                    data={
                        "name": d["name"],
                        "role": d["role"],
                        "store_ids": [s.pk for s in d["stores"]],
                        "employee_no": d["employee_no"],
                        "hired_on": d["hired_on"],
                    },
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Staff member saved."))
                return redirect("dash-staff")
    return render(
        request,
        "dashboard/staff_form.html",
        {"nav": "staff", "form": form, "staff": target, "can_edit": can_edit},
        status=form_status(form),
    )


def _staff_action(request, staff_id: int, fn):
    target = selectors.staff_get(brand=request.brand, viewer=request.staff, staff_id=staff_id)
    try:
        result = fn(
            brand=request.brand, manager=request.staff, actor=Actor.from_request(request), staff=target
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        if request.htmx:  # reload the whole page so the message shows instead of a broken row
            return HttpResponse(status=204, headers={"HX-Refresh": "true"}), None
        return redirect("dash-staff"), None
    if isinstance(result, Staff):
        result = selectors.staff_get(brand=request.brand, viewer=request.staff, staff_id=result.pk)
    return None, result


@manager_required
@require_POST
def staff_deactivate(request, staff_id: int):
    resp, staff = _staff_action(request, staff_id, services.staff_deactivate)
    if resp:
        return resp
    if request.htmx:
        return render(request, "dashboard/_staff_row.html", {"s": staff})
    messages.success(request, _("%(name)s has been marked as left.") % {"name": staff.name})
    return redirect("dash-staff")


@manager_required
@require_POST
def staff_reactivate(request, staff_id: int):
    resp, staff = _staff_action(request, staff_id, services.staff_reactivate)
    if resp:
        return resp
    if request.htmx:
        return render(request, "dashboard/_staff_row.html", {"s": staff})
    return redirect("dash-staff")


@manager_required
@require_POST
def staff_reinvite(request, staff_id: int):
    resp, link = _staff_action(request, staff_id, services.invitation_resend)
    if resp:
        return resp
    target = selectors.staff_get(brand=request.brand, viewer=request.staff, staff_id=staff_id)
    return _invite_link_redirect(request, target, link)


SESSION_INVITE_KEY = "invite_links"


def _invite_link_redirect(request, staff: Staff, link: str):
    """Post/redirect/get: the one-time link waits in the session (never in a URL) for one showing."""
    pending = dict(request.session.get(SESSION_INVITE_KEY) or {})
    pending[str(staff.pk)] = link
    request.session[SESSION_INVITE_KEY] = pending
    return redirect("dash-staff-invited", staff.pk)


@manager_required
@require_GET
@never_cache
def staff_invited(request, staff_id: int):
    """The invitation link, shown once; reloading the page afterwards does not show it again."""
    target = selectors.staff_get(brand=request.brand, viewer=request.staff, staff_id=staff_id)
    pending = dict(request.session.get(SESSION_INVITE_KEY) or {})
    link = pending.pop(str(target.pk), None)
    if link is not None:
        request.session[SESSION_INVITE_KEY] = pending
    return render(
        request,
        "dashboard/invite_link.html",
        {
            "nav": "staff",
            "staff": target,
            "link": request.build_absolute_uri(link) if link else "",
            "can_reinvite": target.status == Staff.Status.INVITED
            and roles.can_manage_member_of_staff(request.staff, target),
            "ttl_days": settings.INVITATION_TTL.days,
        },
    )


@manager_required
def audit_log(request):
    if not roles.can_manage_stores(request.staff):
        raise PermissionDenied
    action = request.GET.get("action", "")[:64]
    page = Paginator(selectors.audit_log_list(brand=request.brand, action=action), 50).get_page(
        request.GET.get("page")
    )
    page.object_list = labels.describe_targets(page.object_list)
    return render(
        request,
        "dashboard/audit.html",
        {"nav": "audit", "page": page, "action": action, "groups": labels.action_groups()},
    )
