"""The pool, recycle-bin and sharing routes the phone uses: list and claim pool customers,
release one, ask for and decide extensions, bin and restore invalid customers, and see and
change who a customer is shared with. The rules are `server.pool`'s."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from schema.ydoc import update_fields
from sync import protocol as p
from sync.scope import ancestors

from .accounts import audit
from .auth import caller
from .errors import BadRequest, Conflict, Forbidden, NotFound
from .params import IntParam, json_object
from .pool import MAX_LIST, may_manage
from .services import services_of

LIMIT = IntParam("limit", "at most this many rows", 1, MAX_LIST, MAX_LIST)
EXTENSION_ID = IntParam("id", "the extension request", 1)
MAX_QUERY = 100
MAX_SHARED = 200  # the shared_with field's max_items


def _doc_id(request: Request) -> str:
    doc_id = str(request.path_params["doc_id"])
    try:
        p.check_doc_id(doc_id, frozenset({"customer"}))
    except ValueError as e:
        raise NotFound(str(e), code="pool.no_customer") from None
    return doc_id


async def pool_list(request: Request) -> Response:
    info, _ = await caller(request)
    q = request.query_params.get("q", "")
    if len(q) > MAX_QUERY:
        raise BadRequest(f"q is at most {MAX_QUERY} characters", field="q")
    pool = services_of(request).pool
    items = await pool.listing(q, LIMIT.parse(request.query_params.get("limit")) or MAX_LIST)
    return JSONResponse({"items": items, "claimed": await pool.claimed_count(info.user.id),
                         "limit": pool.settings.claim_limit})


async def claim(request: Request) -> Response:
    info, _ = await caller(request)
    return JSONResponse(await services_of(request).pool.claim(info.user, _doc_id(request)))


async def release(request: Request) -> Response:
    _, principal = await caller(request)
    doc_id = _doc_id(request)
    svc = services_of(request)
    await _known(svc, principal, doc_id)
    return JSONResponse(await svc.pool.release(principal, doc_id))


async def assign(request: Request) -> Response:
    _, principal = await caller(request)
    doc_id = _doc_id(request)
    body = await json_object(request)
    svc = services_of(request)
    to_id = body.get("to")
    to = await svc.accounts.get(to_id) if isinstance(to_id, str) and to_id else None
    if not isinstance(to_id, str) or not to_id:
        raise BadRequest("to is the id of the user the customer goes to", field="to",
                         code="pool.no_user")
    if to is None:
        raise NotFound("no such user to give the customer to", field="to", code="pool.no_user")
    return JSONResponse(await svc.pool.assign(principal, doc_id, to))


async def extensions(request: Request) -> Response:
    _, principal = await caller(request)
    return JSONResponse({"items": await services_of(request).pool.extensions(principal)})


async def request_extension(request: Request) -> Response:
    info, _ = await caller(request)
    doc_id = _doc_id(request)
    body = await json_object(request)
    out = await services_of(request).pool.request_extension(
        info.user, doc_id, body.get("days"), body.get("reason"))
    return JSONResponse(out, status_code=201)


async def decide_extension(request: Request) -> Response:
    _, principal = await caller(request)
    ext_id = EXTENSION_ID.require(request.path_params["id"])
    body = await json_object(request)
    grant = body.get("grant")
    if not isinstance(grant, bool):
        raise BadRequest("grant is true (grant) or false (refuse)", field="grant")
    return JSONResponse(await services_of(request).pool.decide_extension(principal, ext_id,
                                                                          grant))


async def bin_list(request: Request) -> Response:
    _, principal = await caller(request)
    return JSONResponse({"items": await services_of(request).pool.binned(principal)})


async def bin_(request: Request) -> Response:
    _, principal = await caller(request)
    return JSONResponse(await _bin(request, principal, restore=False))


async def restore(request: Request) -> Response:
    _, principal = await caller(request)
    return JSONResponse(await _bin(request, principal, restore=True))


async def _bin(request: Request, principal: Any, *, restore: bool) -> dict[str, Any]:
    doc_id = _doc_id(request)
    svc = services_of(request)
    await _known(svc, principal, doc_id)
    return await svc.pool.bin(principal, doc_id, restore=restore)


async def _known(svc: Any, principal: Any, doc_id: str) -> None:
    """NotFound unless the caller sees the customer, or manages its owner: a binned card is
    in nobody's briefcase, so for it the owner decides (absent and hidden alike are 404)."""
    live = await svc.hub.open(doc_id, "customer")
    owner = live.record.get("owner") if live.exists else None
    if live.exists and isinstance(owner, str) and may_manage(principal, owner):
        return
    async with svc.engine.connect() as conn:
        if not live.exists or not await principal.can_see(conn, doc_id):
            raise NotFound("no such customer among those you see", code="pool.no_customer")


# -- sharing ---------------------------------------------------------------------------------


