"""The field app at a big briefcase: first login of a rep who holds N customers, in
Debian's Chromium at 390x844 (Playwright), against a real `waiqin serve`.

    .venv/bin/python -m bench.pwa_scale                  # N = 50000
    .venv/bin/python -m bench.pwa_scale -n 20000 50000 --data-cache /tmp/wq-scale

Prints, per N: server side (time to generate, catch-up bytes), the download (first card,
complete, IndexedDB flushed), whether the rows on screen moved while cards arrived, search
answer times during and after the download, JS heap peak, and reopen times online and
offline. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h
from bench.briefcase import fill
from server.config import Config
from server.db import migrate

CHROMIUM = os.environ.get("WAIQIN_CHROMIUM", "/usr/bin/chromium")
DEMO_PASSWORD = "waiqin-demo"

# In every page: when the first customer card appeared, and a cheap sampler the bench reads.
PROBE = """
(() => {
  const seen = { firstCard: null };
  window.__probe = seen;
  new MutationObserver(() => {
    if (seen.firstCard === null && document.querySelector('#customer-list a[data-doc]')) {
      seen.firstCard = performance.now();
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""

# The rows inside the viewport: doc id -> top edge (px).
ROWS_ON_SCREEN = """() => {
  // Below the sticky header, sync bar and search box, above the bottom of the window.
  let cover = 0;
  for (const sel of ['header.top', '.syncbar', '.page > .toolbar']) {
    const el = document.querySelector(sel);
    if (el) cover = Math.max(cover, el.getBoundingClientRect().bottom);
  }
  const out = {};
  for (const a of document.querySelectorAll('#customer-list a[data-doc]')) {
    const r = a.getBoundingClientRect();
    if (r.bottom > cover && r.top < innerHeight) out[a.dataset.doc] = Math.round(r.top);
  }
  return out;
}"""

# Type a needle into the search box, as a keystroke would, and time until the list shows
# only rows that contain it (and at least one); null after 10 s.
SEARCH = """async (needle) => {
  const input = document.querySelector('#search');
  const t0 = performance.now();
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  setter.call(input, needle);
  input.dispatchEvent(new Event('input', { bubbles: true }));
  const ok = () => {
    const names = [...document.querySelectorAll('#customer-list a[data-doc]')]
      .map((a) => a.textContent);
    return names.length > 0 && names.every((n) => n.includes(needle));
  };
  // A search that shows no answer in 10 s counts as none (the bench goes on).
  while (!ok()) {
    if (performance.now() - t0 > 10000) return null;
    await new Promise((r) => requestAnimationFrame(r));
  }
  return performance.now() - t0;
}"""

CLEAR = """async () => {
  const input = document.querySelector('#search');
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  setter.call(input, '');
  input.dispatchEvent(new Event('input', { bubbles: true }));
  await new Promise((r) => requestAnimationFrame(r));
}"""

# A needle for a search while a reopened briefcase is read: the name of a row on the screen.
READ_NEEDLE = """() => {
  const names = [...document.querySelectorAll('#customer-list a[data-doc] .name')];
  return names[Math.min(3, names.length - 1)].textContent;
}"""

HELD = """() => {
  const b = window.waiqin && window.waiqin.briefcase;
  const state = window.waiqin ? window.waiqin.sync.status.state : '';
  return { held: b ? b.infos.size : 0, state };
}"""


def _prepare(n: int, cache: Path | None) -> tuple[Path, float, bool]:
    """A data dir holding the demo team and rep1's n customers (made once per cache dir)."""
    if cache is not None:
        data = cache / f"n{n}"
        if (data / "done").exists():
            return data, 0.0, True
        shutil.rmtree(data, ignore_errors=True)
    else:
        data = Path(tempfile.mkdtemp(prefix=f"waiqin-scale-{n}-"))
    data.mkdir(parents=True, exist_ok=True)
    cfg = Config.from_env(data_dir=data)
    migrate(cfg.database)
    t = time.perf_counter()
    asyncio.run(fill(cfg, "rep1", n))
    made = time.perf_counter() - t
    (data / "done").write_text(str(n))
    return data, made, False


def _browser(pw: Any) -> Any:
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"],
    )


def serve_cmd(root: Path | None = None, app: Path | None = None) -> list[str]:
    """`waiqin serve --demo` for h.start_server: this tree's, or another tree's server and
    built app (`root`, e.g. a `git archive <commit>`, for before/after), serving the app
    built in `app` instead of its own when given (`WAIQIN_APP_OUT=DIR npm run build`)."""
    serve = ["serve", "--demo", "--data", "{data}", "--port", "{port}", "--log-level", "warning"]
    if root is None and app is None:
        return [str(h.BIN / "waiqin"), *serve]
    boot = "import sys; "
    if root is not None:
        boot += f"sys.path.insert(0, {str(root.resolve())!r}); "
    if app is not None:
        boot += (f"from pathlib import Path; import server.app as a; "
                 f"a.app_dir = lambda: Path({str(app.resolve())!r}); ")
    boot += "from server.cli import main; sys.exit(main())"
    return [sys.executable, "-c", boot, *serve]


def run_one(n: int, cache: Path | None, root: Path | None = None,
            app: Path | None = None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    data, made_s, reused = _prepare(n, cache)
    server = h.start_server(data, cmd=serve_cmd(root, app))
    out: dict[str, Any] = {"n": n, "generate_s": made_s, "reused": reused}
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            ctx = browser.new_context(viewport={"width": 390, "height": 844},
                                      device_scale_factor=2, locale="zh-CN", is_mobile=True,
                                      has_touch=True, service_workers="allow")
            ctx.set_default_timeout(120_000)
            ctx.add_init_script(PROBE)
            page = ctx.new_page()
            cdp = ctx.new_cdp_session(page)
            received = {"bytes": 0, "frames": 0}

            def on_ws(ws: Any) -> None:
                def frame(payload: Any) -> None:
                    received["frames"] += 1
                    received["bytes"] += len(payload)

                ws.on("framereceived", frame)

            page.on("websocket", on_ws)
            page.goto(server.http + "/app/#/customers")
            page.fill("#login", "rep1")
            page.fill("#password", DEMO_PASSWORD)
            t0 = time.perf_counter()
            page.click("#login-submit")
            heap: list[int] = []
            searches: list[float | None] = []
            moves, samples = 0, 0
            first_card = None
            prev: dict[str, int] | None = None
            scrolled = False
            last_note = 0.0
            while True:
                st = page.evaluate(HELD)
                now = time.perf_counter() - t0
                heap.append(cdp.send("Runtime.getHeapUsage")["usedSize"])
                if first_card is None and page.query_selector("#customer-list a[data-doc]"):
                    first_card = now
                if st["state"] == "live" and st["held"] >= n:
                    out["complete_s"] = now
                    break
                if first_card is not None and not scrolled and st["held"] > 2000:
                    # A rep scrolls a little into the list, then holds still.
                    page.mouse.wheel(0, 1500)
                    page.wait_for_timeout(300)
                    scrolled, prev = True, None
                    continue
                if scrolled:
                    rows = page.evaluate(ROWS_ON_SCREEN)
                    if prev is not None:
                        samples += 1
                        moves += sum(1 for d, y in rows.items() if d in prev and prev[d] != y)
                        moves += sum(1 for d in prev if d not in rows)
                    prev = rows
                if scrolled and len(searches) < 3 and st["held"] > n * (len(searches) + 1) / 5:
                    needle = page.evaluate(
                        "() => { const xs = [...window.waiqin.briefcase.infos.values()];"
                        " return String(xs[Math.floor(xs.length / 2)].record.name); }")
                    searches.append(page.evaluate(SEARCH, needle))
                    page.evaluate(CLEAR)
                    prev = None
                if now - last_note >= 5:
                    last_note = now
                    print(f"  .. {now:5.1f} s: {st['held']:,} held, {st['state']}, "
                          f"{received['frames']:,} frames, heap {heap[-1] / 1e6:.0f} MB",
                          file=sys.stderr, flush=True)
                if now > 600:
                    raise RuntimeError(f"download not complete after 600 s: {st}")
                page.wait_for_timeout(100)
            t_flush = time.perf_counter()
            page.evaluate("() => window.waiqin.briefcase.flushed()")
            out["flushed_s"] = out["complete_s"] + time.perf_counter() - t_flush
            out["first_card_s"] = first_card
            out["moves"], out["samples"] = moves, samples
            out["search_during_ms"] = searches
            out["bytes_received"], out["frames"] = received["bytes"], received["frames"]
            after: list[float | None] = []
            for _ in range(5):
                needle = page.evaluate(
                    "() => { const xs = [...window.waiqin.briefcase.infos.values()];"
                    " return String(xs[Math.floor(Math.random() * xs.length)].record.code); }")
                after.append(page.evaluate(SEARCH, needle))
                page.evaluate(CLEAR)
            out["search_after_ms"] = after
            heap.append(cdp.send("Runtime.getHeapUsage")["usedSize"])
            out["heap_peak_mb"] = max(heap) / 1e6
            # What stays once garbage is collected (the peak above counts garbage too).
            cdp.send("HeapProfiler.collectGarbage")
            out["heap_live_mb"] = cdp.send("Runtime.getHeapUsage")["usedSize"] / 1e6
            page.wait_for_function("navigator.serviceWorker.controller !== null")
            reopen: dict[str, list[float]] = {"online": [], "offline": []}
            read: dict[str, list[float]] = {"online": [], "offline": []}
            reopen_heap: list[int] = []
            # Per reopen: the heap used just before the reload (the page left behind, whose
            # garbage the renderer keeps a while) and the peak until every record is read.
            reopen_each: list[tuple[float, float]] = []
            search_reopen: list[float | None] = []
            for mode in ("online", "offline"):
                ctx.set_offline(mode == "offline")
                for _ in range(3):
                    page.wait_for_timeout(1500)  # the list saves its snapshot 1 s after a change
                    # Garbage collected first: a reopen's peak then counts this page's live
                    # heap until it is gone, not the garbage of the reopens before it (the
                    # renderer keeps it across reloads; an app launched anew starts clean).
                    cdp.send("HeapProfiler.collectGarbage")
                    before = cdp.send("Runtime.getHeapUsage")["usedSize"]
                    mark = len(reopen_heap)
                    page.reload()
                    page.wait_for_selector("#customer-list a[data-doc]")
                    page.wait_for_function("window.__probe.firstCard !== null")
                    reopen[mode].append(page.evaluate("window.__probe.firstCard"))
                    # While the records are read: a search for a card on the screen, and the
                    # heap sampled every 50 ms until every record is read.
                    if page.evaluate("!window.waiqin.briefcase.isLoaded"):
                        needle = page.evaluate(READ_NEEDLE)
                        search_reopen.append(page.evaluate(SEARCH, needle))
                        page.evaluate(CLEAR)
                    while True:
                        reopen_heap.append(cdp.send("Runtime.getHeapUsage")["usedSize"])
                        if page.evaluate("window.waiqin.briefcase.isLoaded !== false"):
                            break
                        page.wait_for_timeout(50)
                    read[mode].append(page.evaluate("performance.now()"))
                    reopen_each.append((before / 1e6, max(reopen_heap[mark:]) / 1e6))
            ctx.set_offline(False)
            out["reopen_ms"], out["read_ms"] = reopen, read
            out["search_reopen_ms"] = search_reopen
            out["heap_reopen_mb"] = max(reopen_heap) / 1e6
            out["heap_reopen_each_mb"] = reopen_each
            # (an app from before the background read has no isLoaded: it read everything first)
            page.wait_for_function("window.waiqin.briefcase.isLoaded !== false", timeout=120_000)
            cdp.send("HeapProfiler.collectGarbage")
            out["heap_reopen_live_mb"] = cdp.send("Runtime.getHeapUsage")["usedSize"] / 1e6
            ctx.close()
            browser.close()
    finally:
        server.stop()
        if cache is None:
            shutil.rmtree(data, ignore_errors=True)
    return out


def _ms(xs: list[float | None]) -> str:
    return ", ".join("none in 10 s" if x is None else f"{x:.0f}" for x in xs)


def report(r: dict[str, Any]) -> None:
    med = statistics.median
    print(f"\n== {r['n']:,} customers (rep1) ==")
    gen = "reused from the cache" if r["reused"] else f"{r['generate_s']:.1f} s"
    print(f"  server: briefcase generated {gen}; catch-up {r['frames']:,} frames, "
          f"{r['bytes_received'] / 1e6:.1f} MB received")
    print(f"  download: first card {r['first_card_s']:.2f} s, complete {r['complete_s']:.2f} s, "
          f"in IndexedDB {r['flushed_s']:.2f} s after login")
    print(f"  steady list: {r['moves']} row moves in {r['samples']} samples while holding still")
    print(f"  search during download: {_ms(r['search_during_ms'])} ms; "
          f"after: {_ms(r['search_after_ms'])} ms")
    print(f"  JS heap: download peak {r['heap_peak_mb']:.0f} MB used, {r['heap_live_mb']:.0f} MB "
          f"live after GC; reopen peak {r['heap_reopen_mb']:.0f} MB used (every 50 ms while "
          f"the records are read), {r['heap_reopen_live_mb']:.0f} MB live once all are read")
    if r.get("heap_reopen_each_mb"):
        print("  JS heap per reopen, used before the reload -> peak: " + ", ".join(
            f"{a:.0f} -> {b:.0f}" for a, b in r["heap_reopen_each_mb"]) + " MB")
    for mode, xs in r["reopen_ms"].items():
        print(f"  reopen {mode}: first card at " + ", ".join(f"{x:.0f}" for x in xs)
              + f" ms (median {med(xs):.0f}); every record read at "
              + ", ".join(f"{x:.0f}" for x in r["read_ms"][mode]) + " ms")
    if r["search_reopen_ms"]:
        print(f"  search while a reopened briefcase is read: {_ms(r['search_reopen_ms'])} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, nargs="+", default=[50_000])
    ap.add_argument("--data-cache", type=Path, help="keep generated briefcases here")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--server-root", type=Path,
                    help="run the server and its built app from this source tree instead")
    ap.add_argument("--app-dir", type=Path,
                    help="serve the app built here (WAIQIN_APP_OUT=DIR npm run build)")
    args = ap.parse_args(argv)
    busy0 = h.machine_busy()
    results = []
    for n in args.n:
        r = run_one(n, args.data_cache, args.server_root, args.app_dir)
        report(r)
        results.append(r)
    busy1 = h.machine_busy()
    print(f"\nmachine busy {100 * (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9):.0f}% "
          f"of {os.cpu_count()} cores during the run")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
