"""Pure pieces: byte ranges, ETags, media sniffing and decoding, tus metadata."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from server.blobs import media
from server.blobs.errors import (
    BadId,
    BlobError,
    CorruptMedia,
    MediaTypeMismatch,
    RangeNotSatisfiable,
    TooLarge,
    UnsupportedMediaType,
)
from server.blobs.ranges import etag_matches, parse_range
from server.blobs.uploads import check_upload_id, parse_metadata
from tests.blobs.conftest import image, jpeg, pdf


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=5-", (5, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-1000", (0, 100)),
        ("bytes=90-1000", (90, 100)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole entity
        ("items=0-1", None),
        ("bytes=9-3", None),
        ("bytes=x-y", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 100)
    assert caught.value.headers["Content-Range"] == "bytes */100"


def test_etag_matching() -> None:
    assert etag_matches('"abc"', '"abc"')
    assert etag_matches('W/"abc"', '"abc"')
    assert etag_matches('"x", "abc"', '"abc"')
    assert etag_matches("*", '"abc"')
    assert not etag_matches('"abd"', '"abc"')
    assert not etag_matches(None, '"abc"')


def test_sniff() -> None:
    assert media.sniff(jpeg(8, 8)[:32]) == "image/jpeg"
    assert media.sniff(image("PNG")[:32]) == "image/png"
    assert media.sniff(image("WEBP")[:32]) == "image/webp"
    assert media.sniff(pdf()[:32]) == "application/pdf"
    assert media.sniff(b"GIF89a" + bytes(26)) is None


def test_normalise_type() -> None:
    assert media.normalise_type("image/JPEG; charset=binary") == "image/jpeg"
    assert media.normalise_type("image/jpg") == "image/jpeg"
    for bad in (None, "", "text/html", "image/svg+xml", "image/gif"):
        with pytest.raises(UnsupportedMediaType):
            media.normalise_type(bad)


def test_verify_refuses_lies_corruption_and_bombs(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(image("PNG", 30, 20))
    assert media.verify(path, "image/png") == media.MediaInfo("image/png", 30, 20)
    with pytest.raises(MediaTypeMismatch):
        media.verify(path, "image/jpeg")

    data = jpeg(200, 200)
    path.write_bytes(data[:-500])
    with pytest.raises(CorruptMedia):
        media.verify(path, "image/jpeg")

    # 110 megapixels of one bit: a few hundred kB of PNG that would decode to gigabytes
    out = io.BytesIO()
    Image.new("1", (11_000, 10_000)).save(out, "PNG")
    path.write_bytes(out.getvalue())
    with pytest.raises(TooLarge):
        media.verify(path, "image/png")

    path.write_bytes(b"%PDF-1.4\n garbage \n%%EOF\n")
    with pytest.raises(CorruptMedia):
        media.verify(path, "application/pdf")


def test_tus_metadata_and_ids() -> None:
    assert parse_metadata("sha256 YWJj,type aW1hZ2UvanBlZw==,flag") == {
        "sha256": "abc",
        "type": "image/jpeg",
        "flag": "",
    }
    with pytest.raises(BlobError):
        parse_metadata("sha256 ***")
    with pytest.raises(BadId):
        check_upload_id("../../etc")
    assert check_upload_id("0" * 32) == "0" * 32
