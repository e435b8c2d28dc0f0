"""Attendance in the brand console (/dashboard/attendance/): who is in today, day records per store
and month (CSV, a person's month, corrections), shifts, week schedules, the access log, enrolled
faces (delete with a reason), the consent text and its versions, the matching policy and the
calibration of the threshold on the brand's own faces.

Brand admins see every store, store managers their own stores: another brand's or another store's
id answers 404, a guide 403. The policy, the consent text and the calibration are the brand
admin's (store managers read the policy and the text; the calibration reads biometric data and is
for admins only). Views are thin: forms validate, attendance.services / records write and audit,
attendance.reports read."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from attendance import calibration, records, reports, services
from attendance.labels import PUNCH_RISKS
from attendance.models import (
    AccessRecord,
    AttendancePolicy,
    ConsentText,
    Correction,
    DayRecord,
    FaceConsent,
    FaceEncoding,
    Punch,
    Schedule,
    ShiftTemplate,
)
from attendance.views.console_forms import (
    AccessFilterForm,
    BulkScheduleForm,
    ConsentTextForm,
    CorrectionForm,
    FaceDeleteForm,
    PolicyForm,
    RecordFilterForm,
    ShiftCreateForm,
    ShiftForm,
    parse_month,
)
from retail import roles
from retail import selectors as retail_selectors
from retail.developers.common import once_per_form
from retail.events import Actor
from retail.idempotency import IdempotencyConflict
from retail.middleware import bad_request
from retail.models import AuditLog, Staff, StaffStore, Store
from retail.pages import apply_service_errors, call_service, form_status, manager_required

PAGE_SIZE = 50
Status = DayRecord.Status
STATUS_BADGE = {
    Status.ON_TIME: "badge-green",
    Status.LATE: "badge-orange",
    Status.LEFT_EARLY: "badge-orange",
    Status.LATE_AND_EARLY: "badge-red",
    Status.ABSENT: "badge-red",
    Status.MISSING_PUNCH: "badge-purple",
    Status.UNSCHEDULED: "badge-grey",
    Status.PENDING: "badge-blue",
}
RESULT_BADGE = {
    AccessRecord.Result.GRANTED: "badge-green",
    AccessRecord.Result.PUNCHED: "badge-green",
    AccessRecord.Result.UNKNOWN: "badge-red",
    AccessRecord.Result.AMBIGUOUS: "badge-orange",
    AccessRecord.Result.OUTSIDE_WINDOW: "badge-orange",
    AccessRecord.Result.NOT_ASSIGNED: "badge-red",
    AccessRecord.Result.BAD_FRAME: "badge-grey",
}
REFUSED = [
    r
    for r in AccessRecord.Result.values
    if r not in (AccessRecord.Result.GRANTED, AccessRecord.Result.PUNCHED)
]
WEEKDAY_NAMES = None  # filled lazily (translated per request)


# --- shared bits --------------------------------------------------------------------------------


def _is_admin(request) -> bool:
    return roles.can_manage_stores(request.staff)


def _ctx(request, tab: str, **extra) -> dict:
    return {"nav": "attendance", "tab": tab, "is_admin": _is_admin(request), **extra}


def _actor(request) -> dict:
    return {"brand": request.brand, "manager": request.staff, "actor": Actor.from_request(request)}


def _stores(request) -> list[Store]:
    return list(retail_selectors.store_list(brand=request.brand, viewer=request.staff))


def _pick_store(request, stores: list[Store], value: str | None = None) -> Store | None:
    """The store asked for (``?store=``), if it is one of the viewer's; none asked: the first.
    Another brand's or another store's id: 404."""
    value = request.GET.get("store") if value is None else value
    if value:
        for s in stores:
            if str(s.pk) == str(value):
                return s
        raise Http404("No such store.")
    return stores[0] if stores else None


def _require_admin(request) -> None:
    if not _is_admin(request):
        raise PermissionDenied


def _visible_staff(request):
    return retail_selectors.staff_list(brand=request.brand, viewer=request.staff)


def _person(request, staff_id: int) -> Staff:
    """A person the viewer may see (a store manager: people of their stores), else 404."""
    person = _visible_staff(request).filter(pk=staff_id).first()
    if person is None:
        raise Http404("No such person.")
    return person


def _month_of(request, store: Store | None):
    today = records.local_date(store, timezone.now()) if store else timezone.localdate()
    parsed = parse_month(request.GET.get("month"), today)
    return parsed, today


def _month_links(year: int, month: int) -> dict:
    first = date(year, month, 1)
    prev = (first - timedelta(days=1)).replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return {
        "month_value": f"{year:04d}-{month:02d}",
        "month_first": first,
        "prev_month": f"{prev.year:04d}-{prev.month:02d}",
        "next_month": f"{nxt.year:04d}-{nxt.month:02d}",
    }


def _badge(status: str) -> str:
    return STATUS_BADGE.get(status, "badge-grey")


def _decorate_days(days) -> list[DayRecord]:
    for d in days:
        d.badge = _badge(d.status)
    return days


def _qs(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


# --- today: who is in ---------------------------------------------------------------------------


@manager_required
@require_GET
def today(request):
    """Who is in the store now, and today's schedule with how each day is going."""
    stores = _stores(request)
    store = _pick_store(request, stores)
    ctx = _ctx(request, "today", stores=stores, store=store)
    if store is not None:
        now = timezone.now()
        day = records.local_date(store, now)
        ctx["inside"] = reports.who_is_in(brand=request.brand, viewer=request.staff, store=store, now=now)
        schedules = list(
            Schedule.objects.for_brand(request.brand)
            .select_related("staff", "shift")
            .filter(store=store, date=day)
            .order_by("shift__start", "staff__name", "staff_id")
        )
        days = {
            d.staff_id: d for d in DayRecord.objects.for_brand(request.brand).filter(store=store, date=day)
        }
        rows = []
        for s in schedules:
            rec = days.get(s.staff_id)
            rows.append({"schedule": s, "day": rec, "badge": _badge(rec.status) if rec else ""})
        counts = defaultdict(int)
        for rec in days.values():
            counts[rec.status] += 1
        ctx.update(
            day=day,
            tz=store.timezone,
            schedule_rows=rows,
            unscheduled=[d for d in days.values() if d.schedule_id is None],
            counts={
                "scheduled": len(schedules),
                "inside": len(ctx["inside"]),
                "late": counts[Status.LATE] + counts[Status.LATE_AND_EARLY],
                "absent": counts[Status.ABSENT],
                "missing": counts[Status.MISSING_PUNCH],
            },
            refusals=AccessRecord.objects.for_brand(request.brand)
            .filter(device__store=store, result__in=REFUSED, occurred_at__gte=now - timedelta(hours=24))
            .count(),
        )
        for row in ctx["inside"]:
            row["badge"] = _badge(row["status"])
    return render(request, "attendance/dash/today.html", ctx)


