"""Inserting many rows in one statement, skipping those a unique constraint already holds.

On PostgreSQL the rows are COPYed into a temporary table and inserted from it with
``ON CONFLICT DO NOTHING``: the INSERT runs on the caller's connection, inside its brand scope, so
row-level security checks every row as for any other insert. Elsewhere (SQLite) ``bulk_create``.
"""

from __future__ import annotations

import io
import itertools
import json

from django.db import connection

_temp_tables = itertools.count(1)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_format(db_type: str):
    """How one column's values are written in COPY's text format (None is NULL)."""
    if db_type in ("bigint", "integer", "smallint"):
        return lambda v: "\\N" if v is None else str(v)
    if db_type == "boolean":
        return lambda v: "\\N" if v is None else ("t" if v else "f")
    if db_type.startswith("timestamp"):
        return lambda v: "\\N" if v is None else v.isoformat()
    if db_type == "jsonb":
        return lambda v: (
            "\\N"
            if v is None
            else json.dumps(v, separators=(",", ":"), ensure_ascii=False).translate(_COPY_ESCAPES)
        )
    return lambda v: "\\N" if v is None else str(v).translate(_COPY_ESCAPES)


def insert_rows(model, rows: list[dict], *, returning: str | None = None) -> list | None:
    """INSERT many rows, skipping those that collide with a unique constraint. On PostgreSQL the rows
    are COPYed into a temporary table and inserted from it in one statement (with ``returning``, the
    values of that column for the rows actually inserted); elsewhere bulk_create (no returning)."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**r) for r in rows], ignore_conflicts=True, batch_size=500)
        return None
    meta = model._meta
    names = list(rows[0].keys())
    columns, types = [], []
    for n in names:
        f = meta.get_field(n)
        db_type = f.rel_db_type(connection) if f.is_relation else f.db_type(connection)
        db_type = {"serial": "integer", "bigserial": "bigint"}.get(db_type, db_type)
        columns.append(f.column)
        types.append("text" if db_type.startswith("varchar") else db_type.split(" CHECK")[0])
    # Columns with one value for every row (brand, timestamps of the run) go in as parameters.
    first = rows[0]
    constant = {n for n in names if all(r[n] == first[n] for r in rows)} if len(rows) > 1 else set()
    varying = [(n, c, t) for n, c, t in zip(names, columns, types, strict=True) if n not in constant]
    formats = [(n, _copy_format(t)) for n, _c, t in varying]
    buf = io.StringIO()
    buf.writelines("\t".join([fmt(r[n]) for n, fmt in formats]) + "\n" for r in rows)
    buf.seek(0)
    temp = f"_bulk_{meta.db_table}_{next(_temp_tables)}"
    copied = ", ".join(c for _n, c, _t in varying)
    fixed = [(c, t, first[n]) for n, c, t in zip(names, columns, types, strict=True) if n in constant]
    params = [json.dumps(v) if t == "jsonb" else v for _c, t, v in fixed]
    target = (
        ", ".join([copied, *(c for c, _t, _v in fixed)]) if copied else ", ".join(c for c, _t, _v in fixed)
    )
    select = ", ".join([*([copied] if copied else []), *(f"%s::{t}" for _c, t, _v in fixed)])
    # Table, column and type names come from the model's metadata; values travel by COPY or as parameters.
    sql = f"INSERT INTO {meta.db_table} ({target}) SELECT {select} FROM {temp} ON CONFLICT DO NOTHING"  # noqa: S608
    if returning:
        sql += f" RETURNING {meta.get_field(returning).column}"
    with connection.cursor() as cur:
        defs = ", ".join(f"{c} {t}" for _n, c, t in varying) or "_row integer"
        cur.execute(f"CREATE TEMP TABLE {temp} ({defs})")
        if varying:
            cur.copy_expert(f"COPY {temp} ({copied}) FROM STDIN", buf)
        else:
            cur.execute(f"INSERT INTO {temp} SELECT generate_series(1, %s)", [len(rows)])  # noqa: S608
        cur.execute(sql, params)
        out = [r[0] for r in cur.fetchall()] if returning else None
        cur.execute(f"DROP TABLE {temp}")
        return out
