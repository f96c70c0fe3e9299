"""The record rules plugged into the sync layer: validation, visibility, projections, and
the edits the server itself makes (customer codes, default owners, re-granting children).

Visibility is declared per kind in `schema.kinds` (`Whose`) and worked out by
`schema.whose`; the SQL side of it is `sync.scope.Principal`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from pycrdt import Doc
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schema import tables as st
from schema import whose
from schema.derive import stage_probability
from schema.kinds import KINDS as SCHEMA_KINDS
from schema.validate import Actor
from schema.validate import related_ids as schema_related_ids
from schema.validate import validate as schema_validate
from schema.violations import Violation
from schema.ydoc import RecordReader, update_fields
from sync import tables as t
from sync.hub import Hub
from sync.log import Append, chunks, upsert
from sync.scope import SYSTEM, DocFacts, Principal

log = logging.getLogger(__name__)

KINDS = tuple(SCHEMA_KINDS)
# The kinds that hang off a customer (a merge re-parents them): those with a customer_id.
CHILD_KINDS = tuple(k for k, d in SCHEMA_KINDS.items()
                    if k != "customer" and d.has_field("customer_id"))
CODE_COUNTER = "customer_code"
CODE_BLOCK = 64
SERVER_DEVICE = "server"


class SchemaRules:
    """`sync.hub.Rules` backed by the declarations in `schema/`."""

    kinds = frozenset(KINDS)

    def __init__(self) -> None:
        # Live docs are read again after every update: only the fields it touched.
        self._readers: weakref.WeakKeyDictionary[Doc[Any], RecordReader] = (
            weakref.WeakKeyDictionary()
        )

    def read(
        self, kind: str, doc: Doc[Any], *, whole: bool = False
    ) -> tuple[dict[str, Any], list[Any]]:
        reader = self._readers.get(doc)
        if reader is None or reader.kind != kind:
            reader = self._readers[doc] = RecordReader(doc, kind)
        return reader.read(doc, whole=whole)

    def related_ids(self, kind: str, record: Mapping[str, Any]) -> set[str]:
        ids = set(schema_related_ids(kind, record))
        customer = record.get("customer_id")
        if kind != "customer" and isinstance(customer, str):
            ids.add(customer)  # visibility follows the customer
        return ids

    def redirect(self, kind: str, record: Mapping[str, Any]) -> str | None:
        target = record.get("merged_into") if kind == "customer" else None
        return target if isinstance(target, str) and target else None

    def validate(
        self,
        kind: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any],
        principal: Principal,
        related: Mapping[str, Mapping[str, Any]],
    ) -> list[Any]:
        problems: list[Any] = schema_validate(
            kind, before, after, Actor(principal.user_id, principal.role), related)
        if kind == "task":
            problems.extend(_task_rights(before, after, principal))
        owner = after.get("owner")
        moved = before is not None and owner != before.get("owner")
        if kind == "customer" and moved and principal.visible is not None and not (
            owner is None or owner in principal.visible
        ):
            # 000: a supervisor reassigns customers between their own subordinates.
            problems.append(Violation(
                "owner", "owner.outside_team",
                "Owner (owner): a manager can hand a customer only to someone in their team",
                "归属人(owner):上级主管只能把客户移交给自己团队中的人",
            ))
        return problems


async def merged_card_survivor(
    conn: AsyncConnection, principal: Principal, doc_id: str
) -> str | None:
    """The card a merged customer went into, when `principal` could see it before the merge;
    None otherwise (not merged, absent, or never theirs: the same answer, so ids cannot be
    probed). The one answer for the read API, the back office and `/yjs`."""
    c, shared = st.rec_customer, st.CHILD_TABLES["customer"]["shared_with"]
    row = (await conn.execute(
        select(c.c.owner, c.c.created_by, c.c.security_level, c.c.merged_into)
        .where(c.c.doc_id == doc_id))).first()
    if row is None or not row.merged_into:
        return None
    users = (await conn.execute(
        select(shared.c.user_id).where(shared.c.doc_id == doc_id))).scalars().all()
    record = {"owner": row.owner, "security_level": row.security_level,
              "shared_with": list(users)}
    if not principal.sees(whose.grantees_before_gone("customer", record, row.created_by or "")):
        return None
    return str(row.merged_into)


def _task_rights(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], principal: Principal
) -> list[Violation]:
    """The task rules that need the reporting tree (schema.validate does not know it)."""
    if principal.is_system or principal.visible is None:
        return []
    out = []
    assignee = after.get("assignee")
    if (before is None or assignee != before.get("assignee")) and isinstance(assignee, str) \
            and assignee != principal.user_id and assignee not in principal.visible:
        out.append(Violation(
            "assignee", "task.assignee_outside_tree",
            "Assignee (assignee): a task goes to its author or, for a manager, one of their "
            "reports",
            "执行人(assignee):日程只能指派给创建人本人,或上级主管的下属",
        ))
    was = before.get("assignee") if before is not None else assignee
    finishing = before is not None and after.get("status") != before.get("status") \
        and after.get("status") in ("done", "cancelled")
    if finishing and was != principal.user_id and not (
        principal.role == "manager" and was in principal.visible
    ):
        out.append(Violation(
            "status", "task.not_yours_to_complete",
            "Status (status): only the assignee, their manager or an admin completes or "
            "cancels a task",
            "状态(status):只有执行人、其上级或管理员可以完成或取消日程",
        ))
    return out


class RecordPolicy:
    """`sync.scope.ScopePolicy` for the CRM's records."""

    def grantees(self, facts: DocFacts) -> frozenset[str]:
        return whose.grantees(facts.kind, facts.record, facts.created_by, facts.related)

    def may_create(self, principal: Principal, kind: str) -> bool:
        return True

    def may_write(self, principal: Principal, grantees: frozenset[str]) -> bool:
        return principal.sees(grantees)


