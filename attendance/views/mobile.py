"""Staff phone pages of attendance (/m/attendance/…): punch with the camera and the location, the
separate consent to face processing, face enrollment with a liveness challenge, the punch PIN,
and 我的考勤 (my day records and punches of a month).

Any active staff member acting for the brand may use them, for themselves only. The camera work
runs in the browser (static/js/attendance-phone.js); frames come back as JPEG uploads that are
analysed here (attendance.pool) and dropped: only encodings are kept. Answers to the page's
scripts are JSON with a ``code`` and a message in the viewer's language."""

from __future__ import annotations

import calendar
import secrets
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from attendance import faces, phone, pool, records, reports, services
from attendance.labels import FACE_MESSAGES
from attendance.models import ConsentText, DayRecord, FaceEncoding, Punch, Schedule
from retail.events import Actor
from retail.pages import staff_required
from retail.tenancy import brand_scope

MAX_FRAMES = 8
MIN_FRAMES = 3
MAX_FRAME_BYTES = 1024 * 1024
CHALLENGE_SESSION = "att_challenge"
PUNCH_CHALLENGE_SESSION = "att_punch_challenge"
CHALLENGE_SECONDS = 300
PUNCH_KEY_SECONDS = 3600
DEVICE_COOKIE_SECONDS = 5 * 365 * 24 * 3600
RISK_LABELS = {
    "new_device": gettext_lazy("a phone you have not punched from"),
    "no_location": gettext_lazy("no location"),
    "outside_geofence": gettext_lazy("outside the store"),
    "odd_hour": gettext_lazy("an unusual time"),
    "pattern": gettext_lazy("several unusual punches this week"),
}


def _risk_words(codes: list[str]) -> list[str]:
    return [str(RISK_LABELS.get(c, c)) for c in codes]


def _error(exc: ValidationError, status: int = 400) -> JsonResponse:
    code = getattr(exc, "code", None) or "invalid"
    if hasattr(exc, "error_dict"):
        field, errs = next(iter(exc.error_dict.items()))
        code = errs[0].code or code
        message = " ".join(str(m) for e in errs for m in e.messages)
        return JsonResponse({"ok": False, "code": code, "field": field, "message": message}, status=status)
    return JsonResponse({"ok": False, "code": code, "message": " ".join(exc.messages)}, status=status)


def _status_for(code: str) -> int:
    return {"replay": 409, "locked": 429, "bad_key": 400}.get(code, 422)


def _tz(request):
    stores = phone.staff_stores(brand=request.brand, staff=request.staff)
    return records.store_tz(stores[0]) if stores else timezone.get_default_timezone()


# --- home --------------------------------------------------------------------------------------


@staff_required
@require_GET
def home(request):
    """考勤: today's shift and punches, the punch button, and the ways to set up face and PIN."""
    brand, staff = request.brand, request.staff
    tz = _tz(request)
    now = timezone.now()
    today = now.astimezone(tz).date()
    start = datetime.combine(today, datetime.min.time(), tzinfo=tz)
    with brand_scope(brand):
        punches = list(
            Punch.objects.for_brand(brand)
            .select_related("store")
            .filter(staff=staff, occurred_at__gte=start, occurred_at__lt=start + timedelta(days=1))
            .order_by("occurred_at", "id")
        )
        schedule = (
            Schedule.objects.for_brand(brand)
            .select_related("shift", "store")
            .filter(staff=staff, date=today)
            .first()
        )
        day = DayRecord.objects.for_brand(brand).filter(staff=staff, date=today).first()
        enrolled = FaceEncoding.objects.for_brand(brand).filter(staff=staff).count()
    ctx = {
        "tab": "home",
        "tz": tz,
        "today": today,
        "punches": punches,
        "schedule": schedule,
        "day": day,
        "enrolled": enrolled,
        "consent": services.consent_active(brand=brand, staff=staff),
        "has_pin": phone.pin_is_set(brand=brand, staff=staff),
        "stores": phone.staff_stores(brand=brand, staff=staff),
    }
    return render(request, "attendance/m/home.html", ctx)


