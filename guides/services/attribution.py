"""Attribution of paid orders, clawbacks of refunds, and explicit re-attribution of a period.

Everything here works on batches: one order (after its payment commits) is a batch of one, a
historic import is thousands per batch. A batch costs a fixed number of statements: read the
orders, their lines and the rules, decide in memory, insert attributions, commission entries and
events set-based. Idempotency is in the data: one attribution per order and one entry per
business key (``earn:<order>``, ``refund:<order>:<refunded total>``, ``reattr:<run>:<order>:...``),
both enforced by unique constraints, so a re-run, a retried task or a race credits nothing twice.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import Exists, OuterRef, Sum
from django.utils import timezone

from cloudstore.models import Order, OrderLine
from guides import events
from guides.models import Attribution, AttributionRule, CommissionEntry, CommissionRule, Reattribution
from guides.services import compute
from guides.services.rules import attribution_rules_all, settings_get
from members.models import Member, MemberIdentity
from retail.bulk import insert_rows
from retail.models import Brand, Staff, StaffStore
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)

E = CommissionEntry.Kind
PAID_STATUSES = [
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.PICKED_UP,
    Order.Status.COMPLETED,
    Order.Status.REFUNDED,
]
BATCH = 10_000


class Context:
    """What a run reads once (rule versions, commission rules) and, per batch, what it needs about
    the people in it: which candidate guides are active, their stores, which members are staff."""

    def __init__(self, brand: Brand):
        self.brand = brand
        self.versions: list[AttributionRule] = attribution_rules_all(brand=brand)
        self._starts = [v.effective_from for v in self.versions]
        self.book = compute.RuleBook(list(CommissionRule.objects.for_brand(brand)))
        self.tz = zoneinfo.ZoneInfo(settings_get(brand=brand).timezone)
        self.active: set[int] = set()
        self.hired: dict[int, datetime.datetime] = {}
        self.guide_store: dict[int, int] = {}
        self.staff_members: set[int] = set()

    def load_people(self, facts: list[compute.OrderFacts]) -> None:
        """Look up the batch's candidate guides and members (four queries, whatever the batch size),
        and judge each order's guides as of the order's time (``as_of``)."""
        brand = self.brand
        members = {f.member_id for f in facts if f.member_id is not None}
        joined: dict[int, datetime.datetime] = {}
        bindings: dict[int, list[tuple[int, datetime.datetime, datetime.datetime | None]]] = defaultdict(list)
        for member_id, joined_at, guide_id, started, ended in (
            Member.objects.for_brand(brand)
            .filter(pk__in=members)
            .order_by()
            .values_list(
                "pk", "joined_at", "bindings__guide_id", "bindings__started_at", "bindings__ended_at"
            )
        ):
            joined[member_id] = joined_at
            if guide_id is not None:
                bindings[member_id].append((guide_id, started, ended))
        guides = {
            g
            for f in facts
            for g in (f.exclusive_guide_id, f.share_guide_id, f.served_by_id)
            if g is not None
        }
        guides.update(g for rows in bindings.values() for g, _s, _e in rows)
        self.active, self.hired = set(), {}
        for pk, hired_on, created_at in (
            Staff.objects.for_brand(brand)
            .filter(pk__in=guides, status=Staff.Status.ACTIVE)
            .values_list("pk", "hired_on", "created_at")
        ):
            self.active.add(pk)
            # The hiring date when the brand recorded one, else when the staff record was created.
            self.hired[pk] = (
                datetime.datetime.combine(hired_on, datetime.time(), tzinfo=self.tz)
                if hired_on is not None
                else created_at
            )
        self.guide_store = {}
        for staff_id, store_id in (
            StaffStore.objects.for_brand(brand)
            .filter(staff_id__in=guides)
            .order_by("staff_id", "store_id")
            .values_list("staff_id", "store_id")
        ):
            self.guide_store.setdefault(staff_id, store_id)
        staff_phones = Staff.objects.for_brand(brand).exclude(user__phone=None).values("user__phone")
        self.staff_members = set(
            MemberIdentity.objects.for_brand(brand)
            .filter(kind=MemberIdentity.Kind.PHONE, member_id__in=members, value__in=staff_phones)
            .values_list("member_id", flat=True)
        )
        for f in facts:
            f.staff_purchase = f.member_id in self.staff_members
            as_of(f, joined.get(f.member_id), bindings.get(f.member_id), self.hired)

    def rule_at(self, at: datetime.datetime) -> AttributionRule | None:
        # versions are sorted by (effective_from, version): the last one started by ``at`` applies
        import bisect

        i = bisect.bisect_right(self._starts, at)
        return self.versions[i - 1] if i else None


def as_of(
    f: compute.OrderFacts,
    joined_at: datetime.datetime | None,
    bindings: list[tuple[int, datetime.datetime, datetime.datetime | None]] | None,
    hired: dict[int, datetime.datetime],
) -> None:
    """Put the order's guides as they were at the order's time, whenever it is attributed.

    The exclusive guide is the one of the member's binding open then (a member with no binding
    history keeps the order's snapshot); a member who joined later had none. A share link opened
    after the order does not count, and nobody hired after the order is credited for it."""
    at = f.at
    if f.member_id is not None:
        if joined_at is not None and joined_at > at:
            f.exclusive_guide_id = None
        elif bindings:
            f.exclusive_guide_id = next(
                (g for g, start, end in bindings if start <= at and (end is None or end > at)), None
            )
    if f.touch_at is not None and f.touch_at > at:
        f.share_guide_id = f.touch_at = None
    for name in ("exclusive_guide_id", "share_guide_id", "served_by_id"):
        guide = getattr(f, name)
        if guide is not None and guide in hired and hired[guide] > at:
            setattr(f, name, None)


ORDER_FIELDS = (
    "pk",
    "channel",
    "member_id",
    "store_id",
    "paid_at",
    "paid_fen",
    "refunded_fen",
    "exclusive_guide_id",
    "share_guide_id",
    "touch__created_at",
    "served_by_id",
    "created_at",
)
LINE_FIELDS = (
    "pk",
    "order_id",
    "sku_id",
    "sku__product__category_id",
    "quantity",
    "unit_price_fen",
    "discount_fen",
    "refunded_quantity",
    "refunded_fen",
)


def _facts(ctx: Context, rows: Iterable[tuple]) -> list[compute.OrderFacts]:
    facts = [compute.OrderFacts(*r) for r in rows]
    if facts:
        ctx.load_people(facts)
    return facts


def _lines(brand: Brand, lo: int, hi: int) -> dict[int, list[compute.Line]]:
    by_order: dict[int, list[compute.Line]] = defaultdict(list)
    rows = (
        OrderLine.objects.for_brand(brand)
        .filter(order_id__gte=lo, order_id__lte=hi)
        .order_by()
        .values_list(*LINE_FIELDS)
    )
    for pk, order_id, sku, cat, qty, price, disc, rqty, rfen in rows.iterator(chunk_size=10_000):
        by_order[order_id].append(compute.Line(pk, sku, cat, qty, price * qty - disc, rqty, rfen))
    return by_order


def _evaluate(ctx: Context, order: compute.OrderFacts, lines: list[compute.Line]):
    """(decision, rule, per-line terms, full commission per line, commission now)."""
    rule = ctx.rule_at(order.paid_at)
    decision = compute.decide(order, rule, ctx.active, ctx.guide_store)
    if decision.guide_id is None:
        return decision, rule, [None] * len(lines), [0] * len(lines), 0
    terms = [ctx.book.find(ln.sku_id, ln.category_id, order.channel, order.paid_at) for ln in lines]
    full = [compute.line_commission(t, ln) for t, ln in zip(terms, lines, strict=True)]
    now = sum(compute.commission_now(lines, terms, order.refunded_fen))
    return decision, rule, terms, full, now


# -- attributing ---------------------------------------------------------------------------------


def _attribute_rows(
    ctx: Context, facts: list[compute.OrderFacts], now: datetime.datetime, bulk: bool = False
) -> list[int]:
    """Attribute these orders (not yet attributed); returns the ids of those attributed by this call.
    ``bulk`` (historic imports): one ``orders.attributed`` event for the batch instead of one
    ``order.attributed`` per order, so partners are not sent a webhook per year-old order."""
    if not facts:
        return []
    brand = ctx.brand
    lines = _lines(brand, facts[0].id, facts[-1].id)
    rows, results = [], {}
    for f in facts:
        ls = lines.get(f.id, [])
        decision, rule, terms, full, current = _evaluate(ctx, f, ls)
        sales = sum(ln.base_fen for ln in ls)
        rows.append(
            {
                "brand_id": brand.pk,
                "order_id": f.id,
                "channel": f.channel,
                "member_id": f.member_id,
                "guide_id": decision.guide_id,
                "source": decision.source,
                "excluded": decision.excluded,
                "store_id": decision.store_id,
                "rule_id": rule.pk if rule is not None else None,
                "paid_at": f.paid_at,
                "sales_fen": sales,
                "refunded_fen": f.refunded_fen,
                "commission_fen": current,
                "lines": [
                    [ln.id, t.rule_id if t else None, c] for ln, t, c in zip(ls, terms, full, strict=True)
                ],
                "revision": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        results[f.id] = (f, decision, sum(full), current)
    inserted = insert_rows(Attribution, rows, returning="order")
    if inserted is None:  # no RETURNING: read back which of them are ours (SQLite: writers queue)
        inserted = [f.id for f in facts]
    entries, evts = [], []
    for order_id in inserted:
        f, decision, full, current = results[order_id]
        if decision.guide_id is not None and full:
            entries.append(
                _entry(brand, decision.guide_id, E.EARN, f"earn:{order_id}", full, f, f.paid_at, now)
            )
            if current != full:
                entries.append(
                    _entry(
                        brand,
                        decision.guide_id,
                        E.CLAWBACK,
                        f"refund:{order_id}:{f.refunded_fen}",
                        current - full,
                        f,
                        now,
                        now,
                        notified=now,
                    )
                )
        if not bulk:
            evts.append(
                events.order_attributed_row(
                    brand=brand,
                    order_id=order_id,
                    guide_id=decision.guide_id,
                    source=decision.source,
                    excluded=decision.excluded,
                    store_id=decision.store_id,
                    commission_fen=current,
                    at=now,
                )
            )
    if bulk and inserted:
        evts.append(
            events.orders_attributed_row(
                brand=brand,
                first_order=min(inserted),
                last_order=max(inserted),
                orders=len(inserted),
                credited=sum(1 for o in inserted if results[o][1].guide_id is not None),
                commission_fen=sum(results[o][3] for o in inserted if results[o][1].guide_id is not None),
                at=now,
            )
        )
    insert_rows(CommissionEntry, entries)
    events.write_rows(evts)
    return list(inserted)


def _entry(brand, guide_id, kind, key, amount, facts, occurred_at, now, notified=None) -> dict:
    return {
        "brand_id": brand.pk,
        "guide_id": guide_id,
        "kind": kind,
        "key": key,
        "amount_fen": amount,
        "order_id": facts.id,
        "member_id": facts.member_id,
        "occurred_at": occurred_at,
        "notified_at": notified,
        "created_at": now,
    }


def _unattributed(brand: Brand):
    # NOT EXISTS on (brand, order): the attribution's unique index answers it, in bulk or one by one.
    done = Attribution.objects.filter(brand_id=OuterRef("brand_id"), order_id=OuterRef("pk"))
    return (
        Order.objects.for_brand(brand)
        .filter(paid_at__isnull=False, status__in=PAID_STATUSES)
        .filter(~Exists(done))
        .order_by("pk")
    )


def attribute_orders(*, brand: Brand, order_ids: list[int], notify: bool = True) -> int:
    """Attribute these paid orders (those already attributed are skipped); returns how many were."""
    with brand_scope(brand):
        ctx = Context(brand)
        facts = _facts(ctx, _unattributed(brand).filter(pk__in=order_ids).values_list(*ORDER_FIELDS))
        done = _attribute_rows(ctx, facts, timezone.now())
    if done and notify:
        _notify_later(brand)
    return len(done)


def attribute_pending(
    *,
    brand: Brand,
    after_id: int = 0,
    up_to_id: int | None = None,
    batch: int = BATCH,
    notify: bool = True,
    paid_before: datetime.datetime | None = None,
    paid_after: datetime.datetime | None = None,
    bulk: bool = False,
) -> int:
    """Attribute every paid order not attributed yet (ids in (after_id, up_to_id]), ``batch`` orders
    per transaction; returns how many were attributed. Used by bulk imports (``bulk``: one event
    per batch) and the sweep."""
    with brand_scope(brand):
        ctx = Context(brand)
    total, cursor = 0, after_id
    while True:
        with brand_scope(brand):
            # A page of paid orders by id, then the ones already attributed are dropped (one index
            # range read): no anti-join for the planner to get wrong while the table fills up.
            qs = Order.objects.for_brand(brand).filter(
                paid_at__isnull=False, status__in=PAID_STATUSES, pk__gt=cursor
            )
            if up_to_id is not None:
                qs = qs.filter(pk__lte=up_to_id)
            if paid_before is not None:
                qs = qs.filter(paid_at__lt=paid_before)
            if paid_after is not None:
                qs = qs.filter(paid_at__gte=paid_after)
            rows = list(qs.order_by("pk").values_list(*ORDER_FIELDS)[:batch])
            if not rows:
                break
            cursor = rows[-1][0]
            done = set(
                Attribution.objects.for_brand(brand)
                .filter(order_id__gte=rows[0][0], order_id__lte=cursor)
                .values_list("order_id", flat=True)
            )
            facts = _facts(ctx, [r for r in rows if r[0] not in done])
            if facts:
                if bulk and connection.vendor == "postgresql":
                    # A historic batch is redone by a re-run if a crash loses it: no need to wait
                    # for each commit's WAL flush.
                    with connection.cursor() as cur:
                        cur.execute("SET LOCAL synchronous_commit TO OFF")
                total += len(_attribute_rows(ctx, facts, timezone.now(), bulk=bulk))
    if total and notify:
        _notify_later(brand)
    return total


def id_ranges(*, brand: Brand, size: int = 50_000) -> list[tuple[int, int]]:
    """Split the brand's unattributed paid orders into id ranges of about ``size`` orders, for workers."""
    with brand_scope(brand):
        ids = _unattributed(brand).values_list("pk", flat=True)
        bounds = list(ids[::size]) if connection.vendor != "postgresql" else _pg_bounds(brand, size)
        if not bounds:
            return []
        last = _unattributed(brand).order_by("-pk").values_list("pk", flat=True).first()
    starts = [b - 1 for b in bounds] or [0]
    ends = [*(b - 1 for b in bounds[1:]), last]
    return list(zip(starts, ends, strict=True))


