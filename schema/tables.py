"""SQL projections of records: one typed table per kind plus child tables for lists.

The tables are derived from the declarations in `schema.kinds`. A row is a pure function of
the record and its `ProjectionMeta`, so rebuilding from the docs yields identical tables.
Works on SQLite and PostgreSQL alike (delete then insert, no dialect upserts).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from schema.derive import completeness, expected_subject, follow_up_days, stage_probability
from schema.formats import is_date
from schema.kinds import KINDS, Field, Kind, get_kind
from schema.names import canonical_name

metadata = MetaData()

# Columns worth an index: the filters of the read API and the visibility queries.
_INDEXED = {"customer_id", "deal_id", "owner", "created_by", "code", "status", "created_at",
            "assignee", "planned_start", "trip_id", "approval_status", "expense_date",
            "period_start", "plan_id"}


@dataclass(frozen=True)
class ProjectionMeta:
    """What the server knows about a record beyond its fields.

    seq: the log sequence of the last change folded into the record.
    updated_at: when that change was committed (server clock, ms).
    received_at: when the server first received the record (server clock, ms).
    """

    seq: int
    updated_at: int
    received_at: int


def _sql_type(f: Field) -> TypeEngine[Any]:
    if f.y_type == "text":
        return Text()
    types: dict[str, TypeEngine[Any]] = {
        "integer": Integer(),
        "timestamp": BigInteger(),
        "number": Float(),
        "boolean": Boolean(),
        "date": Date(),
    }
    return types.get(f.type, String())


def _field_columns(fields: tuple[Field, ...]) -> list[Column[Any]]:
    return [
        Column(f.name, _sql_type(f), index=f.name in _INDEXED)
        for f in fields
        if f.y_type != "array"
    ]


def _kind_table(kind: Kind) -> Table:
    extra: list[Column[Any]] = []
    if kind.name == "customer":
        extra = [
            Column("name_key", Text(), index=True),
            Column("completeness", Integer(), nullable=False),
        ]
    elif kind.name == "deal":
        extra = [Column("follow_up_days", Integer())]
    return Table(
        kind.table,
        metadata,
        Column("doc_id", String(), primary_key=True),
        # customers are paged by seq (the likely-duplicate finder, the offline index)
        Column("seq", BigInteger(), nullable=False, index=kind.name == "customer"),
        Column("updated_at", BigInteger(), nullable=False),
        Column("received_at", BigInteger(), nullable=False),
        *_field_columns(kind.fields),
        *extra,
    )


KIND_TABLES: dict[str, Table] = {name: _kind_table(k) for name, k in KINDS.items()}


def _child_table(f: Field) -> Table:
    assert f.table is not None
    if f.table in metadata.tables:
        return metadata.tables[f.table]
    if not f.items and f.ordered:
        return Table(
            f.table,
            metadata,
            Column("doc_id", String(), nullable=False),
            Column("position", Integer(), nullable=False),
            Column("user_id", String(), nullable=False, index=True),
            PrimaryKeyConstraint("doc_id", "position"),
        )
    if not f.items:
        return Table(
            f.table,
            metadata,
            Column("doc_id", String(), nullable=False),
            Column("user_id", String(), nullable=False, index=True),
            PrimaryKeyConstraint("doc_id", "user_id"),
        )
    kind_col = [Column("kind", String(), nullable=False)] if f.name == "attachments" else []
    index = {"sha256"} if f.name == "attachments" else set()
    return Table(
        f.table,
        metadata,
        Column("doc_id", String(), nullable=False),
        Column("position", Integer(), nullable=False),
        *kind_col,
        *(
            Column(i.name, _sql_type(i), index=i.name in index)
            for i in f.items
            if i.y_type != "array"
        ),
        PrimaryKeyConstraint("doc_id", "position"),
    )


# kind name -> list field name -> child table
CHILD_TABLES: dict[str, dict[str, Table]] = {
    name: {f.name: _child_table(f) for f in k.fields if f.y_type == "array" and f.table}
    for name, k in KINDS.items()
}

rec_customer = KIND_TABLES["customer"]
rec_visit = KIND_TABLES["visit"]
rec_service = KIND_TABLES["service"]
rec_deal = KIND_TABLES["deal"]
rec_progress = KIND_TABLES["progress"]
rec_task = KIND_TABLES["task"]
rec_trip_plan = KIND_TABLES["trip_plan"]
rec_trip_report = KIND_TABLES["trip_report"]
rec_expense = KIND_TABLES["expense"]
rec_work_report = KIND_TABLES["work_report"]
rec_approver = metadata.tables["rec_approver"]
rec_approval_step = metadata.tables["rec_approval_step"]
rec_trip_stop = metadata.tables["rec_trip_stop"]
rec_customer_contact = metadata.tables["rec_customer_contact"]
rec_customer_share = metadata.tables["rec_customer_share"]
rec_service_product = metadata.tables["rec_service_product"]
rec_deal_product = metadata.tables["rec_deal_product"]
rec_attachment = metadata.tables["rec_attachment"]


# --- rows --------------------------------------------------------------------------------


def _column_value(f: Field, value: Any) -> Any:
    """The value for `f`'s column, or None when the record holds something of another type
    (a projection must never fail on a record that validation would refuse)."""
    if value is None or f.y_type == "array":
        return None
    if f.type in ("string", "doc_id", "user_id"):
        return value if isinstance(value, str) else None
    if f.type == "date":
        if isinstance(value, str) and is_date(value):
            return datetime.date.fromisoformat(value)
        return None
    if f.type in ("integer", "timestamp"):
        if isinstance(value, bool):
            return None
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) else None
    if f.type == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok and math.isfinite(value) else None
    if f.type == "boolean":
        return value if isinstance(value, bool) else None
    return None


def _scalar_row(fields: tuple[Field, ...], record: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: _column_value(f, record.get(f.name)) for f in fields if f.y_type != "array"}


def projection_rows(
    kind: str, doc_id: str, record: Mapping[str, Any], meta: ProjectionMeta
) -> dict[str, list[dict[str, Any]]]:
    """Rows per table name for one record: a pure function of its arguments."""
    k = get_kind(kind)
    row: dict[str, Any] = {
        "doc_id": doc_id,
        "seq": meta.seq,
        "updated_at": meta.updated_at,
        "received_at": meta.received_at,
        **_scalar_row(k.fields, record),
    }
    if k.name == "customer":
        name = row.get("name")
        # The duplicate rule's key: exact matches on it merge (schema.names).
        row["name_key"] = canonical_name(name) if isinstance(name, str) else None
        row["completeness"] = completeness(record)[0]
        if row.get("security_level") is None:
            row["security_level"] = 0
    elif k.name == "service":
        # The subject is derived: store what it must be, whatever the device wrote.
        row["subject"] = expected_subject(record)
    elif k.name == "deal":
        stage = row.get("stage")
        row["probability"] = stage_probability(stage) if isinstance(stage, int) else None
        row["follow_up_days"] = follow_up_days(row.get("deal_class"))
    rows: dict[str, list[dict[str, Any]]] = {k.table: [row]}
    for f in k.fields:
        if f.y_type != "array" or f.table is None:
            continue
        items = record.get(f.name)
        items = items if isinstance(items, list) else []
        child: list[dict[str, Any]] = rows.setdefault(f.table, [])
        if not f.items and f.ordered:
            for position, user_id in enumerate(i for i in items if isinstance(i, str)):
                child.append({"doc_id": doc_id, "position": position, "user_id": user_id})
            continue
        if not f.items:
            for user_id in sorted({i for i in items if isinstance(i, str)}):
                child.append({"doc_id": doc_id, "user_id": user_id})
            continue
        for position, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            crow = {"doc_id": doc_id, "position": position, **_scalar_row(f.items, item)}
            if f.name == "attachments":
                crow["kind"] = k.name
            child.append(crow)
    return rows


def tables_of(kind: str) -> list[Table]:
    """The tables holding rows of `kind`: its own table, then its child tables."""
    k = get_kind(kind)
    return [KIND_TABLES[k.name], *CHILD_TABLES[k.name].values()]


async def delete_projection(conn: AsyncConnection, doc_id: str, kind: str) -> None:
    """Remove every row of the record `doc_id`."""
    for table in tables_of(kind):
        await conn.execute(delete(table).where(table.c.doc_id == doc_id))


async def project(
    conn: AsyncConnection,
    doc_id: str,
    kind: str,
    record: Mapping[str, Any],
    meta: ProjectionMeta,
) -> None:
    """Make the projection of `doc_id` match `record`: upsert its row, replace its child
    rows. Runs inside the caller's transaction."""
    rows = projection_rows(kind, doc_id, record, meta)
    await delete_projection(conn, doc_id, kind)
    for table in tables_of(kind):
        table_rows = rows.get(table.name)
        if table_rows:
            await conn.execute(insert(table), table_rows)


async def dump_projections(conn: AsyncConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row, sorted, per table: for comparing a rebuild with the original."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in metadata.sorted_tables:
        result = await conn.execute(select(table))
        out[table.name] = sorted((tuple(r) for r in result), key=repr)
    return out
