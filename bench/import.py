"""Import bench: an N-row .xlsx (one customer and contact per row, owners and source dates)
written by openpyxl, read, planned (the dry run) and imported through the server's own
services; meanwhile a rep's new card is committed every 0.2 s, and its latency is printed
(the server keeps serving others during an import).

    .venv/bin/python -m bench.import -n 100000
    .venv/bin/python -m bench.import -n 20000 --db postgres
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write_xlsx(path: Path, n: int, owners: list[str]) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["客户名称", "电话", "联系人", "手机", "城市", "客户经理", "创建时间"])
    for i in range(n):
        ws.append([f"北京第{i}号导入科技有限公司", f"010-6{i % 10_000_000:07d}", f"联系人{i}",
                   f"138{i % 100_000_000:08d}", "北京", owners[i % len(owners)],
                   f"2019-{i % 12 + 1:02d}-{i % 28 + 1:02d}"])
    wb.save(path)


async def probe(svc: Any, rep_id: str, stop: asyncio.Event, out: list[float]) -> None:
    """A rep's new card every 0.2 s, timed from apply to commit."""
    from pycrdt import Doc

    from schema import samples
    from schema.ydoc import write_record
    from sync.scope import Principal

    rep = Principal(rep_id, "rep", frozenset({rep_id}))
    i = 0
    while not stop.is_set():
        rec = samples.customer(name=f"上海第{i}号探测有限公司", credit_code=None, attachments=[],
                               created_by=rep_id, created_at=samples.T0 + i)
        for k in ("owner", "code", "security_level", "merged_into"):
            rec.pop(k, None)
        doc: Doc[Any] = Doc()
        write_record(doc, "customer", rec)
        t0 = time.perf_counter()
        fut = await svc.hub.apply(rep, "probe", samples.new_id("customer"), doc.get_update(),
                                  i + 1)
        await fut
        out.append(time.perf_counter() - t0)
        i += 1
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            pass


async def main(n: int, db: str) -> None:
    from server.app import create_app
    from server.cli import DEMO_TEAM, _demo
    from server.config import Config
    from server.db import migrate_async
    from server.importer import Importer, read_file

    tmp = Path(tempfile.mkdtemp(prefix="waiqin-import-"))
    url = (f"sqlite+aiosqlite:///{tmp}/bench.sqlite" if db == "sqlite"
           else "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    cfg = Config.from_env(database_url=url, data_dir=tmp, blobs_dir=tmp / "blobs")
    await migrate_async(cfg.database)
    await _demo(cfg)
    path = tmp / "customers.xlsx"
    t0 = time.perf_counter()
    write_xlsx(path, n, [login for login, role, *_ in DEMO_TEAM if role == "rep"])
    print(f"wrote {n} rows in {time.perf_counter() - t0:.1f} s ({path.stat().st_size} bytes)")
    app = create_app(cfg, run_migrations=False)
    async with app.router.lifespan_context(app):
        svc = app.state.services
        admin = await svc.accounts.by_login("admin")
        rep = await svc.accounts.by_login("rep1")
        t0 = time.perf_counter()
        sheet = read_file(path.name, path.read_bytes())
        t_read = time.perf_counter() - t0
        importer = Importer(svc.edits)
        t0 = time.perf_counter()
        plan = await importer.plan(sheet, await importer.mapping_for(sheet))
        t_plan = time.perf_counter() - t0
        print(f"read {len(sheet.rows)} rows in {t_read:.1f} s; dry run {t_plan:.1f} s "
              f"({plan.count('create')} to create, {len(plan.refused)} refused)")
        stop, lat = asyncio.Event(), []
        prober = asyncio.create_task(probe(svc, rep.id, stop, lat))
        t0 = time.perf_counter()
        prog = await importer.run(plan, admin.id)
        await svc.edits.settle()
        t_run = time.perf_counter() - t0
        stop.set()
        await prober
        print(f"imported {prog.created} customers in {t_run:.1f} s "
              f"({prog.created / t_run:.0f}/s); read + dry run + import "
              f"{t_read + t_plan + t_run:.1f} s")
        if lat:
            q = statistics.quantiles(lat, n=20) if len(lat) >= 20 else lat
            print(f"a rep's new card meanwhile: {len(lat)} commits, median "
                  f"{statistics.median(lat) * 1000:.0f} ms, p95 {q[-1] * 1000:.0f} ms, "
                  f"max {max(lat) * 1000:.0f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    a = ap.parse_args()
    asyncio.run(main(a.n, a.db))
