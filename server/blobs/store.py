"""The one small interface every blob backend implements, and the keys it accepts.

A key is a blob's SHA-256 in lowercase hex, optionally followed by a derived suffix such as
``.thumb-256`` for a cached thumbnail. Backends refuse any other key, so no caller-supplied
string can ever name a path or an object outside the store.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from server.blobs.errors import BadId

SHA256_RE = re.compile(r"[0-9a-f]{64}")
KEY_RE = re.compile(r"[0-9a-f]{64}(?:\.[a-z0-9-]{1,32})?")


class BlobMissing(Exception):
    """The store has no object under that key."""


def check_sha(value: str) -> str:
    """A SHA-256 from a URL or a header; anything else (a path, upper case) is refused."""
    if not SHA256_RE.fullmatch(value):
        raise BadId("a blob id is a SHA-256 in 64 lowercase hex digits")
    return value


def check_key(key: str) -> str:
    if not KEY_RE.fullmatch(key):
        raise ValueError(f"not a blob key: {key!r}")
    return key


def thumb_key(sha256: str, size: int) -> str:
    return f"{sha256}.thumb-{size}"


@dataclass(frozen=True)
class BlobStat:
    size: int
    modified_at: datetime | None = None  # last write (UTC); None if the backend cannot tell


@dataclass(frozen=True)
class StoredObject:
    """One object found by listing the store."""

    key: str
    size: int
    modified_at: datetime  # last write, UTC


def sha_of_key(key: str) -> str:
    """The blob a key belongs to: the key itself, or the blob a derived object came from."""
    return check_key(key)[:64]


class BlobStore(Protocol):
    """Where blob bytes live. Every write is all-or-nothing: a reader sees the whole object
    or no object, never a part of one."""

    async def put(self, key: str, source: Path, *, media_type: str) -> None:
        """Store the file at ``source`` (left in place) under ``key``."""
        ...

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the bytes ``start`` to ``end`` (exclusive; None is the end of the object).
        Raises BlobMissing, at the first iteration, if there is no such object."""
        ...

    async def stat(self, key: str) -> BlobStat | None: ...

    def list_objects(self) -> AsyncIterator[StoredObject]:
        """Every object in the store whose name is a blob key, in no particular order.
        Anything else that shares the directory or bucket (another prefix, a stray temp
        file) is not listed, so nothing that is not ours is ever a candidate for deletion."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing one is not an error."""
        ...

    async def aclose(self) -> None: ...
