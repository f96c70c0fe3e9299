"""The hub and sessions over memory streams, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pycrdt import Doc, Map

from server.accounts import Accounts
from sync import protocol as p
from sync.client import SyncClient
from sync.session import SessionLimits
from sync.transport import Disconnected, MemoryTransport
from tests.conftest import Team, make_team

from .harness import Harness, OwnerPolicy, harness, new_id

pytestmark = pytest.mark.asyncio


async def team_of(h: Harness) -> Team:
    return await make_team(h.accounts)


async def test_manager_sees_a_reps_doc_live_and_another_team_does_not(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        rep1, boss, outsider = SyncClient("r1"), SyncClient("m"), SyncClient("r3")
        async with h.online(rep1, team.rep1), h.online(boss, team.manager), h.online(
            outsider, team.rep3
        ):
            doc = new_id("customer")
            rep1.set_fields(doc, {"name": "北京友好创达科技有限公司"})
            await rep1.wait_flushed()
            await boss.wait_for(lambda: boss.read(doc).get("name") == "北京友好创达科技有限公司")
            assert doc not in outsider.docs
        # and by catch-up, for a device that was not connected
        late = SyncClient("m2")
        async with h.online(late, team.manager):
            assert late.read(doc) == {"name": "北京友好创达科技有限公司"}
        late_outsider = SyncClient("r3b")
        async with h.online(late_outsider, team.rep3):
            assert doc not in late_outsider.docs


async def test_writes_outside_scope_are_refused_and_change_nothing(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        owner, intruder = SyncClient("a"), SyncClient("b")
        doc = new_id("customer")
        async with h.online(owner, team.rep1):
            owner.set_fields(doc, {"name": "原名"})
            await owner.wait_flushed()
        async with h.online(intruder, team.rep2):
            intruder.set_fields(doc, {"name": "篡改"})
            await intruder.wait_flushed()
            assert [e.code for e in intruder.errors] == [p.ErrorCode.FORBIDDEN]
            assert intruder.outbox and intruder.outbox[0].refused is not None  # kept, marked
            # reading is refused too: step 1 for someone else's doc is "not found"
            await intruder._send(p.Sync(doc, 0, p.SyncMessageType.STEP1, Doc().get_state()))
            await intruder.wait_for(lambda: len(intruder.errors) == 2)
            assert intruder.errors[1].code == p.ErrorCode.NOT_FOUND
        assert await h.server_record(doc) == {"name": "原名"}
        assert await h.log_rows(doc) == 1


async def test_an_acked_resend_is_not_applied_twice(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        dev = SyncClient("phone")
        docs = [new_id() for _ in range(5)]
        for i, d in enumerate(docs):  # made offline
            dev.set_fields(d, {"n": i})
        lost_acks = list(dev.outbox)
        async with h.online(dev, team.rep1):
            await dev.wait_flushed()
        assert await h.log_rows() == 5
        dev.outbox = lost_acks  # as if the acks never reached the phone
        async with h.online(dev, team.rep1):
            await dev.wait_flushed()
        assert dev.outbox == []
        assert await h.log_rows() == 5
        for i, d in enumerate(docs):
            assert await h.server_record(d) == {"n": i}


async def test_catch_up_sends_only_what_changed_whatever_the_briefcase(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        received: dict[int, tuple[int, int]] = {}
        for n in (20, 200):
            writer, reader = SyncClient(f"w{n}"), SyncClient(f"r{n}")
            docs = [new_id() for _ in range(n)]
            async with h.online(writer, team.rep1):
                for d in docs:
                    writer.set_fields(d, {"purpose": "初访"})
                await writer.wait_flushed()
            async with h.online(reader, team.manager):
                await reader.wait_for(lambda r=reader, ds=docs: all(d in r.docs for d in ds))
            raw = 0
            async with h.online(writer, team.rep1):
                for d in docs[:10]:
                    before = writer.doc(d).get_state()
                    writer.set_fields(d, {"result": "同意试用"})
                    raw += len(writer.doc(d).get_update(before))
                await writer.wait_flushed()
            reader.bytes_received = reader.bytes_sent = 0
            async with h.online(reader, team.manager):
                pass
            assert all(reader.read(d).get("result") == "同意试用" for d in docs[:10])
            received[n] = (reader.bytes_received + reader.bytes_sent, raw)
        small, large = received[20][0], received[200][0]
        assert large <= small * 1.1 + 64, received
        # bytes on the wire for 10 changed docs stay within a small factor of the raw updates
        assert large < 6 * received[200][1] + 200, received


async def test_first_sync_streams_whole_docs_with_progress(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        writer = SyncClient("w")
        docs = [new_id() for _ in range(450)]
        async with h.online(writer, team.rep1):
            for d in docs:
                writer.set_fields(d, {"x": 1})
            await writer.wait_flushed()
        fresh = SyncClient("new-phone")
        async with h.online(fresh, team.rep1):
            assert set(fresh.docs) == set(docs)
            assert fresh.progress == (450, 450)
            assert fresh.cursor == h.log.head


async def test_refused_change_stays_in_outbox_and_a_fix_travels_with_it(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        dev = SyncClient("d")
        doc = new_id()
        async with h.online(dev, team.rep1):
            dev.set_fields(doc, {"purpose": "ok"})
            await dev.wait_flushed()

            def add_root(_: Map) -> None:
                dev.doc(doc).get("stray", type=Map)["x"] = 1

            dev.edit(doc, add_root)
            await dev.wait_flushed()
            err = dev.errors[-1]
            assert (err.code, err.field, err.rule) == ("invalid", "stray", "layout.root")
            assert err.message and err.message_zh
            assert len(dev.outbox) == 1 and dev.outbox[0].refused is not None
        # the server's copy is unchanged, in memory and on disk
        assert await h.server_record(doc) == {"purpose": "ok"}
        live = await h.hub.open(doc, "visit")
        assert list(live.ydoc.keys()) == ["record"]
        # an unrelated doc still syncs while the refused change waits
        other = new_id()
        async with h.online(dev, team.rep1):
            dev.set_fields(other, {"purpose": "next"})
            await dev.wait_flushed()
            assert len(dev.outbox) == 1
        assert await h.server_record(other) == {"purpose": "next"}


async def _raw(h: Harness, user: Any, limits: SessionLimits | None = None) -> MemoryTransport:
    t, _ = await h.transport_for(user, limits)
    return t


async def _closed_with(t: MemoryTransport) -> Disconnected:
    with pytest.raises(Disconnected) as e:
        async with asyncio.timeout(5):
            while True:
                await t.recv()
    return e.value


async def test_bad_frames_close_with_named_codes_and_leave_others_running(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        bystander = SyncClient("calm")
        async with h.online(bystander, team.rep1):
            t = await _raw(h, team.rep2)
            await t.send(b"\x63garbage")
            assert (await _closed_with(t)).code == p.CloseCode.MALFORMED_FRAME

            t = await _raw(h, team.rep2)
            await t.send(p.encode(p.Hello(99, "d", 0)))
            c = await _closed_with(t)
            assert c.code == p.CloseCode.BAD_VERSION and "version 99" in c.reason

            t = await _raw(h, team.rep2)
            await t.send(p.encode(p.Ack(1)))
            assert (await _closed_with(t)).code == p.CloseCode.MALFORMED_FRAME

            t = await _raw(h, team.rep2)
            await t.send(p.encode(p.Hello(p.PROTOCOL_VERSION, "bad device id with spaces", 0)))
            assert (await _closed_with(t)).code == p.CloseCode.MALFORMED_FRAME

            t = await _raw(h, team.rep2, SessionLimits(max_frame=1000))
            await t.send(p.encode(p.Hello(p.PROTOCOL_VERSION, "d", 0)))
            await t.send(p.encode(p.Sync(new_id(), 1, p.SyncMessageType.UPDATE, b"x" * 2000)))
            assert (await _closed_with(t)).code == p.CloseCode.FRAME_TOO_LARGE

            t = await _raw(h, team.rep2, SessionLimits(hello_timeout=0.2))
            assert (await _closed_with(t)).code == p.CloseCode.HELLO_TIMEOUT

            bystander.set_fields(new_id(), {"still": "fine"})
            await bystander.wait_flushed()
            assert bystander.connected


async def test_bad_updates_get_errors_and_the_connection_stays(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        dev = SyncClient("d")
        async with h.online(dev, team.rep1):
            await dev._send(p.Sync(new_id(), 1, p.SyncMessageType.UPDATE, b"\x01\x02junk"))
            await dev._send(p.Sync("visit:not-a-uuid", 2, p.SyncMessageType.UPDATE, b"\x00\x00"))
            await dev._send(p.Sync(new_id("invoice"), 3, p.SyncMessageType.UPDATE, b"\x00\x00"))
            await dev.wait_for(lambda: len(dev.errors) == 3)
            assert [e.code for e in dev.errors] == ["bad_update", "bad_doc_id", "bad_doc_id"]
            assert "unknown kind 'invoice'" in dev.errors[2].message
            dev.clock = 3
            dev.set_fields(new_id(), {"ok": True})
            await dev.wait_flushed()
            assert dev.connected
        assert await h.log_rows() == 1


async def test_a_slow_device_is_closed_and_catches_up_by_cursor(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        writer = SyncClient("w")
        async with h.online(writer, team.rep1):
            slow, _ = await h.transport_for(
                team.manager, SessionLimits(queue_frames=5), buffer=1
            )
            await slow.send(p.encode(p.Hello(p.PROTOCOL_VERSION, "slow", 0)))
            frames = [p.decode(await slow.recv()) for _ in range(2)]
            assert isinstance(frames[-1], p.CaughtUp)
            cursor = frames[-1].cursor
            # the device stops reading; the server must not buffer without bound
            docs = [new_id() for _ in range(40)]
            for d in docs:
                writer.set_fields(d, {"v": 1})
            await writer.wait_flushed()
            closed = await _closed_with(slow)
            assert closed.code == p.CloseCode.TOO_SLOW
            assert writer.connected
        again = SyncClient("slow")
        again.cursor = cursor
        async with h.online(again, team.manager):
            assert all(again.read(d) == {"v": 1} for d in docs)


async def test_reassignment_moves_a_doc_between_briefcases_live_and_by_cursor(
    engine: Any,
) -> None:
    async with harness(engine, policy=OwnerPolicy()) as h:
        team = await team_of(h)
        a, b, b_offline = SyncClient("a"), SyncClient("b"), SyncClient("b2")
        doc = new_id("customer")
        async with h.online(b_offline, team.rep2):
            pass
        async with h.online(a, team.rep1), h.online(b, team.rep2):
            a.set_fields(doc, {"name": "某公司"})
            await a.wait_flushed()
            assert doc not in b.docs
            a.set_fields(doc, {"owner": team.rep2.id})
            await a.wait_flushed()
            await b.wait_for(lambda: b.read(doc).get("owner") == team.rep2.id)
            await a.wait_for(lambda: doc not in a.docs)
        async with h.online(b_offline, team.rep2):
            assert b_offline.read(doc) == {"name": "某公司", "owner": team.rep2.id}
        a_offline = SyncClient("a2")
        async with h.online(a_offline, team.rep1):
            assert doc not in a_offline.docs


async def test_revoked_device_is_refused(engine: Any) -> None:
    from sqlalchemy import update

    from sync import tables as t

    async with harness(engine) as h:
        team = await team_of(h)
        dev = SyncClient("lost-phone")
        async with h.online(dev, team.rep1):
            pass
        async with engine.begin() as conn:
            await conn.execute(update(t.devices).values(revoked_at=1))
        transport, _ = await h.transport_for(team.rep1)
        async with dev.attach(transport):
            await dev.wait_closed()
        assert dev.close_code == p.CloseCode.DEVICE_REVOKED


async def test_tree_lookup_includes_indirect_reports(engine: Any) -> None:
    accounts = Accounts(engine)
    await accounts.add_user("boss", "password1", role="manager")
    await accounts.add_user("lead", "password1", role="manager", manager_login="boss")
    rep = await accounts.add_user("rep", "password1", role="rep", manager_login="lead")
    boss = await accounts.by_login("boss")
    assert boss is not None
    principal = await accounts.principal(boss)
    assert principal.visible is not None and rep.id in principal.visible


async def test_a_change_of_the_tree_resets_the_managers_briefcases(engine: Any) -> None:
    async with harness(engine) as h:
        team = await team_of(h)
        rep3, boss_a, boss_b = SyncClient("r3"), SyncClient("ma"), SyncClient("mb")
        docs = [new_id() for _ in range(3)]
        async with h.online(rep3, team.rep3):
            for d in docs:
                rep3.set_fields(d, {"purpose": "拜访"})
            await rep3.wait_flushed()
        async with h.online(boss_a, team.manager), h.online(boss_b, team.other_manager):
            assert not set(docs) & set(boss_a.docs)
            assert set(docs) <= set(boss_b.docs)
        # rep3 moves from manager_b's team to manager's: nothing in the log changes, so a
        # cursor alone would tell neither manager's phone anything
        await h.accounts.set_manager(team.rep3.id, team.manager.id)
        async with h.online(boss_a, team.manager), h.online(boss_b, team.other_manager):
            assert set(docs) <= set(boss_a.docs)
            assert not set(docs) & set(boss_b.docs)
        # the reset happens once: the next connection is an ordinary catch-up
        boss_a.bytes_received = 0
        async with h.online(boss_a, team.manager):
            assert set(docs) <= set(boss_a.docs)
        assert boss_a.bytes_received < 200
