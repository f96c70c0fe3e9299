"""The blob endpoints over real HTTP, against a uvicorn subprocess, on local disk and on S3."""

from __future__ import annotations

import asyncio
import base64
import io

import httpx
import pytest
from PIL import Image

from tests.blobs.conftest import SMALL_MAX, BlobServer, assert_error, client, image, jpeg, pdf, sha


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def put(
    c: httpx.AsyncClient, data: bytes, media_type: str = "image/jpeg", *, digest: str = ""
) -> httpx.Response:
    url = f"/api/blobs/{digest or sha(data)}"
    return await c.put(url, content=data, headers={"Content-Type": media_type})


async def create(
    c: httpx.AsyncClient, data: bytes, media_type: str = "image/jpeg"
) -> httpx.Response:
    return await c.post(
        "/api/uploads",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": meta(sha256=sha(data), type=media_type),
        },
    )


async def patch(c: httpx.AsyncClient, location: str, offset: int, data: bytes) -> httpx.Response:
    return await c.patch(
        location,
        content=data,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )


# --- whole uploads, reads, ranges, caching -------------------------------------------------


@pytest.mark.asyncio
async def test_put_then_get_with_etag_and_ranges(server: BlobServer) -> None:
    data = jpeg(300, 200)
    digest = sha(data)
    async with client(server) as c:
        r = await put(c, data)
        assert r.status_code == 201, r.text
        assert r.json() == {
            "sha256": digest,
            "media_type": "image/jpeg",
            "size": len(data),
            "width": 300,
            "height": 200,
            "stored": True,
        }
        assert r.headers["location"] == f"/api/blobs/{digest}"
        assert server.store_has(digest)

        r = await c.get(f"/api/blobs/{digest}")
        assert r.status_code == 200
        assert r.content == data
        assert r.headers["etag"] == f'"{digest}"'
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["x-content-type-options"] == "nosniff"

        r = await c.get(f"/api/blobs/{digest}", headers={"If-None-Match": f'"{digest}"'})
        assert r.status_code == 304
        assert r.content == b""

        r = await c.get(f"/api/blobs/{digest}", headers={"Range": "bytes=10-19"})
        assert r.status_code == 206
        assert r.content == data[10:20]
        assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"

        r = await c.get(f"/api/blobs/{digest}", headers={"Range": "bytes=-7"})
        assert r.status_code == 206 and r.content == data[-7:]

        r = await c.get(f"/api/blobs/{digest}", headers={"Range": f"bytes={len(data) - 5}-"})
        assert r.status_code == 206 and r.content == data[-5:]

        r = await c.get(f"/api/blobs/{digest}", headers={"Range": f"bytes={len(data)}-"})
        assert_error(r, 416, "range_not_satisfiable")
        assert r.headers["content-range"] == f"bytes */{len(data)}"

        # If-Range with a stale validator: the whole blob, not a part of another version
        r = await c.get(
            f"/api/blobs/{digest}", headers={"Range": "bytes=0-3", "If-Range": '"other"'}
        )
        assert r.status_code == 200 and r.content == data

        r = await c.head(f"/api/blobs/{digest}")
        assert r.status_code == 200
        assert r.headers["content-length"] == str(len(data))


@pytest.mark.asyncio
@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("WEBP", "image/webp")])
async def test_other_image_types_are_accepted(
    server: BlobServer, fmt: str, media_type: str
) -> None:
    data = image(fmt, 40, 30)
    async with client(server) as c:
        r = await put(c, data, media_type)
        assert r.status_code == 201, r.text
        assert (r.json()["width"], r.json()["height"]) == (40, 30)


@pytest.mark.asyncio
async def test_heic_is_accepted_when_pillow_heif_is_installed(server: BlobServer) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    try:
        Image.new("RGB", (64, 32), (10, 200, 30)).save(out, "HEIF")
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"this libheif cannot encode HEIC: {exc}")
    data = out.getvalue()
    async with client(server) as c:
        r = await put(c, data, "image/heic")
        assert r.status_code == 201, r.text
        assert (r.json()["width"], r.json()["height"]) == (64, 32)


