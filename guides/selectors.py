"""Reads of commission: an order's attribution, a guide's performance, statements, reports."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from cloudstore.models import Order
from guides.models import (
    Attribution,
    AttributionRule,
    CommissionEntry,
    CommissionRule,
    Notification,
    Reattribution,
    SettlementPeriod,
    Statement,
)
from guides.services.rules import attribution_rules_all, settings_get
from guides.services.settlement import period_running
from members.labels import member_labels
from members.models import Member
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope, within_brand

ONLINE = [Order.Channel.CLOUD_STORE, Order.Channel.FLAGSHIP]
E = CommissionEntry.Kind


def attribution_get(*, brand: Brand, order: Order) -> Attribution | None:
    with brand_scope(brand):
        return (
            Attribution.objects.select_related("guide", "store", "rule", "member", "order")
            .filter(order=order)
            .first()
        )


def attribution_entries(*, brand: Brand, order: Order) -> list[CommissionEntry]:
    with brand_scope(brand):
        return list(
            CommissionEntry.objects.filter(order=order)
            .select_related("guide", "statement__period")
            .order_by("id")
        )


def attribution_rules(*, brand: Brand) -> list[AttributionRule]:
    """Every version, newest first."""
    return list(reversed(attribution_rules_all(brand=brand)))


def commission_rules(*, brand: Brand, include_ended: bool = True) -> list[CommissionRule]:
    with brand_scope(brand):
        qs = CommissionRule.objects.select_related("sku", "sku__product", "category").order_by(
            "-effective_from", "-id"
        )
        if not include_ended:
            qs = qs.filter(Q(effective_to__isnull=True) | Q(effective_to__gt=timezone.now()))
        return list(qs)


def current_period(
    *, brand: Brand, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime, str]:
    return period_running(brand=brand, now=now)


def month_bounds(
    *, brand: Brand, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    tz = zoneinfo.ZoneInfo(settings_get(brand=brand).timezone)
    local = (now or timezone.now()).astimezone(tz)
    first = local.date().replace(day=1)
    nxt = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)

    def midnight(d):
        return datetime.datetime.combine(d, datetime.time(), tzinfo=tz)

    return midnight(first), midnight(nxt)


@dataclass
class Performance:
    members_recruited: int
    members_recruited_month: int
    members_now: int
    online_sales_fen: int
    offline_sales_fen: int
    orders_month: int
    earned_month_fen: int
    clawback_month_fen: int
    unsettled_fen: int
    month_start: datetime.datetime
    recent: list
    statements: list
    unread: int


def performance(*, brand: Brand, staff: Staff, now: datetime.datetime | None = None) -> Performance:
    """A guide's own figures for this month, their latest commission and their statements."""
    start, end = month_bounds(brand=brand, now=now)
    with brand_scope(brand):
        recruited = Member.objects.filter(join_guide=staff).aggregate(
            total=Count("id"), month=Count("id", filter=Q(joined_at__gte=start, joined_at__lt=end))
        )
        members_now = Member.objects.filter(guide=staff, status=Member.Status.ACTIVE).count()
        sales = Attribution.objects.filter(guide=staff, paid_at__gte=start, paid_at__lt=end).aggregate(
            online=Sum(F("sales_fen") - F("refunded_fen"), filter=Q(channel__in=ONLINE)),
            offline=Sum(F("sales_fen") - F("refunded_fen"), filter=~Q(channel__in=ONLINE)),
            orders=Count("id"),
        )
        month = CommissionEntry.objects.filter(
            guide=staff, occurred_at__gte=start, occurred_at__lt=end
        ).aggregate(
            earned=Sum("amount_fen", filter=Q(kind=E.EARN)),
            back=Sum("amount_fen", filter=Q(kind__in=[E.CLAWBACK, E.REVERSAL])),
        )
        unsettled = (
            CommissionEntry.objects.filter(guide=staff, statement__isnull=True).aggregate(
                s=Sum("amount_fen")
            )["s"]
            or 0
        )
        recent = _name_members(
            list(
                CommissionEntry.objects.filter(guide=staff)
                .exclude(kind__in=[E.CARRY_IN, E.CARRY_OUT])
                .select_related("order", "member")
                .order_by("-occurred_at", "-id")[:20]
            )
        )
        statements = list(
            Statement.objects.filter(guide=staff)
            .select_related("period", "packet")
            .order_by("-period__start")[:24]
        )
        unread = Notification.objects.filter(staff=staff, read_at__isnull=True).count()
    return Performance(
        members_recruited=recruited["total"] or 0,
        members_recruited_month=recruited["month"] or 0,
        members_now=members_now,
        online_sales_fen=sales["online"] or 0,
        offline_sales_fen=sales["offline"] or 0,
        orders_month=sales["orders"] or 0,
        earned_month_fen=month["earned"] or 0,
        clawback_month_fen=month["back"] or 0,
        unsettled_fen=unsettled,
        month_start=start,
        recent=recent,
        statements=statements,
        unread=unread,
    )


