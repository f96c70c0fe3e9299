"""The device registry: a device's row, its last clock, its refusals and its reset mark.

Reads go through the log's reader and writes through its writer, so that a thousand devices
saying hello at once share group commits instead of queueing for the write lock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import tables as t
from .items import Contact, DeviceState
from .reader import Reader
from .sql import now_ms
from .writer import Writer


class Devices:
    def __init__(self, reader: Reader, writer: Writer) -> None:
        self._reader = reader
        self._writer = writer

    async def register(self, user_id: str, device_id: str) -> DeviceState:
        """Create the device row if new; return its state as it was before this contact."""
        state = await self._reader.device(user_id, device_id)
        now = now_ms()
        await asyncio.shield(self._writer.submit(Contact(user_id, device_id)))
        return state if state is not None else DeviceState(0, now, now, None, False)

    async def clock(self, user_id: str, device_id: str) -> int:
        state = await self._reader.device(user_id, device_id)
        return state.last_clock if state is not None else 0

    async def settled(self, user_id: str, device_id: str) -> bool:
        """Wait until everything this device submitted so far is committed (or failed);
        True if there was anything to wait for."""
        return await self._writer.device_settled(user_id, device_id)

    async def refusal(
        self, user_id: str, device_id: str, clock: int, doc_id: str | None = None
    ) -> dict[str, Any] | None:
        """The recorded refusal of the device's update `clock` (of `doc_id`, when given)."""
        raw = await self._reader.refusal_detail(user_id, device_id, clock, doc_id)
        return None if raw is None else dict(json.loads(raw))

    async def clear_reset(self, user_id: str, device_id: str) -> None:
        async def clear(conn: AsyncConnection) -> None:
            await conn.execute(
                update(t.devices)
                .where(t.devices.c.user_id == user_id, t.devices.c.device_id == device_id)
                .values(needs_reset=0)
            )

        await self._writer.write(clear)

    async def revoke(
        self,
        user_id: str,
        device_id: str,
        *,
        also: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> bool:
        """Mark the device revoked (its next hello is refused), with `also` (an audit row) in
        the same transaction; False if there is no such device, or it was revoked already
        (then `also` does not run)."""

        async def mark(conn: AsyncConnection) -> bool:
            res = await conn.execute(
                update(t.devices)
                .where(t.devices.c.user_id == user_id,
                       t.devices.c.device_id == device_id,
                       t.devices.c.revoked_at.is_(None))
                .values(revoked_at=now_ms())
            )
            if res.rowcount == 0:
                return False
            if also is not None:
                await also(conn)
            return True

        return bool(await self._writer.write(mark))
