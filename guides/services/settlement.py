"""Settlement: period statements, review (hold/release), approval and payment as red packets.

Closing a period gathers each guide's unsettled commission entries dated before its end into one
statement (set-based: the entries are stamped with their statement in one UPDATE, then summed).
A statement that comes out negative (clawbacks after an earlier settlement) pays nothing and
carries the debt into the next one through a pair of carry entries. Approval checks the pool
covers the statements and queues the payment; paying locks each statement, sends it as a red
packet under the key ``commission:<statement>``, and marks it paid, so each is paid exactly once.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guides import events
from guides.models import Attribution, CommissionEntry, CommissionSettings, SettlementPeriod, Statement
from guides.services import notify
from guides.services.rules import settings_get
from redpackets.models import Account
from redpackets.services import ledger
from redpackets.services.packets import commission_pay
from retail import roles
from retail.events import Actor, record
from retail.models import Brand, Staff
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)
E = CommissionEntry.Kind
S = Statement.Status
PAY_BATCH = 250


def _error(field: str | None, message: str, code: str) -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    return ValidationError({field: ValidationError(message, code=code)})


# -- periods -------------------------------------------------------------------------------------


def period_bounds(
    conf: CommissionSettings, at: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime, str]:
    """The period containing ``at``: (start, end, label), boundaries at local midnight."""
    tz = zoneinfo.ZoneInfo(conf.timezone)
    local = at.astimezone(tz)
    day = local.date()
    if conf.period == CommissionSettings.Period.WEEKLY:
        first = day - datetime.timedelta(days=day.weekday())
        last = first + datetime.timedelta(days=7)
        iso = first.isocalendar()
        label = f"{iso.year}-W{iso.week:02d}"
    elif conf.period == CommissionSettings.Period.SEMIMONTHLY:
        if day.day <= 15:
            first, last = day.replace(day=1), day.replace(day=16)
            label = f"{day:%Y-%m} (1-15)"
        else:
            first = day.replace(day=16)
            last = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            label = f"{day:%Y-%m} (16-{(last - datetime.timedelta(days=1)).day})"
    else:
        first = day.replace(day=1)
        last = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
        label = f"{day:%Y-%m}"

    def midnight(d: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(d, datetime.time(), tzinfo=tz).astimezone(datetime.UTC)

    return midnight(first), midnight(last), label


def _label(conf: CommissionSettings, start: datetime.datetime, end: datetime.datetime) -> str:
    """The calendar label of a whole period, else its local dates (and times, if not midnight)."""
    first, last, label = period_bounds(conf, start)
    if (first, last) == (start, end):
        return label
    tz = zoneinfo.ZoneInfo(conf.timezone)
    a, b = start.astimezone(tz), end.astimezone(tz)
    midnight = datetime.time()
    left = f"{a:%Y-%m-%d}" if a.time() == midnight else f"{a:%Y-%m-%d %H:%M}"
    right = f"{b:%m-%d}" if b.time() == midnight else f"{b:%m-%d %H:%M}"
    return f"{left}–{right}"


def _last_closed(brand: Brand) -> SettlementPeriod | None:
    with brand_scope(brand):
        return SettlementPeriod.objects.for_brand(brand).order_by("-end", "-id").first()


def _period_after(
    conf: CommissionSettings, start: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime, str]:
    """The period that follows a closed one: from its end to the next boundary of today's length."""
    _first, end, _label_ = period_bounds(conf, start)
    return start, end, _label(conf, start, end)


def period_running(
    *, brand: Brand, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime, str]:
    """The period running now: it starts where the last closed period ended (so a change of length
    takes effect there, never inside a closed period) and ends at the next boundary of the length
    set now. Before any period was closed, the calendar period containing now."""
    now = now or timezone.now()
    conf = settings_get(brand=brand)
    last = _last_closed(brand)
    if last is None:
        return period_bounds(conf, now)
    return _period_after(conf, last.end)


def last_complete_period(
    *, brand: Brand, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime, str]:
    """The latest period that has ended: the one after the last closed period if it has ended, else
    that closed period; before any was closed, the calendar period before the one containing now."""
    now = now or timezone.now()
    conf = settings_get(brand=brand)
    last = _last_closed(brand)
    if last is None:
        start, _end, _label_ = period_bounds(conf, now)
        return period_bounds(conf, start - datetime.timedelta(seconds=1))
    nxt = _period_after(conf, last.end)
    return nxt if nxt[1] <= now else (last.start, last.end, last.label)


