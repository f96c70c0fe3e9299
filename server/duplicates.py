"""Duplicate customers: detection, automatic resolution by earliest creation, merge, undo.

Two cards whose canonical names (or credit codes) are equal are one customer: the card
created earliest survives, later ones are merged into it, and the survivor goes to the
earliest card's creator. "Created" is the device's claim corrected for the device's clock
offset and clamped into [its last contact before the record was made, the server's first
receipt]; ties go to the lower doc id. Merely similar cards become candidates for the back
office, found off the request and sync paths by `server.similar.CandidateFinder`. Every
merge is audited and can be undone. The rule in full: docs/duplicates.md.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc
from sqlalchemy import func, insert, or_, select, update

from schema import tables as st
from schema.names import canonical_name, check_credit_code, index_key, normalize_phone
from schema.ydoc import update_fields
from sync import tables as t
from sync.hub import Hub
from sync.log import Append, chunks, now_ms, upsert
from sync.scope import SYSTEM

from . import tables as tt
from .accounts import audit
from .errors import BadRequest, Conflict, NotFound
from .records import ServerEdits, children_of
from .similar import CandidateFinder, Directory

log = logging.getLogger(__name__)

MAX_LOOKUP = 200  # characters of a typed name or phone we look at
# Fields a merge never copies from the duplicate: identity, ownership, bookkeeping.
NOT_COPIED = frozenset({
    "code", "owner", "merged_into", "created_at", "created_by", "submitted_at",
    "security_level", "shared_with", "contacts", "attachments",
})


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    doc_a: str
    doc_b: str
    reason: str  # similar_name | same_phone | same_address
    score: float
    created_at: int
    status: str  # open | merged | dismissed


@dataclass(frozen=True, slots=True)
class MergeRecord:
    id: int
    survivor: str
    duplicate: str
    rule: str
    at: int
    actor: str
    undone_at: int | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Created:
    """When a card was created, as far as the server can vouch."""

    doc_id: str
    claimed: int  # the device's created_at
    offset: int  # the device's clock minus the server's, measured at its session
    floor: int  # the device's last contact before the session that brought the card
    received: int  # the server's first receipt

    @property
    def effective(self) -> int:
        return min(max(self.claimed - self.offset, self.floor), self.received)


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == [] or v == {}


class Duplicates:
    """Everything about duplicate customers; reached as `services.duplicates`."""

    def __init__(self, hub: Hub, edits: ServerEdits, secret: bytes) -> None:
        self.hub = hub
        self.edits = edits
        self.engine = hub.log.engine
        self.index_secret = hmac.new(secret, b"waiqin duplicate index", hashlib.sha256).digest()
        self.directory = Directory(self.engine, head=lambda: hub.log.head)
        self.finder = CandidateFinder(self.directory, resolve=self.check,
                                      head=lambda: hub.log.head, writer=hub.log.write)
        self._lock = asyncio.Lock()  # one resolution or merge at a time in this process
        self._checking: set[str] = set()

    async def __aenter__(self) -> Duplicates:
        """Start finding likely duplicates in the background (the app's lifespan)."""
        await self.finder.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.finder.__aexit__(*exc)

    # -- while typing -------------------------------------------------------------------

    async def lookup(self, name: str = "", phone: str = "", credit_code: str = "",
                     limit: int = 10) -> list[dict[str, Any]]:
        """Customers with the same name, credit code or phone, then similar names: each
        with only its name, code and owner's name (000 §3.1.2 lets anyone learn that)."""
        name, phone, credit_code = name.strip(), phone.strip(), credit_code.strip()
        if not (name or phone or credit_code):
            raise BadRequest("give a name, phone or credit_code to look up", field="name")
        for field, value in (("name", name), ("phone", phone), ("credit_code", credit_code)):
            if len(value) > MAX_LOOKUP:
                raise BadRequest(f"{field} is longer than {MAX_LOOKUP} characters", field=field)
        key = canonical_name(name) if name else ""
        phone_n = normalize_phone(phone) if phone else ""
        code_n = ""
        if credit_code:
            try:
                code_n = check_credit_code(credit_code)
            except ValueError as exc:
                raise BadRequest(str(exc), field="credit_code") from None
        directory = self.directory
        await directory.refresh()
        found: dict[str, tuple[str, float]] = {}
        for field, value, match in (("name_key", key, "same_name"),
                                    ("credit_code", code_n, "same_credit_code"),
                                    ("phone", phone_n if len(phone_n) >= 7 else "", "same_phone")):
            for d in heapq.nsmallest(limit, directory.same(field, value)):
                found.setdefault(d, (match, 1.0))
        for m in directory.names.similar(key, limit=limit):
            found.setdefault(m.doc_id, ("similar_name", m.score))
        ranked = sorted(found.items(),
                        key=lambda kv: (kv[1][0] == "similar_name", -kv[1][1], kv[0]))
        out = []
        for d, (match, score) in ranked[:limit]:
            e = directory.get(d)
            assert e is not None
            out.append({"name": e.name, "code": e.code,
                        "owner_name": directory.owner_names.get(e.owner, ""),
                        "match": match, "score": score})
        return out

    async def index_page(self, cursor: int, limit: int = 5000) -> dict[str, Any]:
        """One page of the offline index: customers changed after `cursor`, as keyed hashes.

        Rows are `[code, owner index, name key, credit-code key or ""]`; `removed` lists the
        codes of customers merged away. Follow `cursor` while `more` is true.
        """
        if cursor < 0:
            raise BadRequest("cursor must be 0 or more", field="cursor")
        c = st.rec_customer
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(
                select(c.c.seq, c.c.code, c.c.owner, c.c.name, c.c.credit_code, c.c.merged_into,
                       c.c.binned_at)
                .where(c.c.seq > cursor).order_by(c.c.seq).limit(limit)
            ))
            names = {u.id: u.name for u in await conn.execute(
                select(tt.users.c.id, tt.users.c.name))}
        owners: list[str] = []
        owner_idx: dict[str, int] = {}
        customers: list[list[Any]] = []
        removed: list[str] = []
        for r in rows:
            if not r.code:
                continue  # not yet given a code: it enters the index when it gets one
            if r.merged_into or r.binned_at:  # merged away, or in the recycle bin
                removed.append(r.code)
                continue
            owner = names.get(r.owner or "", "")
            if owner not in owner_idx:
                owner_idx[owner] = len(owners)
                owners.append(owner)
            name_key = _key(self.index_secret, r.name or "", "name")
            credit_key = _key(self.index_secret, r.credit_code or "", "credit_code")
            customers.append([r.code, owner_idx[owner], name_key, credit_key])
        return {
            "secret": base64.urlsafe_b64encode(self.index_secret).decode().rstrip("="),
            "cursor": rows[-1].seq if rows else cursor,
            "owners": owners,
            "customers": customers,
            "removed": removed,
            "more": len(rows) == limit,
        }

    # -- reacting to commits ------------------------------------------------------------

    def after_commit(self, appended: list[Append]) -> None:
        to_check: dict[str, Append] = {}
        customers = 0
        for a in appended:
            if a.record is None:
                continue
            if a.kind == "customer":
                customers += 1
                if a.redirect and a.user_id != SYSTEM.user_id:
                    self.edits.spawn(self._carry_over(a))
                elif not a.redirect and self._identity_changed(a):
                    if a.doc_id not in self._checking:
                        self._checking.add(a.doc_id)
                        to_check[a.doc_id] = a
            else:
                customer_id = a.record.get("customer_id")
                if not isinstance(customer_id, str):
                    continue
                known = self.hub.peek(customer_id)
                if known is not None and not known.record.get("merged_into"):
                    # The usual case: validation just loaded the customer, and it is no
                    # redirect (or not on the server at all: nothing to follow either).
                    continue
                self.edits.spawn(self._follow_redirect(a.doc_id, a.kind, customer_id))
        if customers:
            self.finder.wake(customers)
        if to_check:
            # One task and one query for the commit's changed cards, not one per card.
            self.edits.spawn(self._check_soon(list(to_check.values())))

    @staticmethod
    def _identity_changed(a: Append) -> bool:
        before = a.record_before or {}
        assert a.record is not None
        return any(before.get(f) != a.record.get(f)
                   for f in ("name", "credit_code", "phone", "address"))

    async def _check_soon(self, changed: list[Append]) -> None:
        """The exact rule for a commit's changed cards: one query finds which of them share
        a name key or credit code with another live card, and only those are checked."""
        seq = max(a.seq for a in changed)
        failed: BaseException | None = None
        try:
            for doc_id in await self._sharing(changed):
                try:
                    await self.check(doc_id)
                except Exception as e:  # noqa: BLE001 - the others are still checked
                    log.exception("the duplicate check of %s failed", doc_id)
                    failed = failed or e
            if failed is not None:
                raise failed
        finally:
            for a in changed:
                self._checking.discard(a.doc_id)
        # The commit's follow-up ends when its candidates are recorded too, so that
        # `ServerEdits.settle` covers them; the finder releases every waiter when it stops.
        await self.finder.examined(seq)

    async def _sharing(self, changed: list[Append]) -> list[str]:
        """The cards among `changed` whose name key or credit code another live card has
        (a superset of those `check` merges: it reads the live card and the dismissals)."""
        keys: dict[str, str] = {}
        codes: dict[str, str] = {}
        for a in changed:
            assert a.record is not None
            name, code = a.record.get("name"), a.record.get("credit_code")
            keys[a.doc_id] = canonical_name(name) if isinstance(name, str) else ""
            codes[a.doc_id] = code.upper() if isinstance(code, str) else ""
        c = st.rec_customer
        holders: dict[tuple[str, str], set[str]] = {}
        async with self.engine.connect() as conn:
            for field, column, values in (("name", c.c.name_key, keys),
                                          ("code", func.upper(c.c.credit_code), codes)):
                wanted = sorted({v for v in values.values() if v})
                for part in chunks(wanted):
                    for doc_id, value in await conn.execute(
                            select(c.c.doc_id, column).where(column.in_(part),
                                                             c.c.merged_into.is_(None))):
                        holders.setdefault((field, value), set()).add(doc_id)
        return [a.doc_id for a in changed if any(
            holders.get((field, v), set()) - {a.doc_id}
            for field, v in (("name", keys[a.doc_id]), ("code", codes[a.doc_id])) if v)]

    async def _follow_redirect(self, doc_id: str, kind: str, customer_id: str) -> None:
        """A record written for a customer that was merged meanwhile joins the survivor."""
        target = await self.final(customer_id)
        if target != customer_id:
            await self.edits.edit(doc_id, kind,
                                  lambda d: update_fields(d, kind, {"customer_id": target}))

    async def _carry_over(self, a: Append) -> None:
        """A change to a merged card (from a rep who was offline) goes to the survivor."""
        assert a.record is not None
        target = await self.final(a.doc_id)
        before = a.record_before or {}
        survivor = (await self.hub.open(target, "customer")).record
        changes: dict[str, Any] = {}
        for f, v in a.record.items():
            if f in NOT_COPIED - {"contacts", "attachments"} or before.get(f) == v:
                continue
            if f in ("contacts", "attachments"):
                merged = _union(survivor.get(f) or [], v or [], _identity_of(f))
                if merged != (survivor.get(f) or []):
                    changes[f] = merged
            else:
                changes[f] = v
        if changes:
            await self.edits.edit(target, "customer",
                                  lambda d: update_fields(d, "customer", changes))
            async with self.engine.begin() as conn:
                await audit(conn, "duplicate.carry", doc_id=target, source=a.doc_id,
                            fields=sorted(changes))

    async def final(self, doc_id: str) -> str:
        """Follow merge redirects to the card that survives."""
        seen = {doc_id}
        while True:
            rec = (await self.hub.open(doc_id, "customer")).record
            nxt = rec.get("merged_into")
            if not isinstance(nxt, str) or not nxt or nxt in seen:
                return doc_id
            seen.add(nxt)
            doc_id = nxt

    # -- resolution -----------------------------------------------------------------------

    async def created(self, doc_ids: list[str]) -> dict[str, Created]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.docs.c.doc_id, t.docs.c.contact_floor_at, t.docs.c.first_received_at,
                       t.docs.c.clock_offset).where(t.docs.c.doc_id.in_(doc_ids))
            )
            facts = {r.doc_id: r for r in rows}
        out = {}
        for d in doc_ids:
            r = facts[d]
            claimed = (await self.hub.open(d, "customer")).record.get("created_at")
            if not isinstance(claimed, int):
                claimed = r.first_received_at
            out[d] = Created(d, claimed, r.clock_offset, r.contact_floor_at,
                             r.first_received_at)
        return out

    async def check(self, doc_id: str) -> str | None:
        """Resolve `doc_id` against every other live customer; returns the survivor when
        a merge happened. Similar cards become candidates instead."""
        async with self._lock:
            live = await self.hub.open(doc_id, "customer")
            rec = live.record
            if not live.exists or rec.get("merged_into") or rec.get("binned_at"):
                return None
            key = canonical_name(rec["name"]) if isinstance(rec.get("name"), str) else ""
            code = (rec.get("credit_code") or "").upper()
            c = st.rec_customer
            conds = []
            if key:
                conds.append(c.c.name_key == key)
            if code:
                conds.append(func.upper(c.c.credit_code) == code)
            if not conds:
                return None
            async with self.engine.connect() as conn:
                same = [r[0] for r in await conn.execute(
                    select(c.c.doc_id).where(or_(*conds), c.c.merged_into.is_(None),
                                             c.c.binned_at.is_(None), c.c.doc_id != doc_id))]
                if same:  # the usual case has none: then no need to read the dismissals
                    dismissed = await self._dismissed(conn, doc_id)
                    same = [d for d in same if d not in dismissed]
            if not same:
                return None  # likely duplicates are the finder's: off this path
            group = sorted([doc_id, *same])
            times = await self.created(group)
            survivor: str = min(group, key=lambda d: (times[d].effective, d))
            names = [(await self.hub.open(d, "customer")).record.get("name") for d in group]
            same_name = bool(key) and all(
                isinstance(n, str) and canonical_name(n) == key for n in names
            )
            rule = "same_name" if same_name else "same_credit_code"
            for dup in group:
                if dup != survivor:
                    await self._merge(survivor, dup, rule, SYSTEM.user_id, times)
            return survivor

    async def _dismissed(self, conn: Any, doc_id: str) -> set[str]:
        dc = tt.duplicate_candidates
        rows = await conn.execute(
            select(dc.c.doc_a, dc.c.doc_b).where(
                dc.c.status == "dismissed", (dc.c.doc_a == doc_id) | (dc.c.doc_b == doc_id)
            )
        )
        return {b if a == doc_id else a for a, b in rows}

    # -- merge and undo -------------------------------------------------------------------

    async def merge(self, survivor_id: str, duplicate_id: str, actor_user_id: str) -> int:
        """Merge two cards by hand (the back office). The earlier card survives whichever
        way round they are given, so the outcome is the rule's, not the clicker's."""
        if survivor_id == duplicate_id:
            raise BadRequest("a card cannot be merged into itself", field="duplicate")
        for d in (survivor_id, duplicate_id):
            if not d.startswith("customer:"):
                raise BadRequest(f"{d[:80]!r} is not a customer doc id", field="duplicate")
        async with self._lock:
            for d in (survivor_id, duplicate_id):
                live = await self.hub.open(d, "customer")
                if not live.exists or live.kind != "customer":
                    raise NotFound(f"no customer {d}")
                if live.record.get("merged_into"):
                    raise Conflict(f"{d} was already merged into {live.record['merged_into']}")
            times = await self.created([survivor_id, duplicate_id])
            first, second = sorted([survivor_id, duplicate_id],
                                   key=lambda d: (times[d].effective, d))
            return await self._merge(first, second, "manual", actor_user_id, times)

    async def _merge(self, survivor_id: str, duplicate_id: str, rule: str, actor: str,
                     times: Mapping[str, Created]) -> int:
        s_live = await self.hub.open(survivor_id, "customer")
        d_live = await self.hub.open(duplicate_id, "customer")
        survivor, dup = s_live.record, d_live.record
        filled: dict[str, Any] = {}
        differing: dict[str, Any] = {}
        for f, v in dup.items():
            if f in NOT_COPIED or _empty(v):
                continue
            if _empty(survivor.get(f)):
                filled[f] = v
            elif survivor.get(f) != v:
                differing[f] = v
        changes: dict[str, Any] = dict(filled)
        added: dict[str, list[Any]] = {}
        for f in ("contacts", "attachments"):
            ident = _identity_of(f)
            have = {_hashable(ident(x)) for x in survivor.get(f) or []}
            extra = [x for x in dup.get(f) or [] if _hashable(ident(x)) not in have]
            if extra:
                changes[f] = list(survivor.get(f) or []) + extra
                added[f] = [ident(x) for x in extra]
        owner = s_live.created_by
        previous_owner = survivor.get("owner")
        if owner != previous_owner:
            changes["owner"] = owner
        # The duplicate's creator and owner keep seeing the customer their work now hangs
        # off: shared with them, not owned (unless the card's security level forbids it).
        before_shared = set(survivor.get("shared_with") or [])
        shared = before_shared | set(dup.get("shared_with") or [])
        shared |= {u for u in (d_live.created_by, dup.get("owner")) if isinstance(u, str) and u}
        shared.discard(owner)
        if shared != before_shared:
            changes["shared_with"] = sorted(shared)
        if changes:
            await self.edits.edit(survivor_id, "customer",
                                  lambda d: update_fields(d, "customer", changes))
        moved = await children_of(self.engine, duplicate_id)
        for child, kind in moved:
            await self.edits.edit(child, kind, _set_fields(kind, {"customer_id": survivor_id}))
        await self.edits.edit(duplicate_id, "customer",
                              lambda d: update_fields(d, "customer",
                                                      {"merged_into": survivor_id}))
        # A record written for the duplicate while it was being merged: it joins too.
        for child, kind in await children_of(self.engine, duplicate_id):
            await self.edits.edit(child, kind, _set_fields(kind, {"customer_id": survivor_id}))
            moved.append((child, kind))
        detail = {
            "filled": filled,
            "differing": differing,
            "added": added,
            "moved": [[c, k] for c, k in moved],
            "previous_owner": previous_owner,
            "owner": owner,
            "shared_added": sorted(shared - before_shared),
            "times": {d: {"claimed": c.claimed, "offset": c.offset, "floor": c.floor,
                          "received": c.received, "effective": c.effective}
                      for d, c in times.items() if d in (survivor_id, duplicate_id)},
        }
        at = now_ms()
        async with self.engine.begin() as conn:
            res = await conn.execute(insert(tt.merges).values(
                survivor=survivor_id, duplicate=duplicate_id, rule=rule, at=at, actor=actor,
                detail=json.dumps(detail, ensure_ascii=False), undone_at=None, undone_by=None,
            ).returning(tt.merges.c.id))
            merge_id = int(res.scalar_one())
            dc = tt.duplicate_candidates
            await conn.execute(update(dc).where(
                dc.c.doc_a == min(survivor_id, duplicate_id),
                dc.c.doc_b == max(survivor_id, duplicate_id),
            ).values(status="merged", decided_by=actor, decided_at=at))
            await audit(conn, "duplicate.merge", user_id=actor, doc_id=survivor_id,
                        merge_id=merge_id, survivor=survivor_id, duplicate=duplicate_id,
                        rule=rule, **detail)
        log.info("merged %s into %s (%s, by %s)", duplicate_id, survivor_id, rule, actor)
        return merge_id

    async def undo(self, merge_id: int, actor_user_id: str) -> None:
        """Restore both cards and their children as they were before the merge. The pair is
        then dismissed, so the automatic rule does not merge it again."""
        async with self._lock:
            async with self.engine.connect() as conn:
                row = (await conn.execute(
                    select(tt.merges).where(tt.merges.c.id == merge_id))).first()
            if row is None:
                raise NotFound(f"no merge {merge_id}")
            if row.undone_at is not None:
                raise Conflict(f"merge {merge_id} was already undone")
            detail = json.loads(row.detail)
            survivor_id, duplicate_id = row.survivor, row.duplicate
            await self.edits.edit(duplicate_id, "customer",
                                  lambda d: update_fields(d, "customer", {"merged_into": None}))
            for child, kind in detail["moved"]:
                live = await self.hub.open(child, kind)
                if live.record.get("customer_id") == survivor_id:
                    await self.edits.edit(
                        child, kind, _set_fields(kind, {"customer_id": duplicate_id}))
            survivor = (await self.hub.open(survivor_id, "customer")).record
            restore: dict[str, Any] = {
                f: None for f, v in detail["filled"].items() if survivor.get(f) == v
            }
            for f, idents in detail["added"].items():
                ident = _identity_of(f)
                drop = {_hashable(i) for i in idents}
                restore[f] = [x for x in survivor.get(f) or [] if _hashable(ident(x)) not in drop]
            if survivor.get("owner") == detail["owner"] and detail["previous_owner"]:
                restore["owner"] = detail["previous_owner"]
            if detail.get("shared_added"):
                drop_users = set(detail["shared_added"])
                restore["shared_with"] = [
                    u for u in survivor.get("shared_with") or [] if u not in drop_users
                ]
            if restore:
                await self.edits.edit(survivor_id, "customer",
                                      lambda d: update_fields(d, "customer", restore))
            at = now_ms()
            async with self.engine.begin() as conn:
                await conn.execute(update(tt.merges).where(tt.merges.c.id == merge_id)
                                   .values(undone_at=at, undone_by=actor_user_id))
                await upsert(conn, tt.duplicate_candidates, {
                    "doc_a": min(survivor_id, duplicate_id),
                    "doc_b": max(survivor_id, duplicate_id), "reason": row.rule, "score": 1.0,
                    "created_at": at, "status": "dismissed", "decided_by": actor_user_id,
                    "decided_at": at,
                }, ["doc_a", "doc_b"], ["status", "decided_by", "decided_at"])
                await audit(conn, "duplicate.undo", user_id=actor_user_id, doc_id=survivor_id,
                            merge_id=merge_id, survivor=survivor_id, duplicate=duplicate_id)

    # -- the review queue -----------------------------------------------------------------

    async def candidates(self, status: str = "open") -> list[Candidate]:
        dc = tt.duplicate_candidates
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(dc).where(dc.c.status == status).order_by(dc.c.created_at.desc()))
            return [Candidate(r.id, r.doc_a, r.doc_b, r.reason, r.score, r.created_at,
                              r.status) for r in rows]

    @staticmethod
    async def _open_candidate(conn: Any, candidate_id: int) -> Any:
        dc = tt.duplicate_candidates
        row = (await conn.execute(select(dc).where(dc.c.id == candidate_id))).first()
        if row is None:
            raise NotFound(f"no duplicate candidate {candidate_id}")
        if row.status != "open":
            raise Conflict(f"candidate {candidate_id} is already {row.status}")
        return row

    async def dismiss(self, candidate_id: int, actor_user_id: str) -> None:
        dc = tt.duplicate_candidates
        async with self.engine.begin() as conn:
            row = await self._open_candidate(conn, candidate_id)
            await conn.execute(update(dc).where(dc.c.id == candidate_id).values(
                status="dismissed", decided_by=actor_user_id, decided_at=now_ms()))
            await audit(conn, "duplicate.dismiss", user_id=actor_user_id, doc_id=row.doc_a,
                        candidate=candidate_id, other=row.doc_b)

    async def merge_candidate(self, candidate_id: int, actor_user_id: str) -> int:
        async with self.engine.connect() as conn:
            row = await self._open_candidate(conn, candidate_id)
        return await self.merge(row.doc_a, row.doc_b, actor_user_id)

    async def merges(self) -> list[MergeRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(tt.merges).order_by(tt.merges.c.at.desc()))
            return [MergeRecord(r.id, r.survivor, r.duplicate, r.rule, r.at, r.actor,
                                r.undone_at, json.loads(r.detail)) for r in rows]


def _set_fields(kind: str, changes: dict[str, Any]) -> Callable[[Doc[Any]], None]:
    def change(doc: Doc[Any]) -> None:
        update_fields(doc, kind, changes)

    return change


def _key(secret: bytes, value: str, kind: Any) -> str:
    try:
        return index_key(secret, value, kind) if value else ""
    except ValueError:
        return ""


def _identity_of(field: str) -> Any:
    if field == "attachments":
        return lambda a: a.get("sha256") if isinstance(a, Mapping) else a
    return lambda c: (
        [c.get("name"), c.get("mobile") or c.get("office_phone")]
        if isinstance(c, Mapping) else c
    )


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _union(a: list[Any], b: list[Any], ident: Any) -> list[Any]:
    have = {_hashable(ident(x)) for x in a}
    return a + [x for x in b if _hashable(ident(x)) not in have]
