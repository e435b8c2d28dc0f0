"""The guide's phone pages (/m/performance/…, /m/notifications/): my performance this month, one
of my commission statements, and my notifications.

Views are thin: selectors read (each scoped to the request's brand and the viewer), the one write
(marking notifications read) is a service. Every figure is the viewer's own; a statement of someone
else, or of another brand, is a 404. Times are shown in the time zone of the viewer's store, else
the brand's settlement time zone."""

from __future__ import annotations

import datetime
import zoneinfo

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from guides import selectors
from guides.models import Statement
from guides.services import notify
from guides.services.rules import settings_get
from retail.models import Store
from retail.pages import staff_required


def _zone(request, fallback: datetime.tzinfo | None = None) -> datetime.tzinfo:
    """The viewer's store time zone; else ``fallback`` or the brand's settlement zone; else the site's."""
    names = [_store_zone_name(request)]
    if fallback is not None:
        return _first_zone(names) or fallback
    if not names[0]:
        names.append(settings_get(brand=request.brand).timezone)
    return _first_zone(names) or timezone.get_default_timezone()


def _store_zone_name(request) -> str | None:
    """The time zone of the first store the viewer works at, in one query (None: works at none)."""
    return (
        Store.objects.for_brand(request.brand)
        .filter(staff_links__staff=request.staff)
        .order_by("pk")
        .values_list("timezone", flat=True)
        .first()
    )


def _first_zone(names: list[str | None]) -> datetime.tzinfo | None:
    for name in names:
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return None


def _percent(part: int, whole: int) -> int:
    """``part`` as a whole percentage of ``whole`` (0 when there is nothing), for the bar's width."""
    if whole <= 0 or part <= 0:
        return 0
    return min(100, round(part * 100 / whole))


@staff_required
@require_GET
def performance(request):
    """我的业绩: members, attributed sales online and offline, commission this month, latest
    commission entries and statements."""
    perf = selectors.performance(brand=request.brand, staff=request.staff)
    # month_start is midnight in the brand's settlement zone: the fallback costs no query.
    tz = _zone(request, fallback=perf.month_start.tzinfo)
    online, offline = max(perf.online_sales_fen, 0), max(perf.offline_sales_fen, 0)
    sales = perf.online_sales_fen + perf.offline_sales_fen
    online_pct = _percent(online, online + offline)
    ctx = {
        "tab": "me",
        "perf": perf,
        "month": perf.month_start.date(),  # in the brand's settlement zone, whatever the store's
        "tz": tz,
        "sales_fen": sales,
        "online_pct": online_pct,
        "offline_pct": 100 - online_pct if online + offline > 0 else 0,
    }
    return render(request, "guides/m/performance.html", ctx)


@staff_required
@require_GET
def statement(request, pk: int):
    """One of the viewer's own statements: its figures, status and every entry settled in it."""
    st = selectors.statement_get(brand=request.brand, pk=pk, guide=request.staff)
    if st is None:
        raise Http404
    # Period bounds are midnights in the brand's settlement zone: its days are named in that zone.
    settle_tz = _first_zone([settings_get(brand=request.brand).timezone]) or timezone.get_default_timezone()
    ctx = {
        "tab": "me",
        "st": st,
        "tz": _zone(request, fallback=settle_tz),
        "first_day": st.period.start.astimezone(settle_tz).date(),
        # The period ends at midnight: its last day is the day before.
        "last_day": (st.period.end - datetime.timedelta(microseconds=1)).astimezone(settle_tz).date(),
        "entries": selectors.statement_entries(brand=request.brand, statement=st),
        "S": Statement.Status,
    }
    return render(request, "guides/m/statement.html", ctx)


@staff_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    """The viewer's notifications, newest first; a POST marks them all read."""
    if request.method == "POST":
        notify.notifications_read(brand=request.brand, staff=request.staff)
        return redirect("notifications")
    notes = selectors.notifications(brand=request.brand, staff=request.staff)
    for n in notes:
        # Links are paths on this site written by the services; anything else is not followed.
        local = n.link.startswith("/") and url_has_allowed_host_and_scheme(n.link, allowed_hosts=set())
        n.href = n.link if local else ""
    ctx = {
        "tab": "me",
        "notes": notes,
        "unread": sum(1 for n in notes if n.read_at is None),
        "tz": _zone(request),
    }
    return render(request, "guides/m/notifications.html", ctx)
