"""Upload throughput of photos from many devices at once, and the server's peak memory.

    .venv/bin/python bench/blobs.py [--photos 200] [--clients 20] [--mode tus|put]

Makes real 1.5 MB JPEGs (noise, so nothing compresses away or deduplicates), starts the
blob test app under uvicorn on a free port (local-disk store, SQLite), and has N client
processes upload them concurrently. Prints MB/s, photos/s and the server's peak RSS (VmHWM):
memory must stay far below the bytes uploaded, because bodies are streamed, never held.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import multiprocessing as mp
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "tests" / "blobs"


def make_photo(args: tuple[Path, int, int]) -> int:
    """A ~1.5 MB JPEG of noise: 1600x1250 at quality 85."""
    folder, index, seed = args
    rnd = random.Random(seed)
    im = Image.frombytes("RGB", (1600, 1250), rnd.randbytes(1600 * 1250 * 3))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    (folder / f"{index:04d}.jpg").write_bytes(out.getvalue())
    return len(out.getvalue())


def upload_all(url: str, user: str, files: list[Path], mode: str, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {user}"}, timeout=120) as c:
        for path in files:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if mode == "put":
                r = c.put(
                    f"/api/blobs/{digest}", content=data, headers={"Content-Type": "image/jpeg"}
                )
                assert r.status_code in (200, 201), r.text
                continue
            meta = "sha256 {},type {}".format(
                base64.b64encode(digest.encode()).decode(), base64.b64encode(b"image/jpeg").decode()
            )
            r = c.post(
                "/api/uploads",
                headers={
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": str(len(data)),
                    "Upload-Metadata": meta,
                },
            )
            assert r.status_code == 201, r.text
            r = c.patch(
                r.headers["location"],
                content=data,
                headers={
                    "Tus-Resumable": "1.0.0",
                    "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            assert r.status_code == 204, r.text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--mode", choices=["tus", "put"], default="tus")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-blobs-") as tmp:
        work = Path(tmp)
        photos = work / "photos"
        photos.mkdir()
        seeds = [(photos, i, random.randrange(2**32)) for i in range(args.photos)]
        with mp.Pool() as pool:
            sizes = pool.map(make_photo, seeds)
        total = sum(sizes)
        print(f"{args.photos} photos, {total / args.photos / 1e6:.2f} MB each on average")

        port = free_port()
        env = {
            **os.environ,
            "BLOBS_TEST_DB": str(work / "blobs.sqlite"),
            "BLOBS_TEST_STORE": f"local:{work / 'blobs'}",
            "BLOBS_TEST_CHUNKS": str(work / "uploads"),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app_for_tests:app",
                "--app-dir",
                str(APP_DIR),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.05)
            rss_idle = proc_status(server.pid, "VmRSS")

            files = sorted(photos.iterdir())
            start = mp.Event()
            workers = [
                mp.Process(
                    target=upload_all,
                    args=(
                        f"http://127.0.0.1:{port}",
                        f"device{i}",
                        files[i :: args.clients],
                        args.mode,
                        start,
                    ),
                )
                for i in range(args.clients)
            ]
            for w in workers:
                w.start()
            began = time.perf_counter()
            start.set()
            for w in workers:
                w.join()
            elapsed = time.perf_counter() - began
            if any(w.exitcode != 0 for w in workers):
                raise SystemExit("a client failed")
            peak = proc_status(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait()
        with sqlite3.connect(work / "blobs.sqlite") as db:
            (count,) = db.execute("SELECT count(*) FROM blobs").fetchone()
        assert count == args.photos, f"{count} blobs stored, expected {args.photos}"

        print(f"mode {args.mode}, {args.clients} concurrent clients, {elapsed:.2f} s")
        print(f"throughput: {total / elapsed / 1e6:.1f} MB/s, {args.photos / elapsed:.1f} photos/s")
        print(
            f"server RSS: {rss_idle / 2**20:.0f} MiB idle, peak {peak / 2**20:.0f} MiB "
            f"for {total / 2**20:.0f} MiB uploaded"
        )


if __name__ == "__main__":
    main()
