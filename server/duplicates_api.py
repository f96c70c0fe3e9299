"""The duplicates API: the lookup a rep asks while typing a name, the offline duplicate index,
and the review queue with merges and their undo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .auth import current
from .errors import BadRequest, Forbidden
from .params import INT64_MAX, IntParam
from .services import services_of

if TYPE_CHECKING:
    from .accounts import TokenInfo
    from .services import Services


async def _caller(request: Request) -> tuple[Services, TokenInfo]:
    return services_of(request), await current(request)


# The parameters, declared once: the routes parse with them, the OpenAPI document shows them.
LOOKUP_LIMIT = IntParam("limit", "at most this many matches", 1, 50, 10)
INDEX_CURSOR = IntParam("cursor", "the `cursor` of the last page; 0 for the first", 0,
                        INT64_MAX, 0)
INDEX_LIMIT = IntParam("limit", "rows per page", 1, 20000, 5000)
CANDIDATE_ID = IntParam("id", "the candidate's id", 1, INT64_MAX)
MERGE_ID = IntParam("id", "the merge's id", 1, INT64_MAX)
CANDIDATE_STATUSES = ("open", "merged", "dismissed")


async def lookup(request: Request) -> Response:
    services, _ = await _caller(request)
    q = request.query_params
    matches = await services.duplicates.lookup(
        q.get("name", ""), q.get("phone", ""), q.get("credit_code", ""),
        limit=LOOKUP_LIMIT.require(q.get("limit")),
    )
    return JSONResponse({"matches": matches})


async def index(request: Request) -> Response:
    services, _ = await _caller(request)
    q = request.query_params
    page = await services.duplicates.index_page(
        INDEX_CURSOR.require(q.get("cursor")), limit=INDEX_LIMIT.require(q.get("limit"))
    )
    return JSONResponse(page)


def _reviewer(info: TokenInfo) -> None:
    if info.user.role not in ("manager", "admin"):
        raise Forbidden("only managers and the back office review duplicates")


async def candidates(request: Request) -> Response:
    services, info = await _caller(request)
    _reviewer(info)
    status = request.query_params.get("status", "open")
    if status not in CANDIDATE_STATUSES:
        raise BadRequest(f"status is one of {', '.join(CANDIDATE_STATUSES)}", field="status")
    items = await services.duplicates.candidates(status)
    return JSONResponse({"candidates": [_candidate(c) for c in items]})


def _candidate(c: Any) -> dict[str, Any]:
    return {"id": c.id, "doc_a": c.doc_a, "doc_b": c.doc_b, "reason": c.reason,
            "score": c.score, "created_at": c.created_at, "status": c.status}


async def merge(request: Request) -> Response:
    services, info = await _caller(request)
    _reviewer(info)
    candidate_id = CANDIDATE_ID.require(request.path_params["id"])
    merge_id = await services.duplicates.merge_candidate(candidate_id, info.user.id)
    return JSONResponse({"merge": merge_id}, status_code=201)


async def dismiss(request: Request) -> Response:
    services, info = await _caller(request)
    _reviewer(info)
    candidate_id = CANDIDATE_ID.require(request.path_params["id"])
    await services.duplicates.dismiss(candidate_id, info.user.id)
    return Response(status_code=204)


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
    await services.duplicates.undo(MERGE_ID.require(request.path_params["id"]), info.user.id)
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/customers/lookup", lookup, methods=["GET"]),
        Route("/api/customers/index", index, methods=["GET"]),
        Route("/api/duplicates", candidates, methods=["GET"]),
        # Ids are parsed by the endpoints, so that a bad one is a 400 naming `id`.
        Route("/api/duplicates/{id}/merge", merge, methods=["POST"]),
        Route("/api/duplicates/{id}/dismiss", dismiss, methods=["POST"]),
        Route("/api/merges", merges, methods=["GET"]),
        Route("/api/merges/{id}/undo", undo, methods=["POST"]),
    ]
