"""Conditional and partial GETs (RFC 9110): ETag matching and single byte ranges. Pure."""

from __future__ import annotations

from server.blobs.errors import RangeNotSatisfiable


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match value matches ``etag`` (weak comparison, as the RFC asks)."""
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.removeprefix("W/") == etag.removeprefix("W/"):
            return True
    return False


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single range asked for, as (start, end exclusive), or None to send it all.

    A header we do not understand, or several ranges, is answered with the whole entity,
    which the RFC allows. A well-formed range that misses the entity raises."""
    if not header or not header.startswith("bytes="):
        return None
    spec = header.removeprefix("bytes=").strip()
    if "," in spec or "-" not in spec:
        return None
    first, _, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    try:
        if not first:  # suffix: the last N bytes
            count = int(last)
            if count <= 0 or size == 0:
                raise _unsatisfiable(size)
            return max(0, size - count), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    if end <= start:
        return None  # "bytes=9-3" is not a range at all: ignored, as the RFC says
    return start, min(end, size)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"the blob has {size} bytes", headers={"Content-Range": f"bytes */{size}"}
    )
