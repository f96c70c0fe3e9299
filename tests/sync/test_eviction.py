"""Live docs are bounded: the least recently used are evicted, busy ones never, and an
evicted doc reloads from the database with everything committed to it."""

from __future__ import annotations

from typing import Any

import pytest

from sync.client import SyncClient
from sync.hub import EVICT_WALK
from tests.conftest import make_team

from .harness import harness, new_id

pytestmark = pytest.mark.asyncio


async def test_live_docs_stay_bounded_and_reload_with_their_content(engine: Any) -> None:
    async with harness(engine) as h:
        h.hub.max_live = 3
        team = await make_team(h.accounts)
        phone = SyncClient("phone")
        docs = [new_id() for _ in range(8)]
        async with h.online(phone, team.rep1):
            for i, d in enumerate(docs):
                phone.set_fields(d, {"purpose": f"第{i}次拜访"})
                await phone.wait_flushed()
                assert h.hub.live_count <= 3
            # the oldest were evicted, the newest are live
            assert h.hub.peek(docs[0]) is None
            assert h.hub.peek(docs[-1]) is not None
            # an evicted doc reloads from snapshot + log, then takes further changes
            first = await h.hub.open(docs[0], "visit")
            assert first.record == {"purpose": "第0次拜访"}
            phone.set_fields(docs[0], {"place": "客户办公室"})
            await phone.wait_flushed()
            assert not phone.errors, phone.errors
        assert await h.server_record(docs[0]) == {"purpose": "第0次拜访", "place": "客户办公室"}


async def test_busy_docs_are_never_evicted_and_are_not_rescanned(engine: Any) -> None:
    async with harness(engine) as h:
        h.hub.max_live = 2
        docs = [new_id() for _ in range(5)]
        opened = [await h.hub.open(d, "visit") for d in docs[:2]]
        async with opened[0].lock:  # an update being applied to the oldest
            for d in docs[2:]:
                await h.hub.open(d, "visit")
            assert h.hub.peek(docs[0]) is opened[0]  # kept while busy
            # and moved to the recent end: the next walk starts at docs that may go
            assert next(iter(h.hub._live)) != docs[0]
        await h.hub.open(new_id(), "visit")
        assert h.hub.live_count <= 3


async def test_an_open_walks_a_bounded_number_of_busy_docs(engine: Any) -> None:
    async with harness(engine) as h:
        busy = [await h.hub.open(new_id(), "visit") for _ in range(3 * EVICT_WALK)]
        h.hub.max_live = 2
        for live in busy:
            await live.lock.acquire()
        try:
            await h.hub.open(new_id(), "visit")
            # one walk stepped over EVICT_WALK busy docs, no more
            assert next(iter(h.hub._live)) == busy[EVICT_WALK].doc_id
            assert h.hub.live_count == 3 * EVICT_WALK + 1  # over the limit while busy
        finally:
            for live in busy:
                live.lock.release()
        for _ in range(3 * EVICT_WALK // EVICT_WALK + 2):  # a few opens catch up
            await h.hub.open(new_id(), "visit")
        assert h.hub.live_count <= 2