@pytest.mark.asyncio
async def test_pdf_is_accepted_and_a_truncated_one_is_not(server: BlobServer) -> None:
    data = pdf()
    async with client(server) as c:
        r = await put(c, data, "application/pdf")
        assert r.status_code == 201, r.text
        assert r.json()["width"] is None
        cut = pdf()[:-40]
        assert_error(await put(c, cut, "application/pdf"), 422, "corrupt_media")


# --- one round trip for bytes the server has -----------------------------------------------


@pytest.mark.asyncio
async def test_existing_bytes_cost_one_round_trip_and_no_storage(server: BlobServer) -> None:
    data = jpeg()
    digest = sha(data)
    async with client(server) as c:
        assert (await put(c, data)).status_code == 201
        again = await put(c, data)
        assert again.status_code == 200
        assert again.json()["stored"] is False

        r = await create(c, data)
        assert r.status_code == 200, r.text
        assert r.headers["upload-offset"] == str(len(data))
        assert r.headers["location"] == f"/api/blobs/{digest}"
    assert server.sql("SELECT count(*) FROM blob_uploads WHERE sha256 = ?", digest) == [(0,)]
    assert server.sql("SELECT count(*) FROM blobs WHERE sha256 = ?", digest) == [(1,)]


@pytest.mark.asyncio
async def test_knowing_a_hash_is_not_enough_to_skip_the_bytes_or_read_them(
    server: BlobServer,
) -> None:
    data = jpeg()
    digest = sha(data)
    async with client(server, "alice") as alice, client(server, "mallory") as mallory:
        assert (await put(alice, data)).status_code == 201
        # mallory names the hash without the bytes: no shortcut, and still no read
        r = await create(mallory, data)
        assert r.status_code == 201
        assert_error(await mallory.get(f"/api/blobs/{digest}"), 404, "not_found")
        # once mallory really sends the bytes, she is an uploader too; nothing is stored twice
        r = await put(mallory, data)
        assert r.status_code == 200 and r.json()["stored"] is False
        assert (await mallory.get(f"/api/blobs/{digest}")).status_code == 200


# --- rights --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_read_rights_follow_records_once_referenced(server: BlobServer) -> None:
    data = jpeg()
    digest = sha(data)
    missing = sha(b"never uploaded")
    async with (
        client(server, "alice") as alice,
        client(server, "bob") as bob,
        client(server, "carol") as carol,
    ):
        assert (await put(alice, data)).status_code == 201
        # unreferenced: its uploader only
        assert (await alice.get(f"/api/blobs/{digest}")).status_code == 200
        forbidden = await bob.get(f"/api/blobs/{digest}")
        absent = await bob.get(f"/api/blobs/{missing}")
        assert_error(forbidden, 404, "not_found")
        assert forbidden.json() == absent.json()  # forbidden and absent look alike
        assert_error(await bob.get(f"/api/blobs/{digest}/thumb"), 404, "not_found")

        # referenced by a record bob can see, and carol cannot: the record decides
        server.mark_referenced(digest)
        server.grant("bob", digest)
        assert (await bob.get(f"/api/blobs/{digest}")).content == data
        assert_error(await carol.get(f"/api/blobs/{digest}"), 404, "not_found")
        assert_error(await alice.get(f"/api/blobs/{digest}"), 404, "not_found")

    async with client(server, None) as anonymous:
        assert_error(await anonymous.get(f"/api/blobs/{digest}"), 401, "unauthorized")
        assert_error(await put(anonymous, data), 401, "unauthorized")


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_hash_mismatch(server: BlobServer) -> None:
    data = jpeg()
    wrong = sha(b"something else")
    async with client(server) as c:
        assert_error(await put(c, data, digest=wrong), 422, "hash_mismatch")
        assert_error(await c.get(f"/api/blobs/{wrong}"), 404, "not_found")
    assert not server.store_has(wrong)
    assert not server.store_has(sha(data))