def statement_get(*, brand: Brand, pk: int, guide: Staff | None = None) -> Statement | None:
    """A statement by id (a guide only sees their own)."""
    with brand_scope(brand):
        qs = Statement.objects.select_related("period", "guide", "packet", "held_by")
        if guide is not None:
            qs = qs.filter(guide=guide)
        return qs.filter(pk=pk).first()


def statement_entries(*, brand: Brand, statement: Statement) -> list[CommissionEntry]:
    with brand_scope(brand):
        return _name_members(
            list(
                CommissionEntry.objects.filter(statement=statement)
                .select_related("order", "member")
                .order_by("occurred_at", "id")
            )
        )


def _name_members(entries: list[CommissionEntry]) -> list[CommissionEntry]:
    """Give each entry its member in words (``member_label``), looked up at once, for the page."""
    names = member_labels({e.member_id: e.member for e in entries if e.member_id}.values())
    for e in entries:
        e.member_label = names.get(e.member_id, "")
    return entries


def statements_list(
    *,
    brand: Brand,
    period: SettlementPeriod | None = None,
    guide: Staff | None = None,
    status: str | None = None,
):
    with brand_scope(brand):
        qs = Statement.objects.select_related("period", "guide", "packet").order_by(
            "-period__start", "guide__name", "id"
        )
        if period is not None:
            qs = qs.filter(period=period)
        if guide is not None:
            qs = qs.filter(guide=guide)
        if status:
            qs = qs.filter(status=status)
        return qs


def periods_list(*, brand: Brand):
    """A lazy queryset (for pagination): evaluate it inside the brand's scope (a request's is)."""
    with brand_scope(brand):
        return SettlementPeriod.objects.select_related("approved_by").order_by("-start")


def period_summary(*, brand: Brand, period: SettlementPeriod) -> dict:
    with brand_scope(brand):
        rows = (
            Statement.objects.filter(period=period)
            .values("status")
            .annotate(n=Count("id"), fen=Sum("total_fen"))
        )
    out = {s: {"n": 0, "fen": 0} for s in Statement.Status.values}
    for r in rows:
        out[r["status"]] = {"n": r["n"], "fen": r["fen"] or 0}
    return out


def reattributions(*, brand: Brand, limit: int = 20) -> list[Reattribution]:
    with brand_scope(brand):
        return list(Reattribution.objects.select_related("requested_by").order_by("-created_at")[:limit])


def notifications_unread(*, brand: Brand, staff: Staff) -> int:
    with within_brand(brand):
        return Notification.objects.filter(staff=staff, read_at__isnull=True).count()


def notifications(*, brand: Brand, staff: Staff, limit: int = 30) -> list[Notification]:
    with brand_scope(brand):
        return list(Notification.objects.filter(staff=staff).order_by("-created_at", "-id")[:limit])


# -- reports -------------------------------------------------------------------------------------


def _scope(qs, store_ids):
    return qs if store_ids is None else qs.filter(store_id__in=store_ids)