# --- day records --------------------------------------------------------------------------------


@manager_required
@require_GET
def day_records(request):
    """A store's day records of a month with the per-person summary; filters by status and name."""
    stores = _stores(request)
    store = _pick_store(request, stores)
    ctx = _ctx(request, "records", stores=stores, store=store)
    if store is None:
        return render(request, "attendance/dash/records.html", ctx)
    (parsed, _today) = _month_of(request, store)
    if parsed is None:
        return bad_request(request, _("Choose a month such as 2026-03."))
    year, month = parsed
    days = reports.store_day_records(
        brand=request.brand, viewer=request.staff, store=store, year=year, month=month
    )
    summary = reports.summarise(days)
    form = RecordFilterForm(request.GET if ("status" in request.GET or "q" in request.GET) else None)
    values = form.values()
    shown = days
    if values.get("status") == "corrected":
        shown = [d for d in shown if d.corrected]
    elif values.get("status"):
        shown = [d for d in shown if d.status == values["status"]]
    if values.get("q"):
        q = values["q"].lower()
        shown = [d for d in shown if q in d.staff.name.lower() or q in (d.staff.employee_no or "").lower()]
    page = Paginator(shown, PAGE_SIZE * 2).get_page(request.GET.get("page"))
    ctx.update(
        tz=store.timezone,
        form=form,
        filtered=bool(values),
        page=page,
        rows=_decorate_days(list(page.object_list)),
        summary=summary,
        total=len(days),
        csv_url=reverse("dash-att-records-csv") + "?" + _qs(store=store.pk, month=f"{year:04d}-{month:02d}"),
        **_month_links(year, month),
    )
    return render(request, "attendance/dash/records.html", ctx)


@manager_required
@require_GET
def day_records_csv(request):
    """The store's monthly summary as CSV (retail.csv_export quotes formula-like names)."""
    stores = _stores(request)
    store = _pick_store(request, stores)
    if store is None:
        raise Http404("No store.")
    parsed, _today = _month_of(request, store)
    if parsed is None:
        return bad_request(request, _("Choose a month such as 2026-03."))
    year, month = parsed
    body = reports.month_summary_csv(
        brand=request.brand, viewer=request.staff, store=store, year=year, month=month
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="attendance-{store.code}-{year:04d}-{month:02d}.csv"'
    )
    response["Cache-Control"] = "no-store"
    return response


