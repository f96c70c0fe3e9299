"""Back-office reports on 100,000 visits: bulk projection rows into a temporary SQLite file
and a fresh PostgreSQL database, then each report (and the first page of the visit list)
timed for an admin (everything) and for a manager (one team of the tree).

    .venv/bin/python -m bench.reports [--visits 100000] [--db sqlite|postgres|both]

The PostgreSQL database is created on WAIQIN_BENCH_POSTGRES (default
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from schema import tables as st
from server import tables as t
from server.accounts import Accounts
from server.backoffice import queries as qs
from server.backoffice.auth import Viewer
from server.backoffice.columns import Col
from server.backoffice.exports import Sheet, csv_response, xlsx_response
from server.backoffice.i18n import day_start_ms
from server.backoffice.reports import run_report
from server.db import make_engine, migrate
from sync import tables as sync_t

PG_ADMIN = os.environ.get("WAIQIN_BENCH_POSTGRES",
                          "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TEAMS, REPS_PER_TEAM, CUSTOMERS_PER_REP = 5, 10, 100
AS_OF = datetime.date(2026, 6, 30)
DAY = 86_400_000
CHUNK = 5000


def _uid() -> str:
    return str(uuid.uuid4())


async def _bulk(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        for i in range(0, len(rows), CHUNK):
            await conn.execute(insert(table), rows[i:i + CHUNK])


def _row(table: Any, **values: Any) -> dict[str, Any]:
    r = {c.name: None for c in table.columns}
    r.update(values)
    return r


async def populate(engine: AsyncEngine, visits: int, rnd: random.Random) -> dict[str, Any]:
    """Users in TEAMS teams, 100 customers per rep, `visits` visits over a year, deals,
    service sheets with products, progress records, and the grants that go with them."""
    users, managers, reps = [], [], []
    admin = _uid()
    users.append({"id": admin, "login": "admin", "name": "admin", "role": "admin"})
    for team in range(TEAMS):
        m = _uid()
        managers.append(m)
        users.append({"id": m, "login": f"m{team}", "name": f"经理{team}", "role": "manager"})
        for r in range(REPS_PER_TEAM):
            rid = _uid()
            reps.append(rid)
            users.append({"id": rid, "login": f"r{team}_{r}", "name": f"业务员{team}-{r}",
                          "role": "engineer" if r % 5 == 4 else "rep", "manager_id": m})
    await _bulk(engine, t.users, [
        {"manager_id": None, "password_hash": "x", "created_at": 0, "disabled_at": None, **u}
        for u in users])
    start = day_start_ms(AS_OF) - 365 * DAY
    customers, grants = [], []
    owner_of: dict[str, str] = {}
    for rep in reps:
        for _ in range(CUSTOMERS_PER_REP):
            cid = f"customer:{_uid()}"
            owner_of[cid] = rep
            tier = rnd.choices(["core", "high_growth", "ordinary"], [1, 2, 4])[0]
            customers.append(_row(
                st.rec_customer, doc_id=cid, seq=1, updated_at=start, received_at=start,
                name=f"客户{len(customers)}有限公司", code=f"KH{len(customers):05d}",
                owner=rep, created_by=rep, created_at=start, tier=tier, completeness=8,
                category=rnd.choices(["direct", "distributor"], [4, 1])[0],
                status="potential", security_level=0))
            grants.append({"doc_id": cid, "user_id": rep, "since_seq": 1})
    cids = list(owner_of)
    rows = []
    for _ in range(visits):
        cid = rnd.choice(cids)
        rep = owner_of[cid]
        at = start + rnd.randrange(365 * DAY)
        lag = int(rnd.expovariate(1 / (6 * 3_600_000)))
        vid = f"visit:{_uid()}"
        rows.append(_row(st.rec_visit, doc_id=vid, seq=1, updated_at=at + lag,
                         received_at=at + lag, customer_id=cid, created_by=rep, created_at=at,
                         started_at=at, submitted_at=at + 600_000,
                         visit_type=rnd.choice(["visit_out", "visit_in", "call_out", "call_in"]),
                         met_name="张宏", purpose="介绍新款扫描仪", result="客户有兴趣"))
        grants.append({"doc_id": vid, "user_id": rep, "since_seq": 1})
    await _bulk(engine, st.rec_customer, customers)
    await _bulk(engine, st.rec_visit, rows)
    deals, products, progress = [], [], []
    for i in range(len(cids) // 2):
        cid = rnd.choice(cids)
        rep = owner_of[cid]
        cls = rnd.choice(["short", "medium", "lead", "won", "lost"])
        stage = {"short": rnd.randint(3, 9), "medium": rnd.randint(2, 9), "lead": 1,
                 "won": 10, "lost": 0}[cls]
        at = start + rnd.randrange(300 * DAY)
        did = f"deal:{_uid()}"
        deals.append(_row(st.rec_deal, doc_id=did, seq=1, updated_at=at, received_at=at,
                          customer_id=cid, title=f"跟单{i}", deal_class=cls, stage=stage,
                          probability=stage * 10, created_by=rep, created_at=at,
                          follow_up_days={"short": 7, "medium": 15, "lead": 15}.get(cls),
                          expected_close_date=None if i % 7 == 0 else AS_OF))
        products.append({"doc_id": did, "position": 0, "name": "扫描仪", "model": "FS-9000",
                         "quantity": rnd.randint(1, 20), "unit_price": 8900.0})
        grants.append({"doc_id": did, "user_id": rep, "since_seq": 1})
        for _ in range(2):
            pid = f"progress:{_uid()}"
            pat = at + rnd.randrange(60 * DAY)
            progress.append(_row(st.rec_progress, doc_id=pid, seq=1, updated_at=pat,
                                 received_at=pat, customer_id=cid, deal_id=did, created_by=rep,
                                 created_at=pat, count_as_contact=rnd.random() < 0.5,
                                 submitted_at=pat))
            grants.append({"doc_id": pid, "user_id": rep, "since_seq": 1})
    services, sproducts = [], []
    models = [(f"产品{n}", f"M-{n}") for n in range(40)]
    for _ in range(visits // 5):
        cid = rnd.choice(cids)
        rep = owner_of[cid]
        at = start + rnd.randrange(365 * DAY)
        sid = f"service:{_uid()}"
        day = datetime.date.fromtimestamp(at / 1000)
        services.append(_row(
            st.rec_service, doc_id=sid, seq=1, updated_at=at, received_at=at, customer_id=cid,
            service_type=rnd.choice(["warranty_repair", "paid_repair", "installation",
                                     "online_support", "follow_up", "training"]),
            service_date=day, status=rnd.choices(["completed", "in_progress", "abandoned"],
                                                 [6, 2, 1])[0],
            created_by=rep, created_at=at, responded_at=at + rnd.randrange(8 * 3_600_000),
            completed_at=at + rnd.randrange(8 * 3_600_000, 72 * 3_600_000)))
        name, model = rnd.choice(models)
        sproducts.append({"doc_id": sid, "position": 0, "name": name, "model": model,
                          "serial_no": f"SN{rnd.randrange(3000)}"})
        grants.append({"doc_id": sid, "user_id": rep, "since_seq": 1})
    await _bulk(engine, st.rec_deal, deals)
    await _bulk(engine, st.rec_deal_product, products)
    await _bulk(engine, st.rec_progress, progress)
    await _bulk(engine, st.rec_service, services)
    await _bulk(engine, st.rec_service_product, sproducts)
    await _bulk(engine, sync_t.grants, grants)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ANALYZE"))
        else:
            await conn.execute(text("ANALYZE"))
    return {"admin": admin, "manager": managers[0], "counts": {
        "customers": len(customers), "visits": len(rows), "deals": len(deals),
        "services": len(services), "progress": len(progress), "grants": len(grants)}}


async def time_it(fn: Any, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


async def bench(engine: AsyncEngine, label: str, visits: int, runs: int) -> list[str]:
    rnd = random.Random(8)
    t0 = time.perf_counter()
    world = await populate(engine, visits, rnd)
    load_s = time.perf_counter() - t0
    accounts = Accounts(engine)
    lines = [f"{label}: {world['counts']} loaded in {load_s:.1f} s"]
    viewers = {}
    for who in ("admin", "manager"):
        user = await accounts.get(world[who])
        assert user is not None
        viewers[who] = Viewer(user, await accounts.principal(user), "bench")
    cases: list[tuple[str, dict[str, str]]] = [
        ("contact", {"as_of": AS_OF.isoformat()}),
        ("deals", {"as_of": AS_OF.isoformat()}),
        ("service", {}),
        ("activity", {"from": (AS_OF - datetime.timedelta(days=364)).isoformat(),
                      "to": AS_OF.isoformat()}),
    ]
    lines.append(f"{'what':<34}{'admin min/median ms':>22}{'manager min/median ms':>24}")
    for name, q in cases:
        cells = []
        for who in ("admin", "manager"):
            async def run(name: str = name, q: dict[str, str] = q, who: str = who) -> None:
                async with engine.connect() as conn:
                    await run_report(conn, name, viewers[who], q, "zh")
            mn, med = await time_it(run, runs)
            cells.append(f"{mn:8.0f} / {med:6.0f}")
        lines.append(f"report {name:<27}{cells[0]:>22}{cells[1]:>24}")
    for sort in ("started_at", "customer_name", "lag"):
        cells = []
        for who in ("admin", "manager"):
            async def page(sort: str = sort, who: str = who) -> None:
                async with engine.connect() as conn:
                    await qs.list_page(conn, qs.LISTS["visits"], viewers[who],
                                       qs.Filters(sort=sort))
            mn, med = await time_it(page, runs)
            cells.append(f"{mn:8.0f} / {med:6.0f}")
        lines.append(f"visit list page 1, sort {sort:<15}{cells[0]:>22}{cells[1]:>24}")
    for fmt in ("csv", "xlsx"):
        t0 = time.perf_counter()
        size = await export_visits(engine, viewers["admin"], fmt)
        lines.append(f"export all {world['counts']['visits']:,} visits to {fmt}: "
                     f"{time.perf_counter() - t0:.1f} s, {size / 1e6:.1f} MB")
    return lines


async def export_visits(engine: AsyncEngine, viewer: Viewer, fmt: str) -> int:
    """The visit list's export as the route makes it, consumed; returns its size."""
    spec = qs.LISTS["visits"]
    stmt, _ = qs.list_select(spec, viewer, qs.Filters())
    cols = [Col("doc_id", "Doc"), *(c for c, _ in spec.cols)]
    keys = {c.key for c in cols}
    stmt = stmt.with_only_columns(*(c for c in stmt.selected_columns if c.key in keys))

    async def rows() -> Any:
        async with engine.connect() as conn:
            result = await conn.stream(stmt)
            async for part in result.partitions(2000):
                yield part

    sheet = Sheet("visits", cols, rows())
    response = (csv_response(sheet, "visits.csv", "zh") if fmt == "csv"
                else await xlsx_response([sheet], "visits.xlsx", "zh"))
    size = 0
    async for chunk in response.body_iterator:
        size += len(chunk)
    if response.background is not None:
        await response.background()
    return size


async def _pg_admin(sql: str) -> None:
    eng = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with eng.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await eng.dispose()


async def main_async(args: argparse.Namespace) -> None:
    out: list[str] = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'reports.db'}"
            await asyncio.to_thread(migrate, url)
            engine = make_engine(url)
            try:
                out += await bench(engine, "SQLite", args.visits, args.runs)
            finally:
                await engine.dispose()
    if args.db in ("postgres", "both"):
        name = f"waiqin_bench_reports_{os.getpid()}"
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
        await _pg_admin(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        try:
            await asyncio.to_thread(migrate, url)
            engine = make_engine(url)
            try:
                out += await bench(engine, "PostgreSQL", args.visits, args.runs)
            finally:
                await engine.dispose()
        finally:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("\n".join(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visits", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
