"""Photo attachments: content-addressed blobs, resumable uploads, rights, thumbnails, GC.

The app mounts ``blob_routes(...)``; the records layer calls ``mark_referenced`` in the
transaction that commits a record naming a blob. Protocol and operations: docs/blobs.md.
"""

from server.blobs.errors import BlobError
from server.blobs.gc import GarbageCollector, GcReport, collect_garbage
from server.blobs.ingest import BlobInfo, BlobUser, CanRead
from server.blobs.local import LocalDiskStore
from server.blobs.routes import DEFAULT_MAX_SIZE, Authenticate, blob_routes
from server.blobs.s3 import S3Store
from server.blobs.store import BlobStat, BlobStore
from server.blobs.tables import (
    blob_uploaders,
    blob_uploads,
    blobs,
    has_uploaded,
    mark_referenced,
    mark_unreferenced,
    metadata,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "Authenticate",
    "BlobError",
    "BlobInfo",
    "BlobStat",
    "BlobStore",
    "BlobUser",
    "CanRead",
    "GarbageCollector",
    "GcReport",
    "LocalDiskStore",
    "S3Store",
    "blob_routes",
    "blob_uploaders",
    "blob_uploads",
    "blobs",
    "collect_garbage",
    "has_uploaded",
    "mark_referenced",
    "mark_unreferenced",
    "metadata",
]
