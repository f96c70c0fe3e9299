"""Every limit that appears in two places comes from one constant: what uploads accept is what a
record may name, so bytes that upload are never refused when the record naming them arrives."""

from __future__ import annotations

import hashlib

import pytest

from schema.export import schema_json
from schema.kinds import MAX_ATTACHMENT_BYTES, MEDIA_TYPES
from server.blobs.media import ACCEPTED_TYPES, HEIC_SUPPORTED
from server.config import Config
from server.errors import ConfigError
from tests.blobs.test_http import meta
from tests.conftest import LiveServer
from tests.server.phones import http


def test_the_upload_limit_is_the_schemas_and_cannot_be_raised_past_it() -> None:
    assert Config().blob_max_size == MAX_ATTACHMENT_BYTES
    assert schema_json()["max_attachment_bytes"] == MAX_ATTACHMENT_BYTES
    assert Config.from_env({"WAIQIN_BLOB_MAX_SIZE": "1000"}).blob_max_size == 1000
    for raw in (str(MAX_ATTACHMENT_BYTES + 1), "0"):
        with pytest.raises(ConfigError, match="WAIQIN_BLOB_MAX_SIZE"):
            Config.from_env({"WAIQIN_BLOB_MAX_SIZE": raw})


def test_uploads_accept_the_media_types_a_record_may_name() -> None:
    expected = set(MEDIA_TYPES) - (set() if HEIC_SUPPORTED else {"image/heic"})
    assert ACCEPTED_TYPES == expected


@pytest.mark.asyncio
async def test_an_upload_one_byte_over_what_a_record_may_name_is_refused(
    live_server: LiveServer,
) -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    async with http(live_server, "rep1") as rep:
        options = await rep.options("/api/uploads", headers={"Tus-Resumable": "1.0.0"})
        assert int(options.headers["Tus-Max-Size"]) == MAX_ATTACHMENT_BYTES
        for size, status in ((MAX_ATTACHMENT_BYTES + 1, 413), (MAX_ATTACHMENT_BYTES, 201)):
            r = await rep.post("/api/uploads", headers={
                "Tus-Resumable": "1.0.0", "Upload-Length": str(size),
                "Upload-Metadata": meta(sha256=sha, type="application/pdf")})
            assert r.status_code == status, (size, r.text)
