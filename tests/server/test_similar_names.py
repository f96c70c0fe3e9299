"""Likely duplicates through the n-gram index: which names are alike (docs/duplicates.md
"Similar names"), the cap per customer, and 20,000 near-identical names without an explosion."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import tables as st
from schema.names import SIMILAR_THRESHOLD, canonical_name, similarity
from schema.ydoc import new_doc, write_record
from server import tables as tt
from server.accounts import Accounts
from server.app import commit_hooks
from server.duplicates import Duplicates
from server.records import RecordPolicy, SchemaRules, ServerEdits
from server.similar import CAP, NameIndex, best, shape
from sync import tables as t
from sync.client import SyncClient
from sync.hub import Hub
from sync.log import SEQ, Append, Log, upsert
from sync.scope import Principal
from tests.conftest import PASSWORD, LiveServer
from tests.server.phones import customer, http, online, settle

T0 = 1_780_000_000_000

# Names the docs discuss, and which of them are alike.
KNOWN = {
    "parent": "北京友好创达科技有限公司",
    "typo": "北京友好创达科枝有限公司",  # one wrong character
    "longer": "北京友好创达科技发展有限公司",
    "other_city": "上海友好创达科技有限公司",
    "branch1": "北京友好创达科技有限公司第1分公司",
    "branch2": "北京友好创达科技有限公司第2分公司",
    "branch1_cn": "北京友好创达科技有限公司第一分公司",  # branch 1 spelt in Chinese numerals
    "branch2_typo": "北京友好创达科枝有限公司第2分公司",
    "foo1": "Foo 1 Ltd",
    "foo2": "Foo 2 Ltd",
    "shop3": "华联超市3号店",
    "shop5": "华联超市5号店",
}
ALIKE = {
    frozenset({"parent", "typo"}),
    frozenset({"parent", "longer"}),
    frozenset({"branch1", "branch1_cn"}),
    frozenset({"branch2", "branch2_typo"}),
}


def test_a_character_apart_is_alike_and_a_number_apart_is_not() -> None:
    index = NameIndex()
    for label, name in KNOWN.items():
        index.add(label, canonical_name(name))
    for label, name in KNOWN.items():
        found = {m.doc_id for m in index.similar(canonical_name(name), exclude=label, limit=20)}
        expected = {other for pair in ALIKE if label in pair for other in pair - {label}}
        assert found == expected, label
        for m in index.similar(canonical_name(name), exclude=label):
            assert m.score == round(similarity(name, KNOWN[m.doc_id]), 3)
            assert m.score >= SIMILAR_THRESHOLD


def test_numbers_are_read_as_numbers() -> None:
    assert shape(canonical_name("友好创达第十二分公司")).numbers == ("12",)
    assert shape("第一百零三中学").numbers == ("103",)
    assert shape("第二十中学").numbers == ("20",)
    assert shape("foo007").numbers == ("7",)
    # numerals inside words are not numbers: 万科, 百度, 三一重工
    for word in ("万科企业", "百度在线", "三一重工"):
        assert shape(word).numbers == ()
    assert shape("北京第1分公司").numbered_apart(shape("北京第2分公司"))
    assert not shape("北京第1分公司").numbered_apart(shape("北京第一分公司"))
    assert not shape("北京分公司").numbered_apart(shape("北京第一分公司"))


def test_best_keeps_the_cap_and_drops_a_tie_across_the_cut() -> None:
    assert best([(0.9, "b"), (0.95, "a")], 5) == ["a", "b"]
    five = [(0.9, f"d{i}") for i in range(5)]
    assert best(five, 5) == [f"d{i}" for i in range(5)]
    assert best([*five, (0.9, "d5")], 5) == []  # six equally likely: no choice is right
    ranked = [(1.0, "x"), (1.0, "y"), *[(0.9, f"d{i}") for i in range(6)]]
    assert best(ranked, 5) == ["x", "y"]
    assert best([(0.99, "a"), *[(0.9 - i / 100, f"d{i}") for i in range(9)]], 5) == [
        "a", "d0", "d1", "d2", "d3"]


def test_the_index_follows_renames_and_removals() -> None:
    index = NameIndex()
    index.add("a", canonical_name(KNOWN["parent"]))
    index.add("b", canonical_name("上海明远精密机械有限公司"))
    assert [m.doc_id for m in index.similar(canonical_name(KNOWN["typo"]))] == ["a"]
    index.add("a", canonical_name("上海明远精密机械厂有限公司"))  # renamed
    assert index.similar(canonical_name(KNOWN["typo"])) == []
    assert [m.doc_id for m in index.similar(canonical_name("上海明远精密机槭有限公司"))] == [
        "b", "a"]
    index.remove("b")  # merged away
    assert [m.doc_id for m in index.similar(canonical_name("上海明远精密机槭有限公司"))] == ["a"]
    assert len(index) == 1


# -- through the database -----------------------------------------------------------------


async def seed_customers(engine: AsyncEngine, names: list[str], owner: str = "seed-rep",
                         ) -> list[str]:
    """Customers written straight as projection rows (what the finder and the lookup read),
    with the log's sequence moved past them: 20,000 in seconds, where the apply path would
    take minutes on two cores. Returns their doc ids, in the order of `names`."""
    rng = random.Random(len(names))
    ids = []
    async with engine.begin() as conn:
        await upsert(conn, t.counters, {"name": SEQ, "value": 0}, ["name"])
        head = int(await conn.scalar(
            select(t.counters.c.value).where(t.counters.c.name == SEQ)) or 0)
        rows = []
        for seq, name in enumerate(names, start=head + 1):
            doc_id = f"customer:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
            rec = {"name": name, "category": "direct", "tier": "ordinary", "status": "potential",
                   "level": 1, "created_by": owner, "owner": owner, "created_at": T0 + seq}
            meta = st.ProjectionMeta(seq, T0 + seq, T0 + seq)
            rows += st.projection_rows("customer", doc_id, rec, meta)[st.rec_customer.name]
            ids.append(doc_id)
        for part in range(0, len(rows), 1000):
            await conn.execute(insert(st.rec_customer), rows[part : part + 1000])
        await conn.execute(update(t.counters).where(t.counters.c.name == SEQ)
                           .values(value=head + len(rows)))
    return ids


@contextlib.asynccontextmanager
async def duplicates_running(engine: AsyncEngine) -> AsyncIterator[Duplicates]:
    """The app's duplicate service with its finder, over `engine`, as the lifespan runs it."""
    async with Log(engine, on_commit=commit_hooks) as log_:
        hub = Hub(log_, policy=RecordPolicy(), rules=SchemaRules())
        edits = ServerEdits(hub)
        async with Duplicates(hub, edits, b"test-secret-test-secret") as dup:
            yield dup


