"""The approval routes: the caller's inbox, opening a record and deciding it, and the
admin's threshold. The flow itself is `server.approvals`, shared with the back office."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync import protocol as p

from .accounts import User
from .approvals import ACTIONS, THRESHOLD, decide, open_record, withdraw
from .auth import caller
from .errors import BadRequest, NotFound
from .params import json_object
from .services import services_of

MAX_COMMENT = 2000


def _doc_id(request: Request) -> str:
    doc_id = request.path_params["doc_id"]
    try:
        p.check_doc_id(doc_id, frozenset({"trip_plan", "expense", "work_report"}))
    except ValueError as e:
        raise NotFound(str(e)) from None
    return str(doc_id)


def _device(body: dict[str, Any]) -> str:
    device = body.get("device", "api")
    if not isinstance(device, str) or len(device) > 200:
        raise BadRequest("device is a string of at most 200 characters", field="device")
    return device or "api"


async def inbox(request: Request) -> Response:
    _, principal = await caller(request)
    items = await services_of(request).approvals.waiting(principal)
    return JSONResponse({"items": items, "counts": {"waiting": len(items)}})


async def open_(request: Request) -> Response:
    _, principal = await caller(request)
    doc_id = _doc_id(request)
    body = await json_object(request, required=False)
    await open_record(services_of(request), doc_id, principal, _device(body))
    return Response(status_code=204)


async def decide_(request: Request) -> Response:
    _, principal = await caller(request)
    doc_id = _doc_id(request)
    body = await json_object(request)
    action, comment, step = body.get("action"), body.get("comment", ""), body.get("step")
    if action not in ACTIONS:
        raise BadRequest(f"action is one of {', '.join(ACTIONS)}", field="action")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise BadRequest(f"comment is a string of at most {MAX_COMMENT} characters",
                         field="comment")
    if isinstance(step, float) and step.is_integer():
        step = int(step)  # JSON's 1.0 is the integer 1 (as JSON Schema reads it)
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise BadRequest("step is the approval_step the decision is for", field="step")
    decision = await decide(services_of(request), doc_id, principal, action, comment,
                            _device(body), step=step)
    return JSONResponse(decision.json())


async def withdraw_(request: Request) -> Response:
    _, principal = await caller(request)
    doc_id = _doc_id(request)
    body = await json_object(request, required=False)
    await withdraw(services_of(request), doc_id, principal, _device(body))
    return Response(status_code=204)


def people_of(me: User, users: list[User]) -> list[User]:
    """The users whose names the caller's records and approval history can show: themselves,
    their managers up the tree (their approvers), everyone under them (whose records they
    decide or see), and the admins (who approve for someone with no manager). An admin sees
    everyone."""
    if me.role == "admin":
        return sorted(users, key=lambda u: u.login)
    by_id = {u.id: u for u in users}
    keep = {me.id}
    up = by_id.get(me.manager_id or "")
    while up is not None and up.id not in keep:
        keep.add(up.id)
        up = by_id.get(up.manager_id or "")
    keep |= {u.id for u in users if _under(u, me.id, by_id)}  # at any depth
    keep |= {u.id for u in users if u.role == "admin"}
    return sorted((by_id[i] for i in keep if i in by_id), key=lambda u: u.login)


def _under(user: User, boss: str, by_id: dict[str, User]) -> bool:
    seen: set[str] = set()
    up = user.manager_id
    while up is not None and up not in seen:
        if up == boss:
            return True
        seen.add(up)
        nxt = by_id.get(up)
        up = nxt.manager_id if nxt is not None else None
    return False


async def people(request: Request) -> Response:
    info, _ = await caller(request)
    users = await services_of(request).accounts.all_users()
    return JSONResponse({"people": [
        {"id": u.id, "name": u.name, "role": u.role, "manager_id": u.manager_id,
         "disabled": u.disabled_at is not None}
        for u in people_of(info.user, users)]})


async def get_settings(request: Request) -> Response:
    await caller(request)
    return JSONResponse({THRESHOLD: await services_of(request).approvals.threshold()})


async def put_settings(request: Request) -> Response:
    _, principal = await caller(request)
    body = await json_object(request)
    approvals = services_of(request).approvals
    await approvals.set_threshold(principal, body.get(THRESHOLD))
    return JSONResponse({THRESHOLD: await approvals.threshold()})


def routes() -> list[BaseRoute]:
    return [
        Route("/api/approvals", inbox, methods=["GET"]),
        Route("/api/approvals/settings", get_settings, methods=["GET"]),
        Route("/api/approvals/settings", put_settings, methods=["PUT"]),
        Route("/api/approvals/{doc_id}/open", open_, methods=["POST"]),
        Route("/api/approvals/{doc_id}/decide", decide_, methods=["POST"]),
        Route("/api/approvals/{doc_id}/withdraw", withdraw_, methods=["POST"]),
        Route("/api/people", people, methods=["GET"]),
    ]
