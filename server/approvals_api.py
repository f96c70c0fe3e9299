"""The approval routes: the caller's inbox, opening a record and deciding it, and the
admin's threshold. The flow itself is `server.approvals`, shared with the back office."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync import protocol as p

from .approvals import ACTIONS, THRESHOLD, decide, open_record
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
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise BadRequest("step is the approval_step the decision is for", field="step")
    decision = await decide(services_of(request), doc_id, principal, action, comment,
                            _device(body), step=step)
    return JSONResponse(decision.json())


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
    ]
