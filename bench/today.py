"""Today (今日) on a big briefcase: a rep holding 5,000 customers, 20,000 visits and 2,000
tasks, made server-side through the real validation and log writer (bench/briefcase.py for
the cards), downloaded by Chromium at 390x844; then how long Today takes to open.

    .venv/bin/python -m bench.today [--customers 5000 --visits 20000 --tasks 2000]
                                    [--data-cache /tmp/wq-today]

Prints: time to generate, the first download, then per reopen (online, offline) the time
from navigation to Today's rows on screen and to Today drawn with every record read, and
the cost of one computation of Today in the page. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h
from bench.briefcase import Card, Writer, bulk_commit_hooks, fill
from bench.pwa_scale import serve_cmd
from schema.ydoc import new_doc
from server.accounts import Accounts
from server.config import Config
from server.db import make_engine, migrate
from server.records import RecordPolicy, SchemaRules
from sync.log import Append, Log, NewDoc, now_ms
from sync.scope import DocFacts, Principal

CHROMIUM = os.environ.get("WAIQIN_CHROMIUM", "/usr/bin/chromium")
DEMO_PASSWORD = "waiqin-demo"
DAY = 86_400_000


Made = list[tuple[str, str, dict[str, Any]]]  # (kind, doc id, record)


def _records(cards: list[Card], me: str, n_visits: int, n_tasks: int, now: int) -> Made:
    """Visits spread over the last 60 days (some drafts), and tasks around today."""
    rnd = random.Random(15)
    out: Made = []
    for i in range(n_visits):
        c = cards[rnd.randrange(len(cards))]
        at = now - rnd.randrange(1, 60 * DAY)
        rec: dict[str, Any] = {
            "customer_id": c.doc_id, "visit_type": rnd.choice(["visit_out", "call_out"]),
            "started_at": at, "created_at": at, "created_by": me, "met_name": "陈静",
            "purpose": "了解采购计划", "result": "客户确认需求,要求报价", "next_step": "下周报价",
        }
        if i % 10:
            rec["submitted_at"] = at
        out.append(("visit", f"visit:{uuid.UUID(int=rnd.getrandbits(128), version=4)}", rec))
    for i in range(n_tasks):
        c = cards[rnd.randrange(len(cards))]
        start = now + rnd.randrange(-10 * DAY, 10 * DAY)
        rec = {"subject": f"拜访 {c.name}", "task_type": rnd.choice(["visit", "call", "follow_up"]),
               "customer_id": c.doc_id, "planned_start": start, "planned_end": start + 3600_000,
               "remind_at": start - 1800_000, "assignee": me, "priority": "normal",
               "status": "done" if i % 4 == 0 else "open", "created_at": now - 20 * DAY,
               "created_by": me}
        if rec["status"] == "done":
            rec["completed_at"] = start
        out.append(("task", f"task:{uuid.UUID(int=rnd.getrandbits(128), version=4)}", rec))
    return out


async def make(cfg: Config, n_customers: int, n_visits: int, n_tasks: int) -> None:
    cards = await fill(cfg, "rep1", n_customers)
    engine = make_engine(cfg.database)
    rules, policy = SchemaRules(), RecordPolicy()
    try:
        user = await Accounts(engine).by_login("rep1")
        assert user is not None
        rep = Principal(user.id, user.role, frozenset({user.id}))
        owner = {c.doc_id: {"owner": user.id, "created_by": user.id} for c in cards}
        device = f"today-{uuid.uuid4().hex[:8]}"
        async with Log(engine, on_commit=bulk_commit_hooks) as log_:
            writer = Writer(log_)
            recs = _records(cards, user.id, n_visits, n_tasks, int(time.time() * 1000))
            for i, (kind, doc_id, rec) in enumerate(recs):
                doc = new_doc(kind, rec)
                record, layout = rules.read(kind, doc, whole=True)
                if layout:
                    raise RuntimeError(f"a generated {kind} is invalid: {layout[0].message}")
                related = {rec["customer_id"]: owner[rec["customer_id"]]}
                problems = list(rules.validate(kind, None, record, rep, related))
                if problems:
                    raise RuntimeError(f"a generated {kind} is invalid: {problems[0].message}")
                grantees = policy.grantees(DocFacts(doc_id, kind, user.id, record, related))
                await writer.add(Append(
                    doc_id, kind, doc.get_update(), user.id, device, i + 1, now_ms(),
                    new_doc=NewDoc(kind, user.id, device, 0), grantees=grantees,
                    record=record, record_before=None))
            await writer.settle()
    finally:
        await engine.dispose()


# Navigation start to Today's rows on screen (from the records, or from the saved rows while
# a big briefcase is read), then to Today drawn with every record read; the page's clock.
TODAY_DRAWN = """() => new Promise((done) => {
  const out = {};
  const look = () => {
    const el = document.querySelector('#today[data-total]');
    if (el && el.dataset.total !== '' && out.rows === undefined
        && (el.dataset.total === '0' || el.querySelector('.today-row'))) {
      out.rows = performance.now();
    }
    if (el && el.dataset.loaded === '1' && el.dataset.total !== '') {
      out.loaded = performance.now();
      out.ready = Number(document.body.dataset.readyMs);
      out.total = Number(el.dataset.total);
      if (out.rows === undefined) out.rows = out.loaded;
      return done(out);
    }
    requestAnimationFrame(look);
  };
  look();
})"""
# One computation of Today on what the page holds (the screen caches it between changes).
COMPUTE = """() => {
  const w = window.waiqin, u = w.api.session.user, times = [];
  let total = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    total = w.computeToday(w.briefcase, u.id, u.role, Date.now()).total;
    times.push(performance.now() - t0);
  }
  return { ms: times.sort((a, b) => a - b)[2], total };
}"""


def _wait_stored(page: Any, key: str) -> None:
    """Until the app has saved `key` in its meta store (wait_for_function would take the
    promise an async predicate returns for a yes)."""
    deadline = time.monotonic() + 120
    while page.evaluate("async (k) => (await window.waiqin.store.meta(k)) === undefined", key):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not save {key} in 120 s")
        page.wait_for_timeout(200)


def measure(data: Path, expect: int, reopens: int, root: Path | None = None,
            app: Path | None = None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    server = h.start_server(data, cmd=serve_cmd(root, app))
    out: dict[str, Any] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            ctx = browser.new_context(viewport={"width": 390, "height": 844},
                                      device_scale_factor=2, locale="zh-CN", is_mobile=True,
                                      has_touch=True, service_workers="allow")
            ctx.set_default_timeout(600_000)
            page = ctx.new_page()
            page.goto(server.http + "/app/")
            page.fill("#login", "rep1")
            page.fill("#password", DEMO_PASSWORD)
            t0 = time.perf_counter()
            page.click("#login-submit")
            page.wait_for_function(
                "(n) => window.waiqin && window.waiqin.briefcase.infos.size >= n"
                " && window.waiqin.sync.status.state === 'live'", arg=expect, polling=500)
            page.wait_for_function("() => window.waiqin.briefcase.flushed().then(() => true)")
            out["download_s"] = time.perf_counter() - t0
            page.wait_for_function("navigator.serviceWorker.controller !== null")
            # As on a phone used for a while: the customer list was opened once (its saved
            # rows let a big briefcase be read in the background), Today drawn and saved.
            page.evaluate("location.hash = '#/customers'")
            page.wait_for_selector("#customer-list a[data-doc]")
            _wait_stored(page, "listRows")
            page.evaluate("location.hash = '#/'")
            _wait_stored(page, "todayRows")
            for mode in ("online", "offline"):
                ctx.set_offline(mode == "offline")
                rows, loaded, ready = [], [], []
                for _ in range(reopens):
                    page.reload()
                    got = page.evaluate(TODAY_DRAWN)
                    rows.append(got["rows"])
                    loaded.append(got["loaded"])
                    ready.append(got["ready"])
                    out["total"] = got["total"]
                out[f"{mode}_ready_ms"] = ready
                out[f"{mode}_rows_ms"], out[f"{mode}_loaded_ms"] = rows, loaded
            out["compute"] = page.evaluate(COMPUTE)
            out["held"] = page.evaluate("window.waiqin.briefcase.infos.size")
            browser.close()
    finally:
        server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--visits", type=int, default=20_000)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--reopens", type=int, default=3)
    ap.add_argument("--data-cache", type=Path, default=None,
                    help="keep the generated server data here and reuse it on the next run")
    ap.add_argument("--server-root", type=Path,
                    help="run the server and its built app from this source tree instead")
    ap.add_argument("--app-dir", type=Path,
                    help="serve the app built here (WAIQIN_APP_OUT=DIR npm run build)")
    args = ap.parse_args(argv)
    n = args.customers + args.visits + args.tasks
    with h.temp_dir("wq-today") as tmp:
        data = args.data_cache / f"t{n}" if args.data_cache else tmp
        if not (data / "done").exists():
            data.mkdir(parents=True, exist_ok=True)
            cfg = Config.from_env(data_dir=data)
            migrate(cfg.database)
            t0 = time.perf_counter()
            asyncio.run(make(cfg, args.customers, args.visits, args.tasks))
            print(f"generated {args.customers} customers, {args.visits} visits, {args.tasks} "
                  f"tasks for rep1 in {time.perf_counter() - t0:.1f} s")
            (data / "done").touch()
        r = measure(data, n, args.reopens, args.server_root, args.app_dir)
    print(f"first download of {r['held']:,} records: {r['download_s']:.1f} s")
    for mode in ("online", "offline"):
        for what, label in (("ready", "the app started (body data-ready)"),
                            ("rows", "Today's rows on screen"),
                            ("loaded", "Today with every record read")):
            ms = r[f"{mode}_{what}_ms"]
            print(f"reopen {mode}: {label} at {statistics.median(ms):.0f} ms after navigation "
                  f"(median of {len(ms)}: " + ", ".join(f"{x:.0f}" for x in ms) + ")")
    print(f"Today's rows: {r['total']}; one computation of Today: {r['compute']['ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