def _with_risk_words(punches) -> list:
    """Punches with their risk codes in words (``p.risk_words``) for the page."""
    rows = list(punches)
    for p in rows:
        p.risk_words = [str(PUNCH_RISKS.get(code, code)) for code in p.risk or ()]
    return rows


@manager_required
@require_GET
def person_month(request, staff_id: int):
    """A person's month: day records and punches (a store manager: at their stores)."""
    person = _person(request, staff_id)
    stores = _stores(request)
    store_ids = {s.pk for s in stores}
    home = next((s for s in stores if s.pk in roles.store_ids(person)), stores[0] if stores else None)
    parsed, _today = _month_of(request, home)
    if parsed is None:
        return bad_request(request, _("Choose a month such as 2026-03."))
    year, month = parsed
    days = reports.person_day_records(
        brand=request.brand, viewer=request.staff, staff=person, year=year, month=month
    )
    if not _is_admin(request):
        days = [d for d in days if d.store_id in store_ids]
    first, last = reports.month_bounds(year, month)
    tz = records.store_tz(home) if home else None
    lo = datetime.combine(first - timedelta(days=1), time(0), tzinfo=tz)
    hi = datetime.combine(last + timedelta(days=2), time(0), tzinfo=tz)
    punches = (
        Punch.objects.for_brand(request.brand)
        .select_related("store", "device")
        .filter(staff=person, occurred_at__gte=lo, occurred_at__lt=hi)
        .order_by("occurred_at", "id")
    )
    if not _is_admin(request):
        punches = punches.filter(store_id__in=store_ids)
    totals = defaultdict(int)
    for d in days:
        totals[d.status] += 1
        totals["late_minutes"] += d.late_minutes
        totals["early_minutes"] += d.early_minutes
    ctx = _ctx(
        request,
        "records",
        person=person,
        rows=_decorate_days(days),
        punches=_with_risk_words(punches[:500]),
        tz=home.timezone if home else "Asia/Shanghai",
        totals={
            "days": len(days),
            "on_time": totals[Status.ON_TIME],
            "late": totals[Status.LATE] + totals[Status.LATE_AND_EARLY],
            "early": totals[Status.LEFT_EARLY] + totals[Status.LATE_AND_EARLY],
            "absent": totals[Status.ABSENT],
            "missing": totals[Status.MISSING_PUNCH],
            "late_minutes": totals["late_minutes"],
            "early_minutes": totals["early_minutes"],
        },
        **_month_links(year, month),
    )
    return render(request, "attendance/dash/person.html", ctx)


def _day(request, day_id: int) -> DayRecord:
    """A day record of one of the viewer's stores, else 404."""
    day = (
        DayRecord.objects.for_brand(request.brand)
        .select_related("staff", "store", "schedule__shift")
        .filter(pk=day_id)
        .first()
    )
    if day is None or not roles.can_manage_store(request.staff, day.store_id):
        raise Http404("No such day.")
    return day


def _at(day: date, t: time | None, next_day: bool, store: Store) -> datetime | None:
    if t is None:
        return None
    return datetime.combine(day + timedelta(days=1 if next_day else 0), t, tzinfo=records.store_tz(store))


@manager_required
@require_http_methods(["GET", "POST"])
def day_correct(request, day_id: int):
    """Correct a day record with a reason (records.correction_add audits it; later recomputes keep it)."""
    day = _day(request, day_id)
    tz = records.store_tz(day.store)
    if request.method == "POST":
        form = CorrectionForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            first_in = _at(day.date, d["first_in"], d["in_next_day"], day.store)
            last_out = _at(day.date, d["last_out"], d["out_next_day"], day.store)
            op = {
                "op": "attendance_correction",
                "day": day.pk,
                "first_in": first_in.isoformat() if first_in else None,
                "last_out": last_out.isoformat() if last_out else None,
                "status": d["status"] or None,
                "reason": d["reason"],
            }

            def write() -> dict:
                c = records.correction_add(
                    day=day,
                    reason=d["reason"],
                    first_in=first_in,
                    last_out=last_out,
                    status=d["status"] or None,
                    **_actor(request),
                )
                return {"correction_id": c.pk}

            try:
                _result, replayed = once_per_form(request, d["key"], op, write)
            except IdempotencyConflict:
                form.add_error(
                    None, _("This form was already sent with other values. Check it and send it again.")
                )
                form.renew_key()
            except ValidationError as exc:
                apply_service_errors(form, exc)
                form.renew_key()
            else:
                if not replayed:
                    messages.success(request, _("The day is corrected."))
                back = (
                    reverse("dash-att-person", args=[day.staff_id])
                    + "?"
                    + _qs(month=day.date.strftime("%Y-%m"))
                )
                return redirect(back)
    else:
        initial = {}
        if day.first_in:
            local = day.first_in.astimezone(tz)
            initial["first_in"] = local.time().replace(second=0, microsecond=0)
            initial["in_next_day"] = local.date() > day.date
        if day.last_out:
            local = day.last_out.astimezone(tz)
            initial["last_out"] = local.time().replace(second=0, microsecond=0)
            initial["out_next_day"] = local.date() > day.date
        form = CorrectionForm(initial=initial)
    day.badge = _badge(day.status)
    ctx = _ctx(
        request,
        "records",
        day=day,
        form=form,
        tz=day.store.timezone,
        corrections=list(
            Correction.objects.for_brand(request.brand)
            .select_related("by")
            .filter(day=day)
            .order_by("-created_at")
        ),
        status_labels=dict(Status.choices),
    )
    return render(request, "attendance/dash/correct.html", ctx, status=form_status(form))


