"""A device id the server knows whose clock counter restarted: its new changes under used
clocks are refused as stale (never acked and dropped), and the device renumbers them."""

from __future__ import annotations

from typing import Any

import pytest

from sync import protocol as p
from sync.client import SyncClient
from tests.conftest import make_team

from .harness import harness, new_id

pytestmark = pytest.mark.asyncio


async def test_a_restarted_counter_loses_nothing(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        first = SyncClient("w")
        customer = new_id("customer")
        async with h.online(first, team.rep1):
            first.set_fields(customer, {"name": "北京友好创达科技有限公司"})
            await first.wait_flushed()
        again = SyncClient("w")  # same id, counter from 0
        visit = new_id("visit")
        async with h.online(again, team.rep1):
            again.set_fields(visit, {"purpose": "初访"})
            await again.wait_flushed()
            assert again.outbox == []
        assert await h.server_record(visit) == {"purpose": "初访"}
        assert [e.code for e in again.errors] == [p.ErrorCode.STALE_CLOCK]
        assert again.errors[0].extra["last_clock"] == 1
        assert again.clock == 2


async def test_more_new_changes_than_the_old_life_sent_all_land_once(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        first = SyncClient("phone")
        old = [new_id() for _ in range(3)]
        async with h.online(first, team.rep1):
            for d in old:
                first.set_fields(d, {"n": 0})
            await first.wait_flushed()
        again = SyncClient("phone")
        new = [new_id() for _ in range(6)]
        for i, d in enumerate(new):  # made offline: clocks 1..6, of which 1..3 were used
            again.set_fields(d, {"n": i})
        async with h.online(again, team.rep1):
            await again.wait_flushed()
            assert again.outbox == []
        for i, d in enumerate(new):
            assert await h.server_record(d) == {"n": i}
        assert await h.log_rows() == 9


async def test_a_stale_clock_is_refused_by_name_and_the_connection_stays(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        first = SyncClient("d")
        doc = new_id()
        async with h.online(first, team.rep1):
            first.set_fields(doc, {"a": 1})
            first.set_fields(doc, {"b": 2})
            await first.wait_flushed()
        raw = SyncClient("d")
        async with h.online(raw, team.rep1):
            # a true resend of clock 1 (the doc holds it) is acked and changes nothing
            same = first.doc(doc).get_update()
            await raw._send(p.Sync(doc, 1, p.SyncMessageType.UPDATE, same))
            # a new change under clock 2 is refused by name, with the clock to continue after
            other = SyncClient("x")
            other.set_fields(doc, {"c": 3})
            await raw._send(p.Sync(doc, 2, p.SyncMessageType.UPDATE, other.outbox[0].update))
            await raw.wait_for(lambda: len(raw.errors) == 1)
            err = raw.errors[0]
            assert (err.code, err.clock, err.doc) == (p.ErrorCode.STALE_CLOCK, 2, doc)
            assert err.extra["last_clock"] == 2 and err.message_zh
            assert raw.connected
        assert await h.server_record(doc) == {"a": 1, "b": 2}
        assert await h.log_rows(doc) == 2
