"""Administration: users (create, disable, password, role, manager), devices, handing a
departed rep's customers to someone else, and the audit trail. Admins only, except the
audit trail's own entries, which managers may read for their tree."""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from schema.kinds import USER_ROLES
from server import tables as t
from server.accounts import audit
from server.errors import BadRequest, NotFound
from server.services import services_of
from sync import tables as sync_t

from .auth import Viewer, check_csrf, language, viewer
from .columns import Col
from .exports import Sheet, batches_of
from .i18n import day_start_ms
from .pages import _export
from .queries import PAGE_SIZE, parse_day
from .reassign import MOVED, owned_counts, reassign_customers
from .web import page, render, see_other


async def _admin(request: Request) -> Viewer:
    v = await viewer(request)
    v.require_admin()
    return v


async def _note(request: Request, action: str, actor: Viewer, **detail: Any) -> None:
    async with services_of(request).engine.begin() as conn:
        await audit(conn, action, user_id=actor.user.id, **detail)


@page
async def users_page(request: Request) -> Response:
    await _admin(request)
    accounts = services_of(request).accounts
    users = await accounts.all_users()
    async with services_of(request).engine.connect() as conn:
        owned = await owned_counts(conn)
    return await render(request, "users.html", {
        "users": users, "by_id": {u.id: u for u in users}, "owned": owned,
        "roles": USER_ROLES, "message": request.query_params.get("done", ""),
    })


USER_COLS = [
    Col("login", "Login"), Col("name", "Name", width=16), Col("role", "Role"),
    Col("manager", "Manager", width=16), Col("owned", "Customers owned", fmt="int"),
    Col("status", "Status"),
]


@page
async def users_export(request: Request) -> Response:
    await _admin(request)
    svc = services_of(request)
    lang = language(request)
    users = await svc.accounts.all_users()
    by_id = {u.id: u for u in users}
    async with svc.engine.connect() as conn:
        owned = await owned_counts(conn)
    from .i18n import gettext, role_label

    rows = [(u.login, u.name, role_label(lang, u.role),
             by_id[u.manager_id].name if u.manager_id in by_id else "", owned.get(u.id, 0),
             gettext(lang, "Disabled" if u.disabled_at else "Active")) for u in users]
    sheet = Sheet("users", USER_COLS, batches_of(rows))
    return await _export(request.path_params["fmt"], [sheet], "users", lang)


@page
async def user_create(request: Request) -> Response:
    v = await _admin(request)
    form = await check_csrf(request)
    accounts = services_of(request).accounts
    manager = None
    if form.get("manager_id"):
        m = await accounts.get(form["manager_id"])
        if m is None:
            raise BadRequest("no such manager")
        manager = m.login
    user = await accounts.add_user(
        form.get("login", ""), form.get("password", ""), role=form.get("role", "rep"),
        name=form.get("name") or None, manager_login=manager,
    )
    await _note(request, "admin.user.create", v, target=user.id, login=user.login)
    return see_other(request, f"/users/{user.id}", done="created")


async def _target(request: Request) -> Any:
    user = await services_of(request).accounts.get(request.path_params["user_id"])
    if user is None:
        raise NotFound("no such user")
    return user


@page
async def user_page(request: Request) -> Response:
    await _admin(request)
    user = await _target(request)
    svc = services_of(request)
    users = await svc.accounts.all_users()
    async with svc.engine.connect() as conn:
        devices = list(await conn.execute(
            select(sync_t.devices).where(sync_t.devices.c.user_id == user.id)
            .order_by(sync_t.devices.c.last_contact_at.desc())
        ))
        owned = (await owned_counts(conn)).get(user.id, 0)
    live = {s.device_key[1] for s in svc.hub.sessions_of(user.id)}
    return await render(request, "user.html", {
        "user": user, "users": users, "by_id": {u.id: u for u in users},
        "devices": devices, "live": live, "owned": owned, "roles": USER_ROLES,
        "message": request.query_params.get("done", ""),
    })


