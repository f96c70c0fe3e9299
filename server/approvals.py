"""The approval flow (审批, seed 004 §3.2): a submitted record routed to its approvers, opened
and decided by them one step at a time, withdrawn by its author, and a trip plan's stops made
planned tasks. Every change is the server's own edit through the log (`ServerEdits`); the
decisions on one record are serialised, here and across server instances (`approval_claims`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pycrdt import Doc
from sqlalchemy import and_, insert, select
from sqlalchemy.exc import IntegrityError

from schema import tables as st
from schema.kinds import APPROVAL_KINDS, MAX_EXPENSE_FEN
from schema.validate import CHINA, doc_kind
from schema.ydoc import append_item, update_fields, write_record
from sync.hub import Hub, LiveDoc
from sync.log import Append, now_ms, upsert
from sync.scope import Principal

from . import tables as t
from .errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable

if TYPE_CHECKING:
    from .accounts import Accounts
    from .records import ServerEdits

log = logging.getLogger(__name__)

THRESHOLD = "expense_second_approval_fen"
DEFAULT_THRESHOLD_FEN = 500_000  # ¥5,000: above it an expense also goes to the manager's manager
Action = Literal["approve", "reject", "return"]
ACTIONS: tuple[Action, ...] = ("approve", "reject", "return")
DECIDED: dict[str, str] = {"approve": "approved", "reject": "rejected", "return": "returned"}
TASK_HOUR = 9  # a trip's planned visits start at 09:00 China time on its first day
_TASK_IDS = uuid.UUID("6f1d3c2e-5b7a-4c1e-9d2f-16a1b0c0e016")  # namespace of the stops' tasks


@dataclass(frozen=True)
class Decision:
    """Where a record stands after a decision."""

    approval_status: str
    approval_step: int
    approvers: list[str]

    def json(self) -> dict[str, Any]:
        return {"approval_status": self.approval_status, "approval_step": self.approval_step,
                "approvers": self.approvers}


def stop_task_id(plan_id: str, customer_id: str) -> str:
    """The planned task of one customer of a trip: the same id whenever it is made, so a
    resubmitted plan (or a second server) never makes it twice."""
    return f"task:{uuid.uuid5(_TASK_IDS, f'{plan_id}|{customer_id}')}"


def _ms_at(day: str, hour: int) -> int | None:
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        return None
    return int(dt.datetime(d.year, d.month, d.day, hour, tzinfo=CHINA).timestamp() * 1000)


def _round(record: Mapping[str, Any]) -> int:
    """Which submission of the record this is (a returned record resubmitted is the next)."""
    entries = record.get("approval_log") or []
    return sum(1 for e in entries if isinstance(e, Mapping) and e.get("action") == "submit")


def _opened_this_step(record: Mapping[str, Any], user_id: str) -> bool:
    """Whether `user_id` has an `open` step since the submission's last submit or approve
    (so at the step they decide now)."""
    for e in reversed(record.get("approval_log") or []):
        if not isinstance(e, Mapping):
            continue
        if e.get("action") in ("submit", "approve"):
            return False
        if e.get("action") == "open" and e.get("by") == user_id:
            return True
    return False


class Approvals:
    """The flow's state lives in the records; this holds the per-record locks."""

    def __init__(self, hub: Hub, edits: ServerEdits, accounts: Accounts) -> None:
        self.hub = hub
        self.edits = edits
        self.accounts = accounts
        self.engine = hub.log.engine
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    def _lock(self, doc_id: str) -> asyncio.Lock:
        lock = self._locks.get(doc_id)
        if lock is None:
            lock = self._locks[doc_id] = asyncio.Lock()
        return lock

    # -- the admin's threshold --------------------------------------------------------------

    async def threshold(self) -> int:
        """The expense amount (fen) above which the manager's manager approves too."""
        async with self.engine.connect() as conn:
            raw = await conn.scalar(
                select(t.settings.c.value).where(t.settings.c.name == THRESHOLD))
        return int(json.loads(raw)) if raw is not None else DEFAULT_THRESHOLD_FEN

    async def set_threshold(self, principal: Principal, fen: object) -> None:
        if principal.role != "admin":
            raise Forbidden("only an admin sets the approval threshold")
        if isinstance(fen, float) and fen.is_integer():
            fen = int(fen)  # JSON's 127.0 is the integer 127 (as JSON Schema reads it)
        if isinstance(fen, bool) or not isinstance(fen, int) or not 0 <= fen <= MAX_EXPENSE_FEN:
            raise BadRequest(f"{THRESHOLD} is a whole number of fen from 0 to {MAX_EXPENSE_FEN}",
                             field=THRESHOLD)
        async with self.engine.begin() as conn:
            await upsert(conn, t.settings, {"name": THRESHOLD, "value": json.dumps(fen),
                                            "updated_at": now_ms(),
                                            "updated_by": principal.user_id}, ["name"])

    # -- the chain --------------------------------------------------------------------------

    async def _manager(self, user_id: str) -> str | None:
        """The user's manager, passing over disabled accounts."""
        seen = {user_id}
        user = await self.accounts.get(user_id)
        while user is not None and user.manager_id is not None and user.manager_id not in seen:
            seen.add(user.manager_id)
            user = await self.accounts.get(user.manager_id)
            if user is not None and user.disabled_at is None:
                return user.id
        return None

    async def chain(self, kind: str, record: Mapping[str, Any], author: str) -> list[str]:
        """The approvers of a submitted record: the author's manager, then for an expense
        above the threshold the manager's manager. Someone with no manager is approved by
        the first admin (by login) who is not them."""
        manager = await self._manager(author)
        if manager is None:
            admins = [u.id for u in await self.accounts.all_users()
                      if u.role == "admin" and u.disabled_at is None and u.id != author]
            return admins[:1]
        out = [manager]
        amount = record.get("amount_fen")
        if kind == "expense" and isinstance(amount, int) and amount > await self.threshold():
            second = await self._manager(manager)
            if second is not None and second != author:
                out.append(second)
        return out

    # -- what devices did -------------------------------------------------------------------

    def after_commit(self, appended: list[Append]) -> None:
        """Called after each commit: route what was submitted, log what was withdrawn."""
        for a in appended:
            if a.kind not in APPROVAL_KINDS or a.record is None or a.remote \
                    or a.user_id == "system":
                continue  # the server's own edits, and other instances' commits, are done
            old = (a.record_before or {}).get("approval_status") or "draft"
            new = a.record.get("approval_status") or "draft"
            if new == old:
                continue
            if new == "submitted":
                self.edits.spawn(self._submitted(a.doc_id, a.kind, a.user_id, a.device_id))
            elif new == "withdrawn":
                self.edits.spawn(self._log(a.doc_id, a.kind, "withdraw", a.user_id,
                                           a.device_id))

    async def _submitted(self, doc_id: str, kind: str, by: str, device: str) -> None:
        async with self._lock(doc_id):
            live = await self.hub.open(doc_id, kind)
            record = live.record
            if record.get("approval_status") != "submitted":
                return  # withdrawn again before we got here
            author = str(record.get("created_by") or live.created_by)
            approvers = await self.chain(kind, record, author)
            changes: dict[str, Any] = {"approvers": approvers, "approval_step": 0,
                                       "opened_at": None}
            if kind == "work_report" and approvers and record.get("addressed_to") != approvers[0]:
                # addressed to the manager the server knows now (the tree may have moved
                # while the phone was offline)
                changes["addressed_to"] = approvers[0]
            await self._edit(doc_id, kind, changes, self._entry("submit", by, device))
        if kind == "trip_plan":
            await self._plan_tasks(doc_id, author)

    async def _log(self, doc_id: str, kind: str, action: str, by: str, device: str) -> None:
        async with self._lock(doc_id):
            await self._edit(doc_id, kind, {}, self._entry(action, by, device))

    @staticmethod
    def _entry(action: str, by: str, device: str, comment: str = "") -> dict[str, Any]:
        entry: dict[str, Any] = {"action": action, "by": by, "at": now_ms(),
                                 "device": device[:200]}
        if comment:
            entry["comment"] = comment[:2000]
        return entry

    async def _edit(self, doc_id: str, kind: str, changes: dict[str, Any],
                    entry: dict[str, Any]) -> Append | None:
        def change(doc: Doc[Any]) -> None:
            if changes:
                update_fields(doc, kind, changes)
            append_item(doc, kind, "approval_log", entry)

        return await self.edits.edit(doc_id, kind, change)

    async def _plan_tasks(self, plan_id: str, author: str) -> None:
        """One planned visit per customer of the plan that has none yet (000 §2.1)."""
        plan = (await self.hub.open(plan_id, "trip_plan")).record
        start = plan.get("start_date")
        planned = _ms_at(start, TASK_HOUR) if isinstance(start, str) else None
        if planned is None:
            return
        for stop in plan.get("stops") or []:
            customer_id, purpose = stop.get("customer_id"), stop.get("purpose")
            if not isinstance(customer_id, str) or doc_kind(customer_id) != "customer":
                continue
            task_id = stop_task_id(plan_id, customer_id)
            if (await self.hub.open(task_id, "task")).exists:
                continue
            customer = await self.hub.open(customer_id, "customer")
            name = customer.record.get("name") or customer_id
            now = now_ms()
            values = {
                "subject": f"拜访{name}:{purpose or ''}"[:200],
                "task_type": "visit",
                "customer_id": customer_id,
                "trip_id": plan_id,
                "planned_start": planned,
                "assignee": author,
                "priority": "normal",
                "status": "open",
                "created_at": now,
                "created_by": author,
                "submitted_at": now,
            }
            await self.edits.edit(task_id, "task", partial(write_record, kind="task",
                                                           values=values))

    # -- what approvers do ------------------------------------------------------------------

    async def _visible(self, doc_id: str, principal: Principal) -> tuple[str, LiveDoc]:
        kind = doc_kind(doc_id)
        if kind not in APPROVAL_KINDS:
            raise NotFound(f"no record {doc_id} waits for approval")
        assert kind is not None
        live = await self.hub.open(doc_id, kind)
        if not live.exists or not principal.sees(live.grantees):
            raise NotFound(f"no record {doc_id}")  # absent and not yours look the same
        return kind, live

    @staticmethod
    def _turn(
        live: LiveDoc, principal: Principal, step: int | None = None
    ) -> tuple[list[str], int]:
        """The record's approvers and current step, if it is the caller's turn; else the
        named error."""
        record = live.record
        if principal.user_id == (record.get("created_by") or live.created_by):
            raise Forbidden("you cannot decide your own record", code="approval.own_record",
                            message_zh="不能审批自己的记录")
        approvers = [a for a in record.get("approvers") or [] if isinstance(a, str)]
        current = record.get("approval_step") or 0
        if record.get("approval_status") != "submitted" or current >= len(approvers) \
                or (step is not None and step != current):
            status = record.get("approval_status") or "draft"
            raise Conflict(f"the record is not waiting for this decision (it is {status})",
                           code="approval.not_pending",
                           message_zh="该记录不在等待此审批(可能已撤销或已审批)",
                           approval_status=status)
        if approvers[current] != principal.user_id:
            if principal.user_id in approvers[:current]:
                raise Conflict("you have already decided this step",
                               code="approval.not_pending", message_zh="您已审批过此步骤",
                               approval_status="submitted")
            raise Forbidden("it is not your turn to decide this record",
                            code="approval.not_your_turn", message_zh="当前不是由您审批")
        return approvers, current

    async def open_record(self, doc_id: str, principal: Principal, device: str) -> None:
        """The current approver opened the record: logged once per step. `opened_at` is the
        first opening of the submission (by any of its approvers) and stays set through its
        later steps: once an approver has opened it, the author cannot withdraw it."""
        async with self._lock(doc_id):
            kind, live = await self._visible(doc_id, principal)
            self._turn(live, principal)
            if _opened_this_step(live.record, principal.user_id):
                return
            entry = self._entry("open", principal.user_id, device)
            changes = {} if live.record.get("opened_at") is not None else {
                "opened_at": entry["at"]}
            if await self._edit(doc_id, kind, changes, entry) is None:
                raise Conflict("the record changed meanwhile; open it again",
                               code="approval.not_pending")

    async def withdraw(self, doc_id: str, principal: Principal, device: str) -> None:
        """The author, online, takes back a submitted record no approver has opened (the
        phone may instead set `withdrawn` offline; the schema's rules then decide)."""
        async with self._lock(doc_id):
            kind, live = await self._visible(doc_id, principal)
            record = live.record
            if principal.user_id != (record.get("created_by") or live.created_by):
                raise Forbidden("only the author withdraws a record", code="approval.transition",
                                message_zh="只有作者可以撤销")
            status = record.get("approval_status") or "draft"
            if status != "submitted":
                raise Conflict(f"only a submitted record is withdrawn (it is {status})",
                               code="approval.not_pending",
                               message_zh="只有审批中的记录可以撤销", approval_status=status)
            if record.get("opened_at") is not None:
                raise Conflict("an approver has opened it: it can no longer be withdrawn",
                               code="approval.opened", message_zh="审批人已查看,不能再撤销",
                               approval_status=status)
            entry = self._entry("withdraw", principal.user_id, device)
            if await self._edit(doc_id, kind, {"approval_status": "withdrawn"}, entry) is None:
                raise Conflict("the record changed meanwhile; reload it",
                               code="approval.not_pending")

    async def decide(self, doc_id: str, principal: Principal, action: str, comment: str,
                     device: str, *, step: int | None = None) -> Decision:
        """Approve (to the next approver, or approved at the last), reject (the flow ends)
        or return (to the author, with a comment) the record, as its current approver."""
        if action not in ACTIONS:
            raise BadRequest(f"action is one of {', '.join(ACTIONS)}", field="action")
        async with self._lock(doc_id):
            kind, live = await self._visible(doc_id, principal)
            approvers, current = self._turn(live, principal, step)
            if action == "return" and not comment.strip():
                raise Unprocessable("a returned record needs a comment saying what to change",
                                    code="approval.comment_required",
                                    message_zh="退回须填写意见,说明需要修改的内容",
                                    field="comment")
            await self._claim(doc_id, _round(live.record), current, principal.user_id, action)
            entry = self._entry(action, principal.user_id, device, comment.strip())
            changes: dict[str, Any]
            if action == "approve" and current + 1 < len(approvers):
                changes = {"approval_step": current + 1}
                status, next_step = "submitted", current + 1
            else:
                status, next_step = DECIDED[action], current
                changes = {"approval_status": status}
            if live.record.get("opened_at") is None:
                changes["opened_at"] = entry["at"]  # a decision is an opening (no withdraw)
            if await self._edit(doc_id, kind, changes, entry) is None:
                raise Conflict("the decision could not be applied; reload the record",
                               code="approval.not_pending")
        log.info("%s %s step %s: %s", principal.user_id, doc_id, current, action)
        return Decision(status, next_step, approvers)

    async def _claim(self, doc_id: str, round_: int, step: int, user_id: str,
                     action: str) -> None:
        """The step's one decision: a second one (here or on another instance) is a 409."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.approval_claims).values(
                    doc_id=doc_id, round=round_, step=step, user_id=user_id, action=action,
                    at=now_ms()))
        except IntegrityError:
            raise Conflict("this step was decided already", code="approval.not_pending",
                           message_zh="此步骤已被审批") from None

    async def waiting(self, principal: Principal) -> list[dict[str, Any]]:
        """The records whose current approver is the caller, newest submission first."""
        items: list[dict[str, Any]] = []
        a = st.rec_approver
        async with self.engine.connect() as conn:
            for kind in sorted(APPROVAL_KINDS):
                table = st.KIND_TABLES[kind]
                amount = [table.c.amount_fen] if "amount_fen" in table.c else []
                stmt = select(table.c.doc_id, table.c.subject, table.c.created_by,
                              table.c.submitted_at, table.c.approval_step, *amount).join(
                    a, and_(a.c.doc_id == table.c.doc_id,
                            a.c.position == table.c.approval_step)).where(
                    a.c.user_id == principal.user_id, table.c.approval_status == "submitted")
                for r in await conn.execute(stmt):
                    item = {"doc_id": r.doc_id, "kind": kind, "subject": r.subject,
                            "author": r.created_by, "submitted_at": r.submitted_at,
                            "approval_step": r.approval_step}
                    if amount:
                        item["amount_fen"] = r.amount_fen
                    items.append(item)
        items.sort(key=lambda i: (i["submitted_at"] or 0, i["doc_id"]), reverse=True)
        return items


# The entry points the routes and the back office call (one decision logic for both).

class Services(Protocol):
    """What the entry points need of `server.services.Services` (which imports this module)."""

    @property
    def approvals(self) -> Approvals: ...


async def open_record(services: Services, doc_id: str, principal: Principal,
                      device: str = "backoffice") -> None:
    await services.approvals.open_record(doc_id, principal, device)


async def withdraw(services: Services, doc_id: str, principal: Principal,
                   device: str = "api") -> None:
    await services.approvals.withdraw(doc_id, principal, device)


async def decide(services: Services, doc_id: str, principal: Principal, action: str,
                 comment: str = "", device: str = "backoffice", *,
                 step: int | None = None) -> Decision:
    return await services.approvals.decide(doc_id, principal, action, comment, device, step=step)
