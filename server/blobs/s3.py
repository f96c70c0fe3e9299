"""Blob bytes in any S3-compatible object store, through aiobotocore.

Objects at most ``part_size`` go up in one PutObject; larger ones by multipart upload, one
part in memory at a time. Both are atomic on the S3 side: an object appears whole or not at
all. The client is created on first use in the running event loop and closed by ``aclose``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from server.blobs.store import KEY_RE, BlobMissing, BlobStat, StoredObject, check_key

log = logging.getLogger("waiqin.blobs.s3")

CHUNK = 256 * 1024
MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


class S3Store:
    def __init__(
        self,
        *,
        endpoint_url: str | None,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        prefix: str = "",
        part_size: int = 8 * 1024 * 1024,
        max_connections: int = 32,
    ) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"part_size must be at least {MIN_PART} bytes")
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self._client_kwargs: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "region_name": region,
            "config": AioConfig(
                s3={"addressing_style": "path"}, max_pool_connections=max_connections
            ),
        }
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = anyio.Lock()

    async def __aenter__(self) -> S3Store:
        await self._get_client()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _get_client(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    stack = contextlib.AsyncExitStack()
                    session = get_session()
                    self._client = await stack.enter_async_context(
                        session.create_client("s3", **self._client_kwargs)
                    )
                    self._stack = stack
        return self._client

    async def aclose(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, source: Path, *, media_type: str) -> None:
        client = await self._get_client()
        okey = self.object_key(key)
        size = (await anyio.Path(source).stat()).st_size
        async with await anyio.open_file(source, "rb") as f:
            if size <= self.part_size:
                body = await f.read()
                await client.put_object(
                    Bucket=self.bucket, Key=okey, Body=body, ContentType=media_type
                )
                return
            created = await client.create_multipart_upload(
                Bucket=self.bucket, Key=okey, ContentType=media_type
            )
            upload_id = created["UploadId"]
            parts: list[dict[str, Any]] = []
            try:
                number = 1
                while chunk := await f.read(self.part_size):
                    done = await client.upload_part(
                        Bucket=self.bucket,
                        Key=okey,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                    )
                    parts.append({"PartNumber": number, "ETag": done["ETag"]})
                    number += 1
                await client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=okey,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            except BaseException:
                with anyio.CancelScope(shield=True):
                    try:
                        await client.abort_multipart_upload(
                            Bucket=self.bucket, Key=okey, UploadId=upload_id
                        )
                    except ClientError:
                        log.warning("could not abort multipart upload %s of %s", upload_id, okey)
                raise

    async def get(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        client = await self._get_client()
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.object_key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            resp = await client.get_object(**kwargs)
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobMissing(key) from None
            raise
        body = resp["Body"]
        try:
            async for chunk in body.iter_chunks(CHUNK):
                yield chunk
        finally:
            body.close()

    async def stat(self, key: str) -> BlobStat | None:
        client = await self._get_client()
        try:
            head = await client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return BlobStat(size=int(head["ContentLength"]), modified_at=head.get("LastModified"))

    async def list_objects(self) -> AsyncIterator[StoredObject]:
        """ListObjectsV2 under the prefix, a page (up to 1,000 keys) at a time."""
        client = await self._get_client()
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", ()):
                key = str(obj["Key"])[len(self.prefix):]
                if KEY_RE.fullmatch(key):
                    yield StoredObject(key, int(obj["Size"]), obj["LastModified"])

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        client = await self._get_client()
        await client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
