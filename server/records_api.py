"""The read API over the projections: `GET /api/records/<kind>` and `/api/records/<kind>/<id>`.

Filters, sorting and a stable keyset cursor; every row limited to what the caller may see
(a grantee of the record is in the caller's visible set; admins see everything).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from schema import tables as st
from sync import protocol as p
from sync.scope import Principal

from .auth import caller
from .errors import BadRequest, NotFound
from .history import history_of
from .params import IntParam
from .records import merged_card_survivor
from .services import Services, services_of

TEXT_FIELDS = {
    "customer": ("name", "short_name", "code"),
    "visit": ("met_name", "purpose", "result", "place"),
    "service": ("subject", "description", "content"),
    "deal": ("title",),
    "progress": ("detail", "next_step"),
    "task": ("subject", "notes"),
    "trip_plan": ("subject", "region", "notes"),
    "trip_report": ("subject", "purpose", "result", "next_step"),
    "expense": ("subject", "description"),
    "work_report": ("subject", "body"),
}
SORTABLE = ("created_at", "updated_at", "received_at", "seq")
MAX_LIMIT = 500


def _row(r: Any) -> dict[str, Any]:
    return dict(r._mapping)


def _jsonable(value: object) -> object:
    """Projection values JSON has no type for: a calendar day is "YYYY-MM-DD", as in the doc."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class RecordsJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=_jsonable).encode("utf-8")


def _encode_cursor(value: Any, doc_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, doc_id]).encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> tuple[Any, str]:
    try:
        value, doc_id = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        assert isinstance(doc_id, str)
        return value, doc_id
    except Exception:
        raise BadRequest("cursor is not one this API gave out", field="cursor") from None


# The whole-number parameters, declared once: parsed here, shown in the OpenAPI document.
TIME_PARAMS = (  # (parameter, column, lower bound?)
    (IntParam("since", "created_at >= this (ms since the epoch)"), "created_at", True),
    (IntParam("until", "created_at < this (ms since the epoch)"), "created_at", False),
    (IntParam("updated_since", "updated_at >= this (ms since the epoch)"), "updated_at", True),
)
LIMIT = IntParam("limit", "page size", 1, MAX_LIMIT, 50)


async def _principal(request: Request) -> tuple[Services, Principal]:
    _, principal = await caller(request)
    return services_of(request), principal


def _kind(request: Request) -> Table:
    kind = request.path_params["kind"]
    table = st.KIND_TABLES.get(kind)
    if table is None:
        raise NotFound(f"no record kind {kind!r}; kinds: {', '.join(st.KIND_TABLES)}")
    return table


async def list_records(request: Request) -> Response:
    services, principal = await _principal(request)
    table = _kind(request)
    kind = request.path_params["kind"]
    q = request.query_params
    conds: list[ColumnElement[bool]] = []
    if (cond := principal.clause(table.c.doc_id)) is not None:
        conds.append(cond)
    if kind == "customer" and q.get("merged") != "1":
        conds.append(table.c.merged_into.is_(None))
    if kind != "customer" and "customer_id" not in table.c and (
            q.get("customer") or q.get("owner")
    ):
        raise BadRequest(f"{kind} records have no customer", field=(
            "customer" if q.get("customer") else "owner"))
    if customer := q.get("customer"):
        conds.append(table.c.doc_id == customer if kind == "customer"
                     else table.c.customer_id == customer)
    if author := q.get("author"):
        conds.append(table.c.created_by == author)
    if owner := q.get("owner"):
        c = st.rec_customer
        conds.append(table.c.owner == owner if kind == "customer" else table.c.customer_id.in_(
            select(c.c.doc_id).where(c.c.owner == owner)))
    if status := q.get("status"):
        if "status" not in table.c:
            raise BadRequest(f"{kind} records have no status", field="status")
        conds.append(table.c.status == status)
    for param, column, lower in TIME_PARAMS:
        value = param.parse(q.get(param.name))
        if value is not None:
            conds.append(table.c[column] >= value if lower else table.c[column] < value)
    if text := q.get("q", "").strip():
        if len(text) > 100:
            raise BadRequest("q is longer than 100 characters", field="q")
        like = f"%{text.lower()}%"
        conds.append(or_(*(func.lower(table.c[f]).like(like) for f in TEXT_FIELDS[kind])))
    sort_param = q.get("sort", "-updated_at")
    desc = sort_param.startswith("-")
    key = sort_param.lstrip("-")
    if key not in SORTABLE:
        raise BadRequest(f"sort by one of {', '.join(SORTABLE)} (prefix - for descending)",
                         field="sort")
    limit = LIMIT.require(q.get(LIMIT.name))
    col, tie = table.c[key], table.c.doc_id  # sort column, and doc_id to break ties
    if raw := q.get("cursor"):
        value, doc_id = _decode_cursor(raw)
        if desc:
            conds.append(or_(col < value, and_(col == value, tie < doc_id)))
        else:
            conds.append(or_(col > value, and_(col == value, tie > doc_id)))
    order = (col.desc(), tie.desc()) if desc else (col.asc(), tie.asc())
    stmt = select(table).where(*conds).order_by(*order).limit(limit + 1)
    async with services.engine.connect() as conn:
        rows = [_row(r) for r in await conn.execute(stmt)]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _encode_cursor(rows[-1][key], rows[-1]["doc_id"]) if more and rows else None
    return RecordsJSON({"items": rows, "next": nxt})


async def get_record(request: Request) -> Response:
    services, principal = await _principal(request)
    table = _kind(request)
    kind, doc_id = request.path_params["kind"], request.path_params["doc_id"]
    try:
        p.check_doc_id(doc_id, frozenset({kind}))
    except ValueError as e:
        raise NotFound(str(e)) from None
    conds: list[ColumnElement[bool]] = [table.c.doc_id == doc_id]
    if (cond := principal.clause(table.c.doc_id)) is not None:
        conds.append(cond)
    async with services.engine.connect() as conn:
        row = (await conn.execute(select(table).where(*conds))).first()
        if row is None and kind == "customer" and await merged_card_survivor(
            conn, principal, doc_id
        ):
            # merged since: whoever saw the card gets it, its merged_into naming the survivor
            row = (await conn.execute(select(table).where(table.c.doc_id == doc_id))).first()
        if row is None:
            # absent and not yours look the same: ids cannot be probed
            raise NotFound(f"no {kind} {doc_id}")
        children = {}
        for field, child in st.CHILD_TABLES[kind].items():
            order = [c for c in ("position",) if c in child.c]
            stmt = select(child).where(child.c.doc_id == doc_id)
            if order:
                stmt = stmt.order_by(child.c[order[0]])
            children[field] = [_row(r) for r in await conn.execute(stmt)]
        history = await history_of(conn, doc_id)
    return RecordsJSON({"record": {**_row(row), **children}, "history": history})


def routes() -> list[BaseRoute]:
    return [
        Route("/api/records/{kind}", list_records, methods=["GET"]),
        Route("/api/records/{kind}/{doc_id}", get_record, methods=["GET"]),
    ]