def period_close(
    *,
    brand: Brand,
    start: datetime.datetime,
    end: datetime.datetime,
    label: str,
    now: datetime.datetime | None = None,
) -> SettlementPeriod:
    """Write the period's statements (once: closing a closed period returns it)."""
    now = now or timezone.now()
    if end > now:
        raise _error(None, _("This period has not ended yet."), "period_open")
    with brand_scope(brand):
        existing = SettlementPeriod.objects.filter(start=start).first()
        if existing is not None:
            return existing
        overlap = SettlementPeriod.objects.filter(start__lt=end, end__gt=start).order_by("start").first()
        if overlap is not None:
            raise _error(
                None,
                _("These dates overlap period %(label)s, which is already closed.")
                % {"label": overlap.label},
                "period_overlap",
            )
        try:
            with transaction.atomic():
                period = SettlementPeriod.objects.create(brand=brand, start=start, end=end, label=label)
                _write_statements(brand, period, now)
        except IntegrityError:
            existing = SettlementPeriod.objects.filter(start=start).first()
            if existing is None:
                raise
            return existing
        period.created_now = True
        return period


def period_close_early(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    start: datetime.datetime,
    now: datetime.datetime | None = None,
) -> SettlementPeriod:
    """Close the running period (the one that started at ``start``) up to now: its statements
    gather what was earned until now, and the next period starts now. Asking again for the same
    ``start`` returns the period closed the first time (``replayed``)."""
    roles.require(brand, staff, staff.is_brand_admin)
    now = now or timezone.now()
    run_start, run_end, _run_label = period_running(brand=brand, now=now)
    with brand_scope(brand):
        done = SettlementPeriod.objects.filter(start=start).first()
    if done is not None:
        done.replayed = True
        return done
    if start != run_start:
        raise _error("start", _("This is not the running period any more: reload the page."), "stale_period")
    end = min(run_end, now)
    if end <= run_start:
        raise _error(None, _("The running period has only just started: nothing to close."), "period_empty")
    conf = settings_get(brand=brand)
    with brand_scope(brand), transaction.atomic():
        period = period_close(
            brand=brand, start=run_start, end=end, label=_label(conf, run_start, end), now=now
        )
        period.replayed = not getattr(period, "created_now", False)
        if not period.replayed:
            record(
                brand=brand,
                actor=actor,
                action="commission.period_closed_early",
                target=period,
                data={
                    "period": period.label,
                    "start": run_start.isoformat(),
                    "end": end.isoformat(),
                    "statements": period.statements,
                },
            )
        return period