@pytest.mark.asyncio
async def test_media_type_lies(server: BlobServer) -> None:
    png = image("PNG")
    async with client(server) as c:
        assert_error(await put(c, png, "image/jpeg"), 415, "media_type_mismatch")
        html = b"<html><script>alert(1)</script></html>"
        assert_error(await put(c, html, "image/jpeg"), 415, "media_type_mismatch")
        assert_error(await put(c, html, "text/html"), 415, "unsupported_media_type")
        assert_error(await put(c, png, ""), 415, "unsupported_media_type")
    assert not server.store_has(sha(png))


@pytest.mark.asyncio
async def test_truncated_and_corrupt_images(server: BlobServer) -> None:
    data = jpeg(400, 300)
    truncated = data[: len(data) // 2]
    corrupt = data[:600] + bytes(len(data) - 600)
    async with client(server) as c:
        assert_error(await put(c, truncated), 422, "corrupt_media")
        assert_error(await put(c, corrupt), 422, "corrupt_media")
        png = image("PNG", 100, 100)
        assert_error(await put(c, png[:-30], "image/png"), 422, "corrupt_media")
    for bad in (truncated, corrupt):
        assert not server.store_has(sha(bad))
        assert server.sql("SELECT count(*) FROM blobs WHERE sha256 = ?", sha(bad)) == [(0,)]


@pytest.mark.asyncio
async def test_oversize(server: BlobServer) -> None:
    big = b"\xff\xd8\xff" + bytes(SMALL_MAX)
    async with client(server) as c:
        # declared too large: refused before any byte is read
        assert_error(await put(c, big), 413, "too_large")

        # no Content-Length (chunked): refused as the body runs past the limit
        async def body():  # type: ignore[no-untyped-def]
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536]

        r = await c.put(
            f"/api/blobs/{sha(big)}", content=body(), headers={"Content-Type": "image/jpeg"}
        )
        assert_error(r, 413, "too_large")
        assert_error(await create(c, big), 413, "too_large")

        data = jpeg()
        r = await create(c, data)
        assert r.status_code == 201
        assert_error(await patch(c, r.headers["location"], 0, data + b"extra"), 413, "too_large")
    assert list(server.chunks.glob("put-*")) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/api/blobs/abc",
        "/api/blobs/" + "A" * 64,
        "/api/blobs/..%2F..%2Fetc%2Fpasswd",
        "/api/blobs/%2E%2E",
        "/api/blobs/" + "a" * 64 + "/..%2F..%2Fx",
        "/api/uploads/..%2Fblobs.sqlite",
        "/api/uploads/not-an-id",
    ],
)
async def test_malformed_and_traversing_ids(server: BlobServer, path: str) -> None:
    async with client(server) as c:
        for method in ("GET", "PUT", "PATCH", "HEAD"):
            r = await c.request(
                method,
                httpx.URL(server.url + path),
                content=b"x",
                headers={"Content-Type": "image/jpeg", "Upload-Offset": "0"},
            )
            if method == "HEAD":
                assert r.status_code == 400
            else:
                assert_error(r, 400, "bad_id")


@pytest.mark.asyncio
async def test_malformed_upload_metadata(server: BlobServer) -> None:
    async with client(server) as c:
        r = await c.post(
            "/api/uploads",
            headers={
                "Upload-Length": "10",
                "Upload-Metadata": meta(sha256="../x", type="image/jpeg"),
            },
        )
        assert_error(r, 400, "bad_id")
        r = await c.post("/api/uploads", headers={"Upload-Metadata": meta(sha256="a" * 64)})
        assert_error(r, 400, "bad_request")
        r = await c.post(
            "/api/uploads",
            headers={"Upload-Length": "10", "Upload-Metadata": "sha256 !!!notbase64"},
        )
        assert_error(r, 400, "bad_request")
        r = await c.post("/api/uploads", headers={"Tus-Resumable": "0.2.2", "Upload-Length": "10"})
        assert_error(r, 412, "unsupported_version")


