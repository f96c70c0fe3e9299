"""The pool (公海) in the back office: the customers in it with an assign form, the pending
extension requests (延期) to grant or refuse, the recycle bin (回收站) to restore from, and
releasing a customer by its code. The rules are `server.pool`'s, shared with the phone."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from schema import tables as st
from server.errors import BadRequest, NotFound
from server.services import services_of

from . import queries as qs
from .auth import check_csrf, viewer
from .web import page, render, see_other


@page
async def pool_page(request: Request) -> Response:
    """GET /pool: the pool, extension requests and the recycle bin."""
    v = await viewer(request)
    svc = services_of(request)
    q = request.query_params.get("q", "")[:100]
    users = await svc.accounts.all_users()
    async with svc.engine.connect() as conn:
        names = await qs.user_names(conn)
    return await render(request, "pool.html", {
        "items": await svc.pool.listing(q),
        "q": q,
        "extensions": await svc.pool.extensions(v.principal),
        "binned": await svc.pool.binned(v.principal),
        "names": names,
        "assignees": [u for u in users if u.disabled_at is None and v.sees_user(u.id)],
        "may_assign": v.is_admin or v.principal.role == "manager",
        "settings": svc.pool.settings,
        "message": request.query_params.get("done", ""),
    })


def _doc(request: Request) -> str:
    doc_id = str(request.path_params["doc_id"])
    if not doc_id.startswith("customer:"):
        raise NotFound("no such customer", code="pool.no_customer")
    return doc_id


@page
async def assign_post(request: Request) -> Response:
    """POST /pool/{doc_id}/assign, `to` = a user id."""
    v = await viewer(request)
    form = await check_csrf(request)
    svc = services_of(request)
    to = await svc.accounts.get(form.get("to", "")) if form.get("to") else None
    if to is None:
        raise BadRequest("choose whom to give the customer to", field="to", code="pool.no_user")
    await svc.pool.assign(v.principal, _doc(request), to)
    return see_other(request, "/pool", done="assigned")


@page
async def release_post(request: Request) -> Response:
    """POST /pool/release, `code` = a customer code the viewer sees."""
    v = await viewer(request)
    form = await check_csrf(request)
    svc = services_of(request)
    code = form.get("code", "").strip()
    c = st.rec_customer
    async with svc.engine.connect() as conn:
        row = (await conn.execute(select(c.c.doc_id).where(c.c.code == code))).first()
        if row is None or not await v.principal.can_see(conn, row.doc_id):
            raise NotFound(f"no customer with code {code!r} among those you see",
                           field="code", code="pool.no_customer")
    await svc.pool.release(v.principal, row.doc_id)
    return see_other(request, "/pool", done="released")


@page
async def decide_post(request: Request) -> Response:
    """POST /pool/extensions/{ext_id}/decide, `grant` = 1 or 0."""
    v = await viewer(request)
    form = await check_csrf(request)
    try:
        ext_id = int(request.path_params["ext_id"])
    except ValueError:
        raise NotFound("no such extension request", code="pool.no_extension") from None
    grant = form.get("grant") == "1"
    await services_of(request).pool.decide_extension(v.principal, ext_id, grant)
    return see_other(request, "/pool", done="granted" if grant else "refused")


@page
async def restore_post(request: Request) -> Response:
    """POST /bin/{doc_id}/restore."""
    v = await viewer(request)
    await check_csrf(request)
    await services_of(request).pool.bin(v.principal, _doc(request), restore=True)
    return see_other(request, "/pool", done="restored")


def routes() -> list[BaseRoute]:
    return [
        Route("/pool", pool_page, methods=["GET"], name="bo_pool"),
        Route("/pool/release", release_post, methods=["POST"]),
        Route("/pool/extensions/{ext_id}/decide", decide_post, methods=["POST"]),
        Route("/pool/{doc_id}/assign", assign_post, methods=["POST"]),
        Route("/bin/{doc_id}/restore", restore_post, methods=["POST"]),
    ]
