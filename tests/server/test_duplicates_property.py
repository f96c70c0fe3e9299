"""Property: whatever order reps reconnect in and however their phone clocks are set, the card
created earliest (in real time) survives, owned by its creator, with every visit."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from schema import samples
from schema import tables as stables
from schema.ydoc import write_record
from server.app import commit_hooks
from server.db import make_engine
from server.duplicates import Duplicates
from server.records import RecordPolicy, SchemaRules, ServerEdits
from sync.client import SyncClient
from tests.conftest import Backend, _truncate_pg, make_team
from tests.factories import new_customer
from tests.sync.harness import harness

WEEK = 7 * 24 * 3600 * 1000
NAMES = ["北京友好创达科技有限公司", "北京友好创达科技（有限公司）", "友好创达科技(北京)有限公司"]


async def scenario(url: str, order: list[int], skews: list[int]) -> None:
    engine = make_engine(url)
    try:
        async with harness(engine, policy=RecordPolicy(), rules=SchemaRules(),
                           on_commit=commit_hooks) as h:
            edits = ServerEdits(h.hub)
            dups = Duplicates(h.hub, edits, b"s" * 32)
            h.hub.listeners += [edits.after_commit, dups.after_commit]
            team = await make_team(h.accounts)
            reps = [team.rep1, team.rep2, team.engineer]
            devices = [SyncClient(f"phone-{i}") for i in range(3)]
            for dev, skew, rep in zip(devices, skews, reps, strict=True):
                dev.clock_skew_ms = skew
                async with h.online(dev, rep):
                    pass  # logged in once, then offline
            start = devices[0].now_ms() - skews[0]
            cards, visits = [], []
            for i, (dev, rep) in enumerate(zip(devices, reps, strict=True)):
                created = start + 10 * i + skews[i]  # rep i acts 10 ms after rep i-1
                cid, vid = samples.new_id("customer"), samples.new_id("visit")
                rec = new_customer(rep.id, name=NAMES[i], created_at=created, credit_code=None)
                write_record(dev.doc(cid), "customer", rec)
                write_record(dev.doc(vid), "visit", samples.visit(
                    created_by=rep.id, customer_id=cid, created_at=created + 1))
                cards.append(cid)
                visits.append(vid)
            for i in order:
                async with h.online(devices[i], reps[i]):
                    await devices[i].wait_flushed()
                    assert not devices[i].errors, devices[i].errors
                await edits.settle()
            assert not edits.errors, edits.errors
            async with engine.connect() as conn:
                rows = {r.doc_id: r for r in await conn.execute(
                    select(stables.rec_customer).where(stables.rec_customer.c.doc_id.in_(cards)))}
                live = [d for d in cards if rows[d].merged_into is None]
                assert live == [cards[0]], (order, skews, live)
                assert rows[cards[0]].owner == reps[0].id
                parents = {r.customer_id for r in await conn.execute(
                    select(stables.rec_visit).where(stables.rec_visit.c.doc_id.in_(visits)))}
                assert parents == {cards[0]}
    finally:
        await engine.dispose()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(order=st.permutations([0, 1, 2]),
       skews=st.lists(st.sampled_from([0, -WEEK, WEEK, -3600_000]), min_size=3, max_size=3))
def test_the_same_card_survives_whatever_the_order(
    backend: Backend, order: list[int], skews: list[int]
) -> None:
    with contextlib.ExitStack() as stack:
        if backend.name == "postgresql":
            asyncio.run(_truncate_pg(backend.template))
            url = backend.template
        else:
            tmp = Path(tempfile.mkdtemp())
            stack.callback(shutil.rmtree, tmp, ignore_errors=True)
            url = backend.url_for(tmp)
        asyncio.run(scenario(url, list(order), skews))

