"""Moving customers to another owner: a supervisor within their own team (000: a supervisor
reassigns customers between subordinates), an admin anywhere. One customer from its page,
or every customer of one team member at once.

Every move is the server's own edit of the customer doc (`services.edits`), so it goes
through the change log like any device's: devices of the new owner get the customer
(scope-enter), the old owner's lose it (scope-leave), and the server re-grants its visits,
service sheets and deals. The rights are checked here, where the supervisor is known: the
record rules' `owner.outside_team` check (`server.records.SchemaRules.validate`) applies to a
device's own edits, while the server's edits are authored by the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycrdt import Doc
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from schema import tables as st
from schema.ydoc import read_record, update_fields
from server.accounts import User, audit
from server.errors import BadRequest, Conflict, Forbidden
from server.services import services_of

from . import queries as qs
from .auth import Viewer, check_csrf, language, viewer
from .i18n import gettext
from .web import page, render, see_other

MOVED, SKIPPED, FAILED = "moved", "skipped", "failed"



def _t(request: Request, key: str, **names: str) -> str:
    return gettext(language(request), key).format(**names)


def may_reassign(v: Viewer) -> bool:
    """Supervisors (role manager) and admins reassign; reps and engineers do not."""
    return v.is_admin or v.principal.role == "manager"


def require_reassigner(request: Request, v: Viewer) -> None:
    if not may_reassign(v):
        raise Forbidden(_t(request, "Only supervisors and administrators can reassign "
                                    "customers."), code="not_a_supervisor")


@dataclass(frozen=True)
class Customer:
    doc_id: str
    name: str
    owner: str  # the owner, or its creator while the server has not yet named one
    merged_into: str | None


async def _customer(conn: Any, v: Viewer, doc_id: str) -> Customer | None:
    """The customer if the viewer can see it, else None (absent or hidden alike)."""
    c = st.rec_customer
    row = (await conn.execute(
        select(c.c.doc_id, c.c.name, c.c.owner, c.c.created_by, c.c.merged_into)
        .where(c.c.doc_id == doc_id)
    )).first()
    if row is None or not await v.principal.can_see(conn, doc_id):
        return None
    return Customer(row.doc_id, row.name or "", row.owner or row.created_by or "",
                    row.merged_into)


async def candidates(svc: Any, v: Viewer) -> list[User]:
    """Who the viewer may hand a customer to: active users in their subtree."""
    users: list[User] = await svc.accounts.all_users()
    return [u for u in users if u.disabled_at is None and v.sees_user(u.id)]


async def _target(request: Request, v: Viewer, user_id: str) -> User:
    """The user a customer is handed to: active, and in the viewer's subtree."""
    user: User | None = await services_of(request).accounts.get(user_id) if user_id else None
    if user is None or user.disabled_at is not None:
        raise BadRequest(_t(request, "Choose an active user to hand the customers to."),
                         code="no_target")
    if not v.sees_user(user.id):
        raise Forbidden(_t(request, "{name} is not in your team: you can hand customers only "
                                    "to yourself or to someone who reports to you.",
                           name=user.name), code="target_outside_team")
    return user


async def move_customer(svc: Any, doc_id: str, to_id: str, *, owner_was: str) -> str:
    """Set the owner of `doc_id` to `to_id` through the sync path, if its owner is still
    `owner_was` when the edit is made (a device may have moved it since it was checked).
    Returns MOVED, SKIPPED (owned by someone else by then) or FAILED (the edit was refused;
    the log says why)."""

    class _Moved(Exception):
        pass

    def change(doc: Doc[Any]) -> None:
        owner = read_record(doc, "customer")[0].get("owner")
        if owner is not None and owner != owner_was:
            raise _Moved(owner)
        update_fields(doc, "customer", {"owner": to_id})

    try:
        done = await svc.edits.edit(doc_id, "customer", change)
    except _Moved:
        return SKIPPED
    return FAILED if done is None else MOVED


async def _note(svc: Any, action: str, actor: Viewer, doc_id: str | None = None,
                **detail: Any) -> None:
    async with svc.engine.begin() as conn:
        await audit(conn, action, user_id=actor.user.id, doc_id=doc_id, **detail)


# -- one customer, from its page -----------------------------------------------------------


