"""The shopper's pages (no staff login; the brand comes from the URL): joining through a guide's
QR, the member card with its rotating member code, "my data", logging in by phone."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from members import codes, otp, selectors, services, shopper
from members.forms import ConsentForm, EraseForm, JoinForm, PhoneCodeForm, PhoneForm
from members.identities import mask_identity
from members.models import ConsentRecord, Member, MemberIdentity, MemberPolicy
from members.views.display import HISTORY_SIZE, member_identities
from retail.events import Actor
from retail.middleware import brandless
from retail.models import Brand, Staff
from retail.pages import apply_service_errors, form_status, posted
from retail.tenancy import brand_scope


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _shopper_actor(request) -> Actor:
    """The shopper acting on their own data: no staff user, even if one is logged in here."""
    return Actor(ip=_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", ""))


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
        form = JoinForm(posted(request))
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
        form = PhoneCodeForm(posted(request))
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
        "identities": member_identities(member, full=False),
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
        form = EraseForm(posted(request))
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
