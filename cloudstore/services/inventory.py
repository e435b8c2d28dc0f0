"""Writes of store stock: adjustments and counts with a reason, bulk updates from ISVs, and the
reserve / commit / release steps orders use. A reservation is one conditional UPDATE, so two
shoppers racing for the last unit cannot both win; the database check on_hand >= reserved is the
last line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events
from cloudstore.models import Category, Inventory, Order, Product, Sku, StockMovement
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.money import yuan_to_fen
from retail.tenancy import brand_scope

BULK_MAX_ROWS = 50_000
BULK_CHUNK = 5_000


def _whole(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def _row(brand: Brand, store: Store, sku: Sku, lock: bool = True) -> Inventory:
    qs = Inventory.objects.filter(store=store, sku=sku)
    inv = (qs.select_for_update(no_key=True) if lock else qs).first()
    if inv is None:
        Inventory.objects.bulk_create([Inventory(brand=brand, store=store, sku=sku)], ignore_conflicts=True)
        inv = qs.select_for_update(no_key=True).get()
    return inv


def stock_change(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    store: Store,
    sku: Sku,
    kind: str,
    quantity: int,
    reason: str,
    low_stock_at: int | None = None,
) -> Inventory:
    """An adjustment or receipt (``quantity`` is a change) or a count (``quantity`` is what is there)."""
    roles.require(brand, staff, roles.can_manage_store(staff, store.pk))
    if store.brand_id != brand.pk or sku.brand_id != brand.pk:
        raise ValidationError(_("Unknown store or SKU."))
    if kind not in (StockMovement.Kind.ADJUST, StockMovement.Kind.RECEIVE, StockMovement.Kind.COUNT):
        raise ValidationError({"kind": _("Unknown kind of stock change.")})
    if not _whole(quantity) or (kind == StockMovement.Kind.COUNT and quantity < 0):
        raise ValidationError({"quantity": _("Give a whole number.")})
    if kind == StockMovement.Kind.RECEIVE and quantity <= 0:
        raise ValidationError({"quantity": _("Received goods are a positive number.")})
    if kind == StockMovement.Kind.ADJUST and quantity == 0:
        raise ValidationError({"quantity": _("Give a non-zero change.")})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why.")})
    with brand_scope(brand):
        inv = _row(brand, store, sku)
        delta = quantity - inv.on_hand if kind == StockMovement.Kind.COUNT else quantity
        if inv.on_hand + delta < inv.reserved:
            raise ValidationError(
                {"quantity": _("Stock cannot go below what open orders hold (%(n)s).") % {"n": inv.reserved}}
            )
        inv.on_hand += delta
        inv.updated_at = timezone.now()
        fields = ["on_hand", "updated_at"]
        if low_stock_at is not None:
            inv.low_stock_at = low_stock_at
            fields.append("low_stock_at")
        inv.save(update_fields=fields)
        StockMovement.objects.create(
            brand=brand,
            store=store,
            sku=sku,
            kind=kind,
            on_hand_delta=delta,
            on_hand_after=inv.on_hand,
            reason=reason[:200],
            created_by=actor.user,
        )
        events.audit(
            brand=brand,
            actor=actor,
            action=f"stock.{kind}",
            target=sku,
            data={"store": store.code, "delta": delta, "on_hand": inv.on_hand, "reason": reason[:200]},
        )
        return inv


@dataclass
class BulkResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def inventory_bulk_update(
    *, brand: Brand, staff: Staff, actor: Actor, rows: list[dict[str, Any]], reason: str
) -> BulkResult:
    """Set stock (``on_hand``) and optionally ``price_fen`` / ``low_stock_at`` for many (store, SKU)
    pairs named by code. All or nothing: any bad row and nothing is written; the result lists
    every bad row. Set-based: a handful of queries per 5,000 rows."""
    if not rows:
        raise ValidationError({"rows": _("Send at least one row.")})
    if len(rows) > BULK_MAX_ROWS:
        raise ValidationError({"rows": _("At most %(n)s rows per request.") % {"n": BULK_MAX_ROWS}})
    reason = (reason or "").strip()[:200] or "bulk update"
    result = BulkResult(rows=len(rows))
    with brand_scope(brand):
        stores = dict(Store.objects.filter(code__in={r["store"] for r in rows}).values_list("code", "pk"))
        skus = dict(Sku.objects.filter(code__in={r["sku"] for r in rows}).values_list("code", "pk"))
        roles.require(brand, staff, roles.can_manage_staff(staff))
        # A brand admin may update any store; a store manager only their own.
        allowed = None if roles.sees_all_stores(staff) else roles.store_ids(staff)
        wanted: dict[tuple[int, int], tuple[int, dict]] = {}
        for i, r in enumerate(rows):
            store_id, sku_id = stores.get(r["store"]), skus.get(r["sku"])
            if store_id is None:
                result.errors.append({"row": i, "field": "store", "message": _("Unknown store code.")})
                continue
            if sku_id is None:
                result.errors.append({"row": i, "field": "sku", "message": _("Unknown SKU code.")})
                continue
            if allowed is not None and store_id not in allowed:
                result.errors.append({"row": i, "field": "store", "message": _("Not one of your stores.")})
                continue
            if (store_id, sku_id) in wanted:
                result.errors.append(
                    {"row": i, "field": "sku", "message": _("This store and SKU appear twice.")}
                )
                continue
            wanted[(store_id, sku_id)] = (i, r)
        if result.errors:
            return result
        now = timezone.now()
        pairs = sorted(wanted)
        # Lock and check every row first; write only if all of them are good.
        planned = [
            _bulk_plan(brand, actor, pairs[start : start + BULK_CHUNK], wanted, now, reason, result)
            for start in range(0, len(pairs), BULK_CHUNK)
        ]
        if result.errors:
            return result
        for to_create, to_update, moves in planned:
            Inventory.objects.bulk_create(to_create, batch_size=BULK_CHUNK)
            _update_rows(to_update, now)
            StockMovement.objects.bulk_create(moves, batch_size=BULK_CHUNK)
            result.created += len(to_create)
            result.updated += len(to_update)
        events.audit(
            brand=brand,
            actor=actor,
            action="stock.bulk_update",
            data={
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "reason": reason,
            },
        )
    return result


def _update_rows(rows: list[Inventory], now) -> None:
    """Write new on-hand, price and low-stock levels of locked rows. On PostgreSQL one UPDATE ... FROM
    unnest(...) per chunk (Django's bulk_update builds a CASE per field with a branch per row, which
    is slow at thousands of rows); elsewhere bulk_update."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Inventory.objects.bulk_update(
            rows, ["on_hand", "price_fen", "low_stock_at", "updated_at"], batch_size=500
        )
        return
    table = Inventory._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BULK_CHUNK):
            chunk = rows[start : start + BULK_CHUNK]
            cursor.execute(
                f"UPDATE {table} AS i SET on_hand = v.on_hand, price_fen = v.price_fen, "  # noqa: S608 - table from model meta
                "low_stock_at = v.low_stock_at, updated_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::integer[]) "
                "AS v(id, on_hand, price_fen, low_stock_at) WHERE i.id = v.id",
                [
                    now,
                    [r.pk for r in chunk],
                    [r.on_hand for r in chunk],
                    [r.price_fen for r in chunk],
                    [r.low_stock_at for r in chunk],
                ],
            )


