"""The approval inbox (审批) of the back office: the records waiting for the viewer's
decision with their count in the menu, the approval section of a record page (流程信息 and
the approve / return / reject form), and the admin's expense threshold. Every decision goes
through `server.approvals` (`open_record`, `decide`), exactly as the API's; nothing here
decides anything."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from schema.kinds import MAX_EXPENSE_FEN
from server import approvals as flow
from server.accounts import audit
from server.approvals import THRESHOLD
from server.errors import BadRequest, HTTPError
from server.services import services_of

from . import queries as qs
from .auth import check_csrf, language, viewer
from .columns import yuan
from .i18n import gettext
from .inbox import DEVICE, approval_kinds, error_text, waiting
from .pages import record_view
from .web import page, render, see_other


@page
async def inbox_page(request: Request) -> Response:
    v = await viewer(request)
    items = await waiting(request, v)
    async with services_of(request).engine.connect() as conn:
        names = await qs.user_names(conn)
    return await render(request, "approvals.html", {
        "items": items, "names": names, "kinds": {k.name: k for k in approval_kinds()},
        "yuan": yuan,
    })


@page
async def decide_post(request: Request) -> Response:
    """approve / return / reject from the record page, through `server.approvals.decide`
    (with the step the page showed, so a stale page is refused); a refusal shows the record
    page again with the error's status and a message."""
    v = await viewer(request)
    form = await check_csrf(request)
    doc_id = request.path_params["doc_id"]
    action, comment = form.get("action", ""), form.get("comment", "").strip()
    svc = services_of(request)
    async with svc.engine.connect() as conn:
        await qs.load_record(conn, v, doc_id)  # 404 when not visible, like the page
    try:
        if action not in flow.ACTIONS:
            raise BadRequest("unknown decision", code="approval.bad_action")
        step = int(form["step"]) if form.get("step", "").isdigit() else None
        decision = await flow.decide(svc, doc_id, v.principal, action, comment, DEVICE,
                                     step=step)
    except HTTPError as e:
        lang = language(request)
        return await record_view(request, doc_id, error=error_text(e.code, lang, e.message),
                                 status=e.status, typed_comment=comment)
    # the last approval ends the flow; an earlier one passes it on: the page says which
    done = "approved" if decision.approval_status == "approved" else action
    return see_other(request, f"/records/{doc_id}", decided=done)


# -- the admin's setting ---------------------------------------------------------------------


def _fen_of(text: str) -> int | None:
    """Yuan typed in a form ("5000", "5,000.5", "5000.50") as integer fen; None when it is
    not an amount with at most two decimals."""
    text = text.strip().replace(",", "").replace("¥", "")
    whole, _, cents = text.partition(".")
    if not whole.isdigit() or (cents and not cents.isdigit()) or len(cents) > 2:
        return None
    return int(whole) * 100 + int((cents + "00")[:2])


@page
async def settings_page(request: Request) -> Response:
    v = await viewer(request)
    v.require_admin()
    fen = await services_of(request).approvals.threshold()
    return await render(request, "settings.html", {
        "fen": fen, "yuan": yuan, "error": "", "done": request.query_params.get("done", "")})


@page
async def settings_post(request: Request) -> Response:
    v = await viewer(request)
    v.require_admin()
    form = await check_csrf(request)
    flow = services_of(request).approvals
    fen = _fen_of(form.get("threshold", ""))
    if fen is None or fen > MAX_EXPENSE_FEN:
        lang = language(request)
        return await render(request, "settings.html", {
            "fen": await flow.threshold(), "yuan": yuan, "done": "",
            "error": gettext(lang, "Enter an amount in yuan from 0 to 100,000, with at most "
                             "two decimals."),
            "typed": form.get("threshold", "")}, status=400)
    was = await flow.threshold()
    await flow.set_threshold(v.principal, fen)
    async with services_of(request).engine.begin() as conn:
        await audit(conn, "admin.setting", user_id=v.user.id, name=THRESHOLD, was=was, to=fen)
    return see_other(request, "/settings", done="saved")