# --- consent -----------------------------------------------------------------------------------


def _current_text(brand) -> ConsentText | None:
    with brand_scope(brand):
        return ConsentText.objects.for_brand(brand).order_by("-version").first()


@staff_required
@require_GET
def face(request):
    """My face data: consent, how many encodings are kept, enroll, withdraw."""
    brand, staff = request.brand, request.staff
    consent = services.consent_active(brand=brand, staff=staff)
    text = _current_text(brand)
    with brand_scope(brand):
        enrolled = FaceEncoding.objects.for_brand(brand).filter(staff=staff).count()
    ctx = {
        "tab": "home",
        "consent": consent,
        "text": text,
        "stale": consent is not None and text is not None and consent.text_id != text.pk,
        "enrolled": enrolled,
        "max_encodings": services.MAX_ENCODINGS,
        "tz": _tz(request),
    }
    return render(request, "attendance/m/face.html", ctx)


@staff_required
@require_http_methods(["GET", "POST"])
def consent(request):
    """The brand's current consent text; agreeing is a separate, recorded act of the person."""
    brand, staff = request.brand, request.staff
    text = _current_text(brand)
    error = ""
    if request.method == "POST":
        if text is None:
            raise Http404
        if request.POST.get("agree") != "1":
            error = _("Tick the box to agree, or go back.")
        elif str(text.pk) != request.POST.get("text", ""):
            error = _("The consent text changed. Read the current one.")
        else:
            try:
                services.consent_give(brand=brand, staff=staff, actor=Actor.from_request(request), text=text)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                messages.success(request, _("Thank you. You can now enroll your face."))
                return redirect("att-m-enroll")
    ctx = {
        "tab": "home",
        "text": text,
        "error": error,
        "consent": services.consent_active(brand=brand, staff=staff),
    }
    return render(request, "attendance/m/consent.html", ctx, status=400 if error else 200)


@staff_required
@require_http_methods(["GET", "POST"])
def withdraw(request):
    """Withdraw consent (after a confirmation): every face encoding of the person is deleted."""
    brand, staff = request.brand, request.staff
    if request.method == "POST":
        deleted = services.consent_withdraw(brand=brand, staff=staff, actor=Actor.from_request(request))
        messages.success(
            request,
            _("Consent withdrawn. %(n)s face records deleted. Punch with your PIN from now on.")
            % {"n": deleted},
        )
        return redirect("att-m-face")
    with brand_scope(brand):
        enrolled = FaceEncoding.objects.for_brand(brand).filter(staff=staff).count()
    ctx = {"tab": "home", "consent": services.consent_active(brand=brand, staff=staff), "enrolled": enrolled}
    return render(request, "attendance/m/withdraw.html", ctx)


# --- enrollment --------------------------------------------------------------------------------


def choose_challenge() -> str:
    """The liveness challenge for the next enrollment, chosen here (never by the page)."""
    return secrets.choice(services.LIVENESS_CHALLENGES)


def _new_challenge(request, key: str = CHALLENGE_SESSION) -> str:
    challenge = choose_challenge()
    request.session[key] = {"c": challenge, "t": int(timezone.now().timestamp())}
    return challenge


def _take_challenge(request, key: str) -> str:
    """The challenge the page was given (once), or a ValidationError when there is none or it is
    older than five minutes."""
    issued = request.session.pop(key, None)
    now = int(timezone.now().timestamp())
    if not isinstance(issued, dict) or now - int(issued.get("t", 0)) > CHALLENGE_SECONDS:
        raise ValidationError(_("The instruction expired. Try again."), code="no_challenge")
    return str(issued.get("c", ""))


def _challenge_words(challenge: str) -> str:
    if challenge == "blink":
        return _("Look at the camera and blink slowly once or twice.")
    return _("Look at the camera, then turn your head slowly left and right.")