def _pg_bounds(brand: Brand, size: int) -> list[int]:
    sql, params = _unattributed(brand).values("pk").query.sql_with_params()
    with connection.cursor() as cur:
        # The inner query is Django's own, with its parameters.
        cur.execute(
            f"SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM ({sql}) AS q (id)) r "  # noqa: S608
            "WHERE (n - 1) %% %s = 0 ORDER BY id",
            [*params, size],
        )
        return [r[0] for r in cur.fetchall()]


def _notify_later(brand: Brand) -> None:
    enqueue_on_commit("guides.tasks.notify_commissions", brand.pk, countdown=5)


# -- refunds -------------------------------------------------------------------------------------


def attribution_refund_sync(*, brand: Brand, order_id: int) -> int:
    """Bring an order's commission in line with its refunds: claw back what the refunded part earned
    (once per refunded total). Returns the fen clawed back (<= 0)."""
    with brand_scope(brand):
        att = Attribution.objects.select_for_update(no_key=True).filter(order_id=order_id).first()
        if att is None:
            attribute_orders(brand=brand, order_ids=[order_id])
            return 0
        order = Order.objects.get(pk=order_id)
        if order.refunded_fen == att.refunded_fen or att.guide_id is None:
            if order.refunded_fen != att.refunded_fen:
                att.refunded_fen = order.refunded_fen
                att.save(update_fields=["refunded_fen", "updated_at"])
            return 0
        lines = _lines(brand, order_id, order_id).get(order_id, [])
        rule_of = {row[0]: row[1] for row in att.lines}
        book = compute.RuleBook(
            list(CommissionRule.objects.filter(pk__in=[r for r in rule_of.values() if r]))
        )
        terms = [book.terms(rule_of.get(ln.id)) for ln in lines]
        current = sum(compute.commission_now(lines, terms, order.refunded_fen))
        delta = min(0, current - att.commission_fen)
        now = timezone.now()
        if delta:
            CommissionEntry.objects.create(
                brand=brand,
                guide_id=att.guide_id,
                kind=E.CLAWBACK,
                key=f"refund:{order_id}:{order.refunded_fen}",
                amount_fen=delta,
                order_id=order_id,
                member_id=att.member_id,
                occurred_at=now,
                notified_at=now,
            )
            events.commission_clawed_back(brand=brand, attribution=att, amount_fen=delta)
        att.refunded_fen, att.commission_fen, att.updated_at = (
            order.refunded_fen,
            att.commission_fen + delta,
            now,
        )
        att.save(update_fields=["refunded_fen", "commission_fen", "updated_at"])
        if delta:
            from guides.services import notify

            notify.clawback(brand=brand, attribution=att, amount_fen=delta, order_number=order.number)
        return delta


