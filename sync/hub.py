"""The document hub: live docs in memory, the apply path, and fan-out to subscribers.

An incoming update is authorised (scope), applied to the live doc, read back and validated
(rules), then queued for group commit; only after commit is it acked and fanned out. A
refused update is rolled back by rebuilding the doc from the log plus what is in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pycrdt import Doc, get_update

from . import protocol as p
from .log import Append, DocMeta, Item, Log, NewDoc, Refusal, now_ms
from .scope import DocFacts, Principal, ScopePolicy

log = logging.getLogger(__name__)


class Violation(Protocol):
    """A rule a change breaks, as the record rules report it (`schema.violations.Violation`
    is the one the server plugs in)."""

    @property
    def field(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def message_zh(self) -> str: ...


class Rules(Protocol):
    """The record rules: how a doc reads as a record, and what a valid change is."""

    @property
    def kinds(self) -> frozenset[str]: ...

    def read(
        self, kind: str, doc: Doc[Any], *, whole: bool = False
    ) -> tuple[dict[str, Any], Iterable[Violation]]:
        """The doc's record. A rule set may re-read only what changed since its last read
        of this doc; `whole` asks it to read everything (the doc holds, or just integrated,
        structs that were waiting for missing ones)."""
        ...

    def related_ids(self, kind: str, record: Mapping[str, Any]) -> set[str]: ...

    def redirect(self, kind: str, record: Mapping[str, Any]) -> str | None:
        """The doc this record was merged into, if it was (its updates are carried there)."""
        ...

    def validate(
        self,
        kind: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any],
        principal: Principal,
        related: Mapping[str, Mapping[str, Any]],
    ) -> Iterable[Violation]: ...


EVICT_WALK = 64  # live docs examined per eviction pass


@dataclass(eq=False)
class LiveDoc:
    doc_id: str
    kind: str
    ydoc: Doc[Any]
    meta: DocMeta | None  # None until the doc's first update commits
    record: dict[str, Any] = field(default_factory=dict)
    grantees: frozenset[str] = frozenset()
    created_by: str = ""
    seq: int = 0
    in_flight: list[bytes] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    # Updates whose structs the doc could not integrate yet (they wait for missing ones).
    waiting: list[bytes] | None = None

    @property
    def exists(self) -> bool:
        return self.meta is not None or bool(self.in_flight)


@dataclass(slots=True)
class Delivery:
    """One committed event for subscribers: an update, or a doc entering/leaving scope.

    One object goes to every subscriber that gets the same event, so that its `/sync`
    frames are encoded once (`wire`), not once per device."""

    doc_id: str
    seq: int
    event: str  # "update" | "enter" | "leave"
    payload: bytes = b""  # the update, or the whole state on "enter"
    origin: tuple[str, str] = ("", "")  # (user, device) that wrote it
    reason: str = ""
    redirect: str = ""  # on "leave" after a merge: the doc it was merged into
    _wire: tuple[bytes, ...] | None = field(default=None, compare=False, repr=False)

    def wire(self) -> tuple[bytes, ...]:
        """The `/sync` frames of this event, encoded on first use and then shared."""
        if self._wire is None:
            frames: tuple[p.Frame, ...]
            if self.event == "update":
                frames = (p.Sync(self.doc_id, self.seq, p.SyncMessageType.UPDATE, self.payload),)
            elif self.event == "enter":
                frames = (p.ScopeEnter(self.doc_id),
                          p.Sync(self.doc_id, self.seq, p.SyncMessageType.STEP2, self.payload))
            else:
                frames = (p.ScopeLeave(self.doc_id, self.reason or "scope", self.redirect),)
            self._wire = tuple(p.encode(f) for f in frames)
        return self._wire


class Subscriber(Protocol):
    principal: Principal
    device_key: tuple[str, str]
    doc_filter: str | None  # a /yjs socket follows one doc; /sync follows the scope

    def deliver(self, items: list[Delivery]) -> None:
        """Queue without blocking; a subscriber that cannot keep up closes itself."""
        ...

    def close_soon(self, code: int, reason: str) -> None: ...


class Hub:
    """Live docs and subscribers, over a running `Log` (the app opens the log first; the hub
    itself holds no tasks to start or stop)."""

    def __init__(
        self,
        log_: Log,
        *,
        policy: ScopePolicy,
        rules: Rules,
        max_live: int = 10_000,
        idle_seconds: float = 600.0,
        max_catch_ups: int = 4,
    ) -> None:
        self.log = log_
        self.policy = policy
        self.rules = rules
        self.max_live = max_live
        self.idle_seconds = idle_seconds
        self._live: OrderedDict[str, LiveDoc] = OrderedDict()
        # Catch-ups read much; when a thousand devices reconnect at once they take turns,
        # leaving database connections for the writer and for live traffic.
        self.catch_up_slots = asyncio.Semaphore(max_catch_ups)
        self._loading: dict[str, asyncio.Future[LiveDoc]] = {}
        self._remote_while_loading: dict[str, list[Append]] = {}
        self._by_user: dict[str, set[Subscriber]] = {}
        self._by_doc: dict[str, set[Subscriber]] = {}
        self._global: set[Subscriber] = set()
        self._devices: dict[tuple[str, str], Subscriber] = {}
        # Called after fan-out of each commit, in order: server rules that react to changes.
        self.listeners: list[Callable[[list[Append]], None]] = []
        log_.dispatch = self.dispatch

    # -- live docs ------------------------------------------------------------------------

    @property
    def live_count(self) -> int:
        return len(self._live)

    async def open(self, doc_id: str, kind: str) -> LiveDoc:
        live = self._live.get(doc_id)
        if live is not None:
            self._live.move_to_end(doc_id)
            live.last_used = time.monotonic()
            return live
        pending = self._loading.get(doc_id)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[LiveDoc] = asyncio.get_running_loop().create_future()
        self._loading[doc_id] = fut
        try:
            live = await self._load(doc_id, kind)
        except BaseException as e:
            self._remote_while_loading.pop(doc_id, None)
            fut.set_exception(e)
            fut.exception()
            raise
        finally:
            del self._loading[doc_id]
        self._install(live)
        fut.set_result(live)
        self._evict()
        return live

    def _install(self, live: LiveDoc) -> None:
        """A loaded doc goes live, with what other instances committed while it loaded."""
        self._live[live.doc_id] = live
        for a in self._remote_while_loading.pop(live.doc_id, ()):
            live.ydoc.apply_update(a.update)
            live.grantees = a.grantees
            live.seq = max(live.seq, a.seq)
            if live.meta is None and a.new_doc is not None:
                live.created_by = a.user_id
            live.record, _ = self.rules.read(live.kind, live.ydoc, whole=True)

    async def _load(self, doc_id: str, kind: str) -> LiveDoc:
        return (await self._load_many({doc_id: kind}))[doc_id]

    async def _load_many(self, kinds: Mapping[str, str]) -> dict[str, LiveDoc]:
        ids = list(kinds)
        # Every committed doc has its row in sync_docs: new ids need no more queries.
        metas, states = await self.log.reader.metas_and_states(ids)
        out = {}
        for doc_id in ids:
            ydoc: Doc[Any] = Doc()
            meta = metas.get(doc_id)
            seq = 0
            if doc_id in states:
                state, seq = states[doc_id]
                ydoc.apply_update(state)
            live = LiveDoc(doc_id, meta.kind if meta else kinds[doc_id], ydoc, meta, seq=seq)
            if meta is not None:
                live.grantees = meta.grantees
                live.created_by = meta.created_by
                live.record, _ = self.rules.read(live.kind, ydoc)
            out[doc_id] = live
        return out

    async def preload(self, doc_ids: Iterable[str]) -> None:
        """Bring docs into memory with one round of queries for all of them: a device that
        streams new records would otherwise wait for one lookup per record."""
        kinds: dict[str, str] = {}
        for doc_id in doc_ids:
            if doc_id in self._live or doc_id in self._loading or doc_id in kinds:
                continue
            try:
                kinds[doc_id] = p.check_doc_id(doc_id, self.rules.kinds)
            except ValueError:
                continue
        if len(kinds) < 2:
            return  # one doc loads on its own when it is opened
        loop = asyncio.get_running_loop()
        futs = {d: loop.create_future() for d in kinds}
        self._loading.update(futs)
        loaded: dict[str, LiveDoc] = {}  # nothing, if the load fails: every doc is let go
        try:
            loaded = await self._load_many(kinds)
        except BaseException as e:
            for fut in futs.values():
                fut.set_exception(e)
                fut.exception()
            raise
        finally:
            for d in kinds:
                del self._loading[d]
                if d not in loaded:
                    self._remote_while_loading.pop(d, None)
        for doc_id, live in loaded.items():
            self._install(live)
            futs[doc_id].set_result(live)
        self._evict()

    def _evict(self) -> None:
        """Drop the least recently used docs while over the limit or idle too long.

        Walks from the oldest end, stops at the first doc that may stay and after at most
        EVICT_WALK docs: each open adds one doc, so this catches up, and while thousands are
        busy (updates in flight) an open stays cheap; memory then exceeds the limit by the
        docs in flight, until they commit."""
        now = time.monotonic()
        excess = len(self._live) - self.max_live
        drop, busy = [], []
        for walked, (doc_id, live) in enumerate(self._live.items()):
            if walked >= EVICT_WALK or (excess <= 0 and now - live.last_used < self.idle_seconds):
                break
            if live.in_flight or live.lock.locked():
                # Busy docs must stay; moved to the recent end so that the next walk does
                # not step over them again (with thousands of updates in flight, rescanning
                # them on every open made each open O(docs in flight)).
                busy.append(doc_id)
                continue
            drop.append(doc_id)
            excess -= 1
        for doc_id in drop:
            del self._live[doc_id]
        for doc_id in busy:
            self._live.move_to_end(doc_id)

    def peek(self, doc_id: str) -> LiveDoc | None:
        """The live doc if it is in memory; never loads."""
        return self._live.get(doc_id)

    def forget(self, doc_id: str) -> None:
        """Drop a live doc so it is reloaded from the database on next use."""
        self._live.pop(doc_id, None)

    async def _rebuild(self, live: LiveDoc) -> None:
        fresh = await self._load(live.doc_id, live.kind)
        for upd in live.in_flight:
            fresh.ydoc.apply_update(upd)
        live.ydoc = fresh.ydoc
        live.record, _ = self.rules.read(live.kind, live.ydoc)

    async def records(self, doc_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Current records of existing docs (for cross-record rules)."""
        out: dict[str, dict[str, Any]] = {}
        for doc_id in doc_ids:
            try:
                kind = p.check_doc_id(doc_id, self.rules.kinds)
            except ValueError:
                continue
            live = await self.open(doc_id, kind)
            if live.exists:
                out[doc_id] = live.record
        return out

    # -- the apply path -------------------------------------------------------------------

    async def apply(
        self,
        principal: Principal,
        device_id: str,
        doc_id: str,
        update: bytes,
        clock: int,
        *,
        contact_floor_at: int = 0,
        clock_offset: int = 0,
    ) -> asyncio.Future[Item]:
        """Authorise, validate and queue one update; the future resolves once committed.

        A refused update resolves to a `Refusal` (recorded, so a resend gets the same
        answer); an accepted one to its `Append` with its sequence number. The future is
        shielded: a caller that stops waiting (a device that disconnects) cannot cancel
        the commit, nor make the hub think it failed.
        """
        received = now_ms()

        def refuse(code: str, message: str, **detail: Any) -> asyncio.Future[Item]:
            body = {"code": code, "message": message, **detail}
            log.info("refused %s clock %s from %s: %s", doc_id, clock, principal.user_id, body)
            return asyncio.shield(
                self.log.submit(Refusal(principal.user_id, device_id, clock, doc_id, body))
            )

        try:
            kind = p.check_doc_id(doc_id, self.rules.kinds)
        except ValueError as e:
            return refuse(p.ErrorCode.BAD_DOC_ID, str(e))
        live = await self.open(doc_id, kind)
        async with live.lock:
            live.last_used = time.monotonic()
            if live.exists:
                if not (principal.is_system or await self._may_write(principal, live)):
                    return refuse(p.ErrorCode.FORBIDDEN, f"you may not change {doc_id}")
            elif not self.policy.may_create(principal, kind):
                return refuse(p.ErrorCode.FORBIDDEN, f"you may not create a {kind}")
            before = live.record if live.exists else None
            known = live.ydoc.get_state()
            try:
                live.ydoc.apply_update(update)
                # Structs beyond what the doc held, integrated or waiting for missing ones.
                # (An update's own state vector counts only structs from clock 0 on: empty
                # for any incremental update, so it cannot tell.)
                new_structs = get_update(update, known)[0] != 0
            except (ValueError, p.ProtocolError) as e:
                return refuse(p.ErrorCode.BAD_UPDATE, f"not a valid Yjs update: {e}")
            whole = self._integrating(live, update, new_structs)
            after, layout = self.rules.read(kind, live.ydoc, whole=whole)
            problems = list(layout)
            if not problems:
                related = await self.records(
                    d for d in self.rules.related_ids(kind, after) if d != doc_id
                )
                problems = list(self.rules.validate(kind, before, after, principal, related))
            else:
                related = {}
            if problems:
                await self._rebuild(live)
                first = problems[0]
                return refuse(
                    p.ErrorCode.INVALID,
                    first.message,
                    message_zh=first.message_zh,
                    field=first.field,
                    rule=first.rule,
                    problems=[
                        {"field": v.field, "rule": v.rule, "message": v.message,
                         "message_zh": v.message_zh}
                        for v in problems
                    ],
                )
            new_doc = None
            if not live.exists:
                live.created_by = principal.user_id
                new_doc = NewDoc(kind, principal.user_id, device_id, contact_floor_at,
                                 clock_offset)
            grantees = self.policy.grantees(
                DocFacts(doc_id, kind, live.created_by, after, related)
            )
            add, remove = grantees - live.grantees, live.grantees - grantees
            if live.exists and not new_structs and after == before and not (add or remove):
                # Nothing new (an empty sync step 2, a repeat): acknowledge, log nothing.
                # An update waiting for missing structs is never here: it brings new ones.
                done: asyncio.Future[Item] = asyncio.get_running_loop().create_future()
                done.set_result(Append(doc_id, kind, update, principal.user_id, device_id,
                                       clock, received))
                return done
            append = Append(
                doc_id,
                kind,
                update,
                principal.user_id,
                device_id,
                clock,
                received,
                new_doc=new_doc,
                grant_add=frozenset(add),
                grant_remove=frozenset(remove),
                grantees=grantees,
                redirect=self.rules.redirect(kind, after),
                record=after,
                record_before=dict(before) if before is not None else None,
                state_after=live.ydoc.get_update() if (add or remove) else None,
            )
            live.record = after
            live.grantees = grantees
            live.in_flight.append(update)
            fut = self.log.submit(append)
            fut.add_done_callback(lambda f: self._settled(live, update, f))
            return asyncio.shield(fut)

    @staticmethod
    def _integrating(live: LiveDoc, update: bytes, new_structs: bool) -> bool:
        """True while the doc holds structs waiting for missing ones, and on the update that
        lets them in: yrs's change events are not complete for those, so the record is then
        read whole."""
        had = live.waiting is not None
        waiting = list(live.waiting or ())
        if new_structs:
            waiting.append(update)
        if not waiting:
            return False
        state = live.ydoc.get_state()
        left = [u for u in waiting if get_update(u, state)[0] != 0]
        live.waiting = left or None
        return had or bool(left)

    async def _may_write(self, principal: Principal, live: LiveDoc) -> bool:
        if self.policy.may_write(principal, live.grantees):
            return True
        target = self.rules.redirect(live.kind, live.record)
        if target is None:
            return False
        # A merged card: its creator, and whoever sees the survivor, may still send changes
        # (a rep who was offline); they are accepted here and carried into the survivor.
        if principal.user_id == live.created_by:
            return True
        survivor = await self.open(target, live.kind)
        return self.policy.may_write(principal, survivor.grantees)

    def _settled(self, live: LiveDoc, update: bytes, fut: asyncio.Future[Item]) -> None:
        try:
            live.in_flight.remove(update)
        except ValueError:
            pass
        if fut.cancelled() or fut.exception() is not None:
            # The doc in memory holds an update the database does not: reload it later.
            self.forget(live.doc_id)
            return
        item = fut.result()
        assert isinstance(item, Append)
        live.seq = max(live.seq, item.seq)
        if live.meta is None:
            live.meta = DocMeta(
                item.doc_id, item.kind, item.user_id, item.seq, item.seq, item.received_at,
                item.new_doc.contact_floor_at if item.new_doc else 0, None, live.grantees,
            )

    async def state_for(self, principal: Principal, doc_id: str) -> LiveDoc | None:
        """The live doc if it exists and the principal may read it, else None."""
        try:
            kind = p.check_doc_id(doc_id, self.rules.kinds)
        except ValueError:
            return None
        live = await self.open(doc_id, kind)
        if not live.exists or not principal.sees(live.grantees):
            return None
        return live

    async def holds(self, doc_id: str, update: bytes) -> bool:
        """True if the doc already holds everything the update brings (a true resend).

        Asked only for updates whose clock the device already used: an update with new
        structs, or deleting what the doc still has, is a new change under a stale clock."""
        try:
            kind = p.check_doc_id(doc_id, self.rules.kinds)
        except ValueError:
            return False
        live = await self.open(doc_id, kind)
        if not live.exists:
            return False
        async with live.lock:
            try:
                if get_update(update, live.ydoc.get_state())[0] != 0:
                    return False
                # No new structs; deletions show only in the merged state's delete set.
                state = live.ydoc.get_update()
                probe: Doc[Any] = Doc()
                probe.apply_update(state)
                probe.apply_update(update)
                return bool(probe.get_update() == state)
            except ValueError:
                return False

    # -- subscribers and fan-out ----------------------------------------------------------

    def claim_device(self, sub: Subscriber) -> None:
        """One live session per device: a new connection replaces the old one."""
        old = self._devices.get(sub.device_key)
        self._devices[sub.device_key] = sub
        if old is not None and old is not sub:
            old.close_soon(p.CloseCode.REPLACED, "the device connected again")

    def release_device(self, sub: Subscriber) -> None:
        if self._devices.get(sub.device_key) is sub:
            del self._devices[sub.device_key]

    def sessions_of(self, user_id: str) -> list[Subscriber]:
        """Every live socket of a user: /sync sessions (also before they subscribe) and /yjs."""
        subs = {s for s in self.subscribers() if s.principal.user_id == user_id}
        subs.update(s for k, s in self._devices.items() if k[0] == user_id)
        return list(subs)

    def subscribe(self, sub: Subscriber) -> None:
        if sub.doc_filter is not None:
            self._by_doc.setdefault(sub.doc_filter, set()).add(sub)
        elif sub.principal.visible is None:
            self._global.add(sub)
        else:
            for user in sub.principal.visible:
                self._by_user.setdefault(user, set()).add(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        self._global.discard(sub)
        if sub.doc_filter is not None:
            subs = self._by_doc.get(sub.doc_filter)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_doc[sub.doc_filter]
        if sub.principal.visible is not None:
            for user in sub.principal.visible:
                users = self._by_user.get(user)
                if users is not None:
                    users.discard(sub)
                    if not users:
                        del self._by_user[user]

    def subscribers(self) -> list[Subscriber]:
        subs = set(self._global)
        for s in self._by_user.values():
            subs |= s
        for s in self._by_doc.values():
            subs |= s
        return list(subs)

    def _apply_remote(self, a: Append) -> None:
        """Another instance committed this: keep a live copy here in step, or drop it."""
        live = self._live.get(a.doc_id)
        if live is None:
            if a.doc_id in self._loading:
                # Its load may have read the database before this commit: applied after it.
                self._remote_while_loading.setdefault(a.doc_id, []).append(a)
            return
        if not (live.lock.locked() or live.in_flight):
            self.forget(a.doc_id)  # reloaded from the database on next use
            return
        live.ydoc.apply_update(a.update)
        live.record, _ = self.rules.read(live.kind, live.ydoc)
        live.grantees = a.grantees
        live.seq = max(live.seq, a.seq)
        if live.meta is None and a.new_doc is not None:
            live.created_by = a.user_id

    def _watchers(self, users: Iterable[str]) -> set[Subscriber]:
        out = set(self._global)
        for u in users:
            out |= self._by_user.get(u, set())
        return out

    def dispatch(self, appended: list[Append]) -> None:
        """Called by the log writer right after a commit, in sequence order."""
        batches: dict[Subscriber, list[Delivery]] = {}
        for a in appended:
            if a.remote:
                self._apply_remote(a)
            after = a.grantees
            before = (after - a.grant_add) | a.grant_remove
            origin = (a.user_id, a.device_id)
            # At most one object per kind of event, shared by every recipient of it.
            update = Delivery(a.doc_id, a.seq, "update", a.update, origin)
            leave = Delivery(a.doc_id, a.seq, "leave", b"", origin,
                             reason="merged" if a.redirect else "scope",
                             redirect=a.redirect or "")
            if a.new_doc is not None and a.state_after is None:
                enter = update
            else:
                state = a.state_after if a.state_after is not None else a.update
                enter = Delivery(a.doc_id, a.seq,
                                 "update" if a.new_doc is not None else "enter", state, origin)
            for sub in self._watchers(after | before):
                saw, sees = sub.principal.sees(before), sub.principal.sees(after)
                if a.new_doc is not None:
                    saw = False
                if sees and saw:
                    if sub.device_key != origin:
                        batches.setdefault(sub, []).append(update)
                elif sees:
                    if sub.device_key != origin:
                        batches.setdefault(sub, []).append(enter)
                elif saw:
                    batches.setdefault(sub, []).append(leave)
            for sub in self._by_doc.get(a.doc_id, ()):
                if sub.device_key != origin:
                    batches.setdefault(sub, []).append(
                        update if sub.principal.sees(after) else leave)
        for sub, items in batches.items():
            try:
                sub.deliver(items)
            except Exception:
                log.exception("delivery to %s failed", sub.device_key)
        for listener in self.listeners:
            try:
                listener(appended)
            except Exception:
                log.exception("commit listener %s failed", listener)
