"""What a viewer may read, as SQL: the visibility filter, the review lists with their
filters and sorting, one record with its children, and a customer's timeline.

Every query here goes through `visible()`: a record is readable when one of its grantees
(`sync_grants`) is in the viewer's subtree; admins read everything.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import KeyedColumnElement

from schema import tables as st
from schema.kinds import KINDS, get_kind
from server import tables as t
from server.errors import NotFound
from server.records import merged_card_survivor

from .auth import Viewer
from .columns import Col, field_col
from .i18n import day_start_ms

PAGE_SIZE = 50


# -- filters from the query string -------------------------------------------------------------


# Records' times lie in 2000-2100 (schema.kinds); a day outside is no filter at all, and
# the day arithmetic of a bound near the calendar's ends (9999-12-31 + 1) cannot overflow.
FIRST_DAY, LAST_DAY = datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)


def parse_day(value: str | None) -> datetime.date | None:
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def parse_moment(value: str | None) -> int | None:
    """A date or a date and time (China time) from a form, as ms."""
    if not value:
        return None
    try:
        dt = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    from schema.derive import CST

    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CST)
    return int(dt.timestamp() * 1000)


@dataclass
class Filters:
    member: str = ""
    customer: str = ""  # a customer doc id
    q: str = ""  # customer name or code contains
    kind: str = ""
    status: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    synced_since: int | None = None
    sort: str = ""
    desc: bool = True
    page: int = 1

    @classmethod
    def from_query(cls, q: Mapping[str, str]) -> Filters:
        try:
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            member=q.get("member", ""),
            customer=q.get("customer", ""),
            q=q.get("q", "").strip(),
            kind=q.get("kind", ""),
            status=q.get("status", ""),
            date_from=parse_day(q.get("from")),
            date_to=parse_day(q.get("to")),
            synced_since=parse_moment(q.get("synced_since")),
            sort=q.get("sort", ""),
            desc=q.get("dir", "desc") != "asc",
            page=page,
        )


# -- the review lists ----------------------------------------------------------------------


@dataclass
class ListSpec:
    name: str  # URL segment
    kind: str
    title_en: str
    member_col: str  # the column naming the team member: owner or author
    kind_field: str
    status_field: str | None
    date_col: str
    default_sort: str
    cols: list[tuple[Col, Any]] = field(default_factory=list)
    joins: list[tuple[Any, Any]] = field(default_factory=list)
    extra: list[tuple[str, Any]] = field(default_factory=list)  # read for the page, not shown

    @property
    def table(self) -> Any:
        return st.KIND_TABLES[self.kind]


_owner = t.users.alias("owner_user")
_author = t.users.alias("author_user")
_cust = st.rec_customer.alias("cust")
_assignee = t.users.alias("assignee_user")


def _f(kind: str, name: str, **over: Any) -> Col:
    return field_col(get_kind(kind).field(name), **over)


def _deal_value(deal_doc: Any) -> Any:
    p = st.rec_deal_product
    return (
        select(func.sum(func.coalesce(p.c.quantity, 0) * func.coalesce(p.c.unit_price, 0.0)))
        .where(p.c.doc_id == deal_doc)
        .scalar_subquery()
    )


def _specs() -> dict[str, ListSpec]:
    c, v, s, d = st.rec_customer, st.rec_visit, st.rec_service, st.rec_deal
    customer_name = Col("customer_name", "Customer", sortable=True, link="customer_id",
                        width=30)
    synced = Col("received_at", "Synced", fmt="ms", sortable=True, width=17)
    lag = Col("lag", "Sync lag", fmt="duration", sortable=True)
    customers = ListSpec(
        "customers", "customer", "Customers", "owner", "tier", "status", "created_at",
        "updated_at",
        cols=[
            (_f("customer", "code", sortable=True), c.c.code),
            (_f("customer", "name", sortable=True, link="doc_id", width=32), c.c.name),
            (_f("customer", "category"), c.c.category),
            (_f("customer", "tier", sortable=True), c.c.tier),
            (_f("customer", "status", sortable=True), c.c.status),
            (_f("customer", "level"), c.c.level),
            (Col("owner_name", "Owner", sortable=True), _owner.c.name),
            (_f("customer", "city", sortable=True), c.c.city),
            (Col("completeness", "Complete", fmt="int", sortable=True), c.c.completeness),
            (_f("customer", "created_at", sortable=True, width=17), c.c.created_at),
            (Col("updated_at", "Updated", fmt="ms", sortable=True, width=17), c.c.updated_at),
        ],
        joins=[(_owner, _owner.c.id == c.c.owner)],
    )
    visits = ListSpec(
        "visits", "visit", "Visits", "created_by", "visit_type", None, "started_at",
        "started_at",
        cols=[
            (_f("visit", "started_at", sortable=True, link="doc_id", width=17), v.c.started_at),
            (customer_name, _cust.c.name),
            (_f("visit", "visit_type", sortable=True), v.c.visit_type),
            (_f("visit", "met_name"), v.c.met_name),
            (_f("visit", "purpose", width=30), v.c.purpose),
            (_f("visit", "result", width=40), v.c.result),
            (Col("author_name", "Author", sortable=True), _author.c.name),
            (synced, v.c.received_at),
            (lag, v.c.received_at - v.c.created_at),
        ],
        joins=[(_cust, _cust.c.doc_id == v.c.customer_id),
               (_author, _author.c.id == v.c.created_by)],
    )
    services = ListSpec(
        "services", "service", "Service sheets", "created_by", "service_type", "status",
        "service_date", "service_date",
        cols=[
            (_f("service", "service_date", sortable=True), s.c.service_date),
            (_f("service", "subject", link="doc_id", width=28), s.c.subject),
            (customer_name, _cust.c.name),
            (_f("service", "status", sortable=True), s.c.status),
            (_f("service", "service_type", sortable=True), s.c.service_type),
            (Col("author_name", "Engineer", sortable=True), _author.c.name),
            (_f("service", "responded_at", sortable=True, width=17), s.c.responded_at),
            (_f("service", "completed_at", sortable=True, width=17), s.c.completed_at),
            (synced, s.c.received_at),
            (lag, s.c.received_at - s.c.created_at),
        ],
        joins=[(_cust, _cust.c.doc_id == s.c.customer_id),
               (_author, _author.c.id == s.c.created_by)],
    )
    deals = ListSpec(
        "deals", "deal", "Deals", "created_by", "deal_class", None, "expected_close_date",
        "updated_at",
        cols=[
            (_f("deal", "title", sortable=True, link="doc_id", width=30), d.c.title),
            (customer_name, _cust.c.name),
            (_f("deal", "deal_class", sortable=True), d.c.deal_class),
            (_f("deal", "stage", sortable=True), d.c.stage),
            (_f("deal", "probability", sortable=True), d.c.probability),
            (Col("value", "Value", fmt="money", sortable=True), _deal_value(d.c.doc_id)),
            (_f("deal", "expected_close_date", sortable=True), d.c.expected_close_date),
            (Col("author_name", "Author", sortable=True), _author.c.name),
            (Col("updated_at", "Updated", fmt="ms", sortable=True, width=17), d.c.updated_at),
        ],
        joins=[(_cust, _cust.c.doc_id == d.c.customer_id),
               (_author, _author.c.id == d.c.created_by)],
    )
    k = st.KIND_TABLES["task"]
    tasks = ListSpec(
        "tasks", "task", "Tasks", "assignee", "task_type", "status", "planned_start",
        "planned_start",
        cols=[
            (_f("task", "planned_start", sortable=True, link="doc_id", width=17),
             k.c.planned_start),
            (_f("task", "subject", sortable=True, width=30), k.c.subject),
            (customer_name, _cust.c.name),
            (_f("task", "task_type", sortable=True), k.c.task_type),
            (_f("task", "priority"), k.c.priority),
            (_f("task", "status", sortable=True), k.c.status),
            (Col("assignee_name", "Assignee", "执行人", sortable=True), _assignee.c.name),
            (_f("task", "remind_at", sortable=True, width=17), k.c.remind_at),
            (_f("task", "completed_at", sortable=True, width=17), k.c.completed_at),
        ],
        joins=[(_cust, _cust.c.doc_id == k.c.customer_id),
               (_assignee, _assignee.c.id == k.c.assignee)],
        extra=[("planned_end", k.c.planned_end)],  # with the start: when it is due
    )
    return {x.name: x for x in (customers, visits, services, deals, tasks)}


LISTS = _specs()


def _date_bounds(col: Any, f: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    is_date = str(col.type).upper() == "DATE"
    if f.date_from is not None:
        out.append(col >= (f.date_from if is_date else day_start_ms(f.date_from)))
    if f.date_to is not None:
        end = f.date_to + datetime.timedelta(days=1)
        out.append(col < (end if is_date else day_start_ms(end)))
    return out


def list_select(spec: ListSpec, viewer: Viewer, f: Filters) -> tuple[Select[Any], Select[Any]]:
    """(rows statement ordered but not paged, count statement) for a review list."""
    table = spec.table
    exprs = [table.c.doc_id.label("doc_id")]
    if spec.kind != "customer":
        exprs.append(table.c.customer_id.label("customer_id"))
    exprs += [e.label(col.key) for col, e in spec.cols]
    exprs += [e.label(key) for key, e in spec.extra]
    frm: Any = table
    for alias, on in spec.joins:
        frm = frm.outerjoin(alias, on)
    conds: list[ColumnElement[bool]] = []
    vis = viewer.principal.clause(table.c.doc_id)
    if vis is not None:
        conds.append(vis)
    if spec.kind == "customer":
        conds.append(table.c.merged_into.is_(None))
    if f.member:
        conds.append(table.c[spec.member_col] == f.member)
    if f.customer and spec.kind != "customer":
        conds.append(table.c.customer_id == f.customer)
    if f.q:
        named = table if spec.kind == "customer" else _cust
        like = f"%{f.q}%"
        conds.append(or_(named.c.name.ilike(like), named.c.code.ilike(like),
                         named.c.short_name.ilike(like)))
    if f.kind:
        conds.append(table.c[spec.kind_field] == f.kind)
    if f.status and spec.status_field:
        conds.append(table.c[spec.status_field] == f.status)
    conds += _date_bounds(table.c[spec.date_col], f)
    if f.synced_since is not None:
        conds.append(table.c.updated_at >= f.synced_since)
    where = and_(*conds) if conds else literal(True)
    stmt = select(*exprs).select_from(frm).where(where)
    # The outer joins add columns, never rows: count without them unless a filter needs one.
    count = select(func.count()).select_from(frm if f.q else table).where(where)
    sortable = {col.key: e for col, e in spec.cols if col.sortable}
    key = f.sort if f.sort in sortable else spec.default_sort
    expr = sortable.get(key, table.c[spec.default_sort] if key in table.c else table.c.seq)
    order: KeyedColumnElement[Any] | Any = expr.desc() if f.desc else expr.asc()
    stmt = stmt.order_by(order.nulls_last() if f.desc else order.nulls_first(),
                         table.c.doc_id)
    return stmt, count


async def list_page(
    conn: AsyncConnection, spec: ListSpec, viewer: Viewer, f: Filters
) -> tuple[list[Any], int]:
    stmt, count = list_select(spec, viewer, f)
    total = int((await conn.execute(count)).scalar_one())
    rows = list(await conn.execute(stmt.limit(PAGE_SIZE).offset((f.page - 1) * PAGE_SIZE)))
    return rows, total


# -- one record ----------------------------------------------------------------------------


def kind_of(doc_id: str) -> str:
    kind = doc_id.split(":", 1)[0]
    if kind not in KINDS or ":" not in doc_id or len(doc_id) > 80:
        raise NotFound("no such record")
    return kind


@dataclass
class Record:
    doc_id: str
    kind: str
    row: Mapping[str, Any]
    children: dict[str, list[Mapping[str, Any]]]
    customer: Mapping[str, Any] | None


async def load_record(conn: AsyncConnection, viewer: Viewer, doc_id: str) -> Record:
    """The record with its list items, or NotFound when absent or not visible (the same
    answer either way, so ids cannot be probed)."""
    kind = kind_of(doc_id)
    if not await viewer.principal.can_see(conn, doc_id) and not (
        kind == "customer" and await merged_card_survivor(conn, viewer.principal, doc_id)
    ):
        raise NotFound("no such record")
    table = st.KIND_TABLES[kind]
    found = (await conn.execute(select(table).where(table.c.doc_id == doc_id))).mappings().first()
    if found is None:
        raise NotFound("no such record")
    row = dict(found)
    children: dict[str, list[Mapping[str, Any]]] = {}
    for name, child in st.CHILD_TABLES[kind].items():
        q = select(child).where(child.c.doc_id == doc_id)
        if "position" in child.c:
            q = q.order_by(child.c.position)
        children[name] = [dict(m) for m in (await conn.execute(q)).mappings()]
    customer: dict[str, Any] | None = None
    cid = row.get("customer_id")
    if isinstance(cid, str) and await viewer.principal.can_see(conn, cid):
        c = (
            await conn.execute(select(st.rec_customer).where(st.rec_customer.c.doc_id == cid))
        ).mappings().first()
        customer = None if c is None else dict(c)
    return Record(doc_id, kind, row, children, customer)


async def linked(
    conn: AsyncConnection, viewer: Viewer, doc_ids: Iterable[str]
) -> dict[str, Mapping[str, Any]]:
    """The projection rows of those of `doc_ids` the viewer sees, by doc id: what a record
    page needs to name the records it links to."""
    by_kind: dict[str, list[str]] = {}
    seen = await viewer.principal.seen_of(
        conn, [d for d in doc_ids if d.split(":", 1)[0] in KINDS and ":" in d])
    for d in seen:
        by_kind.setdefault(d.split(":", 1)[0], []).append(d)
    out: dict[str, Mapping[str, Any]] = {}
    for kind, ids in by_kind.items():
        table = st.KIND_TABLES[kind]
        for m in (await conn.execute(select(table).where(table.c.doc_id.in_(ids)))).mappings():
            out[m["doc_id"]] = dict(m)
    return out


async def tasks_done_with(
    conn: AsyncConnection, viewer: Viewer, doc_id: str
) -> list[Mapping[str, Any]]:
    """The visible tasks that this record (a visit, progress record or service sheet)
    completed."""
    k = st.KIND_TABLES["task"]
    q = viewer.principal.only_seen(
        select(k.c.doc_id, k.c.subject, k.c.planned_start).where(k.c.done_with == doc_id)
        .order_by(k.c.planned_start), k.c.doc_id)
    return [dict(m) for m in (await conn.execute(q)).mappings()]


@dataclass
class TripRecords:
    """The records of one trip: those whose `trip_id` is the plan (listed, never copied)."""

    plan_id: str
    visits: list[Mapping[str, Any]]
    services: list[Mapping[str, Any]]
    expenses: list[Mapping[str, Any]]
    tasks: list[Mapping[str, Any]]
    reports: list[Mapping[str, Any]]

    @property
    def expense_total_fen(self) -> int:
        return sum(int(e["amount_fen"] or 0) for e in self.expenses)


async def trip_records(conn: AsyncConnection, viewer: Viewer, rec: Record) -> TripRecords | None:
    """For a trip plan or trip report: the plan's visible visits, service sheets, expenses,
    planned tasks and reports; None for any other record."""
    if rec.kind == "trip_plan":
        plan = rec.doc_id
    elif rec.kind == "trip_report" and isinstance(rec.row.get("plan_id"), str):
        plan = str(rec.row["plan_id"])
    else:
        return None
    v, s, c = st.rec_visit, st.rec_service, st.rec_customer
    e, k, r = (st.KIND_TABLES[n] for n in ("expense", "task", "trip_report"))

    async def rows(q: Select[Any], doc: Any) -> list[Mapping[str, Any]]:
        return [dict(m) for m in (await conn.execute(viewer.principal.only_seen(q, doc)))
                .mappings()]

    visits = await rows(
        select(v.c.doc_id, v.c.started_at, v.c.visit_type, v.c.purpose, v.c.result,
               c.c.name.label("customer"), v.c.customer_id)
        .select_from(v.outerjoin(c, c.c.doc_id == v.c.customer_id))
        .where(v.c.trip_id == plan).order_by(v.c.started_at), v.c.doc_id)
    services = await rows(
        select(s.c.doc_id, s.c.service_date, s.c.subject, s.c.status,
               c.c.name.label("customer"), s.c.customer_id)
        .select_from(s.outerjoin(c, c.c.doc_id == s.c.customer_id))
        .where(s.c.trip_id == plan).order_by(s.c.service_date), s.c.doc_id)
    expenses = await rows(
        select(e.c.doc_id, e.c.expense_date, e.c.subject, e.c.expense_type, e.c.amount_fen,
               e.c.approval_status)
        .where(e.c.trip_id == plan).order_by(e.c.expense_date, e.c.doc_id), e.c.doc_id)
    tasks = [] if "trip_id" not in k.c else await rows(
        select(k.c.doc_id, k.c.planned_start, k.c.subject, k.c.status)
        .where(k.c.trip_id == plan).order_by(k.c.planned_start), k.c.doc_id)
    reports = await rows(
        select(r.c.doc_id, r.c.subject, r.c.started_at, r.c.ended_at)
        .where(r.c.plan_id == plan, r.c.doc_id != rec.doc_id), r.c.doc_id)
    return TripRecords(plan, visits, services, expenses, tasks, reports)


@dataclass
class TimelineItem:
    at: int | None
    kind: str
    doc_id: str
    title: str
    detail: str
    author: str | None
    status: str | None = None


async def timeline(conn: AsyncConnection, viewer: Viewer, customer_id: str) -> list[TimelineItem]:
    """Every visible record of a customer, newest first: visits, service sheets, deals,
    progress records, trip plans with a stop at it (at their first day) and its expenses."""
    v, s, d, p = st.rec_visit, st.rec_service, st.rec_deal, st.rec_progress
    items: list[TimelineItem] = []
    queries: list[tuple[str, Select[Any]]] = [
        ("visit", select(v.c.doc_id, func.coalesce(v.c.started_at, v.c.created_at),
                         v.c.visit_type, v.c.result, v.c.created_by, v.c.purpose)
         .where(v.c.customer_id == customer_id)),
        ("service", select(s.c.doc_id, func.coalesce(s.c.responded_at, s.c.created_at),
                           s.c.subject, s.c.content, s.c.created_by, s.c.status)
         .where(s.c.customer_id == customer_id)),
        ("deal", select(d.c.doc_id, d.c.created_at, d.c.title, d.c.deal_class, d.c.created_by,
                        d.c.stage)
         .where(d.c.customer_id == customer_id)),
        ("progress", select(p.c.doc_id, p.c.created_at, p.c.detail, p.c.next_step,
                            p.c.created_by, p.c.stage)
         .where(p.c.customer_id == customer_id)),
    ]
    if "trip_plan" in st.KIND_TABLES:  # trips with a stop at the customer, its expenses
        tp, stop, e = (st.KIND_TABLES["trip_plan"], st.CHILD_TABLES["trip_plan"]["stops"],
                       st.KIND_TABLES["expense"])
        at_customer = select(stop.c.doc_id).where(stop.c.customer_id == customer_id)
        queries += [
            ("trip_plan", select(tp.c.doc_id, tp.c.start_date,
                                 tp.c.subject, tp.c.region, tp.c.created_by,
                                 tp.c.approval_status)
             .where(tp.c.doc_id.in_(at_customer))),
            ("expense", select(e.c.doc_id, e.c.expense_date,
                               e.c.subject, e.c.amount_fen, e.c.created_by, e.c.approval_status)
             .where(e.c.customer_id == customer_id)),
        ]
    for kind, q in queries:
        q = viewer.principal.only_seen(q, q.selected_columns[0])
        for r in await conn.execute(q):
            at = day_start_ms(r[1]) if isinstance(r[1], datetime.date) else r[1]  # a day
            items.append(TimelineItem(at, kind, r[0], str(r[2] or ""), str(r[3] or ""),
                                      r[4], None if r[5] is None else str(r[5])))
    items.sort(key=lambda i: i.at or 0, reverse=True)
    return items


async def user_names(conn: AsyncConnection) -> dict[str, str]:
    return {r.id: r.name for r in await conn.execute(select(t.users.c.id, t.users.c.name))}
