"""Fixtures for the blob tests: a local S3-compatible server (moto), the test app under a real
uvicorn on a free port, one per storage backend, and makers of real image bytes."""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SMALL_MAX = 4 * 1024 * 1024  # the servers' size limit, small so that oversize tests are cheap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_until(lambda: port_open(port), what="moto server")
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def new_bucket(endpoint: str) -> str:
    name = f"blobs-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


@dataclass
class BlobServer:
    """The test app under uvicorn in a subprocess, which a test may kill and restart."""

    backend: str
    workdir: Path
    store_spec: str
    s3_endpoint: str | None = None
    bucket: str | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    env_extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.workdir / "blobs.sqlite"

    @property
    def chunks(self) -> Path:
        return self.workdir / "uploads"

    def start(self) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "BLOBS_TEST_DB": str(self.db),
            "BLOBS_TEST_STORE": self.store_spec,
            "BLOBS_TEST_CHUNKS": str(self.chunks),
            "BLOBS_TEST_MAX_SIZE": str(SMALL_MAX),
            **self.env_extra,
        }
        log = open(self.workdir / "server.log", "ab")  # handed to the child
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app_for_tests:app",
                "--app-dir",
                str(HERE),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--lifespan",
                "on",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self._ready, what=f"uvicorn on {self.port}; see {self.workdir}/server.log")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.workdir / "server.log").read_text(errors="replace")
            raise RuntimeError(f"the test server died:\n{log}")
        return port_open(self.port)

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no flushing, as when the machine loses power."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # Direct looks at the server's state, as an operator would.
    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(query, args).fetchall()

    def grant(self, user: str, sha256: str) -> None:
        self.sql("INSERT OR IGNORE INTO test_grants (user_id, sha256) VALUES (?, ?)", user, sha256)

    def mark_referenced(self, sha256: str) -> None:
        self.sql("UPDATE blobs SET referenced_at = '2030-01-01 00:00:00' WHERE sha256 = ?", sha256)

    def store_has(self, key: str) -> bool:
        if self.backend == "local":
            return (self.workdir / "blobs" / key[0:2] / key[2:4] / key).exists()
        assert self.s3_endpoint is not None
        found = s3_client(self.s3_endpoint).list_objects_v2(Bucket=self.bucket, Prefix=key)
        return any(obj["Key"] == key for obj in found.get("Contents", []))


def make_server(backend: str, workdir: Path, s3_endpoint: str | None) -> BlobServer:
    if backend == "local":
        return BlobServer(backend, workdir, f"local:{workdir / 'blobs'}")
    assert s3_endpoint is not None
    bucket = new_bucket(s3_endpoint)
    return BlobServer(backend, workdir, f"s3:{s3_endpoint}|{bucket}", s3_endpoint, bucket)


@pytest.fixture(scope="module", params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[BlobServer]:
    endpoint = request.getfixturevalue("s3_endpoint") if backend == "s3" else None
    srv = make_server(backend, tmp_path_factory.mktemp(f"srv-{backend}"), endpoint)
    srv.start()
    yield srv
    srv.stop()


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user}"}


def client(srv: BlobServer, user: str | None = "alice") -> httpx.AsyncClient:
    headers = auth(user) if user else {}
    return httpx.AsyncClient(base_url=srv.url, headers=headers, timeout=30)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jpeg(width: int = 320, height: int = 240, *, orientation: int | None = None) -> bytes:
    """A real JPEG of noise (so every call differs and nothing compresses away)."""
    im = Image.frombytes("RGB", (width, height), random.randbytes(width * height * 3))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    im.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def image(fmt: str, width: int = 64, height: int = 48) -> bytes:
    im = Image.frombytes("RGB", (width, height), random.randbytes(width * height * 3))
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 50), (random.randrange(256), 0, 0)).save(out, "PDF")
    return out.getvalue()


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """Every error has the one shape: {"error": {"code": ..., "message": ...}}."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