def _bulk_plan(
    brand, actor, chunk, wanted, now, reason, result, keep_unchanged: bool = True
) -> tuple[list, list, list]:
    """Lock one chunk's rows and work out its writes; bad rows go to ``result.errors``. A row without
    ``on_hand`` keeps the stock (a new one starts at 0); without ``keep_unchanged`` rows that would
    not change are left out of the writes."""
    store_ids = {s for s, _k in chunk}
    sku_ids = {k for _s, k in chunk}
    existing = {
        (inv.store_id, inv.sku_id): inv
        for inv in Inventory.objects.filter(store_id__in=store_ids, sku_id__in=sku_ids)
        .select_for_update(no_key=True)
        .order_by("pk")
        .only("pk", "store_id", "sku_id", "on_hand", "reserved", "price_fen", "low_stock_at")
    }
    to_create, to_update, moves = [], [], []
    for pair in chunk:
        i, r = wanted[pair]
        inv = existing.get(pair)
        on_hand = r.get("on_hand")
        if inv is None:
            inv = Inventory(brand=brand, store_id=pair[0], sku_id=pair[1], updated_at=now)
            to_create.append(inv)
            before = 0
            on_hand = 0 if on_hand is None else on_hand
        else:
            on_hand = inv.on_hand if on_hand is None else on_hand
            unchanged = (
                on_hand == inv.on_hand
                and r.get("price_fen", inv.price_fen) == inv.price_fen
                and r.get("low_stock_at") in (None, inv.low_stock_at)
            )
            if unchanged and not keep_unchanged:
                continue
            if on_hand < inv.reserved:
                result.errors.append(
                    {
                        "row": i,
                        "field": "on_hand",
                        "message": _("Stock cannot go below what open orders hold (%(n)s).")
                        % {"n": inv.reserved},
                    }
                )
                continue
            to_update.append(inv)
            before = inv.on_hand
        inv.on_hand = on_hand
        inv.updated_at = now
        if "price_fen" in r:
            inv.price_fen = r["price_fen"]
        if r.get("low_stock_at") is not None:
            inv.low_stock_at = r["low_stock_at"]
        if on_hand != before:
            moves.append(
                StockMovement(
                    brand=brand,
                    store_id=pair[0],
                    sku_id=pair[1],
                    kind=StockMovement.Kind.IMPORT,
                    on_hand_delta=on_hand - before,
                    on_hand_after=on_hand,
                    reason=reason,
                    created_by=actor.user,
                    created_at=now,
                )
            )
    return to_create, to_update, moves


