"""Commission in the brand dashboard: reports (per guide, per store, per day, with charts drawn on
the server as SVG, and CSV export), commission rules, attribution rule versions and re-attribution,
settlement settings, and settlement (periods, statements, holds, approval and payment).

Store managers see the reports of their own stores; everything else is for brand admins. Views are
thin: forms validate and convert (yuan to fen, % to basis points, local days to instants in the
brand's commission time zone), services write, selectors read; ids are looked up within the brand
(another brand's ids answer 404)."""

from __future__ import annotations

import datetime
import math
import zoneinfo
from collections.abc import Iterator
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cloudstore import selectors as catalogue
from guides import selectors
from guides.forms import (
    ApproveForm,
    AttributionRuleForm,
    CommissionRuleForm,
    HoldForm,
    ReattributeForm,
    ReportFilterForm,
    SettlementSettingsForm,
    bp_to_percent,
    local_midnight,
    local_today,
)
from guides.models import CommissionEntry, CommissionRule, Reattribution, SettlementPeriod, Statement
from guides.services import attribution
from guides.services import rules as rule_services
from guides.services import settlement as settle
from retail import roles
from retail.csv_export import fen_cell, safe_cell, stream_csv
from retail.events import Actor
from retail.idempotency import page_key
from retail.models import Staff
from retail.money import yuan_short
from retail.pages import (
    admin_required,
    apply_service_errors,
    call_service,
    form_status,
    manager_required,
    posted,
)
from retail.tenancy import get_for_brand_or_404

STATEMENTS_PAGE = 100
SKUS_OFFERED = 2000  # codes in the rule form's pick list; any other code can still be typed
STORES_CHARTED = 12
GUIDES_SHOWN = 100  # the rest are in the CSV export

# The models' labels would be translated like an order's or a stock row's ("Paid", "Held");
# these say it of a commission statement and a settlement period.
STATEMENT_STATUS = {
    Statement.Status.PENDING: (pgettext_lazy("commission statement", "To pay"), "blue"),
    Statement.Status.HELD: (pgettext_lazy("commission statement", "Held"), "orange"),
    Statement.Status.PAID: (pgettext_lazy("commission statement", "Paid"), "green"),
    Statement.Status.NOTHING: (pgettext_lazy("commission statement", "Nothing to pay"), "grey"),
}
PERIOD_STATUS = {
    SettlementPeriod.Status.REVIEW: (pgettext_lazy("settlement period", "In review"), "orange"),
    SettlementPeriod.Status.APPROVED: (pgettext_lazy("settlement period", "Paying"), "blue"),
    SettlementPeriod.Status.PAID: (pgettext_lazy("settlement period", "Paid"), "green"),
}
RUN_STATUS = {
    Reattribution.Status.QUEUED: (pgettext_lazy("re-attribution", "Queued"), "grey"),
    Reattribution.Status.RUNNING: (pgettext_lazy("re-attribution", "Running"), "blue"),
    Reattribution.Status.DONE: (pgettext_lazy("re-attribution", "Done"), "green"),
}
ENTRY_KIND = {
    CommissionEntry.Kind.EARN: pgettext_lazy("commission entry", "Commission"),
    CommissionEntry.Kind.CLAWBACK: pgettext_lazy("commission entry", "Refund clawback"),
    CommissionEntry.Kind.REVERSAL: pgettext_lazy("commission entry", "Re-attributed away"),
    CommissionEntry.Kind.CARRY_OUT: pgettext_lazy("commission entry", "Debt carried to the next statement"),
    CommissionEntry.Kind.CARRY_IN: pgettext_lazy("commission entry", "Debt from the last statement"),
}
PRESETS = [
    ("month", gettext_lazy("This month")),
    ("last_month", gettext_lazy("Last month")),
    ("7d", gettext_lazy("Last 7 days")),
]


def _tz(brand) -> str:
    return rule_services.settings_get(brand=brand).timezone


def _ctx(sub: str, tz: str, **kw) -> dict:
    return {"nav": "commission", "sub": sub, "tz": tz, **kw}


