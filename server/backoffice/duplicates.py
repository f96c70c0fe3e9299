"""The duplicate queue: probable duplicate customers side by side, merged (the server's
procedure, `services.duplicates`) or dismissed; past merges, which an admin may undo.

A viewer is shown a candidate only when they can see both cards; undo is for admins.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from schema import tables as st
from schema.kinds import get_kind
from server.duplicates import Duplicates
from server.errors import Forbidden, NotFound
from server.services import services_of

from . import queries as qs
from .auth import check_csrf, language, viewer
from .columns import Col
from .exports import Sheet, batches_of
from .i18n import fmt_ms, gettext
from .pages import _export
from .web import page, render, see_other

SIDE_FIELDS = ("name", "code", "credit_code", "phone", "address", "city", "category", "tier",
               "status", "owner", "created_at", "created_by")


def _dup(request: Request) -> Duplicates:
    return services_of(request).duplicates


async def _card(conn: Any, doc_id: str) -> dict[str, Any] | None:
    c = st.rec_customer
    row = (await conn.execute(select(c).where(c.c.doc_id == doc_id))).mappings().first()
    if row is None:
        return None
    card = dict(row)
    for kind in ("visit", "service", "deal"):
        table = st.KIND_TABLES[kind]
        card[f"n_{kind}"] = int((await conn.execute(
            select(func.count()).select_from(table).where(table.c.customer_id == doc_id)
        )).scalar_one())
    card["n_contacts"] = int((await conn.execute(
        select(func.count()).select_from(st.rec_customer_contact)
        .where(st.rec_customer_contact.c.doc_id == doc_id))).scalar_one())
    return card


@page
async def queue(request: Request) -> Response:
    v = await viewer(request)
    dup = _dup(request)
    pairs: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []
    async with services_of(request).engine.connect() as conn:
        for cand in await dup.candidates(status="open"):
            if not (await v.principal.can_see(conn, cand.doc_a)
                    and await v.principal.can_see(conn, cand.doc_b)):
                continue
            a, b = await _card(conn, cand.doc_a), await _card(conn, cand.doc_b)
            if a is not None and b is not None:
                pairs.append((cand, a, b))
        names = await qs.user_names(conn)
    keep = {cand.id: await _survivor(dup, a, b) for cand, a, b in pairs}
    lang = language(request)
    kind = get_kind("customer")

    def show(name: str, value: Any) -> str:
        f = kind.field(name)
        if value is None:
            return ""
        if f.type == "user_id":
            return str(names.get(value, value))
        if f.type == "timestamp":
            return fmt_ms(value)
        if f.enum:
            e = f.enum_label(value)
            return str(value) if e is None else (e.label_zh if lang == "zh" else e.label_en)
        return str(value)

    return await render(request, "duplicates.html", {
        "pairs": pairs, "names": names, "keep": keep,
        "show": show, "label": lambda n: (kind.field(n).label_zh if lang == "zh"
                                          else kind.field(n).label_en),
        "side_fields": SIDE_FIELDS, "message": request.query_params.get("done", ""),
    })


async def _survivor(dup: Any, a: dict[str, Any], b: dict[str, Any]) -> str:
    """The card the server will keep: created first, by the time the server vouches for
    (`Duplicates.created`) when it offers that, else by the device's claim."""
    created = getattr(dup, "created", None)
    if created is not None:
        times = await created([a["doc_id"], b["doc_id"]])
        return str(min((a["doc_id"], b["doc_id"]), key=lambda d: (times[d].effective, d)))
    return str(min((a, b), key=lambda c: (c.get("created_at") or 0, c["doc_id"]))["doc_id"])


async def _candidate(request: Request, v: Any) -> Any:
    dup = _dup(request)
    wanted = request.path_params["cand_id"]
    for cand in await dup.candidates(status="open"):
        if str(cand.id) == wanted:
            async with services_of(request).engine.connect() as conn:
                if (await v.principal.can_see(conn, cand.doc_a)
                        and await v.principal.can_see(conn, cand.doc_b)):
                    return cand
            break
    raise NotFound("no such open candidate")


@page
async def merge(request: Request) -> Response:
    v = await viewer(request)
    form = await check_csrf(request)
    cand = await _candidate(request, v)
    survivor = form.get("survivor") or cand.doc_a
    if survivor not in (cand.doc_a, cand.doc_b):
        raise NotFound("the survivor is one of the candidate's two cards")
    duplicate = cand.doc_b if survivor == cand.doc_a else cand.doc_a
    await _dup(request).merge(survivor, duplicate, v.user.id)
    return see_other(request, "/duplicates", done="merged")


@page
async def dismiss(request: Request) -> Response:
    v = await viewer(request)
    await check_csrf(request)
    cand = await _candidate(request, v)
    await _dup(request).dismiss(cand.id, v.user.id)
    return see_other(request, "/duplicates", done="dismissed")


@page
async def merges(request: Request) -> Response:
    v = await viewer(request)
    dup = _dup(request)
    rows: list[Any] = []
    cards: dict[str, str] = {}
    async with services_of(request).engine.connect() as conn:
        for m in await dup.merges():
            if await v.principal.can_see(conn, m.survivor) or v.is_admin:
                rows.append(m)
        names = await qs.user_names(conn)
        ids = sorted({m.survivor for m in rows} | {m.duplicate for m in rows})
        c = st.rec_customer
        for part in range(0, len(ids), 500):
            for r in await conn.execute(select(c.c.doc_id, c.c.name)
                                        .where(c.c.doc_id.in_(ids[part:part + 500]))):
                cards[r.doc_id] = r.name or r.doc_id
    return await render(request, "merges.html", {
        "merges": rows, "names": names, "cards": cards,
        "message": request.query_params.get("done", ""),
    })


MERGE_COLS = [
    Col("at", "When", fmt="ms", width=17), Col("survivor", "Survivor", width=30),
    Col("duplicate", "Duplicate", width=30), Col("rule", "Rule"), Col("actor", "By"),
    Col("undone", "Undone", fmt="ms", width=17),
]


@page
async def merges_export(request: Request) -> Response:
    v = await viewer(request)
    dup = _dup(request)
    lang = language(request)
    rows = []
    async with services_of(request).engine.connect() as conn:
        names = await qs.user_names(conn)
        c = st.rec_customer
        for m in await dup.merges():
            if not (v.is_admin or await v.principal.can_see(conn, m.survivor)):
                continue
            found = dict((await conn.execute(select(c.c.doc_id, c.c.name).where(
                c.c.doc_id.in_([m.survivor, m.duplicate])))).all())
            rows.append((m.at, found.get(m.survivor) or m.survivor,
                         found.get(m.duplicate) or m.duplicate, gettext(lang, m.rule),
                         names.get(m.actor, m.actor or ""), m.undone_at))
    sheet = Sheet("merges", MERGE_COLS, batches_of(rows))
    return await _export(request.path_params["fmt"], [sheet], "merges", lang)


@page
async def undo(request: Request) -> Response:
    v = await viewer(request)
    await check_csrf(request)
    if not v.is_admin:
        raise Forbidden("only an administrator may undo a merge")
    dup = _dup(request)
    wanted = request.path_params["merge_id"]
    for m in await dup.merges():
        if str(m.id) == wanted and m.undone_at is None:
            await dup.undo(m.id, v.user.id)
            return see_other(request, "/merges", done="undone")
    raise NotFound("no such merge, or already undone")
