"""What waits for an approver, and the approval section of a record page, for the back office:
the data side, read through `server.approvals` (which owns every decision); no page here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from schema.kinds import APPROVAL_KINDS, KINDS, Kind
from server import approvals as flow
from server.errors import HTTPError
from server.services import services_of

from . import queries as qs
from .auth import Viewer, language

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


# -- the approval section of a record page ---------------------------------------------------

ACTIONS = {"submit": ("提交", "Submitted"), "open": ("已查看", "Opened"),
           "approve": ("通过", "Approved"), "reject": ("拒绝", "Rejected"),
           "return": ("退回", "Returned"), "withdraw": ("撤销", "Withdrawn")}

DEVICES = {"pwa": ("手机", "phone"), "api": ("在线审批", "online (app)"),
           "backoffice": ("后台", "back office")}


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

    def device_label(self, device: str | None) -> str:
        """Where a step was taken, as the phone says it: the app on a phone (device ids
        "pwa-…"), the app's API, the back office; another device by its id."""
        if not device:
            return ""
        zh, en = DEVICES.get("pwa" if device.startswith("pwa-") else device, (device, device))
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


DECIDED = {"approve": ("已通过此步审批,转下一级审批人。", "Approved; on to the next approver."),
           "approved": ("已通过审批,流程结束。", "Approved; the flow has ended."),
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