# --- shifts -------------------------------------------------------------------------------------


def _shift(request, shift_id: int) -> ShiftTemplate:
    shift = ShiftTemplate.objects.for_brand(request.brand).select_related("store").filter(pk=shift_id).first()
    if shift is None or not roles.can_manage_store(request.staff, shift.store_id):
        raise Http404("No such shift.")
    return shift


def _shifts_page(request, store, stores, *, create_form=None, edit_forms=None, status=200):
    shifts = list(ShiftTemplate.objects.for_brand(request.brand).filter(store=store)) if store else []
    edit_forms = edit_forms or {}
    rows = [
        {
            "shift": s,
            "form": edit_forms.get(s.pk) or ShiftForm(initial=ShiftForm.initial_from(s), prefix=f"s{s.pk}"),
        }
        for s in shifts
    ]
    ctx = _ctx(
        request,
        "shifts",
        stores=stores,
        store=store,
        rows=rows,
        create_form=create_form
        or ShiftCreateForm(initial={"late_grace_minutes": 5, "early_grace_minutes": 0, "active": True}),
        open_id=next(iter(edit_forms), None),
    )
    return render(request, "attendance/dash/shifts.html", ctx, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def shifts(request):
    """A store's shifts; POST adds one."""
    stores = _stores(request)
    store = _pick_store(request, stores, request.POST.get("store") if request.method == "POST" else None)
    if request.method == "GET":
        return _shifts_page(request, store, stores)
    if store is None:
        raise Http404("No store.")
    form = ShiftCreateForm(request.POST)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "key"}

        def write() -> dict:
            shift = records.shift_create(store=store, data=data, **_actor(request))
            return {"shift_id": shift.pk}

        op = {"op": "shift_create", "store": store.pk, **{k: str(v) for k, v in data.items()}}
        try:
            _result, replayed = once_per_form(request, form.cleaned_data["key"], op, write)
        except IdempotencyConflict:
            form.add_error(
                None, _("This form was already sent with other values. Check it and send it again.")
            )
            form.renew_key()
        except ValidationError as exc:
            apply_service_errors(form, exc)
            form.renew_key()
        else:
            if not replayed:
                messages.success(request, _("The shift is added."))
            return redirect(reverse("dash-att-shifts") + "?" + _qs(store=store.pk))
    return _shifts_page(request, store, stores, create_form=form, status=400)


@manager_required
@require_POST
def shift_edit(request, shift_id: int):
    shift = _shift(request, shift_id)
    form = ShiftForm(request.POST, prefix=f"s{shift.pk}")
    if form.is_valid():
        try:
            call_service(
                records.shift_update,
                store=shift.store,
                shift=shift,
                data=dict(form.cleaned_data),
                **_actor(request),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("The shift is saved."))
            return redirect(reverse("dash-att-shifts") + "?" + _qs(store=shift.store_id))
    return _shifts_page(request, shift.store, _stores(request), edit_forms={shift.pk: form}, status=400)


# --- schedules ----------------------------------------------------------------------------------


def _week_of(request, store: Store) -> date | None:
    value = request.GET.get("week") or request.POST.get("week")
    if value:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        if not 2000 <= day.year <= 2100:
            return None
    else:
        day = records.local_date(store, timezone.now())
    return day - timedelta(days=day.weekday())


def _people_of(request, store: Store) -> list[Staff]:
    ids = StaffStore.objects.for_brand(request.brand).filter(store=store).values("staff_id")
    return list(
        Staff.objects.for_brand(request.brand)
        .filter(pk__in=ids, status=Staff.Status.ACTIVE, kind=Staff.Kind.PERSON)
        .order_by("name", "id")
    )