def _write_statements(brand: Brand, period: SettlementPeriod, now: datetime.datetime) -> None:
    unsettled = CommissionEntry.objects.filter(statement__isnull=True, occurred_at__lt=period.end)
    guides = list(unsettled.order_by().values_list("guide_id", flat=True).distinct())
    if not guides:
        return
    Statement.objects.bulk_create(
        [Statement(brand=brand, period=period, guide_id=g, created_at=now) for g in guides], batch_size=1000
    )
    if connection.vendor == "postgresql":
        # One join instead of a sub-select per entry (a first settlement can gather a year's back-log).
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE guides_commissionentry e SET statement_id = s.id FROM guides_statement s "
                "WHERE s.period_id = %s AND s.brand_id = %s AND e.brand_id = %s AND e.guide_id = s.guide_id "
                "AND e.statement_id IS NULL AND e.occurred_at < %s",
                [period.pk, brand.pk, brand.pk, period.end],
            )
    else:
        unsettled.update(
            statement_id=Subquery(
                Statement.objects.filter(period=period, guide_id=OuterRef("guide_id")).values("pk")[:1]
            )
        )
    sums = {
        row["statement_id"]: row
        for row in CommissionEntry.objects.filter(statement__period=period)
        .order_by()
        .values("statement_id")
        .annotate(
            earned=Sum("amount_fen", filter=Q(kind=E.EARN)),
            back=Sum("amount_fen", filter=Q(kind__in=[E.CLAWBACK, E.REVERSAL])),
            carried=Sum("amount_fen", filter=Q(kind=E.CARRY_IN)),
            orders=Count("order", filter=Q(kind=E.EARN), distinct=True),
        )
    }
    # Sales credited: what the member kept (net of refunds) of each distinct order earned on.
    pairs = set(
        CommissionEntry.objects.filter(statement__period=period, kind=E.EARN, order__isnull=False)
        .values_list("statement_id", "order_id")
        .distinct()
    )
    net = dict(
        Attribution.objects.filter(
            order_id__in=CommissionEntry.objects.filter(statement__period=period, kind=E.EARN).values(
                "order_id"
            )
        ).values_list("order_id", F("sales_fen") - F("refunded_fen"))
    )
    sales: dict[int, int] = {}
    for statement_id, order_id in pairs:
        sales[statement_id] = sales.get(statement_id, 0) + net.get(order_id, 0)
    left = set(
        Staff.objects.filter(pk__in=guides).exclude(status=Staff.Status.ACTIVE).values_list("pk", flat=True)
    )
    statements = list(Statement.objects.filter(period=period))
    carries = []
    for s in statements:
        row = sums.get(s.pk, {})
        s.earned_fen = row.get("earned") or 0
        s.clawback_fen = row.get("back") or 0
        s.carried_in_fen = row.get("carried") or 0
        s.orders = row.get("orders") or 0
        s.sales_fen = sales.get(s.pk, 0)
        net = s.earned_fen + s.clawback_fen + s.carried_in_fen
        if net < 0:
            # Pays nothing now; the debt moves on to the guide's next statement.
            s.carried_out_fen = -net
            carries += [
                CommissionEntry(
                    brand=brand,
                    guide_id=s.guide_id,
                    kind=E.CARRY_OUT,
                    key=f"carry:{s.pk}:out",
                    amount_fen=-net,
                    occurred_at=period.end,
                    statement=s,
                    notified_at=now,
                ),
                CommissionEntry(
                    brand=brand,
                    guide_id=s.guide_id,
                    kind=E.CARRY_IN,
                    key=f"carry:{s.pk}:in",
                    amount_fen=net,
                    occurred_at=period.end,
                    notified_at=now,
                ),
            ]
        s.total_fen = max(net, 0)
        if s.total_fen == 0:
            s.status = S.NOTHING
        elif s.guide_id in left:
            with translation.override(settings.LANGUAGE_CODE):  # stored text: the brand's language
                s.status, s.hold_reason = S.HELD, _("Has left the brand: check before paying.")
    CommissionEntry.objects.bulk_create(carries, batch_size=1000)
    Statement.objects.bulk_update(
        statements,
        [
            "earned_fen",
            "clawback_fen",
            "carried_in_fen",
            "carried_out_fen",
            "orders",
            "sales_fen",
            "total_fen",
            "status",
            "hold_reason",
        ],
        batch_size=1000,
    )
    period.statements = len(statements)
    period.total_fen = sum(s.total_fen for s in statements)
    period.save(update_fields=["statements", "total_fen"])


# -- review --------------------------------------------------------------------------------------


def statement_hold(
    *, brand: Brand, staff: Staff, actor: Actor, statement: Statement, reason: str
) -> Statement:
    """Keep a statement out of the payment, with a reason everyone can read."""
    roles.require(brand, staff, staff.is_brand_admin)
    reason = (reason or "").strip()
    if not reason:
        raise _error("reason", _("Say why it is held."), "required")
    if len(reason) > 200:
        raise _error("reason", _("At most 200 characters."), "invalid")
    with brand_scope(brand), transaction.atomic():
        s = Statement.objects.select_for_update(no_key=True).get(pk=statement.pk)
        if s.status == S.HELD:
            return s
        if s.status != S.PENDING:
            raise _error(None, _("Only a statement waiting for payment can be held."), "not_pending")
        s.status, s.hold_reason, s.held_by = S.HELD, reason, staff
        s.save(update_fields=["status", "hold_reason", "held_by"])
        record(
            brand=brand, actor=actor, action="commission.statement_held", target=s, data={"reason": reason}
        )
        return s


def statement_release(*, brand: Brand, staff: Staff, actor: Actor, statement: Statement) -> Statement:
    """Take a hold off. If its period is already approved, the statement is paid there and then."""
    roles.require(brand, staff, staff.is_brand_admin)
    with brand_scope(brand), transaction.atomic():
        s = Statement.objects.select_for_update(no_key=True).select_related("period").get(pk=statement.pk)
        if s.status != S.HELD:
            raise _error(None, _("This statement is not held."), "not_held")
        s.status, s.held_by = S.PENDING, None
        s.save(update_fields=["status", "held_by"])
        record(brand=brand, actor=actor, action="commission.statement_released", target=s, data={})
        if s.period.status != SettlementPeriod.Status.REVIEW:
            _pay(brand, s.period, [s])
        return s


