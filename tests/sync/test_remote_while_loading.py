"""A doc that is being loaded when another instance's commit to it is dispatched here ends up
holding that commit: the load may have read the database before it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pycrdt import Doc, Map

from sync.client import SyncClient
from sync.log import Append
from tests.conftest import make_team

from .harness import harness, new_id

pytestmark = pytest.mark.asyncio


async def test_a_remote_commit_during_a_load_is_applied_once_loaded(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        dev = SyncClient("d")
        doc_id = new_id()
        async with h.online(dev, team.rep1):
            dev.set_fields(doc_id, {"a": 1})
            await dev.wait_flushed()
        h.hub.forget(doc_id)
        # another instance's change, not in this test's database: only the dispatch has it
        other: Doc[Any] = Doc()
        other.apply_update(dev.doc(doc_id).get_update())
        before = other.get_state()
        other.get("record", type=Map)["b"] = 2
        remote = Append(doc_id, "visit", other.get_update(before), team.rep1.id, "elsewhere",
                        1, 0, grantees=frozenset({team.rep1.id}), remote=True,
                        seq=h.log.head + 1)
        for opening in (lambda: h.hub.open(doc_id, "visit"),
                        lambda: h.hub.preload([doc_id, new_id()])):
            h.hub.forget(doc_id)
            task = asyncio.ensure_future(opening())
            await asyncio.sleep(0)  # the load has started and waits for the database
            assert h.hub.peek(doc_id) is None
            h.hub.dispatch([remote])
            await task
            live = h.hub.peek(doc_id)
            assert live is not None
            assert live.record == {"a": 1, "b": 2}
