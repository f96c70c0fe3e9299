"""A batch load that fails (a pool timeout under load) lets go of every doc it was loading:
each opens again later. It used to leave all but the first stuck with the failure."""

from __future__ import annotations

from typing import Any

import pytest

from sync.client import SyncClient
from tests.conftest import make_team

from .harness import harness, new_id

pytestmark = pytest.mark.asyncio


async def test_a_failed_preload_leaves_its_docs_loadable(engine: Any) -> None:
    async with harness(engine) as h:
        team = await make_team(h.accounts)
        dev = SyncClient("d")
        ids = [new_id() for _ in range(3)]
        async with h.online(dev, team.rep1):
            for n, doc_id in enumerate(ids):
                dev.set_fields(doc_id, {"n": n})
            await dev.wait_flushed()
        for doc_id in ids:
            h.hub.forget(doc_id)

        real = h.hub._load_many

        async def timeout(kinds: Any) -> Any:
            raise TimeoutError("QueuePool limit reached")

        h.hub._load_many = timeout  # type: ignore[method-assign]
        with pytest.raises(TimeoutError):
            await h.hub.preload(ids)
        h.hub._load_many = real  # type: ignore[method-assign]
        for n, doc_id in enumerate(ids):
            live = await h.hub.open(doc_id, "visit")
            assert live.record.get("n") == n