# -- re-attribution ------------------------------------------------------------------------------


def reattribute(*, brand: Brand, run: Reattribution, batch: int = 2000) -> Reattribution:
    """Attribute the orders paid in the run's period again under today's rules. An order whose guide
    or commission changes gets a reversal of what its old guide kept and a new credit, dated now
    (so settled money is corrected in the next statement). Runs once: a finished run is returned."""
    with brand_scope(brand):
        run = Reattribution.objects.get(pk=run.pk)
        if run.status == Reattribution.Status.DONE:
            return run
        Reattribution.objects.filter(pk=run.pk).update(status=Reattribution.Status.RUNNING)
        ctx = Context(brand)
    cursor, orders, changed, delta_total = 0, 0, 0, 0
    while True:
        with brand_scope(brand):
            atts = list(
                Attribution.objects.select_for_update(no_key=True)
                .filter(paid_at__gte=run.start, paid_at__lt=run.end, order_id__gt=cursor)
                .order_by("order_id")[:batch]
            )
            if not atts:
                break
            cursor = atts[-1].order_id
            facts = {
                f.id: f
                for f in _facts(
                    ctx,
                    Order.objects.filter(pk__in=[a.order_id for a in atts])
                    .order_by("pk")
                    .values_list(*ORDER_FIELDS),
                )
            }
            lines = _lines(brand, atts[0].order_id, atts[-1].order_id)
            kept = {
                (o, g): s
                for o, g, s in CommissionEntry.objects.filter(order_id__in=[a.order_id for a in atts])
                .order_by()
                .values("order_id", "guide_id")
                .annotate(s=Sum("amount_fen"))
                .values_list("order_id", "guide_id", "s")
            }
            now = timezone.now()
            entries, updates = [], []
            for a in atts:
                f = facts[a.order_id]
                ls = lines.get(a.order_id, [])
                decision, rule, terms, full, current = _evaluate(ctx, f, ls)
                same = (
                    decision.guide_id == a.guide_id
                    and current == a.commission_fen
                    and decision.source == a.source
                    and decision.excluded == a.excluded
                    and decision.store_id == a.store_id
                )
                orders += 1
                if same:
                    continue
                changed += 1
                old_net = kept.get((a.order_id, a.guide_id), 0) if a.guide_id else 0
                if a.guide_id and old_net:
                    entries.append(
                        _entry(
                            brand,
                            a.guide_id,
                            E.REVERSAL,
                            f"reattr:{run.pk}:{a.order_id}:from",
                            -old_net,
                            f,
                            now,
                            now,
                            now,
                        )
                    )
                if decision.guide_id and current:
                    entries.append(
                        _entry(
                            brand,
                            decision.guide_id,
                            E.EARN,
                            f"reattr:{run.pk}:{a.order_id}:to",
                            current,
                            f,
                            now,
                            now,
                        )
                    )
                delta_total += (current if decision.guide_id else 0) - old_net
                a.guide_id, a.source, a.excluded, a.store_id = (
                    decision.guide_id,
                    decision.source,
                    decision.excluded,
                    decision.store_id,
                )
                a.rule_id = rule.pk if rule is not None else None
                a.commission_fen = current if decision.guide_id else 0
                a.refunded_fen = f.refunded_fen
                a.lines = [
                    [ln.id, t.rule_id if t else None, c] for ln, t, c in zip(ls, terms, full, strict=True)
                ]
                a.revision += 1
                a.updated_at = now
                updates.append(a)
            if updates:
                Attribution.objects.bulk_update(
                    updates,
                    [
                        "guide",
                        "source",
                        "excluded",
                        "store",
                        "rule",
                        "commission_fen",
                        "refunded_fen",
                        "lines",
                        "revision",
                        "updated_at",
                    ],
                    batch_size=500,
                )
                insert_rows(CommissionEntry, entries)
                evts = [
                    events.order_attributed_row(
                        brand=brand,
                        order_id=a.order_id,
                        guide_id=a.guide_id,
                        source=a.source,
                        excluded=a.excluded,
                        store_id=a.store_id,
                        commission_fen=a.commission_fen,
                        at=now,
                        revision=a.revision,
                    )
                    for a in updates
                ]
                events.write_rows(evts)
            Reattribution.objects.filter(pk=run.pk).update(
                orders=orders, changed=changed, delta_fen=delta_total
            )
    with brand_scope(brand):
        Reattribution.objects.filter(pk=run.pk).update(
            status=Reattribution.Status.DONE, finished_at=timezone.now()
        )
        run = Reattribution.objects.get(pk=run.pk)
    if changed:
        _notify_later(brand)
    return run