def _read_frames(request) -> list[bytes]:
    """The uploaded frames' bytes (each a JPEG or PNG under 1 MB, 3 to 8 of them), or a
    ValidationError; the bytes live only in this request."""
    files = request.FILES.getlist("frame")
    if len(files) < MIN_FRAMES or len(files) > MAX_FRAMES:
        raise ValidationError(
            _("Send between %(lo)s and %(hi)s pictures.") % {"lo": MIN_FRAMES, "hi": MAX_FRAMES},
            code="frames",
        )
    out = []
    for f in files:
        if f.size > MAX_FRAME_BYTES:
            raise ValidationError(_("A picture is too large."), code="too_large")
        data = f.read()
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            raise ValidationError(str(FACE_MESSAGES["bad_image"]), code="bad_image")
        out.append(data)
    return out


def _analyse(frames: list[bytes]) -> list[list[faces.Face]]:
    found = []
    for data in frames:
        try:
            found.append(pool.analyse_sync(data, checks=False))
        except faces.FaceError as exc:
            raise ValidationError(
                str(FACE_MESSAGES.get(exc.code, FACE_MESSAGES["bad_image"])), code=exc.code
            ) from exc
    return found


@staff_required
@require_http_methods(["GET", "POST"])
def enroll(request):
    """GET: the camera page with a fresh challenge. POST: the frames it captured (``frame`` × 3–8);
    the answer is JSON: ``ok`` or a refusal's ``code`` and message, with the next challenge."""
    brand, staff = request.brand, request.staff
    consent_row = services.consent_active(brand=brand, staff=staff)
    if request.method == "GET":
        if consent_row is None:
            return redirect("att-m-consent")
        challenge = _new_challenge(request)
        ctx = {"tab": "home", "challenge": challenge, "instruction": _challenge_words(challenge)}
        return render(request, "attendance/m/enroll.html", ctx)
    try:
        if consent_row is None:
            raise ValidationError(_("Give your consent to face processing first."), code="no_consent")
        challenge = _take_challenge(request, CHALLENGE_SESSION)
        frames = _read_frames(request)
        found = _analyse(frames)
        del frames
        services.face_enroll(
            brand=brand,
            staff=staff,
            actor=Actor.from_request(request),
            frames=found,
            challenge=challenge,
            source="phone",
        )
    except ValidationError as exc:
        challenge = _new_challenge(request)
        response = _error(exc, status=409 if exc.code == "duplicate_face" else 422)
        return _with_challenge(response, challenge)
    with brand_scope(brand):
        enrolled = FaceEncoding.objects.for_brand(brand).filter(staff=staff).count()
    messages.success(request, _("Your face is enrolled."))
    return JsonResponse({"ok": True, "enrolled": enrolled, "next": _url("att-m-face")})


def _with_challenge(response: JsonResponse, challenge: str) -> JsonResponse:
    import json

    body = json.loads(response.content)
    body["challenge"] = challenge
    body["instruction"] = _challenge_words(challenge)
    return JsonResponse(body, status=response.status_code)


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


# --- PIN ---------------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def pin(request):
    """Set or change my punch PIN (4–8 digits; changing it needs the current one)."""
    brand, staff = request.brand, request.staff
    has_pin = phone.pin_is_set(brand=brand, staff=staff)
    errors: dict[str, str] = {}
    if request.method == "POST":
        new, again = request.POST.get("pin", ""), request.POST.get("pin2", "")
        if new != again:
            errors["pin2"] = _("The two PINs differ.")
        else:
            try:
                phone.pin_set(
                    brand=brand,
                    staff=staff,
                    actor=Actor.from_request(request),
                    pin=new,
                    current=request.POST.get("current", ""),
                )
            except ValidationError as exc:
                for field, errs in exc.message_dict.items():
                    errors[field] = " ".join(errs)
            else:
                messages.success(request, _("Your punch PIN is saved."))
                return redirect("att-m-home")
    ctx = {"tab": "home", "has_pin": has_pin, "errors": errors}
    return render(request, "attendance/m/pin.html", ctx, status=400 if errors else 200)


