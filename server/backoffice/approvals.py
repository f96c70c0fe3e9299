"""The approval inbox (审批) of the back office: the records waiting for the viewer's
decision with their count in the menu, the approval section of a record page (流程信息 and
the approve / return / reject form), and the admin's expense threshold. Every decision goes
through `server.approvals` (`open_record`, `decide`), exactly as the API's; nothing here
decides anything."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from schema.kinds import APPROVAL_KINDS, KINDS, MAX_EXPENSE_FEN, Kind
from server import approvals as flow
from server.accounts import audit
from server.approvals import THRESHOLD
from server.errors import BadRequest, HTTPError
from server.services import services_of

from . import queries as qs
from .auth import Viewer, check_csrf, language, viewer
from .columns import yuan
from .i18n import gettext
from .web import page, render, see_other

log = logging.getLogger(__name__)
DEVICE = "backoffice"  # the approval log's "from which device" for a decision made here


def approval_kinds() -> list[Kind]:
    """The kinds that go through the flow."""
    return [KINDS[name] for name in sorted(APPROVAL_KINDS)]


@dataclass
class Waiting:
    doc_id: str
    kind: str
    subject: str
    author: str
    amount_fen: int | None
    submitted_at: int | None
    step: int


async def waiting(request: Request, v: Viewer) -> list[Waiting]:
    """Every record waiting for the viewer's decision, newest submission first: the API's
    own list (`Approvals.waiting`), kept to what the viewer sees."""
    items = await services_of(request).approvals.waiting(v.principal)
    async with services_of(request).engine.connect() as conn:
        seen = await v.principal.seen_of(conn, [str(i["doc_id"]) for i in items])
    return [Waiting(str(i["doc_id"]), str(i["kind"]), str(i["subject"] or ""),
                    str(i["author"]), i.get("amount_fen"), i.get("submitted_at"),
                    int(i.get("approval_step") or 0))
            for i in items if i["doc_id"] in seen]


async def waiting_count(request: Request, v: Viewer) -> int:
    """The menu's count (one query per approval kind)."""
    return len(await waiting(request, v))


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


# -- the approval section of a record page ---------------------------------------------------

ACTIONS = {"submit": ("提交", "Submitted"), "open": ("已查看", "Opened"),
           "approve": ("通过", "Approved"), "reject": ("拒绝", "Rejected"),
           "return": ("退回", "Returned"), "withdraw": ("撤销", "Withdrawn")}


@dataclass
class Flow:
    status: str
    status_label: str
    approvers: list[str]
    step: int
    log: list[Mapping[str, Any]]
    may_decide: bool
    lang: str = "zh"
    opened_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def action_label(self, action: str) -> str:
        zh, en = ACTIONS.get(action, (action, action))
        return zh if self.lang == "zh" else en


def _current(row: Mapping[str, Any], approvers: list[str]) -> str | None:
    step = int(row.get("approval_step") or 0)
    if row.get("approval_status") != "submitted" or not 0 <= step < len(approvers):
        return None
    return approvers[step]


def _approvers(children: Mapping[str, list[Mapping[str, Any]]]) -> list[str]:
    return [str(a["user_id"]) for a in children.get("approvers", [])]


async def flow_of(
    request: Request, conn: AsyncConnection, v: Viewer, rec: qs.Record
) -> Flow | None:
    """The approval state, log and whether the viewer decides now; None for a kind that
    has no approval."""
    kind = KINDS[rec.kind]
    if not kind.has_field("approval_status"):
        return None
    lang = language(request)
    status = str(rec.row.get("approval_status") or "draft")
    e = kind.field("approval_status").enum_label(status)
    label = status if e is None else (e.label_zh if lang == "zh" else e.label_en)
    approvers = _approvers(rec.children)
    log = sorted(rec.children.get("approval_log", []),
                 key=lambda s: (s.get("at") or 0, s.get("position") or 0))
    return Flow(status, label, approvers, int(rec.row.get("approval_step") or 0), log,
                _current(rec.row, approvers) == v.user.id, lang, rec.row.get("opened_at"))


async def open_if_current(request: Request, v: Viewer, doc_id: str) -> None:
    """The current approver opening the page opens the record (`server.approvals`): from
    then on the author can no longer withdraw it. Asked before the page reads the record,
    so the page shows the `open` step."""
    kind = KINDS.get(doc_id.split(":", 1)[0])
    if kind is None or not kind.has_field("approval_status"):
        return
    svc = services_of(request)
    async with svc.engine.connect() as conn:
        try:
            rec = await qs.load_record(conn, v, doc_id)
        except HTTPError:
            return  # the page answers 404 itself
    if rec.row.get("opened_at") is None and _current(rec.row,
                                                     _approvers(rec.children)) == v.user.id:
        try:
            await flow.open_record(svc, doc_id, v.principal, device=DEVICE)
        except HTTPError as e:  # decided meanwhile: the page shows where it stands now
            log.info("%s opening %s: %s", v.user.id, doc_id, e.code)


DECIDED = {"approve": ("已通过此步审批。", "Approved."),
           "return": ("已退回给作者修改。", "Returned to the author for changes."),
           "reject": ("已拒绝,流程结束。", "Rejected; the flow has ended.")}

ERRORS = {
    "approval.not_pending": (
        "此记录已不在审批中:它已被撤销或已有决定(可能刚被他人处理)。请刷新页面查看当前状态。",
        "This record is no longer waiting for a decision: it was withdrawn or already "
        "decided (perhaps just now, by someone else). Reload the page to see where it is."),
    "approval.not_your_turn": (
        "现在不是由您审批此记录。", "It is not your turn to decide on this record."),
    "approval.own_record": ("不能审批自己的记录。", "You cannot decide on your own record."),
    "approval.comment_required": (
        "退回时必须填写意见,说明需要修改什么。",
        "A return needs a comment saying what to change."),
    "approval.bad_action": ("未知的审批操作。", "Unknown decision."),
}


def decided_text(action: str, lang: str) -> str:
    zh, en = DECIDED.get(action, ("", ""))
    return zh if lang == "zh" else en


def error_text(code: str, lang: str, fallback: str = "") -> str:
    if code not in ERRORS:
        return fallback
    zh, en = ERRORS[code]
    return zh if lang == "zh" else en


@page
async def decide_post(request: Request) -> Response:
    """approve / return / reject from the record page, through `server.approvals.decide`
    (with the step the page showed, so a stale page is refused); a refusal shows the record
    page again with the error's status and a message."""
    from .pages import record_view

    v = await viewer(request)
    form = await check_csrf(request)
    doc_id = request.path_params["doc_id"]
    action, comment = form.get("action", ""), form.get("comment", "").strip()
    svc = services_of(request)
    async with svc.engine.connect() as conn:
        await qs.load_record(conn, v, doc_id)  # 404 when not visible, like the page
    try:
        if action not in DECIDED:
            raise BadRequest("unknown decision", code="approval.bad_action")
        step = int(form["step"]) if form.get("step", "").isdigit() else None
        await flow.decide(svc, doc_id, v.principal, action, comment, DEVICE, step=step)
    except HTTPError as e:
        lang = language(request)
        return await record_view(request, doc_id, error=error_text(e.code, lang, e.message),
                                 status=e.status, typed_comment=comment)
    return see_other(request, f"/records/{doc_id}", decided=action)


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