def period_approve(
    *, brand: Brand, staff: Staff, actor: Actor, period: SettlementPeriod, key: str = ""
) -> SettlementPeriod:
    """Approve a period: every statement not held is paid (by a task, each exactly once). Refused if
    the pool does not hold enough; approving again changes nothing."""
    roles.require(brand, staff, staff.is_brand_admin)
    with brand_scope(brand), transaction.atomic():
        p = SettlementPeriod.objects.select_for_update(no_key=True).get(pk=period.pk)
        if p.status != SettlementPeriod.Status.REVIEW:
            p.replayed = True
            return p
        due = Statement.objects.filter(period=p, status=S.PENDING).aggregate(s=Sum("total_fen"))["s"] or 0
        pool = Account.objects.filter(kind=Account.Kind.POOL).first()
        have = pool.balance_fen if pool else 0
        if due > have:
            raise _error(
                None,
                _("The pool holds %(have)s; these statements need %(need)s. Top the pool up first.")
                % {"have": _yuan(have), "need": _yuan(due)},
                "insufficient_funds",
            )
        p.status, p.approved_by, p.approved_at, p.approve_key = (
            SettlementPeriod.Status.APPROVED,
            staff,
            timezone.now(),
            key[:160],
        )
        p.save(update_fields=["status", "approved_by", "approved_at", "approve_key"])
        statements = list(Statement.objects.filter(period=p).exclude(status=S.NOTHING))
        events.statements_approved(brand=brand, period=p, statements=statements)
        record(
            brand=brand,
            actor=actor,
            action="commission.period_approved",
            target=p,
            data={
                "period": p.label,
                "due_fen": due,
                "held": sum(1 for s in statements if s.status == S.HELD),
            },
        )
        enqueue_on_commit("guides.tasks.pay_period", brand.pk, p.pk)
        p.replayed = False
        return p


def _yuan(fen: int) -> str:
    from retail.money import yuan

    return yuan(fen)


# -- paying --------------------------------------------------------------------------------------


def _pay(brand: Brand, period: SettlementPeriod, statements: list[Statement]) -> None:
    greeting = settings_get(brand=brand).greeting
    if not greeting:
        with translation.override(settings.LANGUAGE_CODE):  # stored on the packet: the brand's language
            greeting = _("Commission %(period)s") % {"period": period.label}
    greeting = greeting[:60]
    items = [(f"commission:{s.pk}", s.guide_id, s.total_fen, f"statement:{s.pk}") for s in statements]
    packets = commission_pay(brand=brand, items=items, greeting=greeting)
    now = timezone.now()
    for s in statements:
        s.packet = packets[f"commission:{s.pk}"]
        s.status, s.paid_at = S.PAID, now
    Statement.objects.bulk_update(statements, ["packet", "status", "paid_at"], batch_size=500)
    events.statements_paid(brand=brand, statements=statements)
    notify.statements_paid(brand=brand, statements=statements, period_label=period.label)


def period_pay(*, brand: Brand, period: SettlementPeriod, batch: int = PAY_BATCH) -> int:
    """Pay the approved period's statements that are waiting, ``batch`` per transaction; returns how
    many this call paid. A statement is locked while paid and its packet key is unique, so two
    runs at once, or a retry after a crash, pay nobody twice."""
    paid = 0
    while True:
        with brand_scope(brand), transaction.atomic():
            p = SettlementPeriod.objects.get(pk=period.pk)
            if p.status == SettlementPeriod.Status.REVIEW:
                return paid
            qs = Statement.objects.filter(period=p, status=S.PENDING).order_by("pk")
            qs = qs.select_for_update(
                no_key=True, **({"skip_locked": True} if connection.vendor == "postgresql" else {})
            )
            todo = list(qs[:batch])
            if not todo:
                if (
                    p.status == SettlementPeriod.Status.APPROVED
                    and not Statement.objects.filter(period=p, status=S.PENDING).exists()
                ):
                    SettlementPeriod.objects.filter(pk=p.pk).update(
                        status=SettlementPeriod.Status.PAID, paid_at=timezone.now()
                    )
                return paid
            _pay(brand, p, todo)
            paid += len(todo)


def periods_due(
    *, brand: Brand, now: datetime.datetime | None = None, grace: datetime.timedelta | None = None
) -> SettlementPeriod | None:
    """Close the last complete period once it has been over for ``grace`` (late attributions land)."""
    now = now or timezone.now()
    grace = grace if grace is not None else datetime.timedelta(hours=1)
    conf = settings_get(brand=brand)
    last = _last_closed(brand)
    if last is None:
        start, end, label = last_complete_period(brand=brand, now=now - grace)
    else:
        # The chain goes on from the last closed period, whatever length is set now.
        start, end, label = _period_after(conf, last.end)
    if end > now - grace:
        return None
    with brand_scope(brand):
        if SettlementPeriod.objects.filter(start=start).exists():
            return None
    return period_close(brand=brand, start=start, end=end, label=label, now=now)


def pool_balance(*, brand: Brand) -> int:
    with brand_scope(brand):
        pool = ledger.account(brand, Account.Kind.POOL)
        return pool.balance_fen
