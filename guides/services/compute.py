"""The arithmetic of attribution and commission, free of I/O so bulk runs and single orders share it.

Rounding, stated once:
- a percentage is applied per order line to what was paid for the line (price x quantity minus
  the line's share of the order discount) and rounded down to the fen;
- a fixed amount is per unit; a cap limits one line's commission;
- after refunds a line's commission is recomputed on what the member kept: refunded units and
  amounts come off the line, an order-level (amount-only) refund is spread over the lines in
  proportion to what is left of them (largest remainder), a fixed amount shrinks in proportion
  and rounds down. The clawback is the difference, so commission never rises through a refund
  and a fully refunded order ends at zero.
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudstore.services.checkout import allocate  # the order discount's split, to the fen

PERCENT, FIXED = "percent", "fixed"


@dataclass(frozen=True)
class Terms:
    rule_id: int
    kind: str
    rate_bp: int
    fixed_fen: int
    cap_fen: int | None


@dataclass
class Line:
    id: int
    sku_id: int
    category_id: int | None
    quantity: int
    base_fen: int  # unit price x quantity - discount share
    refunded_quantity: int = 0
    refunded_fen: int = 0


def line_commission(terms: Terms | None, line: Line, kept_fen: int | None = None) -> int:
    """Commission of one line; ``kept_fen`` is what is left of it after refunds (None: nothing refunded)."""
    if terms is None or line.base_fen <= 0:
        return 0
    if kept_fen is None:
        kept_fen, units = line.base_fen, line.quantity
    else:
        kept_fen = max(0, min(kept_fen, line.base_fen))
        units = line.quantity - line.refunded_quantity
    if kept_fen <= 0:
        return 0
    if terms.kind == PERCENT:
        amount = kept_fen * terms.rate_bp // 10_000
    else:
        amount = terms.fixed_fen * units
        kept_of_units = line.base_fen - line.refunded_fen  # what the unrefunded units are worth
        if 0 < kept_fen < kept_of_units:  # an amount-only refund took part of them too
            amount = amount * kept_fen // kept_of_units
    if terms.cap_fen is not None:
        amount = min(amount, terms.cap_fen)
    return max(0, amount)


def kept_amounts(lines: list[Line], order_refunded_fen: int) -> list[int] | None:
    """What the member kept of each line after refunds; None if nothing was refunded."""
    if order_refunded_fen <= 0 and not any(ln.refunded_fen for ln in lines):
        return None
    left = [max(0, ln.base_fen - ln.refunded_fen) for ln in lines]
    extra = order_refunded_fen - sum(ln.refunded_fen for ln in lines)
    if extra > 0:
        spread = allocate(min(extra, sum(left)), left)
        left = [a - b for a, b in zip(left, spread, strict=True)]
    return left


def commission_now(lines: list[Line], terms: list[Terms | None], order_refunded_fen: int) -> list[int]:
    """Each line's commission on what is kept now."""
    kept = kept_amounts(lines, order_refunded_fen)
    if kept is None:
        return [line_commission(t, ln) for t, ln in zip(terms, lines, strict=True)]
    return [line_commission(t, ln, k) for t, ln, k in zip(terms, lines, kept, strict=True)]


@dataclass
class RuleBook:
    """The commission rules of a brand, indexed so one line's rule is found by dictionary lookups."""

    rules: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_sku: dict[int, list] = {}
        self._by_cat: dict[int, list] = {}
        self._general: list = []
        edges = set()
        for r in self.rules:
            if r.sku_id:
                self._by_sku.setdefault(r.sku_id, []).append(r)
            elif r.category_id:
                self._by_cat.setdefault(r.category_id, []).append(r)
            else:
                self._general.append(r)
            edges.add(r.effective_from)
            if r.effective_to:
                edges.add(r.effective_to)
        # Rules only start or stop at these instants: between two of them the answer is the same,
        # so it is cached per (sku, category, channel, span).
        self._edges = sorted(edges)
        self._cache: dict[tuple, Terms | None] = {}
        self._terms = {r.pk: Terms(r.pk, r.kind, r.rate_bp, r.fixed_fen, r.cap_fen) for r in self.rules}

    def terms(self, rule_id: int | None) -> Terms | None:
        return self._terms.get(rule_id) if rule_id else None

    def find(self, sku_id: int, category_id: int | None, channel: str, at: datetime.datetime) -> Terms | None:
        span = bisect.bisect_right(self._edges, at)
        key = (sku_id, category_id, channel, span)
        if key in self._cache:
            return self._cache[key]
        best, best_key = None, None
        candidates: Iterable = [
            *self._by_sku.get(sku_id, ()),
            *(self._by_cat.get(category_id, ()) if category_id else ()),
            *self._general,
        ]
        for r in candidates:
            if r.effective_from > at or (r.effective_to is not None and r.effective_to <= at):
                continue
            if r.channel and r.channel != channel:
                continue
            k = (r.specificity, r.effective_from, r.pk)
            if best_key is None or k > best_key:
                best, best_key = r, k
        terms = self._terms[best.pk] if best is not None else None
        self._cache[key] = terms
        return terms


@dataclass
class OrderFacts:
    """What attribution needs to know about one paid order."""

    id: int
    channel: str
    member_id: int | None
    store_id: int | None
    paid_at: datetime.datetime
    paid_fen: int
    refunded_fen: int
    exclusive_guide_id: int | None
    share_guide_id: int | None
    touch_at: datetime.datetime | None
    served_by_id: int | None
    placed_at: datetime.datetime | None = None  # when the order was placed (its own time)
    staff_purchase: bool = False

    @property
    def at(self) -> datetime.datetime:
        """The order's time: who its guides were is judged as of then."""
        return min(self.placed_at, self.paid_at) if self.placed_at is not None else self.paid_at


@dataclass
class Decision:
    guide_id: int | None
    source: str
    excluded: str
    store_id: int | None


def decide(order: OrderFacts, rule, active_guides: set[int], guide_store: dict[int, int]) -> Decision:
    """Which guide an order is credited to under ``rule`` (an AttributionRule, or None: no rules)."""
    from guides.models import Attribution, Precedence

    excluded = Attribution.Excluded
    own_store = order.store_id
    precedence = rule.precedence(order.channel) if rule is not None else Precedence.EXCLUSIVE_TOUCH
    if precedence == Precedence.NONE:
        return Decision(None, Attribution.Source.NONE, excluded.CHANNEL_OFF, own_store)
    if rule is not None and rule.exclude_staff_purchases and order.staff_purchase:
        return Decision(None, Attribution.Source.NONE, excluded.STAFF_PURCHASE, own_store)
    if rule is not None and order.paid_fen < rule.min_order_fen:
        return Decision(None, Attribution.Source.NONE, excluded.BELOW_THRESHOLD, own_store)
    window = datetime.timedelta(days=rule.touch_window_days if rule is not None else 30)
    # A share link counts if it was opened within the window and before the order (never after it).
    touch_ok = order.touch_at is not None and order.paid_at - window <= order.touch_at <= order.at
    candidates = {
        "exclusive": order.exclusive_guide_id,
        "touch": order.share_guide_id if touch_ok else None,
        "served": order.served_by_id,
    }
    for source in precedence.split(">"):
        guide = candidates.get(source)
        if guide and guide in active_guides:
            store = own_store
            if store is None and (rule is None or rule.dual_credit_store):
                store = guide_store.get(guide)
            return Decision(guide, source, excluded.NO, store)
    return Decision(None, Attribution.Source.NONE, excluded.NO_GUIDE, own_store)
