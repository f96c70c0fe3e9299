"""A device catching up reads the log once, however much is committed while it waits.

The storm's cost grew with the number of devices because a session read the log again
until the head stood still (issue 12). These tests hold the hub's catch-up slots, commit
from another device meanwhile, and count the reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sync.client import SyncClient
from sync.session import SessionLimits, SyncSession
from tests.conftest import make_team

from .harness import Harness, harness, new_id

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def slots_held(h: Harness) -> AsyncIterator[None]:
    """Every catch-up slot taken, as by other devices in a storm, until the block ends."""
    slots = h.hub.catch_up_slots
    taken = 0
    while not slots.locked():
        await slots.acquire()
        taken += 1
    try:
        yield
    finally:
        for _ in range(taken):
            slots.release()


async def writes_while_waiting(
    h: Harness, limits: SessionLimits, n: int
) -> tuple[SyncClient, SyncSession, list[str]]:
    team = await make_team(h.accounts)
    writer, reader = SyncClient("writer"), SyncClient("reader")
    before = [new_id() for _ in range(5)]
    async with h.online(writer, team.rep1):
        for d in before:
            writer.set_fields(d, {"n": 0})
        await writer.wait_flushed()
    during = [new_id() for _ in range(n)]
    async with h.online(writer, team.rep1):
        subscribed = asyncio.Event()
        subscribe = h.hub.subscribe

        def noted(sub: Any) -> None:
            subscribe(sub)
            if sub.principal.user_id == team.manager.id:
                subscribed.set()

        h.hub.subscribe = noted  # type: ignore[method-assign]
        async with slots_held(h):
            transport, session = await h.transport_for(team.manager, limits)
            async with reader.attach(transport):
                # subscribed, waiting for a slot: what the writer commits now is held
                async with asyncio.timeout(10):
                    await subscribed.wait()
                for i, d in enumerate(during):
                    writer.set_fields(d, {"n": i + 1})
                await writer.wait_flushed()
                assert not reader._caught_up.is_set()
                h.hub.catch_up_slots.release()  # one slot frees up
                try:
                    await reader.wait_caught_up()
                finally:
                    await h.hub.catch_up_slots.acquire()
                await reader.wait_for(lambda: all(d in reader.docs for d in during))
                for i, d in enumerate(during):
                    assert reader.read(d) == {"n": i + 1}
                for d in before:
                    assert reader.read(d) == {"n": 0}
                # live after the catch-up
                late = new_id()
                writer.set_fields(late, {"n": -1})
                await writer.wait_flushed()
                await reader.wait_for(lambda: reader.read(late) == {"n": -1})
    return reader, session, during


async def test_what_is_committed_while_a_device_waits_arrives_without_a_second_read(
    engine: Any,
) -> None:
    async with harness(engine) as h:
        reader, session, _ = await writes_while_waiting(h, SessionLimits(), 30)
        assert session.catch_up_rounds == 1


async def test_more_than_the_send_queue_holds_is_read_again_from_the_log(engine: Any) -> None:
    async with harness(engine) as h:
        reader, session, _ = await writes_while_waiting(h, SessionLimits(queue_frames=20), 40)
        assert session.catch_up_rounds == 2  # the hold overflowed once, and nothing was lost
