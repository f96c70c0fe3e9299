"""Likely duplicates among many near-identical names: seeds N customers (projection rows),
then times the app's background finder examining them all, counts the candidate pairs it
wrote, and times the lookup a rep's typing calls.

    .venv/bin/python -m bench.similar [--customers 20000] [--family numbered|one-char|both]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, update

from schema import tables as st
from server import tables as tt
from server.app import commit_hooks
from server.db import make_engine, migrate
from server.duplicates import Duplicates
from server.records import RecordPolicy, SchemaRules, ServerEdits, format_code
from server.similar import CAP
from sync import tables as t
from sync.hub import Hub
from sync.log import SEQ, Log, upsert

T0 = 1_780_000_000_000
PARENT = "北京友好创达科技有限公司"
# Common characters, for names that differ by a character or two.
CHARS = "东南西北中华新海通达信安康泰和盛兴隆利源恒丰瑞祥宏伟建国光明金银山水天地人民" \
        "精密机械电子仪器材料能源环保智能数据网络软件医药食品纺织化工物流贸易咨询"


def names(family: str, n: int, *, seed: int = 1) -> list[str]:
    """`numbered`: one company's branches 第1…第n分公司 (they differ only in the number);
    `one-char`: n distinct names that share a stem and differ in one or two characters."""
    if family == "numbered":
        return [f"{PARENT}第{i}分公司" for i in range(1, n + 1)]
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        tail = "".join(rng.choices(CHARS, k=3))
        out.add(f"北京友好创达{tail}科技有限公司")
    return sorted(out)


async def seed(url: str, customer_names: list[str], *, owner: str = "bench-rep") -> list[str]:
    """One customer per name, written as the projection rows the finder and the lookup read
    (`schema.tables.projection_rows`), with the log's sequence moved past them; returns
    the doc ids. Through the apply path 20,000 cards take minutes to seed on 2 cores."""
    engine = make_engine(url)
    ids: list[str] = []
    try:
        async with engine.begin() as conn:
            await upsert(conn, t.counters, {"name": SEQ, "value": 0}, ["name"])
            head = int(await conn.scalar(
                select(t.counters.c.value).where(t.counters.c.name == SEQ)) or 0)
            rows = []
            for seq, name in enumerate(customer_names, start=head + 1):
                doc_id = f"customer:{uuid.UUID(int=random.getrandbits(128), version=4)}"
                rec = {"name": name, "category": "direct", "tier": "ordinary",
                       "status": "potential", "level": 1, "created_by": owner,
                       "owner": owner, "code": format_code(seq), "created_at": T0 + seq}
                meta = st.ProjectionMeta(seq, T0 + seq, T0 + seq)
                rows += st.projection_rows("customer", doc_id, rec, meta)[st.rec_customer.name]
                ids.append(doc_id)
            for part in range(0, len(rows), 1000):
                await conn.execute(insert(st.rec_customer), rows[part : part + 1000])
            await conn.execute(update(t.counters).where(t.counters.c.name == SEQ)
                               .values(value=head + len(rows)))
    finally:
        await engine.dispose()
    return ids


async def examine(url: str) -> dict[str, float]:
    """Run the app's duplicate service over the seeded database until the finder has
    examined every customer; time it, count the pairs, time 200 lookups."""
    engine = make_engine(url)
    try:
        async with Log(engine, on_commit=commit_hooks) as log_:
            hub = Hub(log_, policy=RecordPolicy(), rules=SchemaRules())
            edits = ServerEdits(hub)
            duplicates = Duplicates(hub, edits, b"bench-secret-bench-secret")
            t0, c0 = time.perf_counter(), time.process_time()
            async with duplicates:
                await duplicates.finder.examined(log_.head)
                took, cpu = time.perf_counter() - t0, time.process_time() - c0
                customers = len(duplicates.directory)
                rng = random.Random(2)
                keys = [e.name for e in (duplicates.directory.get(d) for d in
                                         rng.sample(sorted(duplicates.directory._by_id), 200))
                        if e is not None]
                lat = []
                for name in keys:
                    t1 = time.perf_counter()
                    await duplicates.lookup(name=name[:-2])  # mid-typing: no legal form yet
                    lat.append((time.perf_counter() - t1) * 1000)
            async with engine.connect() as conn:
                pairs = int(await conn.scalar(
                    select(func.count()).select_from(tt.duplicate_candidates)) or 0)
    finally:
        await engine.dispose()
    lat.sort()
    return {"customers": customers, "examine_s": took, "examine_cpu_s": cpu, "pairs": pairs,
            "lookup_p50_ms": statistics.median(lat), "lookup_p99_ms": lat[int(len(lat) * .99)]}


def run(family: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="waiqin-similar-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'waiqin.db'}"
        migrate(url)
        t0 = time.perf_counter()
        asyncio.run(seed(url, names(family, n)))
        seeded = time.perf_counter() - t0
        res = asyncio.run(examine(url))
        return {"seed_s": seeded, **res}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--family", choices=["numbered", "one-char", "both"], default="both")
    args = ap.parse_args(argv)
    families = ["numbered", "one-char"] if args.family == "both" else [args.family]
    for family in families:
        r = run(family, args.customers)
        n = int(r["customers"])
        print(f"{family:>9}: {n} customers; the finder examined them in "
              f"{r['examine_s']:.2f} s ({r['examine_cpu_s']:.2f} s CPU) and wrote "
              f"{int(r['pairs'])} pairs (cap {CAP} x customers = {CAP * n}); "
              f"lookup p50 {r['lookup_p50_ms']:.2f} ms, p99 {r['lookup_p99_ms']:.2f} ms",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
