"""Reads of partner apps and their calls. Every function takes the brand it reads for, except
``app_for_application``: the token endpoint and middleware know only the OAuth2 application."""

from __future__ import annotations

import datetime
from contextlib import nullcontext

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from retail.models import Brand
from retail.partners.models import PartnerApp, PartnerCall
from retail.tenancy import SETTING_APP, db_settings, get_for_brand_or_404, within_brand


def app_for_application(application_id: int, *, in_setting: bool = False) -> PartnerApp | None:
    """The partner app of an OAuth2 application, whatever the brand (row-level security lets the
    row through by ``app.oauth_application_id``). ``in_setting``: the caller's transaction
    already carries that setting (the request's scope)."""
    qs = PartnerApp.unscoped.select_related("brand").filter(application_id=application_id)
    with nullcontext() if in_setting else db_settings({SETTING_APP: str(application_id)}):
        return qs.first()


def app_list(brand: Brand | int) -> QuerySet[PartnerApp]:
    """The brand's apps, active first, then by name."""
    return PartnerApp.objects.for_brand(brand).select_related("application").order_by("status", "name", "id")


def app_get(brand: Brand | int, pk) -> PartnerApp:
    """One app of the brand, else 404."""
    return get_for_brand_or_404(app_list(brand), brand, pk=pk)


def call_list(brand: Brand | int, *, app=None, status=None, method=None) -> QuerySet[PartnerCall]:
    """The brand's partner calls, newest first. ``status``: an HTTP status, or "ok" (< 400) /
    "error" (>= 400)."""
    qs = PartnerCall.objects.for_brand(brand).select_related("app")
    if app is not None:
        qs = qs.filter(app_id=getattr(app, "pk", app))
    if status == "ok":
        qs = qs.filter(status__lt=400)
    elif status == "error":
        qs = qs.filter(status__gte=400)
    elif status not in (None, ""):
        qs = qs.filter(status=int(status))
    if method:
        qs = qs.filter(method=str(method).upper())
    return qs.order_by("-at", "-id")


def app_usage(brand: Brand | int, app, days: int = 7) -> list[dict]:
    """Logged calls and errors of the app per day (oldest first) over the last ``days`` days,
    days without calls included. Reads are sampled, so read counts are a share of the traffic."""
    today = timezone.localdate()
    start = today - datetime.timedelta(days=days - 1)
    since = timezone.make_aware(datetime.datetime.combine(start, datetime.time.min))
    with within_brand(brand):
        rows = (
            PartnerCall.objects.for_brand(brand)
            .filter(app_id=getattr(app, "pk", app), at__gte=since)
            .annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
            .values("day")
            .annotate(calls=Count("id"), errors=Count("id", filter=Q(status__gte=400)))
            .order_by("day")
        )
        by_day = {r["day"]: r for r in rows}
    out = []
    for i in range(days):
        day = start + datetime.timedelta(days=i)
        r = by_day.get(day, {})
        out.append({"day": day, "calls": r.get("calls", 0), "errors": r.get("errors", 0)})
    return out