def report_by_guide(
    *, brand: Brand, start: datetime.datetime, end: datetime.datetime, store_ids: list[int] | None = None
) -> list[dict]:
    """Per guide, for orders paid in [start, end): orders, sales online and offline (net of refunds),
    commission now; sorted by commission."""
    with brand_scope(brand):
        rows = list(
            _scope(
                Attribution.objects.filter(paid_at__gte=start, paid_at__lt=end, guide__isnull=False),
                store_ids,
            )
            .values("guide_id", "guide__name")
            .annotate(
                orders=Count("id"),
                online=Sum(F("sales_fen") - F("refunded_fen"), filter=Q(channel__in=ONLINE)),
                offline=Sum(F("sales_fen") - F("refunded_fen"), filter=~Q(channel__in=ONLINE)),
                commission=Sum("commission_fen"),
            )
            .order_by("-commission", "guide__name")
        )
    return [
        {
            "guide_id": r["guide_id"],
            "name": r["guide__name"],
            "orders": r["orders"],
            "online_fen": r["online"] or 0,
            "offline_fen": r["offline"] or 0,
            "commission_fen": r["commission"] or 0,
        }
        for r in rows
    ]


def report_by_store(
    *, brand: Brand, start: datetime.datetime, end: datetime.datetime, store_ids: list[int] | None = None
) -> list[dict]:
    """Per credited store (an online order counts for its guide's store under dual credit)."""
    with brand_scope(brand):
        rows = list(
            _scope(
                Attribution.objects.filter(paid_at__gte=start, paid_at__lt=end, guide__isnull=False),
                store_ids,
            )
            .values("store_id")
            .annotate(
                orders=Count("id"),
                guides=Count("guide", distinct=True),
                online=Sum(F("sales_fen") - F("refunded_fen"), filter=Q(channel__in=ONLINE)),
                offline=Sum(F("sales_fen") - F("refunded_fen"), filter=~Q(channel__in=ONLINE)),
                commission=Sum("commission_fen"),
            )
            .order_by("-commission")
        )
        names = dict(
            Store.objects.filter(pk__in=[r["store_id"] for r in rows if r["store_id"]]).values_list(
                "pk", "name"
            )
        )
    return [
        {
            "store_id": r["store_id"],
            "name": names.get(r["store_id"], ""),
            "orders": r["orders"],
            "guides": r["guides"],
            "online_fen": r["online"] or 0,
            "offline_fen": r["offline"] or 0,
            "commission_fen": r["commission"] or 0,
        }
        for r in rows
    ]


def report_daily(
    *,
    brand: Brand,
    start: datetime.datetime,
    end: datetime.datetime,
    tz: str,
    store_ids: list[int] | None = None,
    guide: Staff | None = None,
) -> list[dict]:
    """Per local day in [start, end): attributed sales online and offline and commission (for charts)."""
    zone = zoneinfo.ZoneInfo(tz)
    with brand_scope(brand):
        qs = _scope(
            Attribution.objects.filter(paid_at__gte=start, paid_at__lt=end, guide__isnull=False), store_ids
        )
        if guide is not None:
            qs = qs.filter(guide=guide)
        rows = {
            r["day"]: r
            for r in qs.annotate(day=TruncDate("paid_at", tzinfo=zone))
            .values("day")
            .annotate(
                online=Sum(F("sales_fen") - F("refunded_fen"), filter=Q(channel__in=ONLINE)),
                offline=Sum(F("sales_fen") - F("refunded_fen"), filter=~Q(channel__in=ONLINE)),
                commission=Sum("commission_fen"),
            )
            .order_by("day")
        }
    out = []
    day = start.astimezone(zone).date()
    last = (end - datetime.timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        r = rows.get(day, {})
        out.append(
            {
                "day": day,
                "online_fen": r.get("online") or 0,
                "offline_fen": r.get("offline") or 0,
                "commission_fen": r.get("commission") or 0,
            }
        )
        day += datetime.timedelta(days=1)
    return out