# --- punch -------------------------------------------------------------------------------------


def _punch_key(staff_id: int) -> str:
    return signing.dumps(secrets.token_hex(16), salt=f"att-punch:{staff_id}", compress=False)


def _punch_key_open(token: str, staff_id: int) -> str:
    try:
        return signing.loads(token or "", salt=f"att-punch:{staff_id}", max_age=PUNCH_KEY_SECONDS)
    except signing.BadSignature as exc:
        raise ValidationError(_("This form has expired. Reload the page."), code="bad_key") from exc


def _device_token(request) -> str | None:
    token = request.COOKIES.get(phone.DEVICE_COOKIE)
    return token if token and len(token) <= 100 else None


@staff_required
@require_GET
def punch(request):
    """The punch page: location, then the face or the PIN as the risk and the policy ask."""
    brand, staff = request.brand, request.staff
    stores = phone.staff_stores(brand=brand, staff=staff)
    ctx = {
        "tab": "home",
        "stores": stores,
        "key": _punch_key(staff.pk),
        "has_pin": phone.pin_is_set(brand=brand, staff=staff),
        "policy": services.policy_get(brand=brand).phone_face,
    }
    response = render(request, "attendance/m/punch.html", ctx)
    if not _device_token(request):
        response.set_cookie(
            phone.DEVICE_COOKIE,
            phone.device_token_new(),
            max_age=DEVICE_COOKIE_SECONDS,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    return response


def _location(request):
    return phone.location_parse(
        request.POST.get("latitude"), request.POST.get("longitude"), request.POST.get("accuracy")
    )


@staff_required
@require_POST
def punch_check(request):
    """What a punch from here and now needs (JSON): its risk, whether the face is checked, whether
    the PIN way is open. Nothing is written."""
    brand, staff = request.brand, request.staff
    try:
        where = _location(request)
        store = phone.punch_store(brand=brand, staff=staff, where=where, store_id=request.POST.get("store"))
    except ValidationError as exc:
        return _error(exc, status=422)
    a = phone.assess(brand=brand, staff=staff, store=store, where=where, device_token=_device_token(request))
    challenge = _new_challenge(request, PUNCH_CHALLENGE_SESSION)
    return JsonResponse(
        {
            "ok": True,
            **a.as_dict(),
            "risk_words": _risk_words(a.risk),
            "challenge": challenge,
            "instruction": _challenge_words(challenge),
        }
    )


@staff_required
def punch_submit(request):
    """POST a punch: ``key`` (from the page), the location, and ``frame`` × 3–8 answering the
    challenge the check gave (the face way) or ``pin`` with a ``reason`` when asked (the PIN way).
    JSON answer; a form key records one punch."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    brand, staff = request.brand, request.staff
    actor = Actor.from_request(request)
    try:
        key = _punch_key_open(request.POST.get("key", ""), staff.pk)
        where = _location(request)
        found = challenge = None
        if request.FILES.getlist("frame"):
            challenge = _take_challenge(request, PUNCH_CHALLENGE_SESSION)
            frames = _read_frames(request)
            if phone.punch_key_used(brand=brand, key=key) is not None:
                raise ValidationError(_("This punch was already sent."), code="replay")
            found = _analyse(frames)
            del frames
        elif not request.POST.get("pin"):
            raise ValidationError(_("Punch with your face or your PIN."), code="nothing")
        result = phone.phone_punch(
            brand=brand,
            staff=staff,
            actor=actor,
            key=key,
            where=where,
            device_token=_device_token(request),
            store_id=request.POST.get("store"),
            frames=found,
            challenge=challenge,
            pin=request.POST.get("pin"),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        code = getattr(exc, "code", None)
        if hasattr(exc, "error_dict"):
            code = next(iter(exc.error_dict.values()))[0].code
        response = _error(exc, status=_status_for(code or ""))
        if request.FILES.getlist("frame"):  # the next try of the face way has a new instruction
            response = _with_challenge(response, _new_challenge(request, PUNCH_CHALLENGE_SESSION))
        return response
    p = result.punch
    local = timezone.localtime(p.occurred_at, records.store_tz(result.assessment.store))
    return JsonResponse(
        {
            "ok": True,
            "punch": {
                "id": p.pk,
                "time": local.strftime("%H:%M"),
                "store": result.assessment.store.name,
                "source": p.source,
                "face_checked": p.face_checked,
                "risk": p.risk,
                "risk_words": _risk_words(p.risk),
            },
            "message": _("Punch recorded at %(time)s, %(store)s.")
            % {"time": local.strftime("%H:%M"), "store": result.assessment.store.name},
            "key": _punch_key(staff.pk),
        }
    )


# --- 我的考勤 ------------------------------------------------------------------------------------


def _month(request) -> tuple[int, int]:
    raw = request.GET.get("month", "")
    if raw:
        try:
            y, m = (int(x) for x in raw.split("-", 1))
        except ValueError as exc:
            raise Http404("No such month.") from exc
        reports.month_bounds(y, m)
        return y, m
    today = timezone.localdate()
    return today.year, today.month


def _shift_month(y: int, m: int, delta: int) -> tuple[int, int]:
    m += delta
    while m < 1:
        y, m = y - 1, m + 12
    while m > 12:
        y, m = y + 1, m - 12
    return y, m


@staff_required
@require_GET
def my_records(request):
    """我的考勤: my day records of a month with their status, my punches, and the totals."""
    brand, staff = request.brand, request.staff
    y, m = _month(request)
    tz = _tz(request)
    days = reports.person_day_records(brand=brand, viewer=staff, staff=staff, year=y, month=m)
    first = date(y, m, 1)
    last = date(y, m, calendar.monthrange(y, m)[1])
    lo = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    # The last day's overnight shift ends in the next month: its punches after midnight count too.
    hi = datetime.combine(last + timedelta(days=2), datetime.min.time(), tzinfo=tz)
    with brand_scope(brand):
        punches = list(
            Punch.objects.for_brand(brand)
            .select_related("store")
            .filter(staff=staff, occurred_at__gte=lo, occurred_at__lt=hi)
            .order_by("occurred_at", "id")
        )
    by_record = reports.punches_by_day_record(days, punches, tz)
    S = DayRecord.Status
    totals = {
        "days": len(days),
        "on_time": sum(1 for d in days if d.status == S.ON_TIME),
        "late": sum(1 for d in days if d.status in (S.LATE, S.LATE_AND_EARLY)),
        "left_early": sum(1 for d in days if d.status in (S.LEFT_EARLY, S.LATE_AND_EARLY)),
        "absent": sum(1 for d in days if d.status == S.ABSENT),
        "missing": sum(1 for d in days if d.status == S.MISSING_PUNCH),
        "late_minutes": sum(d.late_minutes for d in days),
        "early_minutes": sum(d.early_minutes for d in days),
        "punches": sum(len(ps) for ps in by_record.values()),
    }
    rows = [{"day": d, "punches": by_record[d.pk]} for d in reversed(days)]
    today = timezone.localdate()
    py, pm = _shift_month(y, m, -1)
    ny, nm = _shift_month(y, m, 1)
    ctx = {
        "tab": "home",
        "tz": tz,
        "month": first,
        "rows": rows,
        "totals": totals,
        "prev": f"{py:04d}-{pm:02d}",
        "next": f"{ny:04d}-{nm:02d}" if (ny, nm) <= (today.year, today.month) else "",
        "S": S,
    }
    return render(request, "attendance/m/records.html", ctx)
