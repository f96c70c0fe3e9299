"""A server killed (SIGKILL) in the middle of an upload resumes it at the stored offset."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.blobs.conftest import BlobServer, client, jpeg, make_server, sha


@pytest.fixture
def fresh_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[BlobServer]:
    endpoint = request.getfixturevalue("s3_endpoint") if backend == "s3" else None
    srv = make_server(backend, tmp_path_factory.mktemp(f"crash-{backend}"), endpoint)
    srv.env_extra["BLOBS_TEST_CHECKPOINT"] = str(256 * 1024)
    srv.start()
    yield srv
    srv.stop()


async def offset_of(srv: BlobServer, location: str) -> int:
    async with client(srv) as c:
        r = await c.head(location, headers={"Tus-Resumable": "1.0.0"})
        assert r.status_code == 200, r.status_code
        return int(r.headers["upload-offset"])


@pytest.mark.asyncio
async def test_upload_resumes_after_the_server_is_killed_mid_patch(
    fresh_server: BlobServer,
) -> None:
    srv = fresh_server
    data = jpeg(2200, 1600)
    assert len(data) > 2_000_000
    digest = sha(data)
    tus = {"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}

    async with client(srv) as c:
        r = await c.post(
            "/api/uploads",
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(len(data)),
                "Upload-Metadata": "sha256 {},type {}".format(
                    base64.b64encode(digest.encode()).decode(),
                    base64.b64encode(b"image/jpeg").decode(),
                ),
            },
        )
        assert r.status_code == 201
        location = r.headers["location"]
        first = len(data) // 4
        r = await c.patch(location, content=data[:first], headers={**tus, "Upload-Offset": "0"})
        assert r.headers["upload-offset"] == str(first)

    # A second PATCH sends 1.2 MB and then stalls, as a phone losing signal would.
    stall = asyncio.Event()
    sent = first + 1_200_000

    async def stalling_body() -> AsyncIterator[bytes]:
        yield data[first:sent]
        await stall.wait()
        yield data[sent:]

    doomed = client(srv)
    in_flight = asyncio.create_task(
        doomed.patch(
            location, content=stalling_body(), headers={**tus, "Upload-Offset": str(first)}
        )
    )
    # Wait until the server has vouched for some of those bytes mid-PATCH...
    async with asyncio.timeout(120):  # a bound on the condition, not a race against it
        while await offset_of(srv, location) <= first:  # noqa: ASYNC110 - polls another process
            await asyncio.sleep(0.01)
    checkpointed = await offset_of(srv, location)
    assert first < checkpointed <= sent

    # ...then kill it without warning, in the middle of the request.
    srv.kill()
    stall.set()
    with pytest.raises(httpx.TransportError):
        await in_flight
    await doomed.aclose()
    assert srv.sql("SELECT count(*) FROM blobs") == [(0,)]

    srv.start()
    resumed_at = await offset_of(srv, location)
    assert resumed_at == checkpointed  # nothing vouched for was lost
    async with client(srv) as c:
        # nothing partial became a blob
        assert (await c.get(f"/api/blobs/{digest}")).status_code == 404
        r = await c.patch(
            location, content=data[resumed_at:], headers={**tus, "Upload-Offset": str(resumed_at)}
        )
        assert r.status_code == 204, r.text
        assert r.headers["upload-offset"] == str(len(data))
        r = await c.get(f"/api/blobs/{digest}")
        assert r.status_code == 200
        assert sha(r.content) == digest