@page
async def user_action(request: Request) -> Response:
    v = await _admin(request)
    user = await _target(request)
    form = await check_csrf(request)
    svc = services_of(request)
    action = request.path_params["action"]
    done = action
    if action == "disable":
        revoked = await svc.accounts.disable(user.id)
        svc.connections.revoke_tokens(revoked, "account disabled")  # every socket has a token
        await _note(request, "admin.user.disable", v, target=user.id, tokens=len(revoked))
    elif action == "password":
        revoked = await svc.accounts.set_password(user.id, form.get("password", ""))
        svc.connections.revoke_tokens(revoked, "password reset")
        await _note(request, "admin.user.password", v, target=user.id)
    elif action == "role":
        await svc.accounts.set_role(user.id, form.get("role", ""))
        svc.connections.change_scopes([user.id], "role changed")
        await _note(request, "admin.user.role", v, target=user.id, role=form.get("role"))
    elif action == "manager":
        manager_id = form.get("manager_id") or None
        if manager_id is not None and await svc.accounts.get(manager_id) is None:
            raise BadRequest("no such manager")
        changed = await svc.accounts.set_manager(user.id, manager_id)
        svc.connections.change_scopes(changed, "reporting tree changed")
        await _note(request, "admin.user.manager", v, target=user.id, manager_id=manager_id)
    elif action == "revoke-device":
        device_id = form.get("device_id", "")

        async def noted(conn: AsyncConnection) -> None:
            await audit(conn, "admin.device.revoke", user_id=v.user.id, target=user.id,
                        device_id=device_id)

        # through the log's one writer, like every other write to the device registry
        if not await svc.hub.log.devices.revoke(user.id, device_id, also=noted):
            raise NotFound("no such device, or already revoked")
        svc.connections.revoke_devices([(user.id, device_id)], "this device was revoked")
    elif action == "reassign":
        to = await svc.accounts.get(form.get("to", ""))
        if to is None or to.disabled_at is not None or to.id == user.id:
            raise BadRequest("choose an active user to hand the customers to")
        counts = await reassign_customers(svc, user.id, to.id)
        await _note(request, "admin.reassign", v, target=user.id, to=to.id, **counts)
        done = f"reassign:{counts[MOVED]}"
    else:
        raise NotFound("no such action")
    return see_other(request, f"/users/{user.id}", done=done)


# -- the audit trail -----------------------------------------------------------------------

AUDIT_COLS = [
    Col("at", "When", fmt="ms", width=17), Col("action", "Action", width=20),
    Col("user", "Who", width=16), Col("doc_id", "Doc", width=44),
    Col("detail", "Detail", width=60),
]


def _audit_select(v: Viewer, q: Any) -> Select[Any]:
    a = t.audit
    stmt = select(a.c.id, a.c.at, a.c.action, a.c.user_id, a.c.doc_id, a.c.detail)
    conds: list[ColumnElement[bool]] = []
    if q.get("action"):
        conds.append(a.c.action.like(q["action"].rstrip("*") + "%"))
    if q.get("member"):
        conds.append(a.c.user_id == q["member"])
    if q.get("doc"):
        conds.append(a.c.doc_id == q["doc"])
    start, end = parse_day(q.get("from")), parse_day(q.get("to"))
    if start is not None:
        conds.append(a.c.at >= day_start_ms(start))
    if end is not None:
        conds.append(a.c.at < day_start_ms(end + datetime.timedelta(days=1)))
    if v.principal.visible is not None:
        # A manager reads the entries about people in their tree.
        conds.append(a.c.user_id.in_(sorted(v.principal.visible)))
    if conds:
        stmt = stmt.where(and_(*conds))
    return stmt.order_by(a.c.at.desc(), a.c.id.desc())


def _detail_text(detail: str) -> str:
    try:
        data = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(data, dict):
        return detail
    return ", ".join(f"{k}={v}" for k, v in data.items())


@page
async def audit_page(request: Request) -> Response:
    v = await viewer(request)
    if v.principal.role not in ("admin", "manager"):
        v.require_admin()
    try:
        page_no = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_no = 1
    stmt = _audit_select(v, request.query_params)
    svc = services_of(request)
    async with svc.engine.connect() as conn:
        rows = list(await conn.execute(stmt.limit(PAGE_SIZE + 1)
                                       .offset((page_no - 1) * PAGE_SIZE)))
        actions = [r[0] for r in await conn.execute(
            select(t.audit.c.action).distinct().order_by(t.audit.c.action))]
    users = {u.id: u for u in await svc.accounts.all_users()}
    more = len(rows) > PAGE_SIZE
    return await render(request, "audit.html", {
        "rows": [(r.at, r.action, r.user_id, r.doc_id, _detail_text(r.detail))
                 for r in rows[:PAGE_SIZE]],
        "users": users, "actions": actions, "page": page_no, "more": more,
        "members": [(u.id, u.name) for u in users.values() if v.sees_user(u.id)],
    })