async def _shared_card(request: Request) -> tuple[str, dict[str, Any], Any]:
    _, principal = await caller(request)
    doc_id = _doc_id(request)
    svc = services_of(request)
    async with svc.engine.connect() as conn:
        visible = await principal.can_see(conn, doc_id)
    live = await svc.hub.open(doc_id, "customer")
    if not visible or not live.exists:
        raise NotFound("no such customer among those you see", code="pool.no_customer")
    return doc_id, dict(live.record), principal


async def sharing(request: Request) -> Response:
    """Who can see the customer: its owner, the owner's managers, the users it is shared
    with (and every admin); and, for those who may change it, whom it can be shared with."""
    doc_id, rec, principal = await _shared_card(request)
    users = await services_of(request).accounts.all_users()
    by_id = {u.id: u for u in users}
    owner = rec.get("owner") if isinstance(rec.get("owner"), str) else None
    shared = [u for u in rec.get("shared_with") or [] if isinstance(u, str)]
    may = bool(owner) and may_manage(principal, owner or "") and not rec.get("merged_into")

    def person(uid: str) -> dict[str, Any]:
        u = by_id.get(uid)
        return {"id": uid, "name": u.name if u else uid, "login": u.login if u else "",
                "disabled": bool(u and u.disabled_at is not None)}

    tree = {u.id: u.manager_id for u in users}
    return JSONResponse({
        "doc_id": doc_id,
        "owner": person(owner) if owner else None,
        "managers": [person(m) for m in ancestors(tree, owner)] if owner else [],
        "shared_with": [person(u) for u in shared],
        "private": bool(rec.get("security_level")),
        "may_change": may,
        "candidates": [person(u.id) for u in users if may and u.disabled_at is None
                       and u.id != owner and u.id not in shared and u.role != "admin"],
    })


async def change_sharing(request: Request) -> Response:
    """`add` or `remove` one user id; the owner, their manager or an admin."""
    doc_id, rec, principal = await _shared_card(request)
    body = await json_object(request)
    svc = services_of(request)
    owner = rec.get("owner") if isinstance(rec.get("owner"), str) else ""
    if not owner or not may_manage(principal, owner):
        raise Forbidden("only the owner, their manager or an admin may change sharing",
                        code="share.not_yours")
    if rec.get("merged_into"):
        raise Conflict("this card was merged into another; share that one",
                       code="share.merged", merged_into=rec["merged_into"])
    add, remove = body.get("add"), body.get("remove")
    shared = [u for u in rec.get("shared_with") or [] if isinstance(u, str)]
    if isinstance(add, str) and add:
        user = await svc.accounts.get(add)
        if user is None or user.disabled_at is not None:
            raise BadRequest("add is the id of an active user", field="add",
                             code="share.no_user")
        if add == owner:
            raise BadRequest("the owner already sees the customer", field="add",
                             code="share.owner")
        if len(shared) >= MAX_SHARED and add not in shared:
            raise BadRequest(f"a customer is shared with at most {MAX_SHARED} users",
                             field="add", code="share.too_many")
        new = shared if add in shared else [*shared, add]
    elif isinstance(remove, str) and remove:
        new = [u for u in shared if u != remove]
    else:
        raise BadRequest("give add or remove: a user id", field="add", code="share.no_user")
    if new != shared:
        done = await svc.edits.edit(doc_id, "customer", lambda d: update_fields(
            d, "customer", {"shared_with": new}))
        if done is None:
            raise Conflict("the server refused the change", code="share.refused")
        async with svc.engine.begin() as conn:
            await audit(conn, "customer.share", user_id=principal.user_id, doc_id=doc_id,
                        added=[add] if isinstance(add, str) and add else [],
                        removed=[remove] if isinstance(remove, str) and remove else [],
                        shared_with=new)
    return await sharing(request)


def routes() -> list[BaseRoute]:
    return [
        Route("/api/pool", pool_list, methods=["GET"]),
        Route("/api/pool/extensions", extensions, methods=["GET"]),
        Route("/api/pool/extensions/{id}/decide", decide_extension, methods=["POST"]),
        Route("/api/pool/{doc_id}/claim", claim, methods=["POST"]),
        Route("/api/pool/{doc_id}/release", release, methods=["POST"]),
        Route("/api/pool/{doc_id}/assign", assign, methods=["POST"]),
        Route("/api/pool/{doc_id}/extension", request_extension, methods=["POST"]),
        Route("/api/bin", bin_list, methods=["GET"]),
        Route("/api/bin/{doc_id}", bin_, methods=["POST"]),
        Route("/api/bin/{doc_id}/restore", restore, methods=["POST"]),
        Route("/api/customers/{doc_id}/sharing", sharing, methods=["GET"]),
        Route("/api/customers/{doc_id}/sharing", change_sharing, methods=["POST"]),
    ]