def _grid(request, store: Store, week: list[date], people: list[Staff]) -> dict:
    """(staff id, date) → the schedule of that day (at this store or another)."""
    found = (
        Schedule.objects.for_brand(request.brand)
        .select_related("shift", "store")
        .filter(staff__in=people, date__in=week)
    )
    return {(s.staff_id, s.date): s for s in found}


def _schedule_page(request, store, stores, week_start, *, bulk_form=None, errors=(), status=200):
    ctx = _ctx(request, "schedules", stores=stores, store=store)
    if store is None:
        return render(request, "attendance/dash/schedules.html", ctx, status=status)
    week = [week_start + timedelta(days=i) for i in range(7)]
    people = _people_of(request, store)
    shifts = list(ShiftTemplate.objects.for_brand(request.brand).filter(store=store, active=True))
    grid = _grid(request, store, week, people)
    days = {
        (d.staff_id, d.date): d
        for d in DayRecord.objects.for_brand(request.brand).filter(staff__in=people, date__in=week)
    }
    today = records.local_date(store, timezone.now())
    rows = []
    for p in people:
        cells = []
        for d in week:
            s = grid.get((p.pk, d))
            rec = days.get((p.pk, d))
            cells.append(
                {
                    "date": d,
                    "name": f"c-{p.pk}-{d.isoformat()}",
                    "schedule": s,
                    "elsewhere": s is not None and s.store_id != store.pk,
                    "shift_id": s.shift_id if s is not None and s.store_id == store.pk else None,
                    # A day still to come has no attendance to show yet.
                    "day": rec if d <= today else None,
                    "badge": _badge(rec.status) if rec and d <= today else "",
                }
            )
        rows.append({"person": p, "cells": cells})
    ctx.update(
        week=week,
        week_start=week_start,
        prev_week=(week_start - timedelta(days=7)).isoformat(),
        next_week=(week_start + timedelta(days=7)).isoformat(),
        this_week=(today - timedelta(days=today.weekday())).isoformat(),
        today=today,
        shifts=shifts,
        rows=rows,
        bulk_form=bulk_form
        or BulkScheduleForm(
            people=people, week=week, shifts=shifts, initial={"shift": str(shifts[0].pk)} if shifts else {}
        ),
        grid_errors=list(errors),
    )
    return render(request, "attendance/dash/schedules.html", ctx, status=status)


def _apply(request, store: Store, sets: dict, clears: dict, people: dict) -> int:
    """Write the changes: ``sets`` {(staff id, shift): [days]}, ``clears`` {staff id: [days]}."""
    changed = 0

    def write() -> None:
        nonlocal changed
        for (staff_id, shift), days in sets.items():
            records.schedule_set(
                store=store, staff=people[staff_id], days=days, shift=shift, **_actor(request)
            )
            changed += len(days)
        for staff_id, days in clears.items():
            changed += records.schedule_clear(
                store=store, staff=people[staff_id], days=days, **_actor(request)
            )

    call_service(write)
    return changed


