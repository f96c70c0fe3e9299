"""HTTP endpoints about customers as a whole: the duplicate lookup, the offline index, and
the duplicate review queue with merges and their undo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .errors import BadRequest, Forbidden

if TYPE_CHECKING:
    from .accounts import TokenInfo
    from .app import Services


async def _caller(request: Request) -> tuple[Services, TokenInfo]:
    from .app import current

    return request.app.state.services, await current(request)


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw[:40]!r}", field=name) from None


async def lookup(request: Request) -> Response:
    services, _ = await _caller(request)
    q = request.query_params
    matches = await services.duplicates.lookup(
        q.get("name", ""), q.get("phone", ""), q.get("credit_code", ""),
        limit=min(max(_int(request, "limit", 10), 1), 50),
    )
    return JSONResponse({"matches": matches})


async def index(request: Request) -> Response:
    services, _ = await _caller(request)
    page = await services.duplicates.index_page(
        _int(request, "cursor", 0), limit=min(max(_int(request, "limit", 5000), 1), 20000)
    )
    return JSONResponse(page)


def _reviewer(info: TokenInfo) -> None:
    if info.user.role not in ("manager", "admin"):
        raise Forbidden("only managers and the back office review duplicates")


async def candidates(request: Request) -> Response:
    services, info = await _caller(request)
    _reviewer(info)
    status = request.query_params.get("status", "open")
    if status not in ("open", "merged", "dismissed"):
        raise BadRequest("status is one of open, merged, dismissed", field="status")
    items = await services.duplicates.candidates(status)
    return JSONResponse({"candidates": [_candidate(c) for c in items]})


def _candidate(c: Any) -> dict[str, Any]:
    return {"id": c.id, "doc_a": c.doc_a, "doc_b": c.doc_b, "reason": c.reason,
            "score": c.score, "created_at": c.created_at, "status": c.status}


async def decide(request: Request) -> Response:
    services, info = await _caller(request)
    _reviewer(info)
    candidate_id = int(request.path_params["id"])
    action = request.path_params["action"]
    if action == "merge":
        merge_id = await services.duplicates.merge_candidate(candidate_id, info.user.id)
        return JSONResponse({"merge": merge_id}, status_code=201)
    if action == "dismiss":
        await services.duplicates.dismiss(candidate_id, info.user.id)
        return Response(status_code=204)
    raise BadRequest("action is merge or dismiss", field="action")


async def merges(request: Request) -> Response:
    services, info = await _caller(request)
    _reviewer(info)
    items = await services.duplicates.merges()
    return JSONResponse({"merges": [
        {"id": m.id, "survivor": m.survivor, "duplicate": m.duplicate, "rule": m.rule,
         "at": m.at, "actor": m.actor, "undone_at": m.undone_at, "detail": m.detail}
        for m in items
    ]})


async def undo(request: Request) -> Response:
    services, info = await _caller(request)
    if info.user.role != "admin":
        raise Forbidden("only an admin can undo a merge")
    await services.duplicates.undo(int(request.path_params["id"]), info.user.id)
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/customers/lookup", lookup, methods=["GET"]),
        Route("/api/customers/index", index, methods=["GET"]),
        Route("/api/duplicates", candidates, methods=["GET"]),
        Route("/api/duplicates/{id:int}/{action}", decide, methods=["POST"]),
        Route("/api/merges", merges, methods=["GET"]),
        Route("/api/merges/{id:int}/undo", undo, methods=["POST"]),
    ]
