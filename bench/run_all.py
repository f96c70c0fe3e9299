"""Every benchmark in one go, with the settings `docs/performance.md` records.

    .venv/bin/python -m bench.run_all [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import catchup, storm, throughput


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, to check the benches run")
    args = ap.parse_args(argv)
    steps = [
        ("catch-up", catchup.main, ["-n", "100", "1000"] if args.quick else []),
        ("throughput + peers (pycrdt-websocket, Hocuspocus)", throughput.main,
         ["--db", "both", "--compare", "-m", "300" if args.quick else "3000",
          "--baseline-updates", "100" if args.quick else "300"]),
        ("throughput, PostgreSQL, 2 instances", throughput.main,
         ["--db", "postgres", "--instances", "2", "-m", "300" if args.quick else "3000"]),
        ("storm, SQLite", storm.main, ["--reps", "5", "--devices", "4"] if args.quick else []),
        ("storm, PostgreSQL", storm.main,
         ["--db", "postgres"] + (["--reps", "5", "--devices", "4"] if args.quick else [])),
        ("storm, PostgreSQL, 2 instances", storm.main,
         ["--db", "postgres", "--instances", "2"]
         + (["--reps", "5", "--devices", "4"] if args.quick else [])),
    ]
    for title, fn, fn_args in steps:
        print(f"\n== {title}: {' '.join(fn_args)}  ({time.strftime('%H:%M:%S')})", flush=True)
        fn(fn_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
