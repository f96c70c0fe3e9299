"""The week view of one team member's schedule (周日程): their tasks and the visits they
recorded, day by day from Monday to Sunday in China time, within what the viewer sees.
A manager picks among their team, a rep sees their own, an admin anyone."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from schema import duties
from schema import tables as st
from schema.kinds import get_kind
from server import tables as t
from server.errors import NotFound
from server.services import services_of
from sync.log import now_ms

from .auth import Viewer, viewer
from .i18n import cst, day_start_ms, today_cst
from .queries import parse_day
from .web import page, render


def monday_of(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


@dataclass
class TaskItem:
    doc_id: str
    start: int
    end: int | None
    subject: str
    customer: str | None
    customer_id: str | None
    task_type: str | None
    priority: str | None
    status: str | None
    late: int | None  # whole days overdue (schema.duties.days_late), None when not overdue
    kind: ClassVar[str] = "task"


@dataclass
class VisitItem:
    doc_id: str
    at: int
    customer: str | None
    visit_type: str | None
    purpose: str | None
    submitted: bool
    kind: ClassVar[str] = "visit"


@dataclass
class Day:
    date: datetime.date
    tasks: list[TaskItem] = field(default_factory=list)
    visits: list[VisitItem] = field(default_factory=list)

    @property
    def entries(self) -> list[TaskItem | VisitItem]:
        """Tasks and visits in the order of the day (a task at its planned start)."""
        return sorted([*self.tasks, *self.visits],
                      key=lambda e: e.start if isinstance(e, TaskItem) else e.at)


@dataclass
class Week:
    member: str
    monday: datetime.date
    days: list[Day]

    @property
    def previous(self) -> datetime.date:
        return self.monday - datetime.timedelta(weeks=1)

    @property
    def next(self) -> datetime.date:
        return self.monday + datetime.timedelta(weeks=1)


def hm(ms: int | None) -> str:
    """A time of day in China, 09:30."""
    when = cst(ms)
    return "" if when is None else when.strftime("%H:%M")


def _day_index(monday: datetime.date, ms: int) -> int:
    when = cst(ms)
    return -1 if when is None else (when.date() - monday).days


async def week_of(
    conn: AsyncConnection, v: Viewer, member: str, monday: datetime.date, now: int
) -> Week:
    """`member`'s tasks (by planned start) and visits (by start) in the week from `monday`,
    limited to the records the viewer sees."""
    start = day_start_ms(monday)
    end = day_start_ms(monday + datetime.timedelta(weeks=1))
    days = [Day(monday + datetime.timedelta(days=i)) for i in range(7)]
    k, vi, c = st.KIND_TABLES["task"], st.rec_visit, st.rec_customer
    q = (
        select(k.c.doc_id, k.c.planned_start, k.c.planned_end, k.c.subject, c.c.name,
               k.c.customer_id, k.c.task_type, k.c.priority, k.c.status)
        .select_from(k.outerjoin(c, c.c.doc_id == k.c.customer_id))
        .where(k.c.assignee == member, k.c.planned_start >= start, k.c.planned_start < end)
        .order_by(k.c.planned_start, k.c.doc_id)
    )
    for r in await conn.execute(v.principal.only_seen(q, k.c.doc_id)):
        due = r.planned_end if r.planned_end is not None else r.planned_start
        late = duties.days_late(due, 0, now) if r.status == "open" else None
        i = _day_index(monday, r.planned_start)
        if 0 <= i < 7:
            days[i].tasks.append(TaskItem(r.doc_id, r.planned_start, r.planned_end,
                                          r.subject or "", r.name, r.customer_id, r.task_type,
                                          r.priority, r.status, late))
    when = func.coalesce(vi.c.started_at, vi.c.created_at)
    q2 = (
        select(vi.c.doc_id, when.label("at"), c.c.name, vi.c.visit_type, vi.c.purpose,
               vi.c.submitted_at)
        .select_from(vi.outerjoin(c, c.c.doc_id == vi.c.customer_id))
        .where(vi.c.created_by == member, when >= start, when < end)
        .order_by(when, vi.c.doc_id)
    )
    for r in await conn.execute(v.principal.only_seen(q2, vi.c.doc_id)):
        i = _day_index(monday, r.at)
        if 0 <= i < 7:
            days[i].visits.append(VisitItem(r.doc_id, r.at, r.name, r.visit_type, r.purpose,
                                            r.submitted_at is not None))
    return Week(member, monday, days)


@page
async def schedule_page(request: Request) -> Response:
    v = await viewer(request)
    member = request.query_params.get("member") or v.user.id
    # Someone outside the viewer's team answers as a user that does not exist.
    if not v.sees_user(member):
        raise NotFound("no such team member")
    day = parse_day(request.query_params.get("week")) or today_cst()  # 2000-2099, or today
    async with services_of(request).engine.connect() as conn:
        users = [(r.id, r.name) for r in await conn.execute(
            select(t.users.c.id, t.users.c.name).where(t.users.c.role != "system")
            .order_by(t.users.c.name))]
        members = [(i, n) for i, n in users if v.sees_user(i)]
        if member not in {i for i, _ in members}:
            raise NotFound("no such team member")
        week = await week_of(conn, v, member, monday_of(day), now_ms())
    task, visit = get_kind("task"), get_kind("visit")
    context: dict[str, Any] = {
        "week": week, "members": members, "member_name": dict(members)[member],
        "today": today_cst(), "task_status": task.field("status"),
        "task_type": task.field("task_type"), "priority": task.field("priority"),
        "visit_type": visit.field("visit_type"), "hm": hm,
    }
    return await render(request, "schedule.html", context)
