"""Catch-up cost: a device holding N docs reconnects after 10 of them were changed by
another device; prints the bytes it sent and received and the time to CAUGHT_UP, next to
the raw sizes of the 10 Yjs updates, for N = 100, 1,000 and 10,000 (a fresh server each).

    .venv/bin/python -m bench.catchup            # N = 100 1000 10000
    .venv/bin/python -m bench.catchup -n 100 1000 --db postgres
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h

CHANGED = 10
RESULTS = [
    "客户同意下周安排产品演示,需要提前准备报价单。",
    "张主任对档案数字化方案感兴趣,要求补充案例。",
    "已确认采购预算,等待招标文件。",
]


async def scenario(
    url: str, token: str, user_id: str, n: int, *, repeat: int, edit: str
) -> dict[str, Any]:
    from pycrdt import Doc

    from bench.device import (
        Device,
        VisitDoc,
        create_visit,
        new_id,
        set_place,
        update_frame,
        write_result,
    )
    from sync import protocol as p

    # The phone creates its N docs and syncs them.
    phone = Device(url, token, "phone")
    await phone.open()
    await phone.until_caught_up()
    customer = new_id("customer")
    visits, frames = [], []
    for i in range(n):
        v, upd = create_visit(user_id, customer, i)
        visits.append(v)
        frames.append(update_frame(v.doc_id, i + 1, upd))
    t = time.perf_counter()
    await phone.send_pipelined(frames, window=256)
    upload_s = time.perf_counter() - t
    try:
        async with asyncio.timeout(2):
            while True:  # the CURSOR after the last ack moves the phone's cursor past its docs
                await phone.recv()
    except TimeoutError:
        pass
    await phone.close()
    by_id = {v.doc_id: v for v in visits}

    runs = []
    rng = random.Random(n)
    laptop_clock = 0
    for r in range(repeat):
        # Another device of the same rep changes 10 of those docs while the phone is away.
        laptop = Device(url, token, "laptop", cursor=phone.cursor)
        await laptop.open()
        await laptop.until_caught_up()
        laptop.acked = laptop_clock
        changed = rng.sample(sorted(by_id), CHANGED)
        raw: list[int] = []
        frames = []
        for doc_id in changed:
            await laptop.send_frame(p.Sync(doc_id, 0, p.SyncMessageType.STEP1, Doc().get_state()))
            while True:
                f = await laptop.recv()
                if isinstance(f, p.Sync) and f.doc == doc_id:
                    break
            mine = VisitDoc(doc_id, Doc())
            mine.ydoc.apply_update(f.payload)
            if edit == "result":
                upd = write_result(mine, f"{RESULTS[r % len(RESULTS)]} ({r})")
            else:
                upd = set_place(mine, r)
            raw.append(len(upd))
            laptop_clock += 1
            frames.append(update_frame(doc_id, laptop_clock, upd))
        await laptop.send_pipelined(frames, window=CHANGED)
        await laptop.close()

        # The phone reconnects with its cursor.
        phone = Device(url, token, "phone", cursor=phone.cursor)
        t0 = time.perf_counter()
        await phone.open()
        t_hello = time.perf_counter()
        got = await phone.until_caught_up()
        t1 = time.perf_counter()
        updates = [f for f in got if isinstance(f, p.Sync)]
        for f in updates:
            by_id[f.doc].ydoc.apply_update(f.payload)
        field, want = ("result", f"({r})") if edit == "result" else ("place", f" {r}")
        ok = sorted(f.doc for f in updates) == sorted(changed) and all(
            str(by_id[d].record[field]).endswith(want) for d in changed
        )
        await phone.close()
        runs.append({
            "sent": phone.stats.bytes_sent,
            "received": phone.stats.bytes_received,
            "frames": phone.stats.frames_received,
            "sync_bytes": phone.stats.by_type.get("Sync", 0),
            "raw": raw,
            "ms_connect": (t1 - t0) * 1000,
            "ms_hello": (t1 - t_hello) * 1000,
            "ok": ok,
            "docs_received": len(updates),
        })
    return {"n": n, "upload_s": upload_s, "runs": runs}


def run(n: int, db: str, *, repeat: int, edit: str) -> dict[str, Any]:
    with h.temp_dir("waiqin-bench-cu-") as tmp, h.database(db, tmp) as url:
        h.create_users(url, tmp, [("cumanager", "manager", None), ("curep", "rep", "cumanager")])
        server = h.start_server(tmp, database_url=url)
        try:
            user = server.login(["curep"])["curep"]
            return asyncio.run(
                scenario(server.ws, user.token, user.user_id, n, repeat=repeat, edit=edit)
            )
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="+", default=[100, 1000, 10_000])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--repeat", type=int, default=3, help="reconnects per N (median shown)")
    ap.add_argument("--edit", choices=["result", "place"], default="result",
                    help="the change: a sentence into the visit's result (Y.Text), or one "
                    "short scalar field (place)")
    args = ap.parse_args(argv)
    h.raise_fd_limit()
    print(f"catch-up: a device holding N docs reconnects after {CHANGED} were changed by "
          f"another device (edit: {args.edit}; {args.db}; message payload bytes, websocket "
          f"framing and the HTTP upgrade not counted; median of {args.repeat})")
    print(f"{'N':>7} {'sent B':>7} {'recv B':>7} {'frames':>6} {'SYNC B':>7} {'raw B':>6} "
          f"{'recv/raw':>8} {'SYNC/raw':>8} {'ms to CAUGHT_UP':>16}  raw update sizes")
    failed = False
    for n in args.n:
        res = run(n, args.db, repeat=args.repeat, edit=args.edit)
        runs = res["runs"]
        med = {k: statistics.median(r[k] for r in runs)
               for k in ("sent", "received", "frames", "sync_bytes", "ms_connect", "ms_hello")}
        raw_total = statistics.median([sum(r["raw"]) for r in runs])
        ok = all(r["ok"] for r in runs)
        failed |= not ok
        print(f"{n:>7} {med['sent']:>7.0f} {med['received']:>7.0f} {med['frames']:>6.0f} "
              f"{med['sync_bytes']:>7.0f} {raw_total:>6.0f} {med['received'] / raw_total:>8.2f} "
              f"{med['sync_bytes'] / raw_total:>8.2f} "
              f"{med['ms_connect']:>7.1f} ({med['ms_hello']:.1f}*)  {runs[0]['raw']}"
              + ("" if ok else "  WRONG: the phone did not get exactly the 10 changes"))
        print(f"{'':>7} (setup: {n} docs uploaded in {res['upload_s']:.1f}s = "
              f"{n / res['upload_s']:.0f} docs/s)")
    print("* from HELLO sent; the first figure includes the TCP connect and websocket upgrade")
    return 0  # a wrong catch-up is printed as WRONG above


if __name__ == "__main__":
    sys.exit(main())
