"""Fan-out between server instances that share one PostgreSQL: LISTEN/NOTIFY.

Each commit notifies a channel with its last sequence number (inside the transaction, so it
is delivered at commit and in commit order). Every instance listens; a notification beyond
what it has dispatched makes its log read the other instances' changes back, in order, and
fan them out to its own devices. A periodic poll of the counter covers a lost connection.

The other announcements (revoked tokens and devices, changed scopes) are not in the log: one
sent while this instance's listening connection was down is lost. So when the poll finds the
connection gone and makes a new one, it calls `on_gap`: the server then closes every socket
it holds, and each device reconnects, is authenticated afresh and gets its current scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from .log import Log

log = logging.getLogger(__name__)

CHANNEL = "waiqin_log"
REVOKED = "waiqin_revoked"  # token ids whose sockets every instance must close
SCOPE = "waiqin_scope"  # user ids whose scope changed: every instance closes their sockets
DEVICES = "waiqin_devices"  # (user id, device id) pairs revoked: every instance closes them


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PgListener:
    """`async with PgListener(log, url):` while the app serves."""

    def __init__(
        self,
        log_: Log,
        url: str,
        *,
        on_revoked: Callable[[list[str]], None] | None = None,
        on_scope_changed: Callable[[list[str]], None] | None = None,
        on_devices_revoked: Callable[[list[tuple[str, str]]], None] | None = None,
        on_gap: Callable[[], None] | None = None,
        poll_interval: float = 5.0,
    ) -> None:
        self.log = log_
        self.on_revoked = on_revoked
        self.on_scope_changed = on_scope_changed
        self.on_devices_revoked = on_devices_revoked
        self.on_gap = on_gap
        self.gaps = 0  # listening connections lost and made again
        self.origin = uuid.uuid4().hex  # names this instance's announcements
        self.dsn = asyncpg_dsn(url)
        self.poll_interval = poll_interval
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PgListener:
        await self._connect()
        self._task = asyncio.create_task(self._poll(), name="waiqin-fanout-poll")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _connect(self) -> None:
        import asyncpg

        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(CHANNEL, self._notified)
        await self._conn.add_listener(REVOKED, self._revoked)
        await self._conn.add_listener(SCOPE, self._scope_changed)
        await self._conn.add_listener(DEVICES, self._devices_revoked)

    def _revoked(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._ids_from_others(payload, self.on_revoked)

    def _scope_changed(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._ids_from_others(payload, self.on_scope_changed)

    def _devices_revoked(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        # device ids are the device's own choice: JSON, not a comma list
        origin, _, body = payload.partition(" ")
        if self.on_devices_revoked is None or origin == self.origin:
            return
        try:
            pairs = [(str(u), str(d)) for u, d in json.loads(body)]
        except (ValueError, TypeError):
            log.warning("ignoring a malformed notification on %s: %r", channel, payload[:80])
            return
        self.on_devices_revoked(pairs)

    def _ids_from_others(self, payload: str, handle: Callable[[list[str]], None] | None) -> None:
        # This instance hears its own announcements too; it acted on them when it sent them.
        origin, _, ids = payload.partition(" ")
        if handle is not None and origin != self.origin:
            handle([i for i in ids.split(",") if i])

    async def announce_scope_changed(self, user_ids: list[str]) -> None:
        """Tell every other instance to close these users' sockets (this one already has)."""
        await self._announce(SCOPE, user_ids)

    async def announce_revoked(self, token_ids: list[str]) -> None:
        """Tell every other instance to close these tokens' sockets (this one already has)."""
        await self._announce(REVOKED, token_ids)

    async def announce_devices_revoked(self, devices: list[tuple[str, str]]) -> None:
        """Tell every other instance to close these devices' sockets (this one already has)."""
        await self._notify(DEVICES, json.dumps([list(d) for d in devices], ensure_ascii=False))

    async def _announce(self, channel: str, ids: list[str]) -> None:
        await self._notify(channel, ",".join(ids))

    async def _notify(self, channel: str, body: str) -> None:
        async with self.log.engine.begin() as conn:
            await conn.execute(select(func.pg_notify(channel, f"{self.origin} {body}")))

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            self.log.on_remote(int(payload))
        except ValueError:
            log.warning("ignoring a malformed notification on %s: %r", channel, payload[:80])

    async def _poll(self) -> None:
        """Catch what a dropped listener connection missed; reconnect it."""
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._connect()
                    self.gaps += 1
                    log.warning("the fan-out listener reconnected: announcements made while "
                                "it was down are lost; closing this instance's sockets")
                    if self.on_gap is not None:
                        self.on_gap()
                async with self.log.reader.reads() as r:
                    head = await r.head()
                self.log.on_remote(head)
            except Exception:
                log.exception("fan-out poll failed; trying again in %ss", self.poll_interval)