# --- resumable uploads ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_resumable_upload_in_pieces(server: BlobServer) -> None:
    data = jpeg(1200, 900)
    digest = sha(data)
    async with client(server) as c, client(server, "bob") as bob:
        r = await c.options("/api/uploads")
        assert r.status_code == 204
        assert "creation" in r.headers["tus-extension"]
        assert r.headers["tus-max-size"] == str(SMALL_MAX)

        r = await create(c, data)
        assert r.status_code == 201, r.text
        location = r.headers["location"]
        assert location.startswith("/api/uploads/")
        assert r.headers["tus-resumable"] == "1.0.0"

        r = await c.head(location)
        assert r.headers["upload-offset"] == "0"
        assert r.headers["upload-length"] == str(len(data))
        assert (await bob.head(location)).status_code == 404  # someone else's upload

        cut = len(data) * 7 // 10
        r = await patch(c, location, 0, data[:cut])
        assert r.status_code == 204, r.text
        assert r.headers["upload-offset"] == str(cut)
        assert (await c.head(location)).headers["upload-offset"] == str(cut)
        # nothing partial is a blob
        assert_error(await c.get(f"/api/blobs/{digest}"), 404, "not_found")

        r = await patch(c, location, 0, data)
        assert_error(r, 409, "offset_mismatch")
        assert r.headers["upload-offset"] == str(cut)

        r = await c.patch(
            location,
            content=data[cut:],
            headers={"Upload-Offset": str(cut), "Content-Type": "application/octet-stream"},
        )
        assert_error(r, 415, "unsupported_media_type")

        r = await patch(c, location, cut, data[cut:])
        assert r.status_code == 204, r.text
        assert r.headers["upload-offset"] == str(len(data))
        assert (await c.head(location)).headers["upload-offset"] == str(len(data))
        # a retried last PATCH (its answer was lost) is told the upload is complete
        assert_error(await patch(c, location, cut, data[cut:]), 409, "offset_mismatch")

        r = await c.get(f"/api/blobs/{digest}")
        assert r.status_code == 200 and r.content == data
    assert not (server.chunks / f"{location.rsplit('/', 1)[1]}.part").exists()