def near_identical(n: int) -> list[str]:
    """Half: one company's numbered branches; half: names one or two characters apart."""
    rng = random.Random(7)
    chars = "东南西北中华新海通达信安康泰和盛兴隆利源恒丰瑞祥宏伟建国光明金银山水天地人民"
    apart: set[str] = set()
    while len(apart) < n - n // 2:
        apart.add(f"北京友好创达{''.join(rng.choices(chars, k=3))}科技有限公司")
    return [f"北京友好创达科技有限公司第{i}分公司" for i in range(1, n // 2 + 1)] + sorted(apart)


@pytest.mark.asyncio
async def test_twenty_thousand_near_identical_names_stay_within_the_cap(
    engine: AsyncEngine,
) -> None:
    n = 20_000
    ids = await seed_customers(engine, near_identical(n))
    numbered = set(ids[: n // 2])
    async with duplicates_running(engine) as dup:
        head = dup.hub.log.head
        await dup.finder.examined(head)
        assert dup.finder.cursor == head and dup.finder.examined_count == n
        directory = dup.directory
        assert max(len(directory.candidates_of(d)) for d in ids[::97]) <= CAP
    async with engine.connect() as conn:
        pairs = list(await conn.execute(select(tt.duplicate_candidates)))
        cursor = await conn.scalar(
            select(t.counters.c.value).where(t.counters.c.name == "similar_examined"))
    print(f"{len(pairs)} candidate pairs among {n} near-identical names")
    assert 0 < len(pairs) <= CAP * n
    assert cursor == head  # a restart does not examine them again
    for p in pairs:
        assert p.reason == "similar_name" and p.score >= SIMILAR_THRESHOLD
        assert p.doc_a not in numbered and p.doc_b not in numbered  # numbered apart


@pytest.mark.asyncio
async def test_the_cap_keeps_the_best_and_a_restart_resumes(engine: AsyncEngine) -> None:
    stem = "上海明远精密机械制造有限公司"
    alike = [  # canonical names against the stem's 上海明远精密机械制造:
        "上海明远精密机械制造总有限公司",  # 0.952
        "上海明远精密机械制有限公司",  # 0.947
        "上海明远精密机械制造总厂有限公司",  # 0.909
        "上海明远精密机械制造总厂分有限公司",  # 0.87
        "上海明远精密机械制造总厂分部有限公司",  # 0.833
        "上海明远精密机械制造总厂分部门有限公司",  # 0.8: alike, but a sixth
        "上海明远精密有限公司",  # 0.75: not alike
    ]
    ids = await seed_customers(engine, [stem, *alike, KNOWN["parent"]])
    async with duplicates_running(engine) as dup:
        await dup.finder.examined(dup.hub.log.head)
        scores = sorted(((similarity(stem, a), d) for a, d in
                         zip(alike, ids[1:], strict=False)), reverse=True)
        assert [round(s, 3) for s, _ in scores] == [0.952, 0.947, 0.909, 0.87, 0.833, 0.8, 0.75]
        assert [d for d, _, _ in dup.directory.candidates_of(ids[0])] == [
            d for _, d in scores[:CAP]]
    # A customer that arrived while the server was down is examined at the next start,
    # and only it: the finder resumes from its cursor.
    [late] = await seed_customers(engine, [KNOWN["typo"]])
    async with duplicates_running(engine) as dup:
        await dup.finder.examined(dup.hub.log.head)
        assert dup.finder.examined_count == 1
    dc = tt.duplicate_candidates
    async with engine.connect() as conn:
        mine = list(await conn.execute(select(dc).where((dc.c.doc_a == late) |
                                                        (dc.c.doc_b == late))))
    assert [{p.doc_a, p.doc_b} for p in mine] == [{late, ids[-1]}]


@pytest.mark.asyncio
async def test_an_exact_duplicate_whose_check_was_cut_short_is_merged_at_the_next_start(
    engine: AsyncEngine,
) -> None:
    """Two cards of one customer committed, and the server stopped before its check ran:
    the finder resolves them when the server comes back."""
    user = await Accounts(engine).add_user("rep1", PASSWORD, role="rep")
    rep = Principal(user.id, user.role, frozenset({user.id}))
    ids = [f"customer:{uuid.uuid4()}" for _ in range(2)]
    async with Log(engine, on_commit=commit_hooks) as log_:  # no duplicate rule listening
        hub = Hub(log_, policy=RecordPolicy(), rules=SchemaRules())
        for clock, (doc_id, name) in enumerate(
                zip(ids, (KNOWN["parent"], "北京友好创达科技（有限公司）"), strict=True), start=1):
            rec = customer(user.id, name, T0 + clock, phone=None, address=None)
            item = await (await hub.apply(rep, "phone", doc_id,
                                          new_doc("customer", rec).get_update(), clock))
            assert isinstance(item, Append)
    async with duplicates_running(engine) as dup:
        await dup.finder.examined(dup.hub.log.head)
        await dup.edits.settle()
        assert not dup.edits.errors
        later = (await dup.hub.open(ids[1], "customer")).record
        assert later["merged_into"] == ids[0]
        [merge] = await dup.merges()
        assert (merge.survivor, merge.duplicate, merge.rule) == (ids[0], ids[1], "same_name")


# -- through the server -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_review_queue_holds_the_alike_pairs_and_no_numbered_siblings(
    live_server: LiveServer,
) -> None:
    team = live_server.team
    dev = SyncClient("phone-similar")
    ids: dict[str, str] = {}
    async with online(live_server, dev, "rep1"):
        for label, name in KNOWN.items():
            ids[label] = f"customer:{uuid.uuid4()}"
            write_record(dev.doc(ids[label]), "customer",  # no phone or address to share
                         customer(team.rep1.id, name, dev.now_ms(), phone=None, address=None))
        await dev.wait_flushed()
        assert not dev.errors, dev.errors
    await settle(live_server)
    label_of = {d: label for label, d in ids.items()}
    async with http(live_server, "manager") as boss:
        r = await boss.get("/api/duplicates")
        assert r.status_code == 200
        found = {frozenset({label_of[c["doc_a"]], label_of[c["doc_b"]]}): c
                 for c in r.json()["candidates"]}
        # a rep typing a branch's name is not told about its numbered siblings
        lookup = await boss.get("/api/customers/lookup",
                                params={"name": "北京友好创达科技有限公司 第2分公司"})
    assert set(found) == ALIKE
    assert all(c["reason"] == "similar_name" for c in found.values())
    assert [(m["name"], m["match"]) for m in lookup.json()["matches"]] == [
        (KNOWN["branch2"], "same_name"), (KNOWN["branch2_typo"], "similar_name")]


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_lookup_finds_one_branch_among_twenty_thousand(
    live_server: LiveServer,
) -> None:
    engine = live_server.services.engine
    names = [f"北京友好创达科技有限公司第{i}分公司" for i in range(1, 20_001)]
    await seed_customers(engine, names)
    # rows written behind the server's back: it learns of them at its next commit
    dev = SyncClient("phone-lookup")
    async with online(live_server, dev, "rep1"):
        write_record(dev.doc(f"customer:{uuid.uuid4()}"), "customer",
                     customer(live_server.team.rep1.id, "上海明远精密机械有限公司", dev.now_ms(),
                              phone=None, address=None))
        await dev.wait_flushed()
    await settle(live_server)
    async with http(live_server, "rep2") as rep:
        r = await rep.get("/api/customers/lookup",
                          params={"name": "北京友好创达科枝有限公司第12345分公司"})
    assert [(m["name"], m["match"]) for m in r.json()["matches"]] == [
        (names[12344], "similar_name")]
    async with engine.connect() as conn:
        pairs = await conn.scalar(select(func.count()).select_from(tt.duplicate_candidates))
    assert pairs == 0  # numbered branches, all 20,000 of them: none alike