# --- a store's assortment, in bulk (brand dashboard) ---------------------------------------------

ASSORTMENT_MAX_ROWS = 20_000
STOCK_MAX = 10_000_000
PRICE_MAX_FEN = 10_000_000_000  # a hundred million yuan
_YUAN = re.compile(r"[0-9]+(\.[0-9]{0,2})?|\.[0-9]{1,2}")


@dataclass
class AssortmentResult:
    rows: int = 0  # SKUs (or file rows) looked at
    added: int = 0  # new to the store
    updated: int = 0  # already carried; price or stock changed
    unchanged: int = 0  # already carried as asked
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"line", "sku", "message"}


def _assortment_check(brand: Brand, staff: Staff, store: Store) -> None:
    roles.require(brand, staff, roles.can_manage_stores(staff))
    if store.brand_id != brand.pk:
        raise ValidationError(_("Unknown store."))


def store_assortment_add(
    *, brand: Brand, staff: Staff, actor: Actor, store: Store, category_id: int | None = None
) -> AssortmentResult:
    """Add every SKU on sale (or every one of a category) that the store does not carry yet, at the
    list price with no stock. SKUs it carries are left as they are, so a re-run adds nothing."""
    _assortment_check(brand, staff, store)
    with brand_scope(brand):
        skus = Sku.objects.filter(active=True, product__status=Product.Status.ACTIVE)
        if category_id is not None:
            if not Category.objects.filter(pk=category_id).exists():
                raise ValidationError({"category": _("Choose one of the brand's categories.")})
            skus = skus.filter(product__category_id=category_id)
        total = skus.count()
        new_ids = list(
            skus.exclude(pk__in=Inventory.objects.filter(store=store).values("sku_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        for start in range(0, len(new_ids), BULK_CHUNK):
            Inventory.objects.bulk_create(
                [
                    Inventory(brand=brand, store=store, sku_id=pk, updated_at=now)
                    for pk in new_ids[start : start + BULK_CHUNK]
                ],
                ignore_conflicts=True,  # a concurrent run added some: still one row per SKU
            )
        result = AssortmentResult(rows=total, added=len(new_ids), unchanged=total - len(new_ids))
        if new_ids:
            events.audit(
                brand=brand,
                actor=actor,
                action="inventory.assortment_add",
                target=store,
                data={"store": store.code, "category": category_id, "added": len(new_ids)},
            )
    return result


def _yuan_to_fen(text: str) -> int | None:
    """ "59.9" -> 5990; None if it is not a plain amount in yuan with at most two decimals."""
    text = text.replace("¥", "").replace("￥", "").replace(",", "").strip()
    if not _YUAN.fullmatch(text):
        return None
    return yuan_to_fen(text)


def store_assortment_import(
    *, brand: Brand, staff: Staff, actor: Actor, store: Store, rows: list[dict[str, str]]
) -> AssortmentResult:
    """Add the SKUs of a file's rows to the store: ``{"line", "sku", "price", "stock"}`` as written in
    the file (price in yuan and stock optional; empty keeps what the store has, or the list price
    and no stock for a new SKU). All or nothing: any bad row (unknown SKU, a SKU twice, a bad
    number) and nothing is written; the result lists every bad row. Re-running the same file
    changes nothing."""
    _assortment_check(brand, staff, store)
    if not rows:
        raise ValidationError({"file": _("The file has no rows below its header.")})
    if len(rows) > ASSORTMENT_MAX_ROWS:
        raise ValidationError({"file": _("At most %(n)s rows per file.") % {"n": ASSORTMENT_MAX_ROWS}})
    result = AssortmentResult(rows=len(rows))

    def bad(r: dict, message: str) -> None:
        result.errors.append({"line": r["line"], "sku": r.get("sku", ""), "message": message})

    with brand_scope(brand):
        codes = {(r.get("sku") or "").strip() for r in rows}
        skus = dict(Sku.objects.filter(code__in=codes - {""}).values_list("code", "pk"))
        wanted: dict[tuple[int, int], tuple[int, dict]] = {}
        first_line: dict[int, int] = {}
        first_code_line: dict[str, int] = {}
        for r in rows:
            code = (r.get("sku") or "").strip()
            r = {**r, "sku": code}
            if not code:
                bad(r, _("The SKU code is empty."))
                continue
            sku_id = skus.get(code)
            if sku_id is None:
                bad(r, _("No SKU of this brand has this code."))
                continue
            if sku_id in first_line:
                bad(r, _("This SKU is already on line %(n)s.") % {"n": first_line[sku_id]})
                continue
            first_line[sku_id] = r["line"]
            first_code_line[code] = r["line"]
            row: dict[str, Any] = {}
            price = (r.get("price") or "").strip()
            if price:
                fen = _yuan_to_fen(price)
                if fen is None or fen > PRICE_MAX_FEN:
                    bad(r, _("The price “%(v)s” is not an amount in yuan, e.g. 59.90.") % {"v": price[:20]})
                    continue
                row["price_fen"] = fen
            stock = (r.get("stock") or "").strip()
            if stock:
                if not stock.isascii() or not stock.isdigit() or int(stock) > STOCK_MAX:
                    bad(r, _("The stock “%(v)s” is not a whole number of 0 or more.") % {"v": stock[:20]})
                    continue
                row["on_hand"] = int(stock)
            wanted[(store.pk, sku_id)] = (r["line"], row)
        if result.errors:
            return result
        now = timezone.now()
        pairs = sorted(wanted)
        reason = _("Assortment file")
        planned = [
            _bulk_plan(brand, actor, pairs[start : start + BULK_CHUNK], wanted, now, reason, result, False)
            for start in range(0, len(pairs), BULK_CHUNK)
        ]
        if result.errors:  # stock below what open orders hold: report it like the other bad rows
            code_of_line = {line: code for code, line in first_code_line.items()}
            result.errors = [
                {"line": e["row"], "sku": code_of_line.get(e["row"], ""), "message": e["message"]}
                for e in result.errors
            ]
            return result
        for to_create, to_update, moves in planned:
            Inventory.objects.bulk_create(to_create, batch_size=BULK_CHUNK)
            _update_rows(to_update, now)
            StockMovement.objects.bulk_create(moves, batch_size=BULK_CHUNK)
            result.added += len(to_create)
            result.updated += len(to_update)
        result.unchanged = len(pairs) - result.added - result.updated
        if result.added or result.updated:
            events.audit(
                brand=brand,
                actor=actor,
                action="inventory.assortment_import",
                target=store,
                data={
                    "store": store.code,
                    "rows": result.rows,
                    "added": result.added,
                    "updated": result.updated,
                },
            )
    return result


# --- used by orders (inside their transaction and brand scope) ---------------------------------


def reserve(brand: Brand, order: Order, store_id: int, items: list[tuple[int, int]]) -> list[int]:
    """Reserve ``[(sku_id, qty)]`` at a store; returns the SKU ids that were short (nothing reserved then).

    One conditional UPDATE per SKU, in SKU order (no deadlocks between two orders)."""
    short: list[int] = []
    done: list[tuple[int, int]] = []
    for sku_id, qty in sorted(items):
        n = Inventory.objects.filter(
            store_id=store_id, sku_id=sku_id, on_hand__gte=F("reserved") + qty
        ).update(reserved=F("reserved") + qty, updated_at=timezone.now())
        if n == 0:
            short.append(sku_id)
        else:
            done.append((sku_id, qty))
    if short:
        # Caller rolls back; undo is for callers that keep the transaction (late payments).
        for sku_id, qty in done:
            Inventory.objects.filter(store_id=store_id, sku_id=sku_id).update(reserved=F("reserved") - qty)
        return short
    _moves(brand, order, store_id, items, StockMovement.Kind.RESERVE, on_hand=0, reserved=1)
    return []


def release(brand: Brand, order: Order, store_id: int, items: list[tuple[int, int]]) -> None:
    for sku_id, qty in sorted(items):
        Inventory.objects.filter(store_id=store_id, sku_id=sku_id).update(
            reserved=F("reserved") - qty, updated_at=timezone.now()
        )
    _moves(brand, order, store_id, items, StockMovement.Kind.RELEASE, on_hand=0, reserved=-1)


def commit(brand: Brand, order: Order, store_id: int, items: list[tuple[int, int]]) -> None:
    """Reserved goods are sold: they leave on-hand and the reservation together."""
    for sku_id, qty in sorted(items):
        Inventory.objects.filter(store_id=store_id, sku_id=sku_id).update(
            reserved=F("reserved") - qty, on_hand=F("on_hand") - qty, updated_at=timezone.now()
        )
    _moves(brand, order, store_id, items, StockMovement.Kind.SALE, on_hand=-1, reserved=-1)


def sell_unreserved(brand: Brand, order: Order, store_id: int, items: list[tuple[int, int]]) -> list[int]:
    """A sale that already happened at the till (POS): take the goods off on-hand, never below what
    open orders hold; returns SKUs whose recorded stock was short (a count is due there)."""
    short = []
    for sku_id, qty in sorted(items):
        inv = (
            Inventory.objects.select_for_update(no_key=True).filter(store_id=store_id, sku_id=sku_id).first()
        )
        if inv is None:
            short.append(sku_id)
            continue
        take = min(qty, inv.on_hand - inv.reserved)
        if take < qty:
            short.append(sku_id)
        if take:
            Inventory.objects.filter(pk=inv.pk).update(on_hand=F("on_hand") - take, updated_at=timezone.now())
            StockMovement.objects.create(
                brand=brand,
                store_id=store_id,
                sku_id=sku_id,
                kind=StockMovement.Kind.SALE,
                on_hand_delta=-take,
                on_hand_after=inv.on_hand - take,
                reason=order.number if take == qty else f"{order.number} (short by {qty - take})",
                order=order,
            )
    return short


def restock(
    brand: Brand, order: Order, store_id: int, items: list[tuple[int, int]], actor: Actor | None
) -> None:
    """Goods returned by a refund go back on the shelf."""
    for sku_id, qty in sorted(items):
        inv = _row(brand, Store(pk=store_id, brand=brand), Sku(pk=sku_id, brand=brand))
        Inventory.objects.filter(pk=inv.pk).update(on_hand=F("on_hand") + qty, updated_at=timezone.now())
        StockMovement.objects.create(
            brand=brand,
            store_id=store_id,
            sku_id=sku_id,
            kind=StockMovement.Kind.RETURN,
            on_hand_delta=qty,
            on_hand_after=inv.on_hand + qty,
            reason=order.number,
            order=order,
            created_by=actor.user if actor else None,
        )


def _moves(brand, order, store_id, items, kind, *, on_hand: int, reserved: int) -> None:
    after = dict(
        Inventory.objects.filter(store_id=store_id, sku_id__in=[s for s, _q in items]).values_list(
            "sku_id", "on_hand"
        )
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                brand=brand,
                store_id=store_id,
                sku_id=sku_id,
                kind=kind,
                on_hand_delta=on_hand * qty,
                reserved_delta=reserved * qty,
                on_hand_after=after.get(sku_id, 0),
                reason=order.number,
                order=order,
            )
            for sku_id, qty in items
        ]
    )
