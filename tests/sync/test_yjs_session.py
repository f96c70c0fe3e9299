"""The `/yjs` session over the in-memory transport pair: a client that behaves as stock
y-websocket does creates, reads and waits for records, is told where a merged card went,
and is closed only with codes that say truthfully whether reconnecting helps."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pycrdt import Doc, Map
from sqlalchemy import func, select, text

from schema import samples
from schema.ydoc import update_fields, write_record
from server.accounts import User
from server.records import RecordPolicy, SchemaRules, ServerEdits
from sync import protocol as p
from sync import tables as t
from sync.client import SyncClient
from sync.session import SessionLimits
from sync.transport import Disconnected, MemoryTransport, memory_pair
from sync.yjs import YjsSession
from tests.conftest import make_team
from tests.factories import new_customer
from tests.sync.harness import RuleBroken

from .harness import Harness, harness

pytestmark = pytest.mark.asyncio


class StockClient:
    """What y-websocket's provider does on its socket: step 1 on open, a step 2 for the
    server's step 1 (empty when the doc is new), every update applied, local changes sent
    as updates. Awareness the server sends is kept in `awareness`."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self.doc: Doc[Any] = Doc()
        self.synced = False
        self.closed: Disconnected | None = None
        self.awareness: list[bytes] = []
        self._changed = asyncio.Event()

    async def start(self) -> None:
        await self.transport.send(p.encode_y_sync(p.SyncMessageType.STEP1, self.doc.get_state()))
        while True:
            try:
                data = await self.transport.recv()
            except Disconnected as e:
                self.closed = e
                self._changed.set()
                return
            mtype, kind, payload = p.decode_y_message(data)
            if mtype == p.YMessage.AWARENESS:
                self.awareness.append(payload)
            elif kind == p.SyncMessageType.STEP1:
                await self.transport.send(
                    p.encode_y_sync(p.SyncMessageType.STEP2, self.doc.get_update(payload)))
            else:
                self.doc.apply_update(payload)
                self.synced = self.synced or kind == p.SyncMessageType.STEP2
            self._changed.set()

    def record(self) -> dict[str, Any]:
        return dict(self.doc.get("record", type=Map).to_py() or {})

    async def write(self, values: dict[str, Any]) -> None:
        before = self.doc.get_state()
        update_fields(self.doc, "customer", values)
        await self.transport.send(
            p.encode_y_sync(p.SyncMessageType.UPDATE, self.doc.get_update(before)))

    async def wait_for(self, cond: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not cond():
                self._changed.clear()
                await self._changed.wait()

    async def wait_closed(self) -> Disconnected:
        await self.wait_for(lambda: self.closed is not None)
        assert self.closed is not None
        return self.closed


@contextlib.asynccontextmanager
async def stock_client(
    h: Harness, user: User, doc_id: str, *, limits: SessionLimits | None = None,
    merged_grace: float = 5.0, holding: bytes | None = None,
) -> AsyncIterator[StockClient]:
    """A stock client on /yjs/<doc_id> as `user`; `holding`: the doc it has, as an update."""
    client_end, server_end = memory_pair()
    session = YjsSession(h.hub, server_end, await h.principal(user), doc_id, limits=limits,
                         merged_grace=merged_grace)
    served = asyncio.create_task(session.run())
    client = StockClient(client_end)
    if holding is not None:
        client.doc.apply_update(holding)
    running = asyncio.create_task(client.start())
    try:
        yield client
    finally:
        await client_end.close(1000, "done")
        async with asyncio.timeout(10):
            await served
            await running


@contextlib.asynccontextmanager
async def crm(engine: Any) -> AsyncIterator[Harness]:
    async with harness(engine, policy=RecordPolicy(), rules=SchemaRules()) as h:
        yield h


async def committed(h: Harness, doc_id: str, cond: Callable[[dict[str, Any]], bool]) -> None:
    """Wait until the record as stored in the database satisfies `cond`, looking again after
    every commit."""
    commit = asyncio.Event()

    def listener(_: list[Any]) -> None:
        commit.set()

    h.hub.listeners.append(listener)
    try:
        async with asyncio.timeout(10):
            while not cond(await h.server_record(doc_id)):
                await commit.wait()
                commit.clear()
    finally:
        h.hub.listeners.remove(listener)


async def refusals(h: Harness, doc_id: str) -> int:
    async with h.engine.connect() as conn:
        q = select(func.count()).select_from(t.refusals).where(t.refusals.c.doc_id == doc_id)
        return int(await conn.scalar(q) or 0)


async def test_a_stock_client_creates_a_record_that_it_and_a_manager_read_back(
    engine: Any,
) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        doc_id = samples.new_id("customer")
        card = new_customer(team.rep1.id)
        async with stock_client(h, team.rep1, doc_id) as writer:
            await writer.wait_for(lambda: writer.synced)
            # its empty step 2 for the new doc was no attempt to create an empty record
            assert await refusals(h, doc_id) == 0 and await h.log_rows(doc_id) == 0
            await writer.write(card)
            await committed(h, doc_id, lambda r: r.get("name") == card["name"])
            async with stock_client(h, team.rep1, doc_id) as again:
                await again.wait_for(lambda: again.record().get("name") == card["name"])
            async with stock_client(h, team.manager, doc_id) as manager:
                await manager.wait_for(lambda: manager.record().get("name") == card["name"])
                assert manager.record()["contacts"][0]["name"] == "张宏"
            assert writer.closed is None
        assert await refusals(h, doc_id) == 0


async def test_a_stock_client_waits_for_a_doc_that_does_not_exist_yet(engine: Any) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        doc_id = samples.new_id("customer")
        async with (stock_client(h, team.manager, doc_id) as manager,
                    stock_client(h, team.rep3, doc_id) as stranger):
            await manager.wait_for(lambda: manager.synced)
            await stranger.wait_for(lambda: stranger.synced)
            phone = SyncClient("phone")
            async with h.online(phone, team.rep1):
                write_record(phone.doc(doc_id), "customer", new_customer(team.rep1.id))
                await phone.wait_flushed()
            await manager.wait_for(lambda: bool(manager.record().get("name")))
            # another team's manager learns nothing but that it is not theirs
            closed = await stranger.wait_closed()
            assert closed.code == p.CloseCode.NOT_FOUND
            assert stranger.record() == {}
            assert manager.closed is None
        assert await refusals(h, doc_id) == 0


class TightenedRules(SchemaRules):
    """The record rules, plus one added after records were made: every customer needs a
    website. Records made before it break it, unchanged."""

    tightened = False

    def validate(self, kind: str, before: Any, after: Any, principal: Any,
                 related: Any) -> list[Any]:
        problems = super().validate(kind, before, after, principal, related)
        if self.tightened and not after.get("website"):
            problems.append(RuleBroken("website", "website.required", "Website is required",
                                    "网址必填"))
        return problems


async def test_a_step_2_that_brings_nothing_new_is_no_change_to_validate(engine: Any) -> None:
    rules = TightenedRules()
    async with harness(engine, policy=RecordPolicy(), rules=rules) as h:
        team = await make_team(h.accounts)
        doc_id = samples.new_id("customer")
        async with stock_client(h, team.rep1, doc_id) as writer:
            await writer.wait_for(lambda: writer.synced)
            await writer.write(new_customer(team.rep1.id, website=None))
            await writer.write({"postcode": "100081", "phone": "010-62345678-103"})
            await committed(h, doc_id, lambda r: r.get("postcode") == "100081")
        rules.tightened = True
        rows = await h.log_rows(doc_id)
        # a reader with nothing (empty step 2), and one holding the doc with its deletions
        async with (stock_client(h, team.manager, doc_id) as fresh,
                    stock_client(h, team.rep1, doc_id, holding=writer.doc.get_update()) as old):
            await fresh.wait_for(lambda: fresh.record().get("postcode") == "100081")
            await old.wait_for(lambda: old.synced)
            # a real change still meets every rule
            await old.write({"postcode": "100082"})
            closed = await old.wait_closed()
            assert closed.code == p.CloseCode.INVALID_UPDATE and "website" in closed.reason
            assert fresh.closed is None
        assert await h.log_rows(doc_id) == rows


async def _merge(h: Harness, duplicate: str, survivor: str) -> None:
    """What server/duplicates.py does to the duplicate card of a merge."""
    edits = ServerEdits(h.hub)
    assert await edits.edit(duplicate, "customer",
                            lambda d: update_fields(d, "customer", {"merged_into": survivor}))


async def test_a_merged_card_names_its_survivor_to_whoever_could_see_it(engine: Any) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        kept, merged = samples.new_id("customer"), samples.new_id("customer")
        phone = SyncClient("phone")
        async with h.online(phone, team.rep1):
            write_record(phone.doc(kept), "customer", new_customer(team.rep1.id))
            await phone.wait_flushed()
        card = new_customer(team.rep2.id, credit_code=None)
        async with stock_client(h, team.rep2, merged) as open_card:
            await open_card.wait_for(lambda: open_card.synced)
            await open_card.write(card)
            await committed(h, merged, lambda r: bool(r.get("name")))
            # merged while open: closed with a reason naming the survivor
            await _merge(h, merged, kept)
            closed = await open_card.wait_closed()
            assert (closed.code, closed.reason) == (p.CloseCode.MERGED, f"merged into {kept}")

        for user in (team.rep2, team.manager, team.admin):
            async with stock_client(h, user, merged) as late:
                closed = await late.wait_closed()
                assert (closed.code, closed.reason) == (p.CloseCode.MERGED, f"merged into {kept}")
        # who could not see it before the merge learns nothing of it
        for user in (team.rep3, team.other_manager):
            async with stock_client(h, user, merged) as stranger:
                assert (await stranger.wait_closed()).code == p.CloseCode.NOT_FOUND

        # a chain of merges leads to the card that survives them all
        final = samples.new_id("customer")
        async with h.online(phone, team.rep1):
            write_record(phone.doc(final), "customer",
                         new_customer(team.rep1.id, credit_code=None, name="上海金科有限公司"))
            await phone.wait_flushed()
        await _merge(h, kept, final)
        async with stock_client(h, team.rep2, merged) as late:
            assert (await late.wait_closed()).reason == f"merged into {final}"


async def test_a_merged_cards_client_delivers_what_it_holds_before_the_close(
    engine: Any,
) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        kept, merged = samples.new_id("customer"), samples.new_id("customer")
        card = new_customer(team.rep2.id, credit_code=None)
        phone = SyncClient("phone")
        async with h.online(phone, team.rep1):
            write_record(phone.doc(kept), "customer", new_customer(team.rep1.id))
            await phone.wait_flushed()
        async with stock_client(h, team.rep2, merged) as before:
            await before.wait_for(lambda: before.synced)
            await before.write(card)
            await committed(h, merged, lambda r: bool(r.get("name")))
        await _merge(h, merged, kept)
        # the rep's client changed the card offline after its last sync, then reconnects
        offline: Doc[Any] = Doc()
        offline.apply_update(before.doc.get_update())
        update_fields(offline, "customer", {"postcode": "100081"})
        async with stock_client(h, team.rep2, merged, holding=offline.get_update()) as client:
            closed = await client.wait_closed()
            assert closed.code == p.CloseCode.MERGED
        assert (await h.server_record(merged))["postcode"] == "100081"


async def test_a_slow_stock_client_is_closed_with_a_code_it_reconnects_after(
    engine: Any,
) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        doc_id = samples.new_id("customer")
        phone = SyncClient("phone")
        async with h.online(phone, team.rep1):
            write_record(phone.doc(doc_id), "customer", new_customer(team.rep1.id))
            await phone.wait_flushed()
            client_end, server_end = memory_pair(1)
            session = YjsSession(h.hub, server_end, await h.principal(team.rep1), doc_id,
                                 limits=SessionLimits(queue_frames=3))
            served = asyncio.create_task(session.run())
            # the client reads nothing; the phone keeps writing
            for i in range(12):
                phone.set_fields(doc_id, {"postcode": f"1000{i:02d}"})
                await phone.wait_flushed()
            async with asyncio.timeout(10):
                await served
            with pytest.raises(Disconnected) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await client_end.recv()
            assert closed.value.code == p.CloseCode.TOO_SLOW
            assert not 4400 <= closed.value.code < 4500  # y-websocket 3.x reconnects


async def test_a_failed_commit_closes_with_a_code_to_reconnect_after_and_the_resend_lands(
    engine: Any,
) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        doc_id = samples.new_id("customer")
        card = new_customer(team.rep1.id)
        async with stock_client(h, team.rep1, doc_id) as client:
            await client.wait_for(lambda: client.synced)
            # the database loses the change log for a moment: the commit fails
            async with engine.begin() as conn:
                await conn.execute(text("ALTER TABLE sync_changes RENAME TO sync_changes_away"))
            try:
                await client.write(card)
                closed = await client.wait_closed()
            finally:
                async with engine.begin() as conn:
                    await conn.execute(
                        text("ALTER TABLE sync_changes_away RENAME TO sync_changes"))
            assert closed.code == p.CloseCode.INTERNAL_ERROR
            assert not 4400 <= closed.code < 4500  # y-websocket 3.x reconnects
        # ...and its next socket's step 2 brings the card again
        async with stock_client(h, team.rep1, doc_id, holding=client.doc.get_update()) as again:
            await committed(h, doc_id, lambda r: r.get("name") == card["name"])
            assert again.closed is None


async def test_a_merged_cards_client_that_sends_nothing_is_told_after_the_grace(
    engine: Any,
) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        kept, merged = samples.new_id("customer"), samples.new_id("customer")
        phone = SyncClient("phone")
        async with h.online(phone, team.rep1):
            for doc_id in (kept, merged):
                write_record(phone.doc(doc_id), "customer",
                             new_customer(team.rep1.id, credit_code=None))
            await phone.wait_flushed()
        await _merge(h, merged, kept)
        client_end, server_end = memory_pair()
        session = YjsSession(h.hub, server_end, await h.principal(team.rep1), merged,
                             merged_grace=0.2)
        async with asyncio.timeout(10):
            await session.run()
        with pytest.raises(Disconnected) as closed:
            while True:
                await client_end.recv()  # the server's step 1, then the close
        assert (closed.value.code, closed.value.reason) == (
            p.CloseCode.MERGED, f"merged into {kept}")


async def test_awareness_is_echoed_to_its_sender_only(engine: Any) -> None:
    async with crm(engine) as h:
        team = await make_team(h.accounts)
        doc_id = samples.new_id("customer")
        async with (stock_client(h, team.rep1, doc_id) as a,
                    stock_client(h, team.rep1, doc_id) as b):
            await a.wait_for(lambda: a.synced)
            await b.wait_for(lambda: b.synced)
            state = b"\x01\x2a\x01\x02{}"  # one client's awareness entry, as y-protocols writes it
            await a.transport.send(bytes([p.YMessage.AWARENESS]) + p.write_bytes(state))
            await a.wait_for(lambda: a.awareness == [state])
            # b hears nothing of a's presence: what a sends next reaches b, and nothing before
            await a.write(new_customer(team.rep1.id))
            await b.wait_for(lambda: "name" in b.record() or b.closed is not None)
            assert b.awareness == [] and b.closed is None


async def test_transient_close_codes_let_a_stock_client_reconnect() -> None:
    """y-websocket 3.x stops for good on 4400-4499; everything else it retries."""
    permanent = {p.CloseCode.BAD_TOKEN, p.CloseCode.FORBIDDEN, p.CloseCode.NOT_FOUND,
                 p.CloseCode.MERGED, p.CloseCode.INVALID_UPDATE, p.CloseCode.FRAME_TOO_LARGE,
                 p.CloseCode.MALFORMED_FRAME}
    transient = {p.CloseCode.GOING_AWAY, p.CloseCode.INTERNAL_ERROR,
                 p.CloseCode.SCOPE_CHANGED, p.CloseCode.TOO_SLOW}
    assert all(4400 <= c < 4500 for c in permanent)
    assert not any(4400 <= c < 4500 for c in transient)