@pytest.mark.asyncio
async def test_resumable_upload_with_wrong_hash_or_corrupt_bytes_ends(server: BlobServer) -> None:
    data = jpeg()
    liar = data[:-10] + b"0123456789"
    async with client(server) as c:
        r = await c.post(
            "/api/uploads",
            headers={
                "Upload-Length": str(len(data)),
                "Upload-Metadata": meta(sha256=sha(liar), type="image/jpeg"),
            },
        )
        location = r.headers["location"]
        assert_error(await patch(c, location, 0, data), 422, "hash_mismatch")
        assert not (server.chunks / f"{location.rsplit('/', 1)[1]}.part").exists()
        assert_error(await c.get(location), 404, "not_found")  # the upload is over

        truncated = data[: len(data) // 3]
        r = await create(c, truncated)
        assert_error(await patch(c, r.headers["location"], 0, truncated), 422, "corrupt_media")
        assert_error(await c.get(f"/api/blobs/{sha(truncated)}"), 404, "not_found")

        png = image("PNG")
        r = await create(c, png, "image/webp")
        assert_error(await patch(c, r.headers["location"], 0, png), 415, "media_type_mismatch")


@pytest.mark.asyncio
async def test_termination(server: BlobServer) -> None:
    data = jpeg()
    async with client(server) as c:
        location = (await create(c, data)).headers["location"]
        assert (await patch(c, location, 0, data[:100])).status_code == 204
        assert (await c.delete(location, headers={"Tus-Resumable": "1.0.0"})).status_code == 204
        assert (await c.head(location)).status_code == 404


@pytest.mark.asyncio
async def test_a_second_patch_while_one_is_writing_is_locked_out(server: BlobServer) -> None:
    data = jpeg(2000, 1500)  # about 2.2 MB: past one write buffer and checkpoint (1 MiB)
    held_at = 1024 * 1024 + 100_000
    assert held_at < len(data) < SMALL_MAX
    release = asyncio.Event()

    async def held_body():  # type: ignore[no-untyped-def]
        yield data[:held_at]
        await release.wait()  # the test's barrier: the first PATCH holds the upload until set
        yield data[held_at:]

    async with client(server) as c, client(server) as other:
        location = (await create(c, data)).headers["location"]
        first = asyncio.create_task(c.patch(location, content=held_body(), headers={
            "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}))
        # The server vouches for a first part (a checkpoint) while the request is still
        # open: from then on the first PATCH holds the upload, whatever the machine's load.
        # Which part depends on how the socket's reads cut the body: past one write buffer
        # (1 MiB), short of `held_at` or not; never nothing once `held_at` bytes are in.
        async with asyncio.timeout(120):  # a bound on the condition, not a race against it
            while True:  # noqa: ASYNC110 - polls the server over HTTP
                head = await other.head(location, headers={"Tus-Resumable": "1.0.0"})
                if int(head.headers["upload-offset"]) > 0:
                    break
                assert not first.done(), first.result()
                await asyncio.sleep(0.01)
        second = await patch(other, location, 0, data)
        assert_error(second, 423, "upload_locked")
        release.set()
        r = await first
        assert r.status_code == 204 and r.headers["upload-offset"] == str(len(data))


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_concurrent_uploads_of_one_blob_end_in_one_blob(server: BlobServer) -> None:
    data = jpeg(1000, 800)
    digest = sha(data)

    async def by_put(user: str) -> int:
        async with client(server, user) as c:
            return (await put(c, data)).status_code

    async def by_tus(user: str) -> int:
        async with client(server, user) as c:
            r = await create(c, data)
            if r.status_code == 200:
                return 200
            return (await patch(c, r.headers["location"], 0, data)).status_code

    statuses = await asyncio.gather(
        by_put("u1"), by_put("u2"), by_tus("u3"), by_tus("u4"), by_put("u1"), by_tus("u3")
    )
    assert set(statuses) <= {200, 201, 204}, statuses
    assert server.sql("SELECT count(*) FROM blobs WHERE sha256 = ?", digest) == [(1,)]
    uploaders = server.sql("SELECT user_id FROM blob_uploaders WHERE sha256 = ?", digest)
    assert sorted(u for (u,) in uploaders) == ["u1", "u2", "u3", "u4"]
    async with client(server, "u4") as c:
        assert (await c.get(f"/api/blobs/{digest}")).content == data


# --- thumbnails ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_thumbnail_is_upright_cached_and_conditional(server: BlobServer) -> None:
    data = jpeg(400, 200, orientation=6)  # stored landscape, shown portrait
    digest = sha(data)
    async with client(server) as c:
        r = await put(c, data)
        assert (r.json()["width"], r.json()["height"]) == (200, 400)
        r = await c.get(f"/api/blobs/{digest}/thumb", params={"size": "128"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/jpeg"
        thumb = Image.open(io.BytesIO(r.content))
        assert thumb.format == "JPEG"
        assert thumb.size == (64, 128)
        assert server.store_has(f"{digest}.thumb-128")
        etag = r.headers["etag"]
        assert etag != f'"{digest}"'

        again = await c.get(f"/api/blobs/{digest}/thumb", params={"size": "128"})
        assert again.content == r.content
        r = await c.get(
            f"/api/blobs/{digest}/thumb", params={"size": "128"}, headers={"If-None-Match": etag}
        )
        assert r.status_code == 304

        default = await c.get(f"/api/blobs/{digest}/thumb")
        assert Image.open(io.BytesIO(default.content)).size == (128, 256)

        assert_error(await c.get(f"/api/blobs/{digest}/thumb?size=7"), 400, "bad_request")
        assert_error(await c.get(f"/api/blobs/{digest}/thumb?size=x"), 400, "bad_request")

        doc = pdf()
        await put(c, doc, "application/pdf")
        r = await c.get(f"/api/blobs/{sha(doc)}/thumb")  # a PDF has no such representation
        assert_error(r, 404, "not_found")
