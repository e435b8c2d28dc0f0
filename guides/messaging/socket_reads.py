"""The chat sockets' one read per frame, in plain SQL.

Every frame re-reads who is writing and where (a guide who left or handed the member over, an
erased or merged member, a suspended brand: refused at once). Built by the ORM, that read costs
more Python than the rest of the frame's database work; here it is one prepared statement whose
rows become the same model instances (``Model.from_db``, with the fields' own conversions), with
the related objects attached as ``select_related`` would. The brand is in every WHERE, and
row-level security applies as to any query."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import Model

from guides.messaging.models import Conversation
from members.models import Member
from retail import sql as sql_meta
from retail.models import Brand, Staff


def _columns(model: type[Model], alias: str) -> tuple[str, list]:
    fields = sql_meta.stored_fields(model)
    return ", ".join(f'{alias}."{f.column}"' for f in fields), fields


def _converters(fields: list, alias: str) -> list:
    """Per field, what the ORM's compiler applies to a raw value: the backend's converters (SQLite's
    dates, booleans ...) then the field's own (JSON ...)."""
    out = []
    for f in fields:
        col = f.get_col(alias)
        out.append((col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
    return out


def _build(model: type[Model], fields: list, converters: list, values) -> Model:
    converted = []
    for (col, convs), v in zip(converters, values, strict=True):
        for convert in convs:
            v = convert(v, col, connection)
        converted.append(v)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


@cache
def _statement(for_guide: bool) -> tuple[str, list[tuple[type[Model], list, list]]]:
    parts = [(Conversation, "c"), (Brand, "b"), (Member, "m")] + ([(Staff, "s")] if for_guide else [])
    columns, shapes = [], []
    for model, alias in parts:
        cols, fields = _columns(model, alias)
        columns.append(cols)
        shapes.append((model, fields, _converters(fields, alias)))
    sql = (
        f"SELECT {', '.join(columns)} FROM {sql_meta.table(Conversation)} c"  # noqa: S608 - tables and columns from model meta
        f" JOIN {sql_meta.table(Brand)} b ON b.id = c.brand_id"
        f" JOIN {sql_meta.table(Member)} m ON m.id = c.member_id"
    )
    if for_guide:
        sql += (
            f" JOIN {sql_meta.table(Staff)} s ON s.id = m.guide_id"
            " WHERE c.brand_id = %s AND c.id = %s AND m.guide_id = %s AND c.status = %s"
            " AND s.status = %s AND b.status = %s"
        )
    else:
        sql += " WHERE c.brand_id = %s AND c.id = %s AND c.member_id = %s"
    return sql, shapes


def _one(for_guide: bool, params: list) -> Conversation | None:
    sql, shapes = _statement(for_guide)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    if row is None:
        return None
    objs, at = [], 0
    for model, fields, converters in shapes:
        objs.append(_build(model, fields, converters, row[at : at + len(fields)]))
        at += len(fields)
    conv, brand, member = objs[:3]
    conv._state.fields_cache["brand"] = brand
    conv._state.fields_cache["member"] = member
    if for_guide:
        member._state.fields_cache["guide"] = objs[3]
    return conv


def guide_frame(*, brand_id: int, staff_id: int, conversation_id: int) -> Conversation | None:
    """The conversation with ``.brand``, ``.member`` and ``.member.guide`` if it is this guide's
    now: open, its member's exclusive guide is her, she and the brand are active. Else None."""
    return _one(
        True,
        [
            brand_id, conversation_id, staff_id, Conversation.Status.OPEN,
            Staff.Status.ACTIVE, Brand.Status.ACTIVE,
        ],
    )  # fmt: skip


def shopper_frame(*, brand_id: int, member_id: int, conversation_id: int) -> Conversation | None:
    """The member's conversation with ``.brand`` and ``.member`` (their states are the caller's
    to check), or None."""
    return _one(False, [brand_id, conversation_id, member_id])
