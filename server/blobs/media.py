"""What the bytes of an upload really are: sniffed from their magic, then decoded.

A declared type is never trusted. The magic bytes must say the same type, and the file must
decode in full (Pillow for images, pypdf for PDF), or the upload is refused. HEIC needs
pillow-heif; without it HEIC is refused as an unsupported type.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from PIL import Image, ImageOps, UnidentifiedImageError

from schema.kinds import MEDIA_TYPES
from server.blobs.errors import CorruptMedia, MediaTypeMismatch, TooLarge, UnsupportedMediaType

log = logging.getLogger("waiqin.blobs.media")

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the install
    HEIC_SUPPORTED = False

try:
    import pypdf

    PDF_DECODER = True
except ImportError:  # pragma: no cover - depends on the install
    PDF_DECODER = False

IMAGE_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    **({"image/heic": "HEIF"} if HEIC_SUPPORTED else {}),
}
# What the schema lets a record name, less what this install cannot decode (HEIC).
ACCEPTED_TYPES = frozenset(MEDIA_TYPES) & {*IMAGE_FORMATS, "application/pdf"}
MAX_PIXELS = 100_000_000  # a 100 MP photo is already far beyond any phone's output
# Decoding a photo takes its full pixel buffer (6 MB for 2 MP): at most this many at once,
# so that memory stays bounded however many uploads finish together.
DECODE_SLOTS = max(2, os.cpu_count() or 2)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


@dataclass(frozen=True)
class MediaInfo:
    media_type: str
    width: int | None
    height: int | None


def normalise_type(header: str | None) -> str:
    """The bare media type of a Content-Type value; raises for types we never accept."""
    media_type = (header or "").split(";", 1)[0].strip().lower()
    if media_type == "image/jpg":
        media_type = "image/jpeg"
    if media_type == "image/heif":
        media_type = "image/heic"
    if media_type not in ACCEPTED_TYPES:
        accepted = ", ".join(sorted(ACCEPTED_TYPES))
        raise UnsupportedMediaType(
            f"{media_type or 'no type'} is not accepted; use one of {accepted}"
        )
    return media_type


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file claim, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[0:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


_decoders: anyio.CapacityLimiter | None = None


def decoders() -> anyio.CapacityLimiter:
    """The worker threads that may decode at once (made lazily: it belongs to an event loop)."""
    global _decoders
    if _decoders is None:
        _decoders = anyio.CapacityLimiter(DECODE_SLOTS)
    return _decoders


async def verify_async(path: Path, declared: str) -> MediaInfo:
    return await anyio.to_thread.run_sync(verify, path, declared, limiter=decoders())


async def make_thumbnail_async(source: Path, dest: Path, size: int) -> None:
    await anyio.to_thread.run_sync(make_thumbnail, source, dest, size, limiter=decoders())


def verify(path: Path, declared: str) -> MediaInfo:
    """Check that the file at ``path`` is a whole, decodable file of the ``declared`` type.
    Blocking: run it in a worker thread."""
    with open(path, "rb") as f:
        head = f.read(32)
    actual = sniff(head)
    if actual != declared:
        raise MediaTypeMismatch(
            f"declared {declared} but the bytes are {actual or 'of no accepted type'}"
        )
    if declared == "application/pdf":
        _verify_pdf(path)
        return MediaInfo(declared, None, None)
    width, height = _verify_image(path, IMAGE_FORMATS[declared])
    return MediaInfo(declared, width, height)


def _verify_image(path: Path, pil_format: str) -> tuple[int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=[pil_format]) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise TooLarge(f"{im.width}x{im.height} pixels is over the limit")
                im.verify()
            # verify() leaves the image unusable and misses truncated pixel data: load it too.
            with Image.open(path, formats=[pil_format]) as im:
                im.load()
                width, height = im.size
                orientation = im.getexif().get(0x0112)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooLarge(f"image has too many pixels: {exc}") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptMedia(f"the {pil_format} image does not decode: {exc}") from None
    if orientation in (5, 6, 7, 8):  # rotated a quarter turn: shown the other way round
        width, height = height, width
    return width, height


def _verify_pdf(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(max(0, size - 1024))
        tail = f.read()
    if b"%%EOF" not in tail:
        raise CorruptMedia("the PDF has no end-of-file marker: truncated?")
    if not PDF_DECODER:  # pragma: no cover - depends on the install
        return
    try:
        reader = pypdf.PdfReader(path, strict=False)
        pages = len(reader.pages)
    except Exception as exc:  # pypdf raises a wide variety on broken files
        raise CorruptMedia(f"the PDF does not parse: {exc}") from None
    if pages < 1:
        raise CorruptMedia("the PDF has no pages")


def make_thumbnail(source: Path, dest: Path, size: int) -> None:
    """A JPEG no larger than size x size, turned upright by its EXIF orientation. Blocking."""
    with Image.open(source) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much cheaper
        upright = ImageOps.exif_transpose(im)
        upright.thumbnail((size, size), Image.Resampling.LANCZOS)
        if upright.mode != "RGB":
            upright = upright.convert("RGB")
        upright.save(dest, "JPEG", quality=82, optimize=True)