@page
async def audit_export(request: Request) -> Response:
    v = await viewer(request)
    if v.principal.role not in ("admin", "manager"):
        v.require_admin()
    svc = services_of(request)
    stmt = _audit_select(v, request.query_params)
    users = {u.id: u.name for u in await svc.accounts.all_users()}

    async def rows() -> AsyncIterator[Sequence[Sequence[Any]]]:
        async with svc.engine.connect() as conn:
            result = await conn.stream(stmt)
            async for part in result.partitions(2000):
                yield [(r.at, r.action, users.get(r.user_id, r.user_id or ""), r.doc_id,
                        _detail_text(r.detail)) for r in part]

    sheet = Sheet("audit", AUDIT_COLS, rows())
    return await _export(request.path_params["fmt"], [sheet], "audit", language(request))


# -- refused changes -------------------------------------------------------------------------

REFUSAL_COLS = [
    Col("at", "When", fmt="ms", width=17), Col("user", "Who", width=16),
    Col("device", "Device", width=18), Col("doc_id", "Doc", width=44),
    Col("field", "Field", width=16), Col("rule", "Rule", width=20),
    Col("message", "Detail", width=60),
]


def _refusal_select(v: Viewer, q: Any) -> Select[Any]:
    r = sync_t.refusals
    stmt = select(r.c.at, r.c.user_id, r.c.device_id, r.c.doc_id, r.c.detail)
    conds: list[ColumnElement[bool]] = []
    if q.get("member"):
        conds.append(r.c.user_id == q["member"])
    if q.get("doc"):
        conds.append(r.c.doc_id == q["doc"])
    start, end = parse_day(q.get("from")), parse_day(q.get("to"))
    if start is not None:
        conds.append(r.c.at >= day_start_ms(start))
    if end is not None:
        conds.append(r.c.at < day_start_ms(end + datetime.timedelta(days=1)))
    if v.principal.visible is not None:
        conds.append(r.c.user_id.in_(sorted(v.principal.visible)))
    if conds:
        stmt = stmt.where(and_(*conds))
    return stmt.order_by(r.c.at.desc())


def _refusal_row(row: Any, users: dict[str, str], lang: str) -> tuple[Any, ...]:
    try:
        d = json.loads(row.detail)
    except ValueError:
        d = {}
    if not isinstance(d, dict):
        d = {}
    message = d.get("message_zh") if lang == "zh" and d.get("message_zh") else d.get("message")
    return (row.at, users.get(row.user_id, row.user_id), row.device_id, row.doc_id,
            d.get("field") or "", d.get("rule") or d.get("code") or "",
            message or _detail_text(row.detail))


@page
async def refusals_page(request: Request) -> Response:
    """Changes the server refused (validation, rights), whose device still holds them."""
    v = await viewer(request)
    try:
        page_no = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_no = 1
    svc = services_of(request)
    users = {u.id: u.name for u in await svc.accounts.all_users()}
    lang = language(request)
    async with svc.engine.connect() as conn:
        rows = list(await conn.execute(_refusal_select(v, request.query_params)
                                       .limit(PAGE_SIZE + 1).offset((page_no - 1) * PAGE_SIZE)))
    return await render(request, "refusals.html", {
        "cols": REFUSAL_COLS,
        "rows": [_refusal_row(r, users, lang) for r in rows[:PAGE_SIZE]],
        "page": page_no, "more": len(rows) > PAGE_SIZE,
        "members": [(i, n) for i, n in users.items() if v.sees_user(i)],
    })


@page
async def refusals_export(request: Request) -> Response:
    v = await viewer(request)
    svc = services_of(request)
    users = {u.id: u.name for u in await svc.accounts.all_users()}
    lang = language(request)
    stmt = _refusal_select(v, request.query_params)

    async def rows() -> AsyncIterator[Sequence[Sequence[Any]]]:
        async with svc.engine.connect() as conn:
            result = await conn.stream(stmt)
            async for part in result.partitions(2000):
                yield [_refusal_row(r, users, lang) for r in part]

    sheet = Sheet("refusals", REFUSAL_COLS, rows())
    return await _export(request.path_params["fmt"], [sheet], "refusals", lang)