@manager_required
@require_http_methods(["GET", "POST"])
def schedules(request):
    """A store's week: one row a person, one column a day; pick a shift per cell, or tick people and
    days and set one shift for all of them at once."""
    stores = _stores(request)
    store = _pick_store(request, stores, request.POST.get("store") if request.method == "POST" else None)
    if store is None:
        if request.method == "POST":
            raise Http404("No store.")
        return _schedule_page(request, None, stores, None)
    week_start = _week_of(request, store)
    if week_start is None:
        return bad_request(request, _("Choose a week by one of its dates, such as 2026-03-02."))
    if request.method == "GET":
        return _schedule_page(request, store, stores, week_start)

    week = [week_start + timedelta(days=i) for i in range(7)]
    people_list = _people_of(request, store)
    people = {p.pk: p for p in people_list}
    shifts = {
        s.pk: s for s in ShiftTemplate.objects.for_brand(request.brand).filter(store=store, active=True)
    }
    sets: dict = defaultdict(list)
    clears: dict = defaultdict(list)
    bulk_form = None
    if request.POST.get("action") == "bulk":
        bulk_form = BulkScheduleForm(request.POST, people=people_list, week=week, shifts=shifts.values())
        if not bulk_form.is_valid():
            return _schedule_page(request, store, stores, week_start, bulk_form=bulk_form, status=400)
        d = bulk_form.cleaned_data
        shift = shifts.get(int(d["shift"])) if d["shift"] else None
        grid = _grid(request, store, week, people_list)
        for staff_id in d["staff"]:
            # a day the person works at another store is changed there, not here
            days = [
                day
                for day in d["days"]
                if grid.get((staff_id, day)) is None or grid[(staff_id, day)].store_id == store.pk
            ]
            if not days:
                continue
            if shift is None:
                clears[staff_id] = days
            else:
                sets[(staff_id, shift)] = days
    else:
        grid = _grid(request, store, week, people_list)
        for p in people_list:
            for day in week:
                key = f"c-{p.pk}-{day.isoformat()}"
                if key not in request.POST:
                    continue
                value = request.POST[key]
                current = grid.get((p.pk, day))
                if current is not None and current.store_id != store.pk:
                    continue  # scheduled at another store: changed there
                if value == "":
                    if current is not None:
                        clears[p.pk].append(day)
                    continue
                if not value.isdigit() or int(value) not in shifts:
                    return _schedule_page(
                        request,
                        store,
                        stores,
                        week_start,
                        errors=[_("Choose one of the store's shifts.")],
                        status=400,
                    )
                if current is None or current.shift_id != int(value):
                    sets[(p.pk, shifts[int(value)])].append(day)
    try:
        changed = _apply(request, store, sets, clears, people)
    except ValidationError as exc:
        errors = [" ".join(str(m) for m in exc.messages)]
        return _schedule_page(
            request, store, stores, week_start, bulk_form=bulk_form, errors=errors, status=400
        )
    if changed:
        messages.success(request, _("The schedule is saved."))
    else:
        messages.info(request, _("Nothing was changed."))
    return redirect(reverse("dash-att-schedules") + "?" + _qs(store=store.pk, week=week_start.isoformat()))


# --- access log ---------------------------------------------------------------------------------


@manager_required
@require_GET
def access_log(request):
    """Faces at doors and kiosks of a store: who, what the server decided, how close the match was."""
    stores = _stores(request)
    store = _pick_store(request, stores)
    ctx = _ctx(request, "access", stores=stores, store=store)
    if store is not None:
        form = AccessFilterForm(request.GET if "result" in request.GET else None)
        result = form.value()
        qs = (
            AccessRecord.objects.for_brand(request.brand)
            .select_related("device", "staff")
            .filter(device__store=store)
            .order_by("-occurred_at", "-id")
        )
        if result == "refused":
            qs = qs.filter(result__in=REFUSED)
        elif result:
            qs = qs.filter(result=result)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        for r in rows:
            r.badge = RESULT_BADGE.get(r.result, "badge-grey")
            r.refused = r.result in REFUSED
        ctx.update(form=form, result=result, page=page, rows=rows, tz=store.timezone)
    return render(request, "attendance/dash/access.html", ctx)


# --- enrolled faces -----------------------------------------------------------------------------


