"""Photos through the real app: uploaded by a rep, named by a record, readable by exactly
those who can see that record."""

from __future__ import annotations

import hashlib
import io

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from schema import samples
from schema.ydoc import write_record
from server.attachments import named_blobs
from server.blobs import blobs as blob_table
from sync.client import SyncClient
from tests.conftest import LiveServer

pytestmark = pytest.mark.asyncio


def photo() -> bytes:
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


async def test_a_photo_is_readable_by_who_sees_its_record(live_server: LiveServer) -> None:
    team = live_server.team
    data = photo()
    sha = hashlib.sha256(data).hexdigest()

    def client(login: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=live_server.url,
                                 headers={"Authorization": f"Bearer {live_server.tokens[login]}"})

    async with client("rep1") as rep1, client("manager") as boss, client("rep3") as other:
        r = await rep1.put(f"/api/blobs/{sha}", content=data,
                           headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 201, r.text
        assert (await rep1.get(f"/api/blobs/{sha}")).content == data  # the uploader
        # not yet named by any record: nobody else may read it
        assert (await boss.get(f"/api/blobs/{sha}")).status_code == 404

        dev = SyncClient("phone")
        visit_id = samples.new_id("visit")
        async with dev.connect(f"{live_server.ws}/sync", live_server.tokens["rep1"]):
            await dev.wait_caught_up()
            write_record(dev.doc(visit_id), "visit", samples.visit(
                created_by=team.rep1.id,
                attachments=[samples.attachment(sha256=sha, size=len(data), width=64,
                                                height=48)]))
            await dev.wait_flushed()
            assert not dev.errors, dev.errors

        r = await boss.get(f"/api/blobs/{sha}")  # the manager sees the visit
        assert r.status_code == 200 and r.content == data
        assert r.headers["etag"].strip('"') == sha
        thumb = await boss.get(f"/api/blobs/{sha}/thumb", params={"size": "256"})
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        r = await other.get(f"/api/blobs/{sha}")  # another team: as if it did not exist
        assert r.status_code == 404 and r.json()["error"]["code"]
        # the record's commit marked the blob as in use, so it is not collected
        async with live_server.services.engine.connect() as conn:
            row = (await conn.execute(select(blob_table).where(blob_table.c.sha256 == sha))).one()
        assert row.referenced_at is not None
        # and the orphan sweep's "does a record still name it" answers from the projection
        named = named_blobs(live_server.services.engine)
        assert await named({sha, "0" * 64}) == {sha}