@page
async def reassign_customer(request: Request) -> Response:
    """POST /records/{doc_id}/reassign, `to` = a user id."""
    v = await viewer(request)
    require_reassigner(request, v)
    form = await check_csrf(request)
    svc = services_of(request)
    doc_id = request.path_params["doc_id"]
    async with svc.engine.connect() as conn:
        customer = await _customer(conn, v, doc_id)
        names = await qs.user_names(conn)
    if customer is None:
        # The same answer for a customer that does not exist, so ids cannot be probed.
        raise Forbidden(_t(request, "You cannot reassign this customer: it is not among the "
                                    "customers you can see."), code="customer_not_visible")
    if not v.sees_user(customer.owner):
        raise Forbidden(_t(request, "This customer belongs to {name}, who is not in your "
                                    "team: only their supervisor or an administrator can "
                                    "reassign it.", name=names.get(customer.owner, "?")),
                        code="customer_outside_team")
    if customer.merged_into:
        raise BadRequest(_t(request, "This card was merged into another; reassign that one."),
                         code="merged")
    to = await _target(request, v, form.get("to", ""))
    if to.id == customer.owner:
        return see_other(request, f"/records/{doc_id}", done="unchanged")
    outcome = await move_customer(svc, doc_id, to.id, owner_was=customer.owner)
    await _note(svc, "reassign.customer", v, doc_id, owner_was=customer.owner, to=to.id,
                outcome=outcome)
    if outcome == SKIPPED:
        raise Conflict(_t(request, "Someone else reassigned this customer meanwhile; "
                                   "reload the page."), code="owner_changed")
    if outcome == FAILED:
        raise Conflict(_t(request, "The server refused the change; see refused changes."),
                       code="refused")
    return see_other(request, f"/records/{doc_id}", done="reassigned")


# -- every customer of one member: the team page -------------------------------------------


async def owned_counts(conn: Any) -> dict[str, int]:
    """How many live customers each user owns."""
    c = st.rec_customer
    rows = await conn.execute(
        select(c.c.owner, func.count()).where(c.c.merged_into.is_(None)).group_by(c.c.owner)
    )
    return {r[0]: int(r[1]) for r in rows if r[0]}


@page
async def team_page(request: Request) -> Response:
    """GET /team: the viewer's team with the customers each owns, and the bulk form."""
    v = await viewer(request)
    require_reassigner(request, v)
    svc = services_of(request)
    users: list[User] = await svc.accounts.all_users()
    async with svc.engine.connect() as conn:
        owned = await owned_counts(conn)
    members = [u for u in users if v.sees_user(u.id)]
    return await render(request, "team.html", {
        "members": members, "owned": owned, "by_id": {u.id: u for u in users},
        "message": request.query_params.get("done", ""),
    })


@page
async def reassign_member(request: Request) -> Response:
    """POST /team/reassign, `from` and `to` = user ids in the viewer's subtree."""
    v = await viewer(request)
    require_reassigner(request, v)
    form = await check_csrf(request)
    svc = services_of(request)
    src: User | None = await svc.accounts.get(form.get("from", "")) if form.get("from") else None
    if src is None:
        raise BadRequest(_t(request, "Choose whose customers to hand over."), code="no_source")
    if not v.sees_user(src.id):
        raise Forbidden(_t(request, "{name} is not in your team: you can reassign only the "
                                    "customers of yourself or of someone who reports to you.",
                           name=src.name), code="source_outside_team")
    to = await _target(request, v, form.get("to", ""))
    if to.id == src.id:
        raise BadRequest(_t(request, "Choose someone else to hand the customers to."),
                         code="same_user")
    counts = await reassign_customers(svc, src.id, to.id)
    await _note(svc, "reassign.member", v, None, target=src.id, to=to.id, **counts)
    return see_other(request, "/team", done=f"reassign:{counts[MOVED]}")


async def reassign_customers(svc: Any, from_id: str, to_id: str) -> dict[str, int]:
    """Move every live customer owned by `from_id` to `to_id` through the sync path; their
    visits, service sheets and deals follow (the server re-grants a customer's children).
    Counts of MOVED, SKIPPED and FAILED."""
    c = st.rec_customer
    async with svc.engine.connect() as conn:
        ids = [r[0] for r in await conn.execute(
            select(c.c.doc_id).where(c.c.owner == from_id, c.c.merged_into.is_(None))
        )]
    counts = {MOVED: 0, SKIPPED: 0, FAILED: 0}
    for doc_id in ids:
        counts[await move_customer(svc, doc_id, to_id, owner_was=from_id)] += 1
    return counts
