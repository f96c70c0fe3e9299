"""The customer pool (公海), holds and their extensions (延期), and the recycle bin (回收站).

A customer without an owner is in the pool: released by its owner (or their manager), left
by a departed (disabled) rep, or not contacted within `pool_release_days`. Its card then
says why (`pool`), it is in nobody's briefcase (`Whose.away`), and any user may claim it:
one conditional UPDATE of its `customer_holds` row, so the first claim wins on every
instance; a claimer holds at most `pool_claim_limit` claimed customers at once. An owner
asks for an extension before the automatic release; their manager or an admin grants it.
An invalid customer (状况 无效) goes to the recycle bin and back, by its owner or manager.
Every card change is the server's own edit (the log, the history, scope enter/leave) and
every move is in the audit trail. docs/records.md, "The customer pool", has the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schema import tables as st
from schema.duties import DAY_MS
from schema.ydoc import update_fields
from sync.hub import Hub
from sync.log import Append, now_ms
from sync.scope import SYSTEM, Principal

from . import tables as tt
from .accounts import Accounts, User, audit
from .errors import BadRequest, Conflict, Forbidden, NotFound
from .records import ServerEdits

log = logging.getLogger(__name__)

RELEASED, DEPARTED, UNCONTACTED = "released", "departed", "uncontacted"
POOL_REASONS = (RELEASED, DEPARTED, UNCONTACTED)  # schema.kinds.CUSTOMER_POOL's values
CLAIM, ASSIGN = "claim", "assign"
PENDING, GRANTED, REFUSED = "pending", "granted", "refused"
MAX_EXTENSION_DAYS = 90
MAX_REASON = 500
MAX_LIST = 500


@dataclass(frozen=True, slots=True)
class Settings:
    claim_limit: int
    release_days: int
    sweep_interval: float


def _visible(principal: Principal, user_id: str) -> bool:
    return principal.visible is None or user_id in principal.visible


def may_manage(principal: Principal, owner: str) -> bool:
    """The owner, a manager whose tree holds the owner, or an admin."""
    return principal.visible is None or principal.user_id == owner or (
        principal.role == "manager" and owner in (principal.visible or ()))


class Pool:
    """The pool's rules over the hub, the server's edits and the holds table."""

    def __init__(self, engine: AsyncEngine, hub: Hub, edits: ServerEdits, accounts: Accounts,
                 settings: Settings) -> None:
        self.engine, self.hub, self.edits, self.accounts = engine, hub, edits, accounts
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    # -- the periodic automatic release ---------------------------------------------------

    async def __aenter__(self) -> Pool:
        self._task = asyncio.get_running_loop().create_task(self._sweeper())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval)
            try:
                counts = await self.sweep()
                if any(counts.values()):
                    log.info("pool: released %s", counts)
            except Exception:
                log.exception("the pool's automatic release failed; retried next pass")

    # -- reading --------------------------------------------------------------------------

    async def _card(self, doc_id: str) -> dict[str, Any]:
        kind = doc_id.split(":", 1)[0]
        live = await self.hub.open(doc_id, "customer") if kind == "customer" else None
        if live is None or not live.exists:
            raise NotFound("no such customer", code="pool.no_customer")
        return dict(live.record)

    async def listing(self, q: str = "", limit: int = MAX_LIST) -> list[dict[str, Any]]:
        """The pool: names, codes, cities and why each is there; never contacts."""
        c, h = st.rec_customer, tt.customer_holds
        stmt = (select(c.c.doc_id, c.c.name, c.c.code, c.c.province, c.c.city, c.c.pool,
                       c.c.status, h.c.since)
                .outerjoin(h, h.c.doc_id == c.c.doc_id)
                .where(c.c.pool.is_not(None), c.c.merged_into.is_(None),
                       c.c.binned_at.is_(None))
                .order_by(h.c.since.desc(), c.c.doc_id).limit(limit))
        if q:
            like = f"%{q}%"
            stmt = stmt.where(c.c.name.like(like) | c.c.code.like(like) | c.c.city.like(like))
        async with self.engine.connect() as conn:
            rows = await conn.execute(stmt)
            return [{"doc_id": r.doc_id, "name": r.name or "", "code": r.code or "",
                     "province": r.province or "", "city": r.city or "",
                     "reason": r.pool, "status": r.status, "since": r.since} for r in rows]

    async def claimed_count(self, user_id: str) -> int:
        h = tt.customer_holds
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).where(
                h.c.owner == user_id, h.c.via == CLAIM))).scalar_one())

    # -- moves ----------------------------------------------------------------------------

    async def claim(self, user: User, doc_id: str) -> dict[str, Any]:
        """First claim wins: the hold row changes only while it has no owner."""
        rec = await self._card(doc_id)
        if rec.get("merged_into"):
            raise Conflict("this card was merged into another", code="pool.merged",
                           merged_into=rec["merged_into"])
        if rec.get("binned_at"):
            raise Conflict("this customer is in the recycle bin", code="pool.binned")
        if not rec.get("pool"):
            raise Conflict("this customer is not in the pool: it has an owner",
                           code="pool.owned")
        h, limit, now = tt.customer_holds, self.settings.claim_limit, now_ms()
        async with self.engine.begin() as conn:
            # One claimer's claims in turn (PostgreSQL row lock; SQLite has one writer).
            await conn.execute(select(tt.users.c.id).where(tt.users.c.id == user.id)
                               .with_for_update())
            won = await conn.execute(
                update(h).where(h.c.doc_id == doc_id, h.c.owner.is_(None))
                .values(owner=user.id, via=CLAIM, since=now, extended_until=None, reason=None))
            if won.rowcount != 1:
                raise Conflict("someone else claimed this customer first",
                               code="pool.already_claimed")
            held = int((await conn.execute(select(func.count()).where(
                h.c.owner == user.id, h.c.via == CLAIM))).scalar_one())
            if held > limit:
                raise Conflict(f"you already hold {limit} customers claimed from the pool, "
                               f"the limit: release one first", code="pool.limit", limit=limit)
            await audit(conn, "pool.claim", user_id=user.id, doc_id=doc_id,
                        reason=rec.get("pool"))
        await self._set_owner(doc_id, user.id, reason=str(rec.get("pool")))
        return {"doc_id": doc_id, "owner": user.id, "claimed": held, "limit": limit}

    async def _set_owner(self, doc_id: str, owner: str, *, reason: str) -> None:
        done = await self.edits.edit(doc_id, "customer", lambda d: update_fields(
            d, "customer", {"owner": owner, "pool": None}))
        if done is None:  # the log says why; the customer goes back to the pool
            async with self.engine.begin() as conn:
                await self._put_in_pool(conn, doc_id, reason)
            raise Conflict("the server refused the change", code="pool.refused")

    @staticmethod
    async def _put_in_pool(conn: AsyncConnection, doc_id: str, reason: str) -> None:
        h = tt.customer_holds
        row = {"owner": None, "via": "released", "reason": reason, "since": now_ms(),
               "extended_until": None}
        res = await conn.execute(update(h).where(h.c.doc_id == doc_id).values(**row))
        if res.rowcount == 0:
            await conn.execute(insert(h).values(doc_id=doc_id, **row))

    async def release(self, principal: Principal, doc_id: str, reason: str = RELEASED
                      ) -> dict[str, Any]:
        """The owner, their manager or an admin gives the customer up (or the sweep does)."""
        rec = await self._card(doc_id)
        owner = rec.get("owner") or ""
        if rec.get("merged_into"):
            raise Conflict("this card was merged into another", code="pool.merged",
                           merged_into=rec["merged_into"])
        if rec.get("binned_at"):
            raise Conflict("this customer is in the recycle bin", code="pool.binned")
        if rec.get("pool"):
            raise Conflict("this customer is already in the pool", code="pool.in_pool")
        if not principal.is_system and not may_manage(principal, owner):
            raise Forbidden("only the owner, their manager or an admin may release this "
                            "customer", code="pool.not_yours")
        async with self.engine.begin() as conn:
            await self._put_in_pool(conn, doc_id, reason)
            await audit(conn, "pool.release", user_id=principal.user_id, doc_id=doc_id,
                        owner_was=owner, reason=reason)

        def change(d: Any) -> None:
            update_fields(d, "customer", {"owner": None, "pool": reason})

        if await self.edits.edit(doc_id, "customer", change) is None:
            await self._follow(doc_id)  # the hold follows the card again
            raise Conflict("the server refused the change", code="pool.refused")
        return {"doc_id": doc_id, "reason": reason}

    async def assign(self, principal: Principal, doc_id: str, to: User) -> dict[str, Any]:
        """A manager (to someone in their team) or an admin hands a pool customer over."""
        if principal.visible is not None and principal.role != "manager":
            raise Forbidden("only managers and admins assign pool customers",
                            code="pool.not_a_manager")
        if to.disabled_at is not None:
            raise Conflict("this user is disabled", field="to", code="pool.user_disabled")
        if not _visible(principal, to.id):
            raise Forbidden(f"{to.name} is not in your team", code="pool.outside_team")
        rec = await self._card(doc_id)
        if rec.get("binned_at"):
            raise Conflict("this customer is in the recycle bin", code="pool.binned")
        if not rec.get("pool") or rec.get("merged_into"):
            raise Conflict("this customer is not in the pool: it has an owner",
                           code="pool.owned")
        h = tt.customer_holds
        async with self.engine.begin() as conn:
            won = await conn.execute(
                update(h).where(h.c.doc_id == doc_id, h.c.owner.is_(None))
                .values(owner=to.id, via=ASSIGN, since=now_ms(), extended_until=None,
                        reason=None))
            if won.rowcount != 1:
                raise Conflict("someone claimed this customer first",
                               code="pool.already_claimed")
            await audit(conn, "pool.assign", user_id=principal.user_id, doc_id=doc_id,
                        to=to.id, reason=rec.get("pool"))
        await self._set_owner(doc_id, to.id, reason=str(rec.get("pool")))
        return {"doc_id": doc_id, "owner": to.id}

    # -- keeping the holds true when ownership moves another way ----------------------------

    def after_commit(self, appended: list[Append]) -> None:
        for a in appended:
            if a.kind != "customer" or a.record is None or a.record_before is None:
                continue
            before = a.record_before
            if not (before.get("owner") or before.get("pool") or before.get("merged_into")):
                continue  # a new card given its creator as owner: its clock is its creation
            if any(a.record.get(f) != before.get(f)
                   for f in ("owner", "pool", "merged_into")):
                self.edits.spawn(self._follow(a.doc_id))

    async def _follow(self, doc_id: str) -> None:
        """A reassignment or a merge restarts or ends the hold (and so the claim count)."""
        rec = (await self.hub.open(doc_id, "customer")).record
        h = tt.customer_holds
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(h).where(h.c.doc_id == doc_id))).first()
            owner = rec.get("owner")
            if rec.get("merged_into"):
                if row is not None:
                    await conn.execute(h.delete().where(h.c.doc_id == doc_id))
            elif rec.get("pool"):
                if row is None or row.owner is not None:
                    await self._put_in_pool(conn, doc_id, str(rec["pool"]))
            elif isinstance(owner, str) and owner and (row is None or row.owner != owner):
                values = {"owner": owner, "via": ASSIGN, "since": now_ms(),
                          "extended_until": None, "reason": None}
                if row is None:
                    await conn.execute(insert(h).values(doc_id=doc_id, **values))
                else:
                    await conn.execute(update(h).where(h.c.doc_id == doc_id).values(**values))

    # -- automatic release ----------------------------------------------------------------

    async def dues(self, conn: AsyncConnection, doc_ids: list[str] | None = None
                   ) -> dict[str, tuple[str, int]]:
        """(owner, ms when it is released unless contacted) of every owned live customer."""
        c, h, v, pr = st.rec_customer, tt.customer_holds, st.rec_visit, st.rec_progress
        stmt = (select(c.c.doc_id, c.c.owner, c.c.created_at, h.c.owner.label("held_by"),
                       h.c.since, h.c.extended_until)
                .outerjoin(h, h.c.doc_id == c.c.doc_id)
                .where(c.c.owner.is_not(None), c.c.pool.is_(None), c.c.merged_into.is_(None),
                       c.c.binned_at.is_(None)))
        if doc_ids is not None:
            stmt = stmt.where(c.c.doc_id.in_(doc_ids))
        rows = list(await conn.execute(stmt))
        last: dict[str, int] = {}
        visit_at = func.coalesce(v.c.started_at, v.c.created_at)
        for q in (select(v.c.customer_id, func.max(visit_at)).where(v.c.submitted_at.is_not(None))
                  .group_by(v.c.customer_id),
                  select(pr.c.customer_id, func.max(pr.c.created_at))
                  .where(pr.c.submitted_at.is_not(None), pr.c.count_as_contact.is_(True))
                  .group_by(pr.c.customer_id)):
            for cid, at in await conn.execute(q):
                if cid and at is not None:
                    last[cid] = max(last.get(cid, 0), int(at))
        days = self.settings.release_days * DAY_MS
        out = {}
        for r in rows:
            start = r.since if r.held_by == r.owner and r.since is not None else r.created_at
            due = max(int(start or 0), last.get(r.doc_id, 0)) + days
            if r.held_by == r.owner and r.extended_until is not None:
                due = max(due, int(r.extended_until))
            out[r.doc_id] = (r.owner, due)
        return out

    async def sweep(self, now: int | None = None) -> dict[str, int]:
        """Release the customers of disabled users, and those not contacted in time."""
        now = now_ms() if now is None else now
        async with self.engine.connect() as conn:
            dues = await self.dues(conn)
            disabled = {r[0] for r in await conn.execute(
                select(tt.users.c.id).where(tt.users.c.disabled_at.is_not(None)))}
        counts = {DEPARTED: 0, UNCONTACTED: 0}
        for doc_id, (owner, due) in sorted(dues.items()):
            reason = DEPARTED if owner in disabled else UNCONTACTED if now > due else None
            if reason is None:
                continue
            try:
                await self.release(SYSTEM, doc_id, reason)
                counts[reason] += 1
            except Conflict as e:  # it moved meanwhile: the next pass sees it again
                log.info("pool: %s not released: %s", doc_id, e.message)
        return counts

    # -- extensions (延期) ------------------------------------------------------------------

    async def request_extension(self, user: User, doc_id: str, days: Any, reason: Any
                                ) -> dict[str, Any]:
        if isinstance(days, float) and days.is_integer():  # JSON's 24.0 is a whole number
            days = int(days)
        if isinstance(days, bool) or not isinstance(days, int) or not (
                1 <= days <= MAX_EXTENSION_DAYS):
            raise BadRequest(f"days is a whole number from 1 to {MAX_EXTENSION_DAYS}",
                             field="days", code="pool.extension_days")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise BadRequest(f"reason is required, at most {MAX_REASON} characters",
                             field="reason", code="pool.extension_reason")
        rec = await self._card(doc_id)
        if rec.get("owner") != user.id or rec.get("pool") or rec.get("merged_into") \
                or rec.get("binned_at"):
            raise Forbidden("only the customer's owner asks for an extension, before it is "
                            "released", code="pool.not_yours")
        e = tt.pool_extensions
        async with self.engine.begin() as conn:
            pending = (await conn.execute(select(e.c.id).where(
                e.c.doc_id == doc_id, e.c.status == PENDING))).first()
            if pending is not None:
                raise Conflict("an extension of this customer is already waiting for a "
                               "decision", code="pool.extension_pending", id=pending.id)
            res = await conn.execute(insert(e).values(
                doc_id=doc_id, requested_by=user.id, requested_at=now_ms(), days=days,
                reason=reason.strip(), status=PENDING).returning(e.c.id))
            ext_id = int(res.scalar_one())
            await audit(conn, "pool.extension.request", user_id=user.id, doc_id=doc_id,
                        days=days, reason=reason.strip(), id=ext_id)
        return {"id": ext_id, "doc_id": doc_id, "days": days, "status": PENDING}

    async def extensions(self, principal: Principal, *, status: str = PENDING
                         ) -> list[dict[str, Any]]:
        """Requests the caller made or may decide."""
        e, c = tt.pool_extensions, st.rec_customer
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(
                select(e, c.c.name, c.c.code, c.c.owner).outerjoin(c, c.c.doc_id == e.c.doc_id)
                .where(e.c.status == status).order_by(e.c.requested_at)))
            dues = await self.dues(conn, [r.doc_id for r in rows])
        out = []
        for r in rows:
            mine = r.requested_by == principal.user_id
            if not mine and not self._may_decide(principal, r.requested_by):
                continue
            out.append({"id": r.id, "doc_id": r.doc_id, "name": r.name or "",
                        "code": r.code or "", "requested_by": r.requested_by,
                        "requested_at": r.requested_at, "days": r.days, "reason": r.reason,
                        "status": r.status, "due": dues.get(r.doc_id, ("", None))[1],
                        "may_decide": self._may_decide(principal, r.requested_by)})
        return out

    @staticmethod
    def _may_decide(principal: Principal, owner: str) -> bool:
        return principal.visible is None or (
            principal.role == "manager" and principal.user_id != owner
            and owner in (principal.visible or ()))

    async def decide_extension(self, principal: Principal, ext_id: int, grant: bool
                               ) -> dict[str, Any]:
        e, h = tt.pool_extensions, tt.customer_holds
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(e).where(e.c.id == ext_id))).first()
        if row is None:
            raise NotFound("no such extension request", code="pool.no_extension")
        if not self._may_decide(principal, row.requested_by):
            raise Forbidden("only the owner's manager or an admin decides an extension",
                            code="pool.not_the_manager")
        rec = await self._card(row.doc_id)
        if grant and rec.get("owner") != row.requested_by:
            raise Conflict("the customer has moved since the request: it is no longer theirs",
                           code="pool.owner_changed")
        now = now_ms()
        async with self.engine.begin() as conn:
            done = await conn.execute(update(e).where(e.c.id == ext_id, e.c.status == PENDING)
                                      .values(status=GRANTED if grant else REFUSED,
                                              decided_by=principal.user_id, decided_at=now))
            if done.rowcount != 1:
                raise Conflict("this request was already decided", code="pool.decided")
            until = None
            if grant:
                due = (await self.dues(conn, [row.doc_id])).get(row.doc_id, ("", now))[1]
                until = max(now, due) + int(row.days) * DAY_MS
                hold = {"owner": row.requested_by, "extended_until": until}
                res = await conn.execute(update(h).where(
                    h.c.doc_id == row.doc_id, h.c.owner == row.requested_by).values(**hold))
                if res.rowcount == 0:
                    # Never held through the pool: its clock started at creation.
                    await conn.execute(h.delete().where(h.c.doc_id == row.doc_id))
                    await conn.execute(insert(h).values(
                        doc_id=row.doc_id, via=ASSIGN, since=int(rec.get("created_at") or now),
                        **hold))
            await audit(conn, "pool.extension." + ("grant" if grant else "refuse"),
                        user_id=principal.user_id, doc_id=row.doc_id, id=ext_id,
                        owner=row.requested_by, days=row.days, until=until)
        return {"id": ext_id, "status": GRANTED if grant else REFUSED, "until": until}

    # -- the recycle bin --------------------------------------------------------------------

    async def bin(self, principal: Principal, doc_id: str, *, restore: bool = False
                  ) -> dict[str, Any]:
        rec = await self._card(doc_id)
        owner = rec.get("owner") or ""
        if not may_manage(principal, owner) or (not owner and principal.visible is not None):
            raise Forbidden("only the owner, their manager or an admin moves a customer to "
                            "the recycle bin or back", code="bin.not_yours")
        if rec.get("merged_into"):
            raise Conflict("this card was merged into another", code="pool.merged",
                           merged_into=rec["merged_into"])
        if restore:
            if not rec.get("binned_at"):
                raise Conflict("this customer is not in the recycle bin", code="bin.not_binned")
        else:
            if rec.get("binned_at"):
                raise Conflict("this customer is already in the recycle bin",
                               code="bin.binned")
            if rec.get("status") != "invalid":
                raise Conflict("only an invalid customer (状况 无效) goes to the recycle bin",
                               code="bin.not_invalid", field="status")
        at = None if restore else now_ms()
        if await self.edits.edit(doc_id, "customer", lambda d: update_fields(
                d, "customer", {"binned_at": at})) is None:
            raise Conflict("the server refused the change", code="pool.refused")
        h = tt.customer_holds
        async with self.engine.begin() as conn:
            if restore and owner:  # back from the bin: its owner's hold starts again
                await conn.execute(h.delete().where(h.c.doc_id == doc_id))
                await conn.execute(insert(h).values(doc_id=doc_id, owner=owner, via=ASSIGN,
                                                    since=now_ms()))
            await audit(conn, "customer.restore" if restore else "customer.bin",
                        user_id=principal.user_id, doc_id=doc_id, owner=owner)
        return {"doc_id": doc_id, "binned_at": at}

    async def binned(self, principal: Principal) -> list[dict[str, Any]]:
        """The recycle bin as the caller sees it: customers whose owner is in their tree."""
        c = st.rec_customer
        stmt = (select(c.c.doc_id, c.c.name, c.c.code, c.c.city, c.c.owner, c.c.binned_at)
                .where(c.c.binned_at.is_not(None), c.c.merged_into.is_(None))
                .order_by(c.c.binned_at.desc()).limit(MAX_LIST))
        if principal.visible is not None:
            stmt = stmt.where(c.c.owner.in_(sorted(principal.visible)))
        async with self.engine.connect() as conn:
            return [{"doc_id": r.doc_id, "name": r.name or "", "code": r.code or "",
                     "city": r.city or "", "owner": r.owner, "binned_at": r.binned_at}
                    for r in await conn.execute(stmt)]

