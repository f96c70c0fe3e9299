"""Property: devices editing the same records in any order, with random disconnects, converge
to the server's docs; and the projection equals projecting the converged docs."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from schema import samples
from schema import tables as stables
from schema.ydoc import update_fields, write_record
from server.app import commit_hooks
from server.db import make_engine
from server.records import RecordPolicy, SchemaRules
from sync.client import SyncClient
from tests.conftest import Backend, _truncate_pg, make_team

from .harness import Harness, harness

VALUES = {
    "visit_type": ["visit_out", "visit_in", "call_out", "call_in"],
    "met_name": ["张宏", "李娜", "王伟", "赵敏"],
    "purpose": ["介绍新款扫描仪", "回访", "报价", "培训安排"],
    "result": ["客户要求下周报价", "已签订合同", "需再次拜访"],
    "place": ["客户办公室", "展会", "我司会议室"],
}
N_DEVICES, N_DOCS = 3, 3

edit = st.tuples(
    st.just("edit"),
    st.integers(0, N_DEVICES - 1),
    st.integers(0, N_DOCS - 1),
    st.sampled_from(sorted(VALUES)),
    st.integers(0, 3),
)
toggle = st.tuples(st.just("toggle"), st.integers(0, N_DEVICES - 1))
ops = st.lists(st.one_of(edit, edit, toggle), min_size=1, max_size=25)


async def scenario(h: Harness, steps: list[tuple[Any, ...]]) -> None:
    team = await make_team(h.accounts)
    users = [team.rep1, team.rep1, team.manager]  # two phones of one rep, and the manager
    devices = [SyncClient(f"dev{i}") for i in range(N_DEVICES)]
    docs = [samples.new_id("visit") for _ in range(N_DOCS)]
    stacks: list[contextlib.AsyncExitStack | None] = [None] * N_DEVICES

    async def connect(i: int) -> None:
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(h.online(devices[i], users[i]))
        stacks[i] = stack

    async def disconnect(i: int) -> None:
        stack = stacks[i]
        stacks[i] = None
        assert stack is not None
        await stack.aclose()

    await connect(0)
    for d in docs:
        write_record(devices[0].doc(d), "visit", samples.visit(created_by=team.rep1.id))
    await devices[0].wait_flushed()
    for i in range(1, N_DEVICES):
        await connect(i)

    for step in steps:
        if step[0] == "toggle":
            i = step[1]
            await (disconnect(i) if stacks[i] is not None else connect(i))
            continue
        _, i, j, field, choice = step
        if docs[j] not in devices[i].docs:
            continue  # this device has not received the doc yet: it cannot edit it
        options = VALUES[field]
        update_fields(devices[i].doc(docs[j]), "visit", {field: options[choice % len(options)]})

    for i in range(N_DEVICES):
        if stacks[i] is None:
            await connect(i)
    for dev in devices:
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    for d in docs:
        server = await h.server_record(d)
        for dev in devices:
            await dev.wait_for(lambda dev=dev, d=d, s=server: dev.read(d) == s, 10)
    for i in range(N_DEVICES):
        await disconnect(i)

    # the projection is exactly the projection of the converged docs
    async with h.engine.connect() as conn:
        for d in docs:
            record = (await h.hub.open(d, "visit")).record
            assert record == SchemaRules().read("visit", _doc_of(await h.server_state(d)))[0]
            row = (
                await conn.execute(select(stables.rec_visit).where(stables.rec_visit.c.doc_id == d))
            ).one()
            meta = stables.ProjectionMeta(row.seq, row.updated_at, row.received_at)
            expected = stables.projection_rows("visit", d, record, meta)
            for table in stables.tables_of("visit"):
                got = [
                    dict(r._mapping)
                    for r in await conn.execute(select(table).where(table.c.doc_id == d))
                ]
                assert _norm(got) == _norm(expected.get(table.name, [])), table.name


def _doc_of(state: bytes) -> Any:
    from pycrdt import Doc

    doc: Doc[Any] = Doc()
    doc.apply_update(state)
    return doc


def _norm(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in r.items() if k != "id"} for r in rows), key=repr)


async def _run(url: str, steps: list[tuple[Any, ...]]) -> None:
    engine = make_engine(url)
    try:
        async with harness(engine, policy=RecordPolicy(), rules=SchemaRules(),
                           on_commit=commit_hooks) as h:
            await scenario(h, steps)
    finally:
        await engine.dispose()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=ops)
def test_devices_converge_and_projection_matches(backend: Backend, steps: list[Any]) -> None:
    if backend.name == "postgresql":
        asyncio.run(_truncate_pg(backend.template))
        asyncio.run(_run(backend.template, steps))
        return
    tmp = Path(tempfile.mkdtemp())
    try:
        asyncio.run(_run(backend.url_for(tmp), steps))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