async def project_appends(conn: AsyncConnection, appends: list[Append]) -> None:
    """Inside the commit transaction: bring each touched record's projection up to date."""
    last: dict[str, Append] = {}
    # docs created in this commit (their card, and any later change to it in the same one):
    # first received then, and with no old rows to delete
    created: dict[str, int] = {}
    for a in appends:
        if a.record is not None:
            last[a.doc_id] = a
        if a.new_doc is not None:
            created.setdefault(a.doc_id, a.received_at)
    if not last:
        return
    received: dict[str, int] = dict(created)
    for part in chunks([d for d in last if d not in created]):
        rows = await conn.execute(
            select(t.docs.c.doc_id, t.docs.c.first_received_at).where(t.docs.c.doc_id.in_(part))
        )
        received.update({r[0]: r[1] for r in rows})
    # st.project's work for the whole batch, a statement per table instead of per record:
    # old rows go (a doc new in this commit has none), then every new row in one executemany.
    old: dict[str, list[str]] = {}
    new_rows: dict[str, list[dict[str, Any]]] = {}
    tables: dict[str, Any] = {}
    for doc_id, a in last.items():
        assert a.record is not None
        meta = st.ProjectionMeta(a.seq, a.committed_at, received.get(doc_id, a.received_at))
        for table in st.tables_of(a.kind):
            tables.setdefault(table.name, table)
            if doc_id not in created:
                old.setdefault(table.name, []).append(doc_id)
        for name, table_rows in st.projection_rows(a.kind, doc_id, a.record, meta).items():
            new_rows.setdefault(name, []).extend(table_rows)
    for name, doc_ids in old.items():
        table = tables[name]
        for part in chunks(doc_ids):
            await conn.execute(delete(table).where(table.c.doc_id.in_(part)))
    for name, table in tables.items():
        if new_rows.get(name):
            await conn.execute(insert(table), new_rows[name])