def reattribution_request(
    *,
    brand: Brand,
    staff: Staff,
    actor,
    start: datetime.datetime,
    end: datetime.datetime,
    reason: str,
) -> Reattribution:
    """Ask for the orders paid in [start, end) to be attributed again under the rules in force now.
    This is the only way a rule change reaches orders already attributed."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from retail import roles
    from retail.events import record

    roles.require(brand, staff, staff.is_brand_admin)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": ValidationError(_("Say why the period is attributed again."), code="required")}
        )
    if len(reason) > 200:
        raise ValidationError({"reason": ValidationError(_("At most 200 characters."), code="invalid")})
    if end <= start:
        raise ValidationError(
            {"end": ValidationError(_("The end must come after the start."), code="invalid")}
        )
    if end - start > datetime.timedelta(days=400):
        raise ValidationError({"end": ValidationError(_("At most 400 days at a time."), code="invalid")})
    with brand_scope(brand):
        if Reattribution.objects.filter(
            status__in=[Reattribution.Status.QUEUED, Reattribution.Status.RUNNING]
        ).exists():
            raise ValidationError(
                _("A re-attribution is already running; wait for it to finish."), code="busy"
            )
        run = Reattribution.objects.create(
            brand=brand, start=start, end=end, reason=reason, requested_by=staff
        )
        record(
            brand=brand,
            actor=actor,
            action="commission.reattribution",
            target=run,
            data={"start": start.isoformat(), "end": end.isoformat(), "reason": reason},
        )
        enqueue_on_commit("guides.tasks.run_reattribution", brand.pk, run.pk)
        return run