def _messages_of(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


# --- reports ------------------------------------------------------------------------------------------


def _presets(today: datetime.date) -> list[dict]:
    first = today.replace(day=1)
    last_month_end = first - datetime.timedelta(days=1)
    spans = {
        "month": (first, today),
        "last_month": (last_month_end.replace(day=1), last_month_end),
        "7d": (today - datetime.timedelta(days=6), today),
    }
    return [{"key": k, "label": label, "start": spans[k][0], "end": spans[k][1]} for k, label in PRESETS]


def _report_scope(request, *, data):
    """The report's filters as the viewer may see them: (form, start day, end day, store ids, store,
    guide, tz). Store managers only ever see their own stores."""
    brand, viewer = request.brand, request.staff
    tz = _tz(brand)
    stores = list(catalogue.visible_stores(brand=brand, viewer=viewer))
    form = ReportFilterForm(data or None, stores=stores)
    today = local_today(tz)
    start, end = today.replace(day=1), today
    store = guide = None
    store_ids = None if roles.sees_all_stores(viewer) else sorted(roles.store_ids(viewer))
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        start = d.get("date_from") or start
        end = d.get("date_to") or max(end, start)
        if d.get("store"):
            store = next(s for s in stores if s.pk == d["store"])
            store_ids = [store.pk]
        if d.get("guide"):
            guide = get_for_brand_or_404(Staff, brand, pk=d["guide"])
    elif form.is_bound:
        # Unknown store ids are not a form error here: another brand's store answers 404.
        raw = (data or {}).get("store", "")
        if raw and "store" in form.errors and raw.isdigit():
            raise Http404
    return form, start, end, store_ids, store, guide, tz


def _nice_ceiling(value: int) -> int:
    """A round number at least ``value`` (1, 2, 2.5 or 5 times a power of ten), for an axis."""
    if value <= 0:
        return 0
    power = 10 ** (len(str(value)) - 1)
    for step in (power, 2 * power, 5 * power // 2, 5 * power, 10 * power):
        if value <= step:
            return step
    return 10 * power


def _f(x: float) -> str:
    return f"{x:.2f}"


def daily_chart(days: list[dict]) -> dict:
    """The daily chart: per day a stacked bar of online and offline sales (left axis) and a point of
    the commission line (right axis). The SVG's viewBox is ``width`` x 100, stretched to its box, so
    heights and ``top`` values are percentages; the axis labels and points are HTML on top of it,
    so their text keeps its size at any width."""
    n = len(days)
    slots = max(n, 7)  # a few days do not make bars as wide as the chart
    offset = (slots - n) * 5
    sales_max = _nice_ceiling(max([d["online_fen"] + d["offline_fen"] for d in days] + [0])) or 10_000
    comm_max = _nice_ceiling(max([d["commission_fen"] for d in days] + [0])) or 1_000
    every = max(1, math.ceil(n / 12))
    bars = []
    for i, d in enumerate(days):
        online, offline = max(d["online_fen"], 0), max(d["offline_fen"], 0)
        comm = max(d["commission_fen"], 0)
        on_h, off_h = online / sales_max * 100, offline / sales_max * 100
        center = offset + i * 10 + 5
        bars.append(
            {
                "day": d["day"],
                "x": _f(center - 3.2),
                "w": "6.4",
                "hit_x": _f(center - 5),
                "on_y": _f(100 - on_h),
                "on_h": _f(on_h),
                "off_y": _f(100 - on_h - off_h),
                "off_h": _f(off_h),
                "cx": _f(center),
                "cy": _f(100 - comm / comm_max * 100),
                "left": _f(center / (slots * 10) * 100),
                "label": d["day"].strftime("%m-%d") if i % every == 0 else "",
                "sparse": i % (2 * every) == 0,
                "online_fen": online,
                "offline_fen": offline,
                "commission_fen": comm,
            }
        )
    return {
        "width": slots * 10,
        "bars": bars,
        "ticks": [
            {
                "top": 100 - 25 * k,
                "sales": yuan_short(sales_max * k // 4),
                "commission": yuan_short(comm_max * k // 4),
            }
            for k in range(5)
        ],
        "line": " ".join(f"{b['cx']},{b['cy']}" for b in bars),
        "dots": n <= 31,
    }


def store_chart(rows: list[dict]) -> dict:
    """The per-store chart: one stacked bar (online, offline) per store, largest sales first."""
    ranked = sorted(rows, key=lambda r: -(r["online_fen"] + r["offline_fen"]))
    shown = ranked[:STORES_CHARTED]
    peak = max([r["online_fen"] + r["offline_fen"] for r in shown] + [1])
    return {
        "rows": [
            {
                "name": r["name"] or _("No store"),
                "on_pct": _f(max(r["online_fen"], 0) * 100 / peak),
                "off_pct": _f(max(r["offline_fen"], 0) * 100 / peak),
                "online_fen": r["online_fen"],
                "offline_fen": r["offline_fen"],
                "sales_fen": r["online_fen"] + r["offline_fen"],
                "commission_fen": r["commission_fen"],
            }
            for r in shown
        ],
        "more": len(ranked) - len(shown),
    }


def _rate(commission_fen: int, sales_fen: int) -> str:
    if sales_fen <= 0:
        return "—"
    pct = (Decimal(commission_fen) * 100 / Decimal(sales_fen)).quantize(Decimal("0.01"))
    return f"{pct}%"


@manager_required
@require_GET
def reports(request):
    """Commission and attributed sales over a date range: per guide, per store, per day."""
    brand = request.brand
    form, start_day, end_day, store_ids, store, guide, tz = _report_scope(request, data=request.GET)
    start = local_midnight(start_day, tz)
    end = local_midnight(end_day + datetime.timedelta(days=1), tz)
    by_guide = selectors.report_by_guide(brand=brand, start=start, end=end, store_ids=store_ids)
    by_store = selectors.report_by_store(brand=brand, start=start, end=end, store_ids=store_ids)
    days = selectors.report_daily(brand=brand, start=start, end=end, tz=tz, store_ids=store_ids, guide=guide)
    totals = {
        k: sum(r[k] for r in by_guide) for k in ("orders", "online_fen", "offline_fen", "commission_fen")
    }
    totals["sales_fen"] = totals["online_fen"] + totals["offline_fen"]
    totals["rate"] = _rate(totals["commission_fen"], totals["sales_fen"])
    for r in by_guide + by_store:
        r["sales_fen"] = r["online_fen"] + r["offline_fen"]
        r["rate"] = _rate(r["commission_fen"], r["sales_fen"])
    peak_guide = max([r["commission_fen"] for r in by_guide] + [1])
    guides_shown = by_guide[:GUIDES_SHOWN]
    if guide is not None and all(r["guide_id"] != guide.pk for r in guides_shown):
        guides_shown += [r for r in by_guide if r["guide_id"] == guide.pk]
    for r in guides_shown:
        r["pct"] = r["commission_fen"] * 100 / peak_guide
    base = {"date_from": start_day.isoformat(), "date_to": end_day.isoformat()}
    if store is not None:
        base["store"] = store.pk
    guide_total = None
    if guide is not None:
        guide_total = {k: sum(d[k] for d in days) for k in ("online_fen", "offline_fen", "commission_fen")}
    ctx = _ctx(
        "reports",
        tz,
        form=form,
        start=start_day,
        end=end_day,
        store=store,
        guide=guide,
        guide_total=guide_total,
        by_guide=guides_shown,
        guides_more=max(0, len(by_guide) - len(guides_shown)),
        by_store=by_store,
        totals=totals,
        days=days,
        chart=daily_chart(days),
        stores_chart=store_chart(by_store),
        presets=_presets(local_today(tz)),
        query=urlencode(base),
        all_stores=roles.sees_all_stores(request.staff),
    )
    return render(request, "guides/dash/reports.html", ctx, status=form_status(form))


@manager_required
@require_GET
def reports_export(request):
    """The per-guide (?by=guide) or per-store (?by=store) table as CSV, streamed, UTF-8 with a BOM."""
    brand = request.brand
    form, start_day, end_day, store_ids, _store, _guide, tz = _report_scope(request, data=request.GET)
    by = request.GET.get("by", "guide")
    if by not in ("guide", "store") or (form.is_bound and not form.is_valid()):
        return HttpResponseBadRequest(_("Choose ?by=guide or ?by=store and a valid date range."))
    start = local_midnight(start_day, tz)
    end = local_midnight(end_day + datetime.timedelta(days=1), tz)
    if by == "guide":
        rows = selectors.report_by_guide(brand=brand, start=start, end=end, store_ids=store_ids)
        header = [_("Guide"), _("Orders")]
    else:
        rows = selectors.report_by_store(brand=brand, start=start, end=end, store_ids=store_ids)
        header = [_("Store"), _("Orders"), _("Guides")]
    header += [_("Online sales (¥)"), _("Offline sales (¥)"), _("Sales (¥)"), _("Commission (¥)")]
    no_store = _("No store")

    def lines() -> Iterator[list[str]]:
        yield header
        for r in rows:
            name = r["name"] or (no_store if by == "store" else "")
            head = [safe_cell(name), str(r["orders"])]
            if by == "store":
                head.append(str(r["guides"]))
            yield [
                *head,
                fen_cell(r["online_fen"]),
                fen_cell(r["offline_fen"]),
                fen_cell(r["online_fen"] + r["offline_fen"]),
                fen_cell(r["commission_fen"]),
            ]

    filename = f"commission-by-{by}-{brand.slug}-{start_day:%Y%m%d}-{end_day:%Y%m%d}.csv"
    return stream_csv(lines(), filename)


# --- commission rules ---------------------------------------------------------------------------------


def _rule_state(rule: CommissionRule, now: datetime.datetime) -> str:
    if rule.effective_from > now:
        return "scheduled"
    if rule.effective_to is not None and rule.effective_to <= now:
        return "ended"
    return "active"


@admin_required
@require_GET
def rules(request):
    brand = request.brand
    tz = _tz(brand)
    now = timezone.now()
    rows = selectors.commission_rules(brand=brand)
    for r in rows:
        r.state = _rule_state(r, now)
        r.rate_pct = bp_to_percent(r.rate_bp)
    current = [r for r in rows if r.state != "ended"]
    ended = [r for r in rows if r.state == "ended"]
    ctx = _ctx("rules", tz, current=current, ended=ended)
    return render(request, "guides/dash/rules.html", ctx)


@admin_required
@require_http_methods(["GET", "POST"])
def rule_new(request):
    brand = request.brand
    tz = _tz(brand)
    skus = list(catalogue.sku_list(brand=brand)[:SKUS_OFFERED])
    form = CommissionRuleForm(
        posted(request), categories=list(catalogue.category_list(brand=brand)), skus=skus, tz=tz
    )
    if request.method == "POST" and form.is_valid():
        data = form.data_for_service()
        try:
            rule = call_service(
                rule_services.commission_rule_create,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                data=data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            messages.success(request, _("Commission rule “%(name)s” saved.") % {"name": rule.name})
            return redirect(reverse("dash-commission-rules") + f"#rule-{rule.pk}")
    ctx = _ctx("rules", tz, form=form, skus=skus)
    return render(request, "guides/dash/rule_new.html", ctx, status=form_status(form))


@admin_required
@require_POST
def rule_end(request, pk: int):
    rule = get_for_brand_or_404(CommissionRule, request.brand, pk=pk)
    try:
        call_service(
            rule_services.commission_rule_end,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            rule=rule,
        )
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
    else:
        messages.success(
            request,
            _("“%(name)s” has ended. Orders it already credited keep their commission.")
            % {"name": rule.name},
        )
    return redirect(reverse("dash-commission-rules") + f"#rule-{rule.pk}")


# --- attribution rules and re-attribution ---------------------------------------------------------------


def _default_span(tz: str) -> dict:
    today = local_today(tz)
    return {"date_from": today.replace(day=1), "date_to": today}


@admin_required
@require_http_methods(["GET", "POST"])
def attribution_rules(request):
    """The attribution rule versions, and a form for the next one (from the current values)."""
    brand = request.brand
    tz = _tz(brand)
    versions = selectors.attribution_rules(brand=brand)
    current = rule_services.attribution_rule_current(brand=brand)
    form = AttributionRuleForm(posted(request), initial=AttributionRuleForm.initial_from(current), tz=tz)
    if request.method == "POST" and form.is_valid():
        data, at = form.data_for_service()
        try:
            row = call_service(
                rule_services.attribution_rule_create,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                data=data,
                effective_from=at,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            messages.success(
                request,
                _(
                    "Version %(v)s of the attribution rules is saved. Orders already attributed keep "
                    "their guide and commission; to apply the new rules to them, attribute a period again."
                )
                % {"v": row.version},
            )
            if row.overridden_later:
                messages.warning(
                    request, _("A later version is already scheduled: this one applies only until then.")
                )
            return redirect(reverse("dash-commission-attribution") + f"?saved={row.pk}#reattribute")
    saved = None
    raw = request.GET.get("saved", "")
    if raw.isdigit():
        saved = next((v for v in versions if v.pk == int(raw)), None)
    ctx = _ctx(
        "attribution",
        tz,
        form=form,
        versions=versions,
        current=current,
        saved=saved,
        now=timezone.now(),
        reattribute_form=ReattributeForm(initial=_default_span(tz), tz=tz),
    )
    return render(request, "guides/dash/attribution.html", ctx, status=form_status(form))


@admin_required
@require_http_methods(["GET", "POST"])
def reattribute(request):
    """Ask for a period to be attributed again under the rules in force now; the runs so far."""
    brand = request.brand
    tz = _tz(brand)
    form = ReattributeForm(posted(request), initial=_default_span(tz), tz=tz)
    if request.method == "POST" and form.is_valid():
        start, end = form.span()
        try:
            call_service(
                attribution.reattribution_request,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                start=start,
                end=end,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            messages.success(
                request, _("The period is being attributed again; the result shows below when it is done.")
            )
            return redirect("dash-commission-reattribute")
    runs = selectors.reattributions(brand=brand)
    for r in runs:
        r.status_label, r.status_color = RUN_STATUS.get(r.status, (r.status, "grey"))
        # The end is exclusive (midnight after the last day): show the last day itself.
        r.last_day = (r.end - datetime.timedelta(microseconds=1)).astimezone(zoneinfo.ZoneInfo(tz)).date()
    busy = any(r.status != Reattribution.Status.DONE for r in runs)
    ctx = _ctx("reattribute", tz, form=form, runs=runs, busy=busy)
    return render(request, "guides/dash/reattribute.html", ctx, status=form_status(form))


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    brand = request.brand
    row = rule_services.settings_get(brand=brand)
    form = SettlementSettingsForm(
        posted(request),
        initial={"period": row.period, "timezone": row.timezone, "greeting": row.greeting},
        current_tz=row.timezone,
    )
    if request.method == "POST" and form.is_valid():
        try:
            call_service(
                rule_services.settings_update,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                data=form.cleaned_data,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Settlement settings saved."))
            if form.cleaned_data["period"] != row.period:
                start, end, _label = selectors.current_period(brand=brand)
                messages.info(request, _length_notice(start, end, form.cleaned_data["timezone"]))
            return redirect("dash-commission-settings")
    start, end, label = selectors.current_period(brand=brand)
    ctx = _ctx(
        "settings",
        row.timezone,
        form=form,
        row=row,
        period_label=label,
        period_start=start,
        period_end=end,
        length_notice=_length_notice(start, None, row.timezone),
    )
    return render(request, "guides/dash/settings.html", ctx, status=form_status(form))


def _length_notice(start: datetime.datetime, end: datetime.datetime | None, tz: str) -> str:
    """When a change of period length takes effect (and, once changed, when the running period ends)."""
    zone = zoneinfo.ZoneInfo(tz)
    at = f"{start.astimezone(zone):%Y-%m-%d %H:%M}"
    if end is None:
        return _(
            "A change of period length takes effect from %(start)s, the start of the running period: "
            "closed periods never change and no period overlaps them."
        ) % {"start": at}
    return _("The new period length takes effect from %(start)s: the running period now ends %(end)s.") % {
        "start": at,
        "end": f"{end.astimezone(zone):%Y-%m-%d %H:%M}",
    }


# --- settlement ---------------------------------------------------------------------------------------


def _period(request, pk: int) -> SettlementPeriod:
    period = get_for_brand_or_404(SettlementPeriod, request.brand, pk=pk)
    period.status_label, period.status_color = PERIOD_STATUS.get(period.status, (period.status, "grey"))
    return period


@admin_required
@require_http_methods(["GET", "POST"])
def settlements(request):
    """The settlement periods; POST closes the last complete period now (once)."""
    brand = request.brand
    tz = _tz(brand)
    start, end, label = settle.last_complete_period(brand=brand)
    if request.method == "POST":
        try:
            period = call_service(settle.period_close, brand=brand, start=start, end=end, label=label)
        except ValidationError as exc:
            messages.error(request, _messages_of(exc))
            return redirect("dash-commission-settlements")
        messages.success(
            request,
            _("Period %(label)s is closed: %(n)s statement(s) to review.")
            % {"label": period.label, "n": period.statements},
        )
        return redirect("dash-commission-settlement", period.pk)
    page = Paginator(selectors.periods_list(brand=brand), 24).get_page(request.GET.get("page"))
    for p in page.object_list:
        p.status_label, p.status_color = PERIOD_STATUS.get(p.status, (p.status, "grey"))
    closed = selectors.periods_list(brand=brand).filter(start=start).exists()
    current = selectors.current_period(brand=brand)
    ctx = _ctx(
        "settlements",
        tz,
        page=page,
        last={"start": start, "end": end, "label": label, "closed": closed},
        current=current,
        running_start=current[0].isoformat(),
        pool_fen=settle.pool_balance(brand=brand),
    )
    return render(request, "guides/dash/settlements.html", ctx)


@admin_required
@require_POST
def settlements_close_running(request):
    """Close the running period up to now, once the admin has confirmed it."""
    brand = request.brand
    try:
        start = datetime.datetime.fromisoformat(request.POST.get("start", ""))
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        messages.error(request, _("This is not the running period any more: reload the page."))
        return redirect("dash-commission-settlements")
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm that the running period closes now."))
        return redirect("dash-commission-settlements")
    try:
        period = call_service(
            settle.period_close_early,
            brand=brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            start=start,
        )
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
        return redirect("dash-commission-settlements")
    if getattr(period, "replayed", False):
        messages.info(request, _("Period %(label)s was already closed.") % {"label": period.label})
    else:
        messages.success(
            request,
            _("Period %(label)s is closed: %(n)s statement(s) to review.")
            % {"label": period.label, "n": period.statements},
        )
    return redirect("dash-commission-settlement", period.pk)


def _settlement_page(request, period, *, hold_form=None, hold_for=None, page_no=None, status=200):
    brand = request.brand
    summary = selectors.period_summary(brand=brand, period=period)
    page = Paginator(selectors.statements_list(brand=brand, period=period), STATEMENTS_PAGE).get_page(
        page_no or request.GET.get("page")
    )
    for s in page.object_list:
        s.status_label, s.status_color = STATEMENT_STATUS.get(s.status, (s.status, "grey"))
    paid, pending = summary["paid"], summary["pending"]
    to_pay_n = paid["n"] + pending["n"]
    ctx = _ctx(
        "settlements",
        _tz(brand),
        period=period,
        summary=summary,
        page=page,
        pool_fen=settle.pool_balance(brand=brand),
        to_pay={"n": to_pay_n, "fen": paid["fen"] + pending["fen"]},
        percent=(paid["n"] * 100 // to_pay_n) if to_pay_n else 100,
        hold_form=hold_form,
        hold_for=hold_for,
        live=period.status == SettlementPeriod.Status.APPROVED,
    )
    return render(request, "guides/dash/settlement.html", ctx, status=status)


@admin_required
@require_GET
def settlement(request, pk: int):
    return _settlement_page(request, _period(request, pk))


@admin_required
@require_http_methods(["GET", "POST"])
def settlement_approve(request, pk: int):
    """Confirm, then approve: every statement not held is paid as a red packet, each once."""
    brand = request.brand
    period = _period(request, pk)
    if period.status != SettlementPeriod.Status.REVIEW and request.method == "GET":
        messages.info(request, _("This period is already approved."))
        return redirect("dash-commission-settlement", period.pk)
    form = ApproveForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            done = call_service(
                settle.period_approve,
                brand=brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                period=period,
                key=page_key(request.staff, form.cleaned_data["key"]),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
            form.renew_key()
        else:
            if done.replayed:
                messages.info(request, _("This period was already approved; nothing is paid twice."))
            else:
                messages.success(
                    request,
                    _("Period %(label)s approved: the statements are being paid.") % {"label": done.label},
                )
            return redirect("dash-commission-settlement", period.pk)
    summary = selectors.period_summary(brand=brand, period=period)
    pool_fen = settle.pool_balance(brand=brand)
    due = summary["pending"]["fen"]
    ctx = _ctx(
        "settlements",
        _tz(brand),
        period=period,
        form=form,
        summary=summary,
        due_fen=due,
        pool_fen=pool_fen,
        after_fen=pool_fen - due,
        short=due > pool_fen,
    )
    return render(request, "guides/dash/approve.html", ctx, status=form_status(form))


def _statement(request, pk: int) -> Statement:
    s = selectors.statement_get(brand=request.brand, pk=pk)
    if s is None:
        raise Http404
    s.status_label, s.status_color = STATEMENT_STATUS.get(s.status, (s.status, "grey"))
    return s


@admin_required
@require_GET
def statement(request, pk: int):
    brand = request.brand
    s = _statement(request, pk)
    entries = selectors.statement_entries(brand=brand, statement=s)
    for e in entries:
        e.kind_label = ENTRY_KIND.get(e.kind, e.kind)
    s.period.status_label, s.period.status_color = PERIOD_STATUS.get(s.period.status, ("", "grey"))
    ctx = _ctx("settlements", _tz(brand), s=s, entries=entries)
    return render(request, "guides/dash/statement.html", ctx)


def _back_to(s: Statement, request) -> str:
    url = reverse("dash-commission-settlement", args=[s.period_id])
    page = request.POST.get("page", "")
    if page.isdigit() and page != "1":
        url += f"?page={page}"
    return url + f"#line-{s.pk}"


@admin_required
@require_POST
def statement_hold(request, pk: int):
    s = _statement(request, pk)
    form = HoldForm(request.POST)
    if form.is_valid():
        try:
            call_service(
                settle.statement_hold,
                brand=request.brand,
                staff=request.staff,
                actor=Actor.from_request(request),
                statement=s,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                # Not about the reason (the statement was paid meanwhile, ...): say so above the table.
                messages.error(request, _messages_of(exc))
                return redirect(_back_to(s, request))
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("%(name)s's statement is held.") % {"name": s.guide.name})
            return redirect(_back_to(s, request))
    period = _period(request, s.period_id)
    page = request.POST.get("page", "")
    return _settlement_page(
        request, period, hold_form=form, hold_for=s.pk, page_no=page if page.isdigit() else None, status=400
    )


@admin_required
@require_POST
def statement_release(request, pk: int):
    s = _statement(request, pk)
    try:
        call_service(
            settle.statement_release,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            statement=s,
        )
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
    else:
        messages.success(request, _("%(name)s's statement is released.") % {"name": s.guide.name})
    return redirect(_back_to(s, request))
