"""The trip calendar (出差日历): each team member's trip plans as bars over the days of one
month, coloured by approval status, within what the viewer sees. A manager sees their team,
a rep their own trips, an admin everyone's."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from schema import tables as st
from schema.kinds import get_kind
from server import tables as t
from server.errors import NotFound
from server.services import services_of

from .auth import Viewer, viewer
from .i18n import today_cst
from .queries import FIRST_DAY, LAST_DAY
from .web import page, render


def parse_month(value: str | None) -> datetime.date | None:
    """The 1st of a "YYYY-MM" (or of the month of a "YYYY-MM-DD") within 2000-2099."""
    if not value:
        return None
    try:
        year, month = int(value[:4]), int(value[5:7])
        day = datetime.date(year, month, 1)
    except ValueError:
        return None
    return day if value[4:5] == "-" and FIRST_DAY <= day <= LAST_DAY else None


def shift_month(first: datetime.date, months: int) -> datetime.date:
    n = first.year * 12 + first.month - 1 + months
    return datetime.date(n // 12, n % 12 + 1, 1)


@dataclass
class Bar:
    doc_id: str
    subject: str
    region: str
    start: datetime.date
    end: datetime.date
    status: str
    first_col: int  # 1-based day of the month where the bar starts (clipped to the month)
    last_col: int  # the day it ends on, inclusive (clipped)
    stops: int
    before: bool  # began in an earlier month
    after: bool  # goes on into the next month


@dataclass
class Lane:
    member: str
    name: str
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Month:
    first: datetime.date
    days: list[datetime.date]
    lanes: list[Lane]

    @property
    def previous(self) -> datetime.date:
        return shift_month(self.first, -1)

    @property
    def next(self) -> datetime.date:
        return shift_month(self.first, 1)


async def month_of(
    conn: AsyncConnection, v: Viewer, first: datetime.date, members: list[tuple[str, str]]
) -> Month:
    """The trip plans of `members` that overlap the month from `first`, limited to those the
    viewer sees; one lane per member, bars in start order."""
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    days = [first + datetime.timedelta(days=i) for i in range(last.day)]
    tp, stop = st.KIND_TABLES["trip_plan"], st.CHILD_TABLES["trip_plan"]["stops"]
    ids = [m for m, _ in members]
    q = (
        select(tp.c.doc_id, tp.c.subject, tp.c.region, tp.c.start_date, tp.c.end_date,
               tp.c.approval_status, tp.c.created_by)
        .where(tp.c.created_by.in_(ids), tp.c.start_date <= last, tp.c.end_date >= first)
        .order_by(tp.c.start_date, tp.c.doc_id)
    )
    rows = list(await conn.execute(v.principal.only_seen(q, tp.c.doc_id)))
    counts: dict[str, int] = {}
    if rows:
        sq = select(stop.c.doc_id).where(stop.c.doc_id.in_([r.doc_id for r in rows]))
        for r in await conn.execute(sq):
            counts[r.doc_id] = counts.get(r.doc_id, 0) + 1
    lanes = {m: Lane(m, n) for m, n in members}
    for r in rows:
        start, end = r.start_date, max(r.end_date, r.start_date)
        lanes[r.created_by].bars.append(Bar(
            r.doc_id, r.subject or "", r.region or "", start, end,
            r.approval_status or "draft", max(start, first).day, min(end, last).day,
            counts.get(r.doc_id, 0), start < first, end > last))
    return Month(first, days, list(lanes.values()))


@page
async def trips_page(request: Request) -> Response:
    v = await viewer(request)
    member = request.query_params.get("member", "")
    if member and not v.sees_user(member):
        raise NotFound("no such team member")  # as a user that does not exist
    first = parse_month(request.query_params.get("month")) or today_cst().replace(day=1)
    async with services_of(request).engine.connect() as conn:
        users = [(r.id, r.name) for r in await conn.execute(
            select(t.users.c.id, t.users.c.name).where(t.users.c.role != "system")
            .order_by(t.users.c.name))]
        team = [(i, n) for i, n in users if v.sees_user(i)]
        if member and member not in {i for i, _ in team}:
            raise NotFound("no such team member")
        shown = [(i, n) for i, n in team if not member or i == member]
        month = await month_of(conn, v, first, shown)
    if not member:  # the whole team: only the people with a trip this month
        month.lanes = [ln for ln in month.lanes if ln.bars] or month.lanes[:0]
    return await render(request, "trips.html", {
        "month": month, "members": team, "member": member, "today": today_cst(),
        "status_field": get_kind("trip_plan").field("approval_status"),
    })