def _face_rows(request, people) -> list[dict]:
    ids = [p.pk for p in people]
    enc = {
        r["staff_id"]: r
        for r in FaceEncoding.objects.for_brand(request.brand)
        .filter(staff_id__in=ids)
        .values("staff_id")
        .annotate(n=Count("id"), last=Max("created_at"))
    }
    consents = {
        c.staff_id: c
        for c in FaceConsent.objects.for_brand(request.brand)
        .select_related("text")
        .filter(staff_id__in=ids, withdrawn_at__isnull=True)
    }
    current = (
        ConsentText.objects.for_brand(request.brand)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    rows = []
    for p in people:
        e = enc.get(p.pk)
        c = consents.get(p.pk)
        rows.append(
            {
                "person": p,
                "encodings": e["n"] if e else 0,
                "enrolled_at": e["last"] if e else None,
                "consent": c,
                "stale": c is not None and current is not None and c.text.version != current,
                "form": FaceDeleteForm(prefix=f"f{p.pk}"),
            }
        )
    return rows


@manager_required
@require_GET
def faces(request):
    """Who consented to face processing and who has face data; delete a person's face data."""
    q = request.GET.get("q", "").strip()[:64]
    show = request.GET.get("show", "")
    people = _visible_staff(request).filter(kind=Staff.Kind.PERSON).exclude(status=Staff.Status.INVITED)
    if q:
        people = people.filter(Q(name__icontains=q) | Q(employee_no__icontains=q))
    people = list(people)
    rows = _face_rows(request, people)
    counts = {
        "people": len(rows),
        "consented": sum(1 for r in rows if r["consent"]),
        "enrolled": sum(1 for r in rows if r["encodings"]),
    }
    if show == "enrolled":
        rows = [r for r in rows if r["encodings"]]
    elif show == "consented":
        rows = [r for r in rows if r["consent"]]
    elif show == "none":
        rows = [r for r in rows if not r["consent"] and not r["encodings"]]
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = _ctx(request, "faces", page=page, rows=list(page.object_list), q=q, show=show, counts=counts)
    return render(request, "attendance/dash/faces.html", ctx)


@manager_required
@require_POST
def face_delete(request, staff_id: int):
    """Delete every face encoding of the person, with a reason (audited, ``face.deleted``)."""
    person = _person(request, staff_id)
    form = FaceDeleteForm(request.POST, prefix=f"f{person.pk}")
    if not form.is_valid():
        messages.error(request, _("Give a reason of at most 200 characters. Nothing was deleted."))
        return redirect(reverse("dash-att-faces") + "?" + _qs(q=person.name))
    reason = form.cleaned_data["reason"].strip()

    def write() -> dict:
        n = services.encodings_delete(
            brand=request.brand, staff=person, actor=Actor.from_request(request), reason=reason
        )
        return {"deleted": n}

    try:
        result, replayed = once_per_form(
            request,
            form.cleaned_data["key"],
            {"op": "face_delete", "staff": person.pk, "reason": reason},
            write,
        )
    except IdempotencyConflict:
        messages.error(
            request, _("This form was already sent with other values. Check it and send it again.")
        )
    else:
        if replayed:
            messages.info(request, _("This was already done."))
        elif result["deleted"]:
            messages.success(request, _("The face data of %(name)s is deleted.") % {"name": person.name})
        else:
            messages.info(request, _("%(name)s has no face data.") % {"name": person.name})
    return redirect("dash-att-faces")


# --- consent text -------------------------------------------------------------------------------


@manager_required
@require_http_methods(["GET", "POST"])
def consent(request):
    """The brand's consent text: the current version, the earlier ones, and (admins) a new version."""
    form = None
    if request.method == "POST":
        _require_admin(request)
        form = ConsentTextForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data

            def write() -> dict:
                text = services.consent_text_publish(title=d["title"], body=d["body"], **_actor(request))
                return {"version": text.version}

            try:
                result, replayed = once_per_form(
                    request, d["key"], {"op": "consent_text", "title": d["title"], "body": d["body"]}, write
                )
            except IdempotencyConflict:
                form.add_error(
                    None, _("This form was already sent with other values. Check it and send it again.")
                )
                form.renew_key()
            except ValidationError as exc:
                apply_service_errors(form, exc)
                form.renew_key()
            else:
                if not replayed:
                    messages.success(request, _("Version %(v)s is published.") % {"v": result["version"]})
                return redirect("dash-att-consent")
    texts = list(
        ConsentText.objects.for_brand(request.brand).select_related("created_by").order_by("-version")
    )
    agreed = dict(
        FaceConsent.objects.for_brand(request.brand)
        .filter(withdrawn_at__isnull=True)
        .values("text_id")
        .annotate(n=Count("id"))
        .values_list("text_id", "n")
    )
    for t in texts:
        t.agreed = agreed.get(t.pk, 0)
    shown = texts[0] if texts else None
    asked = request.GET.get("version")
    if asked:
        shown = next((t for t in texts if str(t.version) == asked), None)
        if shown is None:
            raise Http404("No such version.")
    if form is None and _is_admin(request):
        current = texts[0] if texts else None
        form = ConsentTextForm(initial={"title": current.title, "body": current.body} if current else {})
    ctx = _ctx(request, "consent", texts=texts, shown=shown, current=texts[0] if texts else None, form=form)
    return render(request, "attendance/dash/consent.html", ctx, status=form_status(form))


# --- policy -------------------------------------------------------------------------------------


def _policy_changes(request) -> list[dict]:
    labels = {
        "match_threshold": _("Match threshold"),
        "match_margin": _("Margin over the second best"),
        "phone_face": _("Face check on phones"),
        "retention_days": _("Keep punches and access records (days)"),
    }
    phone = dict(AttendancePolicy.PhoneFace.choices)
    out = []
    entries = list(AuditLog.objects.for_brand(request.brand).filter(action="attendance.policy")[:10])
    who = dict(
        Staff.objects.for_brand(request.brand)
        .filter(user_id__in={e.actor_id for e in entries if e.actor_id})
        .values_list("user_id", "name")
    )
    for entry in entries:
        changes = []
        for field, pair in (entry.data.get("changes") or {}).items():
            if not isinstance(pair, list) or len(pair) != 2:
                continue
            old, new = pair
            if field == "phone_face":
                old, new = phone.get(old, old), phone.get(new, new)
            changes.append({"label": labels.get(field, field), "old": old, "new": new})
        out.append({"entry": entry, "who": who.get(entry.actor_id, ""), "changes": changes})
    return out


@manager_required
@require_http_methods(["GET", "POST"])
def policy(request):
    """The matching threshold and margin, the phone face check and retention: brand admins change
    them (audited); store managers read them."""
    current = services.policy_get(brand=request.brand)
    form = None
    if request.method == "POST":
        _require_admin(request)
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                call_service(services.policy_update, data=dict(form.cleaned_data), **_actor(request))
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("The policy is saved."))
                return redirect("dash-att-policy")
    elif _is_admin(request):
        initial = PolicyForm.initial_from(current)
        asked = request.GET.get("threshold")
        if asked:
            with contextlib.suppress(ValueError):
                initial["match_threshold"] = round(min(0.6, max(0.2, float(asked))), 2)
        form = PolicyForm(initial=initial)
    ctx = _ctx(request, "policy", policy=current, form=form, changes=_policy_changes(request))
    return render(request, "attendance/dash/policy.html", ctx, status=form_status(form))


