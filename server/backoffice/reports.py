"""The reports the policy asks for (seed 000): contact frequency (§3.4), the deals
pipeline and follow-ups (§4.1, §4.3.4), service rankings (§5.8), field activity with
sync lag, open and overdue tasks per assignee, and expenses (§6.1) by rep, month, type
and customer. Aggregates are computed in SQL over
the projections, within what the viewer sees.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import BigInteger, String, and_, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from schema import duties
from schema import tables as st
from schema.kinds import get_kind
from server import tables as t
from sync.log import now_ms

from . import charts
from .auth import Viewer
from .columns import Col, Table, field_col, yuan
from .i18n import day_start_ms, gettext, today_cst
from .queries import parse_day

DAY = 86_400_000
WEEK = 7 * DAY
# Monday 1970-01-05 00:00 in China is 1970-01-04 16:00 UTC: weeks start on Monday, CST.
WEEK_ORIGIN = 4 * DAY - 8 * 3_600_000
OPEN_CLASSES = ("short", "medium", "lead")
REPAIRS = ("warranty_repair", "paid_repair")
# 000 §3.4.1: at least 10 core and 20 high-growth direct customers per rep.
MIN_CORE, MIN_HIGH_GROWTH = 10, 20


@dataclass
class Params:
    as_of: datetime.date
    date_from: datetime.date | None
    date_to: datetime.date | None
    member: str
    kind: str

    @classmethod
    def from_query(cls, q: Mapping[str, str], *, default_weeks: int | None = None) -> Params:
        as_of = parse_day(q.get("as_of")) or today_cst()
        date_from = parse_day(q.get("from"))
        date_to = parse_day(q.get("to"))
        if default_weeks is not None and date_from is None and date_to is None:
            date_to = as_of
            monday = as_of - datetime.timedelta(days=as_of.weekday())
            date_from = monday - datetime.timedelta(weeks=default_weeks - 1)
        return cls(as_of, date_from, date_to, q.get("member", ""), q.get("kind", ""))


@dataclass
class Report:
    name: str
    title: str
    tables: list[Table]
    charts: list[tuple[str, Markup]] = field(default_factory=list)
    elapsed_ms: float = 0.0
    pivot: dict[str, Any] | None = None


def _names(conn_rows: Any) -> dict[str, str]:
    return {r.id: r.name for r in conn_rows}


async def _users(conn: AsyncConnection) -> dict[str, str]:
    return _names(await conn.execute(select(t.users.c.id, t.users.c.name)))


def _end_ms(day: datetime.date) -> int:
    return day_start_ms(day + datetime.timedelta(days=1))


# -- contact frequency (000 §3.4) --------------------------------------------------------------


async def contact_report(conn: AsyncConnection, viewer: Viewer, p: Params, lang: str) -> Report:
    c, v, pr, d = st.rec_customer, st.rec_visit, st.rec_progress, st.rec_deal
    end = _end_ms(p.as_of)
    when = func.coalesce(v.c.started_at, v.c.created_at)
    contacts = union_all(
        select(v.c.customer_id.label("cid"), func.max(when).label("at"))
        .where(v.c.submitted_at.is_not(None), when < end).group_by(v.c.customer_id),
        select(pr.c.customer_id.label("cid"), func.max(pr.c.created_at).label("at"))
        .where(pr.c.count_as_contact.is_(True), pr.c.submitted_at.is_not(None),
               pr.c.created_at < end).group_by(pr.c.customer_id),
    ).subquery()
    last = select(contacts.c.cid, func.max(contacts.c.at).label("at")).group_by(
        contacts.c.cid).subquery()
    short = (
        select(d.c.customer_id).where(d.c.deal_class == "short").distinct().subquery()
    )
    q = (
        select(c.c.doc_id, c.c.code, c.c.name, c.c.category, c.c.tier, c.c.owner, last.c.at,
               c.c.created_at, short.c.customer_id.is_not(None).label("has_short"))
        .select_from(c.outerjoin(last, last.c.cid == c.c.doc_id)
                     .outerjoin(short, short.c.customer_id == c.c.doc_id))
        .where(c.c.category == "direct", c.c.tier.in_(("core", "high_growth")),
               c.c.merged_into.is_(None))
    )
    if p.member:
        q = q.where(c.c.owner == p.member)
    q = viewer.principal.only_seen(q, c.c.doc_id)
    names = await _users(conn)
    per_rep: dict[str, list[int]] = {}  # owner -> [core, high_growth, duty, overdue]
    overdue: list[tuple[Any, ...]] = []
    tier_field = get_kind("customer").field("tier")
    for r in await conn.execute(q):
        owner = r.owner or ""
        counts = per_rep.setdefault(owner, [0, 0, 0, 0])
        counts[0 if r.tier == "core" else 1] += 1
        days = duties.contact_duty_days(
            {"category": r.category, "tier": r.tier},
            [{"deal_class": "short"}] if r.has_short else [])
        if days is None:
            continue
        counts[2] += 1
        # never contacted: late from its creation (schema.duties says why)
        late = duties.days_late(r.at if r.at is not None else r.created_at or end, days, end)
        if late is not None:
            counts[3] += 1
            duty = gettext(lang, duties.DUTY_NAMES[days])
            overdue.append((r.doc_id, r.name, r.code, r.tier, duty, r.at,
                            None if r.at is None else round((end - r.at) / DAY, 1), late,
                            names.get(owner, owner)))
    overdue.sort(key=lambda x: -x[7])
    reps = sorted(per_rep.items(), key=lambda kv: names.get(kv[0], kv[0]))
    rep_rows = [
        (names.get(o, o), n[0], n[1], n[2], n[3], (n[2] - n[3]) / n[2] if n[2] else None,
         "" if n[0] >= MIN_CORE and n[1] >= MIN_HIGH_GROWTH else "✗")
        for o, n in reps
    ]
    per_rep_t = Table("per_rep", gettext(lang, "Per rep"), [
        Col("rep", "Rep", width=16), Col("core", "Core", fmt="int"),
        Col("high_growth", "High-growth", fmt="int"),
        Col("duty", "Duty customers", fmt="int"), Col("overdue", "Overdue", fmt="int"),
        Col("compliance", "Compliance", fmt="pct"),
        Col("below_min", f"Below minimum ({MIN_CORE} core / {MIN_HIGH_GROWTH} high-growth)",
            f"低于最低数量(核心 {MIN_CORE} / 高成长 {MIN_HIGH_GROWTH})"),
    ], rep_rows)
    overdue_t = Table("overdue", gettext(lang, "Overdue customers"), [
        Col("doc_id", "Doc", width=44), Col("name", "Customer", link="doc_id", width=32),
        Col("code", "Code"), field_col(tier_field), Col("duty", "Duty"),
        Col("last", "Last contact", fmt="last", width=17),
        Col("since", "Days since", "距今天数", fmt="float"),
        Col("late", "Days overdue", fmt="int"), Col("owner", "Owner", width=16),
    ], overdue)
    chart = charts.bars(
        [charts.Bar(r[0], ((r[5] or 0.0) * 100,),
                    f"{(r[5] or 0) * 100:.0f}% ({r[3] - r[4]}/{r[3]})")
         for r in rep_rows],
        series=[gettext(lang, "Compliance")],
    )
    return Report("contact", gettext(lang, "Contact frequency"), [per_rep_t, overdue_t],
                  [(gettext(lang, "Compliance"), chart)])


# -- deals (000 §4.1, §4.3.4) ---------------------------------------------------------------


def _deal_values() -> Any:
    dp = st.rec_deal_product
    return (
        select(dp.c.doc_id,
               func.sum(func.coalesce(dp.c.quantity, 0) * func.coalesce(dp.c.unit_price, 0.0))
               .label("value"))
        .group_by(dp.c.doc_id).subquery()
    )


def _open_deals(q: Any) -> Any:
    d = st.rec_deal
    return q.where((d.c.deal_class.in_(OPEN_CLASSES)) | (d.c.deal_class.is_(None)))


async def deals_report(conn: AsyncConnection, viewer: Viewer, p: Params, lang: str) -> Report:
    d, pr, c = st.rec_deal, st.rec_progress, st.rec_customer
    vals = _deal_values()
    value = func.coalesce(vals.c.value, 0.0)
    q = (
        select(d.c.stage, func.count().label("n"), func.sum(value).label("value"),
               func.sum(value * func.coalesce(d.c.stage, 0) / 10.0).label("weighted"))
        .select_from(d.outerjoin(vals, vals.c.doc_id == d.c.doc_id))
        .group_by(d.c.stage).order_by(d.c.stage)
    )
    q = _open_deals(q)
    if p.member:
        q = q.where(d.c.created_by == p.member)
    q = viewer.principal.only_seen(q, d.c.doc_id)
    stage_field = get_kind("deal").field("stage")
    pipeline = [(r.stage, r.n, r.value or 0.0, r.weighted or 0.0) for r in await conn.execute(q)]
    total = (gettext(lang, "Total"), sum(r[1] for r in pipeline), sum(r[2] for r in pipeline),
             sum(r[3] for r in pipeline))
    pipeline_t = Table("pipeline", gettext(lang, "Deals pipeline"), [
        Col("stage", "Stage", width=30, fmt="stage"), Col("n", "Count", fmt="int"),
        Col("value", "Value", fmt="money"), Col("weighted", "Weighted value", fmt="money"),
    ], [*pipeline, total] if pipeline else [])

    names = await _users(conn)
    end = _end_ms(p.as_of)
    last = (  # only a submitted progress record is a follow-up (schema.duties)
        select(pr.c.deal_id, func.max(pr.c.created_at).label("at"))
        .where(pr.c.submitted_at.is_not(None)).group_by(pr.c.deal_id).subquery()
    )
    last_at = func.coalesce(last.c.at, d.c.created_at)
    due_at = last_at + d.c.follow_up_days * literal(DAY, BigInteger)
    q2: Any = (
        select(d.c.doc_id, d.c.title, c.c.name.label("customer"), d.c.customer_id,
               d.c.deal_class, d.c.stage, last_at.label("last"), due_at.label("due"),
               d.c.follow_up_days, d.c.created_by)
        .select_from(d.outerjoin(last, last.c.deal_id == d.c.doc_id)
                     .outerjoin(c, c.c.doc_id == d.c.customer_id))
        .where(d.c.follow_up_days.is_not(None), due_at < end)
        .order_by(due_at)
    )
    q2 = _open_deals(q2)
    if p.member:
        q2 = q2.where(d.c.created_by == p.member)
    q2 = viewer.principal.only_seen(q2, d.c.doc_id)
    due_rows = [
        (r.doc_id, r.title, r.customer, r.deal_class, r.stage, r.follow_up_days, r.last, r.due,
         duties.days_late(r.last, r.follow_up_days, end), names.get(r.created_by, r.created_by))
        for r in await conn.execute(q2)
    ]
    deal = get_kind("deal")
    due_t = Table("followups", gettext(lang, "Follow-ups due"), [
        Col("doc_id", "Doc", width=44), field_col(deal.field("title"), link="doc_id", width=30),
        Col("customer", "Customer", width=28), field_col(deal.field("deal_class")),
        field_col(stage_field, width=24), Col("cadence", "Cadence (days)", fmt="int"),
        Col("last", "Last follow-up", fmt="ms", width=17), Col("due", "Due", fmt="ms", width=17),
        Col("late", "Days overdue", fmt="int"), Col("author", "Author", width=16),
    ], due_rows)

    q3: Any = (
        select(d.c.doc_id, d.c.title, c.c.name.label("customer"), d.c.deal_class, d.c.stage,
               d.c.created_at, d.c.created_by)
        .select_from(d.outerjoin(c, c.c.doc_id == d.c.customer_id))
        .where(d.c.expected_close_date.is_(None)).order_by(d.c.created_at)
    )
    q3 = _open_deals(q3)
    if p.member:
        q3 = q3.where(d.c.created_by == p.member)
    q3 = viewer.principal.only_seen(q3, d.c.doc_id)
    no_date = [(r.doc_id, r.title, r.customer, r.deal_class, r.stage, r.created_at,
                names.get(r.created_by, r.created_by)) for r in await conn.execute(q3)]
    no_date_t = Table("no_close_date", gettext(lang, "Deals without an expected close date"), [
        Col("doc_id", "Doc", width=44), field_col(deal.field("title"), link="doc_id", width=30),
        Col("customer", "Customer", width=28), field_col(deal.field("deal_class")),
        field_col(stage_field, width=24), field_col(deal.field("created_at"), width=17),
        Col("author", "Author", width=16),
    ], no_date)
    chart = charts.bars(
        [charts.Bar(f"{r[0]} · {_enum(stage_field, r[0], lang)}", (r[2], r[3]),
                    f"{r[3]:,.0f} / {r[2]:,.0f}") for r in pipeline],
        series=[gettext(lang, "Value"), gettext(lang, "Weighted value")],
    )
    return Report("deals", gettext(lang, "Deals pipeline"), [pipeline_t, due_t, no_date_t],
                  [(gettext(lang, "Deals pipeline"), chart)])


def _enum(f: Any, value: Any, lang: str) -> str:
    e = f.enum_label(value)
    return "" if e is None else (e.label_zh if lang == "zh" else e.label_en)


# -- service rankings (000 §5.8) -----------------------------------------------------------


def _service_where(q: Any, p: Params) -> Any:
    s = st.rec_service
    if p.date_from is not None:
        q = q.where(s.c.service_date >= p.date_from)
    if p.date_to is not None:
        q = q.where(s.c.service_date <= p.date_to)
    if p.member:
        q = q.where(s.c.created_by == p.member)
    if p.kind:
        q = q.where(s.c.service_type == p.kind)
    return q


async def service_report(conn: AsyncConnection, viewer: Viewer, p: Params, lang: str) -> Report:
    s, sp, c = st.rec_service, st.rec_service_product, st.rec_customer
    repairs = func.count()
    q = (
        select(sp.c.name, sp.c.model, repairs.label("repairs"),
               func.count(func.distinct(sp.c.serial_no)).label("units"),
               func.count(func.distinct(s.c.customer_id)).label("customers"))
        .select_from(sp.join(s, s.c.doc_id == sp.c.doc_id))
        .where(s.c.service_type.in_(REPAIRS))
        .group_by(sp.c.name, sp.c.model)
        .order_by(repairs.desc(), sp.c.name)
    )
    q = viewer.principal.only_seen(_service_where(q, p), s.c.doc_id)
    products = [(r.name, r.model, r.repairs, r.units, r.customers,
                 round(r.repairs / r.units, 2) if r.units else None)
                for r in await conn.execute(q)]
    product_t = Table("by_product", gettext(lang, "By product"), [
        Col("product", "Product", width=24), Col("model", "Model"),
        Col("repairs", "Repairs", fmt="int"), Col("units", "Units", fmt="int"),
        Col("customers", "Customers served", fmt="int"),
        Col("per_unit", "Repairs per unit", fmt="float"),
    ], products)

    is_repair = case((s.c.service_type.in_(REPAIRS), 1), else_=0)
    n = func.count()
    q2 = (
        select(s.c.customer_id, c.c.name, c.c.code, n.label("requests"),
               func.sum(is_repair).label("repairs"), func.max(s.c.service_date).label("last"))
        .select_from(s.outerjoin(c, c.c.doc_id == s.c.customer_id))
        .group_by(s.c.customer_id, c.c.name, c.c.code)
        .order_by(n.desc(), c.c.name)
    )
    q2 = viewer.principal.only_seen(_service_where(q2, p), s.c.doc_id)
    customers = [(r.customer_id, r.name, r.code, r.requests, r.repairs, r.last)
                 for r in await conn.execute(q2)]
    customer_t = Table("by_customer", gettext(lang, "By customer"), [
        Col("doc_id", "Doc", width=44), Col("name", "Customer", link="doc_id", width=32),
        Col("code", "Code"), Col("requests", "Requests", fmt="int"),
        Col("repairs", "Repairs", fmt="int"), Col("last", "Last service", fmt="date"),
    ], customers)

    done = case((s.c.status == "completed", 1), else_=0)
    respond = s.c.responded_at - s.c.created_at
    complete = s.c.completed_at - s.c.responded_at
    q3 = (
        select(s.c.created_by, func.count().label("n"), func.sum(done).label("done"),
               func.avg(case((respond >= 0, respond))).label("respond"),
               func.avg(case((complete >= 0, complete))).label("complete"))
        .group_by(s.c.created_by)
    )
    q3 = viewer.principal.only_seen(_service_where(q3, p), s.c.doc_id)
    names = await _users(conn)
    engineers = sorted(
        ((names.get(r.created_by, r.created_by), r.n, r.done, r.done / r.n if r.n else None,
          None if r.respond is None else float(r.respond) / 3_600_000,
          None if r.complete is None else float(r.complete) / 3_600_000)
         for r in await conn.execute(q3)),
        key=lambda x: -x[1],
    )
    engineer_t = Table("by_engineer", gettext(lang, "By engineer"), [
        Col("engineer", "Engineer", width=16), Col("services", "Services", fmt="int"),
        Col("completed", "Completed", fmt="int"), Col("rate", "Completion rate", fmt="pct"),
        Col("respond", "Avg. response (h)", fmt="hours"),
        Col("complete", "Avg. time to complete (h)", fmt="hours"),
    ], engineers)
    chart = charts.bars([charts.Bar(f"{r[0]} {r[1] or ''}".strip(), (float(r[2]),), str(r[2]))
                         for r in products[:10]], series=[gettext(lang, "Repairs")])
    chart2 = charts.bars([charts.Bar(r[0], (float(r[1]), float(r[2])), f"{r[2]}/{r[1]}")
                          for r in engineers[:15]],
                         series=[gettext(lang, "Services"), gettext(lang, "Completed")])
    return Report("service", gettext(lang, "Service rankings"),
                  [product_t, customer_t, engineer_t],
                  [(gettext(lang, "Top products by repairs"), chart),
                   (gettext(lang, "By engineer"), chart2)])


# -- activity: visits per rep per week, with sync lag ------------------------------------------


def week_monday(index: int) -> datetime.date:
    return datetime.date(1970, 1, 5) + datetime.timedelta(weeks=index)


async def activity_report(conn: AsyncConnection, viewer: Viewer, p: Params, lang: str) -> Report:
    v = st.rec_visit
    when = func.coalesce(v.c.started_at, v.c.created_at)
    week = (when - literal(WEEK_ORIGIN, BigInteger)) // literal(WEEK, BigInteger)
    lag = v.c.received_at - v.c.created_at
    q = (
        select(v.c.created_by, week.label("week"), func.count().label("n"),
               func.avg(lag).label("avg_lag"), func.max(lag).label("max_lag"),
               func.sum(case((lag <= DAY, 1), else_=0)).label("in_day"))
        .where(v.c.submitted_at.is_not(None))
        .group_by(v.c.created_by, week)
    )
    if p.date_from is not None:
        q = q.where(when >= day_start_ms(p.date_from))
    if p.date_to is not None:
        q = q.where(when < _end_ms(p.date_to))
    if p.member:
        q = q.where(v.c.created_by == p.member)
    q = viewer.principal.only_seen(q, v.c.doc_id)
    names = await _users(conn)
    rows = [(names.get(r.created_by, r.created_by), int(r.week), r.n, float(r.avg_lag or 0),
             r.max_lag, r.in_day) for r in await conn.execute(q)]
    rows.sort(key=lambda r: (r[0], r[1]))
    weeks = sorted({r[1] for r in rows})
    if p.date_from is not None and p.date_to is not None:
        first = (day_start_ms(p.date_from) - WEEK_ORIGIN) // WEEK
        last = (day_start_ms(p.date_to) - WEEK_ORIGIN) // WEEK
        if 0 <= last - first < 260:
            weeks = list(range(first, last + 1))
    table = Table("activity", gettext(lang, "Visits per rep per week"), [
        Col("rep", "Rep", width=16), Col("week", "Week", fmt="date"),
        Col("visits", "Visits", fmt="int"), Col("avg_lag", "Avg. sync lag", fmt="duration"),
        Col("max_lag", "Max. sync lag", fmt="duration"),
        Col("in_day", "Synced within a day", fmt="pct"),
    ], [(r[0], week_monday(r[1]), r[2], r[3], r[4], r[5] / r[2] if r[2] else None)
        for r in rows])
    reps = sorted({r[0] for r in rows})
    grid: dict[str, dict[int, int]] = {rep: {} for rep in reps}
    totals = dict.fromkeys(weeks, 0)
    lag_sum = dict.fromkeys(weeks, 0.0)
    for r in rows:
        grid[r[0]][r[1]] = r[2]
        totals[r[1]] = totals.get(r[1], 0) + r[2]
        lag_sum[r[1]] = lag_sum.get(r[1], 0.0) + r[3] * r[2]
    top = max((n for g in grid.values() for n in g.values()), default=0)
    pivot = {
        "weeks": [week_monday(w) for w in weeks],
        "rows": [(rep, [grid[rep].get(w, 0) for w in weeks]) for rep in reps],
        "totals": [totals.get(w, 0) for w in weeks],
        "max": top or 1,
    }
    chart = charts.columns(
        [week_monday(w).strftime("%m-%d") for w in weeks],
        [float(totals.get(w, 0)) for w in weeks],
        line=[lag_sum[w] / totals[w] / 3_600_000 if totals.get(w) else None for w in weeks],
        value_name=gettext(lang, "Visits"),
        line_name=gettext(lang, "Avg. sync lag") + " (h)",
    )
    return Report("activity", gettext(lang, "Activity"), [table],
                  [(gettext(lang, "Visits per week"), chart)], pivot=pivot)


# -- tasks: open, overdue and done per assignee ----------------------------------------------


def task_moment(as_of: datetime.date) -> int:
    """The moment "as of" a day means for tasks: now when it is today (a task due this
    afternoon is not late this morning), else the end of that day."""
    return now_ms() if as_of == today_cst() else _end_ms(as_of)


async def tasks_report(conn: AsyncConnection, viewer: Viewer, p: Params, lang: str) -> Report:
    k, c = st.KIND_TABLES["task"], st.rec_customer
    moment = task_moment(p.as_of)
    # due: the planned end, or the planned start when the task has no end
    due = func.coalesce(k.c.planned_end, k.c.planned_start)
    done_in = [k.c.status == "done"]
    if p.date_from is not None:
        done_in.append(k.c.completed_at >= day_start_ms(p.date_from))
    if p.date_to is not None:
        done_in.append(k.c.completed_at < _end_ms(p.date_to))
    q = (
        select(k.c.assignee, func.sum(case((k.c.status == "open", 1), else_=0)).label("open"),
               func.sum(case((and_(*done_in), 1), else_=0)).label("done"))
        .group_by(k.c.assignee)
    )
    q2: Any = (
        select(k.c.doc_id, k.c.subject, c.c.name.label("customer"), k.c.task_type,
               k.c.priority, due.label("due"), k.c.assignee)
        .select_from(k.outerjoin(c, c.c.doc_id == k.c.customer_id))
        .where(k.c.status == "open", due < moment)
    )
    if p.member:
        q, q2 = q.where(k.c.assignee == p.member), q2.where(k.c.assignee == p.member)
    q, q2 = viewer.principal.only_seen(q, k.c.doc_id), viewer.principal.only_seen(q2, k.c.doc_id)
    names = await _users(conn)
    overdue: list[tuple[Any, ...]] = []
    late_of: dict[str, int] = {}
    for r in await conn.execute(q2):
        late = duties.days_late(r.due, 0, moment)  # "late" is counted the same everywhere
        if late is None:
            continue
        late_of[r.assignee] = late_of.get(r.assignee, 0) + 1
        overdue.append((r.doc_id, r.subject, r.customer, r.task_type, r.priority, r.due, late,
                        names.get(r.assignee, r.assignee)))
    overdue.sort(key=lambda x: (-x[6], x[5]))
    reps = sorted(((names.get(r.assignee, r.assignee), int(r.open or 0),
                    late_of.get(r.assignee, 0), int(r.done or 0))
                   for r in await conn.execute(q)), key=lambda x: x[0])
    reps = [r for r in reps if r[1] or r[3]]
    task = get_kind("task")
    per_rep_t = Table("per_rep", gettext(lang, "Per assignee"), [
        Col("assignee", "Assignee", "执行人", width=16), Col("open", "Open tasks", fmt="int"),
        Col("overdue", "Overdue", fmt="int"), Col("done", "Done in the period", fmt="int"),
    ], reps)
    overdue_t = Table("overdue", gettext(lang, "Overdue tasks"), [
        Col("doc_id", "Doc", width=44), field_col(task.field("subject"), link="doc_id", width=30),
        Col("customer", "Customer", width=28), field_col(task.field("task_type")),
        field_col(task.field("priority")), Col("due", "Due at", fmt="ms", width=17),
        Col("late", "Days overdue", fmt="int"), Col("assignee", "Assignee", "执行人", width=16),
    ], overdue)
    chart = charts.bars([charts.Bar(r[0], (float(r[1]), float(r[2])), f"{r[2]}/{r[1]}")
                         for r in reps],
                        series=[gettext(lang, "Open tasks"), gettext(lang, "Overdue")])
    return Report("tasks", gettext(lang, "Overdue tasks"), [per_rep_t, overdue_t],
                  [(gettext(lang, "Open and overdue tasks per assignee"), chart)])


# -- expenses: totals by rep, month, type and customer (000 §6.1) ------------------------------

# What the report counts: expenses in the flow or approved. A draft, a returned or withdrawn
# expense (the author is changing it) and a rejected one are not claims.
CLAIMED = ("submitted", "approved")


async def expense_report(conn: AsyncConnection, viewer: Viewer, p: Params, lang: str) -> Report:
    e, c = st.KIND_TABLES["expense"], st.rec_customer
    names = await _users(conn)
    conds: list[Any] = [e.c.approval_status.in_(CLAIMED)]
    if p.date_from is not None:
        conds.append(e.c.expense_date >= p.date_from)
    if p.date_to is not None:
        conds.append(e.c.expense_date <= p.date_to)
    if p.member:
        conds.append(e.c.created_by == p.member)
    if p.kind:
        conds.append(e.c.expense_type == p.kind)
    approved = case((e.c.approval_status == "approved", e.c.amount_fen), else_=0)
    # Integer fen summed in SQL (PostgreSQL: sum of integers is a bigint; SQLite: integer).
    sums = (func.count().label("n"), func.sum(e.c.amount_fen).label("total"),
            func.sum(approved).label("approved"))
    month = func.substr(cast(e.c.expense_date, String), 1, 7)

    async def grouped(*keys: Any, frm: Any = e) -> list[Any]:
        q = select(*keys, *sums).select_from(frm).where(*conds).group_by(*keys)
        return list(await conn.execute(viewer.principal.only_seen(q, e.c.doc_id)))

    def money(n: Any, total: Any, ok: Any) -> tuple[int, int, int]:
        return int(n or 0), int(total or 0), int(ok or 0)

    sum_cols = [Col("n", "Expenses", fmt="int"), Col("total", "Amount (yuan)", fmt="fen"),
                Col("approved", "Approved (yuan)", fmt="fen")]
    by_rep = sorted(((names.get(r.created_by, r.created_by), *money(r.n, r.total, r.approved))
                     for r in await grouped(e.c.created_by)), key=lambda x: x[0])
    by_month = sorted((str(r.month), *money(r.n, r.total, r.approved))
                      for r in await grouped(month.label("month")))
    type_field = get_kind("expense").field("expense_type")
    by_type = sorted(((r.expense_type, *money(r.n, r.total, r.approved))
                      for r in await grouped(e.c.expense_type)), key=lambda x: (-x[2], x[0]))
    by_customer = sorted(
        ((r.customer_id, r.name or (gettext(lang, "No customer") if r.customer_id is None
                                    else r.customer_id), *money(r.n, r.total, r.approved))
         for r in await grouped(e.c.customer_id, c.c.name,
                                frm=e.outerjoin(c, c.c.doc_id == e.c.customer_id))),
        key=lambda x: (-x[3], str(x[1])))
    grand = money(*next(iter(await grouped()), (0, 0, 0)))
    total_row = (gettext(lang, "Total"), *grand)
    q = (select(e.c.doc_id, e.c.expense_date, e.c.subject, e.c.expense_type, e.c.amount_fen,
                e.c.approval_status, e.c.created_by, c.c.name.label("customer"))
         .select_from(e.outerjoin(c, c.c.doc_id == e.c.customer_id)).where(*conds)
         .order_by(e.c.expense_date.desc(), e.c.doc_id))
    detail = [(r.doc_id, r.expense_date, r.subject, r.expense_type, r.amount_fen,
               r.approval_status, names.get(r.created_by, r.created_by), r.customer)
              for r in await conn.execute(viewer.principal.only_seen(q, e.c.doc_id))]
    kind = get_kind("expense")
    tables = [
        Table("by_rep", gettext(lang, "By rep"), [Col("rep", "Rep", width=16), *sum_cols],
              [*by_rep, total_row] if by_rep else []),
        Table("by_month", gettext(lang, "By month"), [Col("month", "Month"), *sum_cols],
              [*by_month, total_row] if by_month else []),
        Table("by_type", gettext(lang, "By type"), [field_col(type_field), *sum_cols],
              [*by_type, total_row] if by_type else []),
        Table("by_customer", gettext(lang, "By customer"), [
            Col("doc_id", "Doc", width=44), Col("name", "Customer", link="doc_id", width=32),
            *sum_cols], [*by_customer, (None, gettext(lang, "Total"), *grand)]
            if by_customer else []),
        Table("expenses", gettext(lang, "Expenses"), [
            Col("doc_id", "Doc", width=44), field_col(kind.field("expense_date")),
            field_col(kind.field("subject"), link="doc_id", width=34),
            field_col(type_field), Col("amount", "Amount (yuan)", fmt="fen"),
            field_col(kind.field("approval_status")), Col("rep", "Rep", width=16),
            Col("customer", "Customer", width=28)], detail),
    ]
    series = [gettext(lang, "Amount (yuan)"), gettext(lang, "Approved (yuan)")]
    chart_rep = charts.bars([charts.Bar(r[0], (r[2] / 100, r[3] / 100), yuan(r[2]))
                             for r in by_rep], series=series)
    chart_type = charts.bars([charts.Bar(_enum(type_field, r[0], lang) or str(r[0]),
                                         (r[2] / 100, r[3] / 100), yuan(r[2]))
                              for r in by_type], series=series)
    chart_month = charts.columns([r[0] for r in by_month], [r[2] / 100 for r in by_month],
                                 value_name=gettext(lang, "Amount (yuan)"))
    return Report("expenses", gettext(lang, "Expenses"), tables,
                  [(gettext(lang, "By rep"), chart_rep), (gettext(lang, "By type"), chart_type),
                   (gettext(lang, "By month"), chart_month)])


ReportFn = Callable[[AsyncConnection, Viewer, Params, str], Awaitable[Report]]
REPORTS: dict[str, tuple[ReportFn, int | None]] = {
    "contact": (contact_report, None),
    "deals": (deals_report, None),
    "service": (service_report, None),
    "activity": (activity_report, 12),
    "tasks": (tasks_report, 4),
    "expenses": (expense_report, None),
}


async def run_report(
    conn: AsyncConnection, name: str, viewer: Viewer, query: Mapping[str, str], lang: str
) -> tuple[Report, Params]:
    fn, weeks = REPORTS[name]
    params = Params.from_query(query, default_weeks=weeks)
    started = time.perf_counter()
    report = await fn(conn, viewer, params, lang)
    report.elapsed_ms = (time.perf_counter() - started) * 1000
    return report, params