class ServerEdits:
    """Edits the server makes to records, through the same apply path as any device's."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._clock = int(time.time() * 1000) * 1000
        self._tasks: set[asyncio.Task[None]] = set()
        self._completing: set[str] = set()
        # One code reservation at a time: on SQLite, dozens of tiny write transactions at
        # once starve each other (and the log's group commit) in the busy handler.
        self._code_lock = asyncio.Lock()
        # Codes are reserved CODE_BLOCK at a time (one transaction, not one per new card);
        # a restart leaves the rest of a block unused: codes stay unique, with gaps.
        self._codes: list[int] = []
        self.errors: list[BaseException] = []

    def next_clock(self) -> int:
        self._clock += 1
        return self._clock

    async def edit(
        self, doc_id: str, kind: str, change: Callable[[Doc[Any]], None]
    ) -> Append | None:
        """Make `change` on a copy of the doc and submit the difference as the server."""
        live = await self.hub.open(doc_id, kind)
        async with live.lock:
            copy: Doc[Any] = Doc()
            copy.apply_update(live.ydoc.get_update())
            before = copy.get_state()
            change(copy)
            diff = copy.get_update(before)
        fut = await self.hub.apply(SYSTEM, SERVER_DEVICE, doc_id, diff, self.next_clock())
        item = await fut
        if isinstance(item, Append):
            return item
        log.error("the server's own edit of %s was refused: %s", doc_id,
                  getattr(item, "detail", ""))
        return None

    async def touch(self, doc_id: str, kind: str) -> Append | None:
        """An empty update: re-evaluates the doc's grants (e.g. after its customer moved)."""
        fut = await self.hub.apply(SYSTEM, SERVER_DEVICE, doc_id, Doc().get_update(),
                                   self.next_clock())
        item = await fut
        return item if isinstance(item, Append) else None

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            assert exc is not None
            self.errors.append(exc)
            log.error("server edit failed", exc_info=exc)

    async def settle(self) -> None:
        """Wait for every edit scheduled so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the rules that edit ----------------------------------------------------------------

    def after_commit(self, appended: list[Append]) -> None:
        """Called right after each commit: schedule the server's follow-up edits."""
        for a in appended:
            if a.kind == "progress" and a.record is not None:
                self._carry_to_deal(a.record)
            if a.kind != "customer" or a.record is None:
                continue
            # a customer in the pool has no owner on purpose (server.pool)
            incomplete = not a.record.get("code") or not (
                a.record.get("owner") or a.record.get("pool"))
            if incomplete and a.doc_id not in self._completing:
                self._completing.add(a.doc_id)
                self.spawn(self._complete_customer(a.doc_id))
            if (a.grant_add or a.grant_remove) and a.new_doc is None:
                self.spawn(self.regrant_children(a.doc_id))

    def _carry_to_deal(self, progress: Mapping[str, Any]) -> None:
        """000 §4.3.5: a submitted progress record's stage (and class, when it changes) become
        its deal's, so the pipeline and the cadence read current values."""
        deal_id, created = progress.get("deal_id"), progress.get("created_at")
        carried = {k: progress[k] for k in ("stage", "deal_class") if progress.get(k) is not None}
        if progress.get("submitted_at") is None or not isinstance(deal_id, str) or not carried \
                or not isinstance(created, int):
            return
        self.spawn(self._update_deal(deal_id, created, carried))

    async def _update_deal(self, deal_id: str, created: int, carried: dict[str, Any]) -> None:
        pr = st.rec_progress
        async with self.hub.log.engine.connect() as conn:
            latest = await conn.scalar(select(func.max(pr.c.created_at)).where(
                pr.c.deal_id == deal_id, pr.c.submitted_at.is_not(None)))
        if latest is not None and created < latest:
            return  # an older record arriving late does not turn the deal back
        live = await self.hub.open(deal_id, "deal")
        if not live.exists:
            return
        changes = {k: v for k, v in carried.items() if live.record.get(k) != v}
        if "stage" in changes:
            changes["probability"] = stage_probability(changes["stage"])
        if changes:
            await self.edit(deal_id, "deal", lambda d: update_fields(d, "deal", changes))

    async def _complete_customer(self, doc_id: str) -> None:
        """Give a new customer its code, and its creator as owner when none was named."""
        try:
            live = await self.hub.open(doc_id, "customer")
            changes: dict[str, Any] = {}
            if not live.record.get("code"):
                changes["code"] = await self._next_code()
            if not live.record.get("owner") and not live.record.get("pool"):
                changes["owner"] = live.created_by
            if changes:
                await self.edit(doc_id, "customer",
                                lambda d: update_fields(d, "customer", changes))
        finally:
            self._completing.discard(doc_id)

    async def _next_code(self) -> str:
        while not self._codes:
            await self._reserve_codes(when_empty=True)
        n = self._codes.pop()
        if len(self._codes) < CODE_BLOCK // 2 and not self._code_lock.locked():
            # The next block is reserved ahead, off the apply path: a new customer waits
            # for a reservation only when the process has none (its first one).
            self.spawn(self._reserve_codes())
        return format_code(n)

    async def _reserve_codes(self, *, when_empty: bool = False) -> None:
        async with self._code_lock:
            if (self._codes if when_empty else len(self._codes) >= CODE_BLOCK // 2):
                return  # reserved meanwhile
            # In the log's next group commit (its one writer), not a transaction beside it;
            # the counter row keeps codes unique across processes and instances.
            top = int(await self.hub.log.write(_reserve_code_block))
            # handed out lowest first: the codes left of the last block go before these
            self._codes = list(range(top, top - CODE_BLOCK, -1)) + self._codes

    async def regrant_children(self, customer_id: str) -> int:
        """A customer's grantees changed: re-evaluate every record that hangs off it."""
        children = await children_of(self.hub.log.engine, customer_id)
        for doc_id, kind in children:
            await self.touch(doc_id, kind)
        return len(children)


async def reserve_codes(conn: AsyncConnection, n: int) -> int:
    """Moves the customer-code counter on by `n`; returns the highest number taken (the
    numbers taken are the `n` up to it)."""
    await upsert(conn, t.counters, {"name": CODE_COUNTER, "value": 0}, ["name"])
    res = await conn.execute(
        update(t.counters)
        .where(t.counters.c.name == CODE_COUNTER)
        .values(value=t.counters.c.value + n)
        .returning(t.counters.c.value)
    )
    return int(res.scalar_one())


async def _reserve_code_block(conn: AsyncConnection) -> int:
    return await reserve_codes(conn, CODE_BLOCK)


async def children_of(engine: Any, customer_id: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    async with engine.connect() as conn:
        for kind in CHILD_KINDS:
            table = st.KIND_TABLES[kind]
            rows = await conn.execute(
                select(table.c.doc_id).where(table.c.customer_id == customer_id)
            )
            out.extend((r[0], kind) for r in rows)
    return out


_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud on the phone


def format_code(n: int) -> str:
    """Customer code: "KH" and at least four characters, unique because `n` is."""
    digits = []
    while True:
        n, r = divmod(n, len(_CODE_ALPHABET))
        digits.append(_CODE_ALPHABET[r])
        if n == 0:
            break
    body = "".join(reversed(digits)).rjust(4, _CODE_ALPHABET[0])
    return f"KH{body}"
