"""New records from one device: N new customers or visits streamed over one `/sync` socket
(window 256), every server rule in force (customer codes, duplicate checks, projections);
prints new records acked/s, server CPU per record and checks the log holds each one once.

    .venv/bin/python -m bench.new_records --kind customer -n 2000
    .venv/bin/python -m bench.new_records --kind both --db postgres --profile /tmp/nr.raw
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h


def plan(kind: str, user_id: str, n: int, customer_ids: list[str]) -> list[tuple[str, bytes]]:
    """N whole new records as a rep's phone makes them: each its own doc and one update.
    New customers take the ids in `customer_ids` first; visits are of those customers."""
    from pycrdt import Doc

    from schema import samples
    from schema.ydoc import write_record

    out = []
    for i in range(n):
        if kind == "customer":
            doc_id = customer_ids[i] if i < len(customer_ids) else samples.new_id("customer")
            # Distinct names, phones and addresses and no credit code: none of them is a
            # duplicate, nor a likely one, of another (the sample's one phone and address
            # on every card made each a likely duplicate of up to 1,000 others).
            rec = samples.customer(
                name=f"北京第{i}号新创科技有限公司", short_name=f"Xinchuang{i}",
                phone=f"010-{62000000 + i}", address=f"北京市海淀区中关村大街{i + 1}号",
                credit_code=None, attachments=[], created_by=user_id,
                created_at=samples.T0 + i * 1000, submitted_at=samples.T0 + i * 1000 + 60_000,
            )
        else:
            doc_id = samples.new_id("visit")
            rec = samples.visit(
                customer_id=customer_ids[i % len(customer_ids)], attachments=[],
                created_by=user_id, created_at=samples.T0 + i * 1000,
                started_at=samples.T0 + i * 1000, ended_at=samples.T0 + i * 1000 + 3_600_000,
                submitted_at=samples.T0 + i * 1000 + 3_700_000,
            )
        doc: Doc[Any] = Doc()
        write_record(doc, kind, rec)
        out.append((doc_id, doc.get_update()))
    return out


async def stream(url: str, token: str, device_id: str, frames: list[bytes],
                 window: int) -> dict[str, Any]:
    from bench.device import Device

    dev = Device(url, token, device_id)
    await dev.open()
    await dev.until_caught_up()
    c0 = time.process_time()
    t0, t1, lat = await dev.send_pipelined(frames, window=window)
    cpu = time.process_time() - c0
    await dev.close()
    return {"t0": t0, "t1": t1, "lat": lat, "cpu": cpu,
            "errors": [f"{e.code}: {e.message}" for e in dev.errors]}


def run(db: str, kinds: list[str], n: int, window: int, profile: Path | None) -> None:
    from bench.device import update_frame

    with h.temp_dir("waiqin-bench-new-") as tmp, h.database(db, tmp) as url:
        h.create_users(url, tmp, [("nrmgr", "manager", None), ("nrrep", "rep", "nrmgr")])
        server = h.start_server(tmp, database_url=url)
        sent = 0
        try:
            from schema.samples import new_id

            user = server.login(["nrrep"])["nrrep"]
            # Visits are of the customers made in the customer run (of none when run alone).
            customer_ids = [new_id("customer") for _ in range(max(1, n // 10))]
            for j, kind in enumerate(kinds):
                updates = plan(kind, user.user_id, n, customer_ids)
                frames = [update_frame(d, i + 1, u) for i, (d, u) in enumerate(updates)]
                cpu0 = server.cpu()
                busy0 = h.machine_busy()
                if profile is not None and j == 0:
                    server.start_profile(profile)
                res = asyncio.run(stream(server.ws, user.token, f"nr-{kind}", frames, window))
                server.stop_profile()
                busy1 = h.machine_busy()
                cpu = server.cpu() - cpu0
                sent += n
                secs = res["t1"] - res["t0"]
                other = (busy1[0] - busy0[0]) - cpu - res["cpu"]
                print(f"new {kind}s, {db}: {len(res['lat'])} acked in {secs:.2f}s = "
                      f"{len(res['lat']) / secs:,.0f}/s | ack p50 "
                      f"{h.percentile(res['lat'], 50) * 1000:.0f} ms p99 "
                      f"{h.percentile(res['lat'], 99) * 1000:.0f} ms | server CPU {cpu:.1f}s = "
                      f"{cpu / n * 1e6:,.0f} us per record; device {res['cpu']:.1f}s; other "
                      f"processes on the machine ~{max(other, 0):.1f} CPU-s"
                      + (f" | {len(res['errors'])} ERRORS e.g. {res['errors'][:2]}"
                         if res["errors"] else ""))
            print(f"    server peak RSS {server.peak_rss_mb():.0f} MB")
        finally:
            server.stop()
        rows = count_device_rows(url, tmp)
        print(f"    rows from the device in the change log: {rows} of {sent} sent"
              + ("" if rows == sent else "  <-- MISMATCH"))
    if profile is not None:
        h.print_hot_spots(profile)


def count_device_rows(database_url: str | None, data_dir: Path) -> int:
    """Rows the bench's devices wrote (the server's own edits, e.g. codes, are not counted)."""
    sql = "SELECT count(*) FROM sync_changes WHERE device_id LIKE 'nr-%'"
    return h.counts(database_url, data_dir, sql)[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--kind", choices=["customer", "visit", "both"], default="both")
    ap.add_argument("-n", type=int, default=2000, help="new records per kind")
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--profile", type=Path, help="py-spy raw profile of the first kind's run")
    args = ap.parse_args(argv)
    kinds = ["customer", "visit"] if args.kind == "both" else [args.kind]
    print(f"new records: one device, {args.n} per kind, window {args.window}")
    run(args.db, kinds, args.n, args.window, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