# --- calibration --------------------------------------------------------------------------------

CHART_W, CHART_H, CHART_PAD = 720, 220, 28


def _chart(dist: calibration.Distribution, threshold: float) -> dict:
    """Bars of both distributions, each scaled to its own largest bin (their pair counts differ by
    orders of magnitude), with the threshold's x."""
    inner_w, inner_h = CHART_W - 2 * CHART_PAD, CHART_H - 2 * CHART_PAD
    bw = inner_w / calibration.BINS
    top_same = max(int(dist.same.max()), 1)
    top_diff = max(int(dist.different.max()), 1)
    bars = []
    for i in range(calibration.BINS):
        s, d = int(dist.same[i]), int(dist.different[i])
        hs, hd = inner_h * s / top_same, inner_h * d / top_diff
        lo = i * calibration.BIN_WIDTH
        bars.append(
            {
                "x": round(CHART_PAD + i * bw, 2),
                "w": round(bw * 0.46, 2),
                "x2": round(CHART_PAD + i * bw + bw * 0.5, 2),
                "hs": round(hs, 2),
                "ys": round(CHART_PAD + inner_h - hs, 2),
                "hd": round(hd, 2),
                "yd": round(CHART_PAD + inner_h - hd, 2),
                "same": s,
                "different": d,
                "label": f"{lo:.3f}–{lo + calibration.BIN_WIDTH:.3f}",
            }
        )
    ticks = []
    for k in range(0, 13, 2):
        v = k / 10
        ticks.append({"x": round(CHART_PAD + inner_w * v / calibration.MAX_DISTANCE, 2), "label": f"{v:.1f}"})
    return {
        "w": CHART_W,
        "h": CHART_H,
        "pad": CHART_PAD,
        "base": CHART_PAD + inner_h,
        "right": CHART_W - CHART_PAD,
        "bars": bars,
        "ticks": ticks,
        "tx": round(CHART_PAD + inner_w * threshold / calibration.MAX_DISTANCE, 2),
    }


@manager_required
@require_GET
def calibration_page(request):
    """The brand's own distance distribution with the threshold line; ``?threshold=`` previews
    another threshold without saving it. Brand admins only; every view is an audited read."""
    _require_admin(request)
    current = services.policy_get(brand=request.brand)
    threshold = current.match_threshold
    asked = request.GET.get("threshold")
    if asked:
        try:
            threshold = float(asked)
        except ValueError:
            return bad_request(request, _("The threshold is a number between 0.20 and 0.60."))
        if not 0.2 <= threshold <= 0.6:
            return bad_request(request, _("The threshold is a number between 0.20 and 0.60."))
    dist = calibration.brand_distribution(brand=request.brand, actor=Actor.from_request(request))
    names = {}
    if dist.closest:
        ids = {a for _d, a, _b in dist.closest} | {b for _d, _a, b in dist.closest}
        names = dict(Staff.objects.for_brand(request.brand).filter(pk__in=ids).values_list("pk", "name"))
    closest = [
        {"distance": d, "a": names.get(a, ""), "b": names.get(b, ""), "confused": d <= threshold}
        for d, a, b in dist.closest
    ]
    ctx = _ctx(
        request,
        "calibration",
        policy=current,
        threshold=threshold,
        preview=abs(threshold - current.match_threshold) > 1e-9,
        dist=dist,
        confused=dist.confused(threshold),
        confused_now=dist.confused(current.match_threshold),
        chart=_chart(dist, threshold),
        closest=closest,
        suggestions=[round(x / 100, 2) for x in range(35, 56, 5)],
    )
    return render(request, "attendance/dash/calibration.html", ctx)
