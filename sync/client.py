"""A Python `/sync` client: local docs, an outbox that survives restarts, resend, a cursor.

Used by the tests and benchmarks, and by anyone scripting against a server:

    client = SyncClient("laptop-1", state_file=Path("briefcase.json"))
    async with client.connect("ws://127.0.0.1:8000/sync", token):
        await client.wait_caught_up()
        client.set_fields("customer:<uuid>", {"name": "北京友好创达科技有限公司"})
        await client.wait_flushed()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycrdt import Array, Doc, Map, Text, TransactionEvent, merge_updates

from . import protocol as p
from .transport import Disconnected, Transport

log = logging.getLogger(__name__)


@dataclass(slots=True)
class OutboxEntry:
    clock: int
    doc_id: str
    update: bytes
    refused: dict[str, Any] | None = None  # the server's ERROR detail, while unfixed


class WebsocketsTransport:
    """`Transport` over a `websockets` client connection."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, data: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self.ws.send(data)
        except ConnectionClosed as e:
            raise Disconnected(
                e.rcvd.code if e.rcvd else 1006, e.rcvd.reason if e.rcvd else ""
            ) from None

    async def recv(self) -> bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            msg = await self.ws.recv()
        except ConnectionClosed as e:
            raise Disconnected(
                e.rcvd.code if e.rcvd else 1006, e.rcvd.reason if e.rcvd else ""
            ) from None
        if isinstance(msg, str):
            return msg.encode()
        return bytes(msg)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


class SyncClient:
    """One device. Edits made while disconnected wait in the outbox until acked."""

    def __init__(self, device_id: str, *, state_file: Path | None = None) -> None:
        self.device_id = device_id
        self.state_file = state_file
        self.docs: dict[str, Doc[Any]] = {}
        self.outbox: list[OutboxEntry] = []
        self.cursor = 0
        self.clock = 0
        self.errors: list[p.Error] = []
        self.redirects: dict[str, str] = {}
        self.progress: tuple[int, int] = (0, 0)
        self.close_code: int | None = None
        self.close_reason = ""
        self.bytes_sent = 0
        self.bytes_received = 0
        self.welcome: p.Welcome | None = None
        self.clock_skew_ms = 0  # tests set a phone's clock wrong with this
        self._subs: dict[str, Any] = {}
        self._applying = False
        self._transport: Transport | None = None
        self._caught_up = asyncio.Event()
        self._changed = asyncio.Event()
        self._reset_pending: set[str] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._saved_docs: dict[str, str] = {}
        self._send_lock = asyncio.Lock()
        self._sent_upto = 0  # outbox entries up to this clock went out on this connection
        if state_file is not None and state_file.exists():
            self._load()

    def now_ms(self) -> int:
        """This device's clock (as wrong as `clock_skew_ms` makes it)."""
        return int(time.time() * 1000) + self.clock_skew_ms

    # -- local docs -------------------------------------------------------------------------

    def doc(self, doc_id: str) -> Doc[Any]:
        doc = self.docs.get(doc_id)
        if doc is None:
            doc = Doc()
            self.docs[doc_id] = doc
            self._subs[doc_id] = doc.observe(lambda ev, d=doc_id: self._local_change(d, ev))
        return doc

    def record(self, doc_id: str) -> Map[Any]:
        root: Map[Any] = self.doc(doc_id).get("record", type=Map)
        return root

    def read(self, doc_id: str) -> dict[str, Any]:
        if doc_id not in self.docs:
            return {}
        return dict(self.record(doc_id).to_py() or {})

    def set_fields(self, doc_id: str, values: Mapping[str, Any]) -> None:
        """Write scalar fields (and str values for declared texts) in one transaction."""
        doc = self.doc(doc_id)
        rec = self.record(doc_id)
        with doc.transaction():
            for k, v in values.items():
                rec[k] = v

    def edit(self, doc_id: str, fn: Callable[[Map[Any]], None]) -> None:
        """Run `fn` on the doc's record map inside one transaction."""
        doc = self.doc(doc_id)
        with doc.transaction():
            fn(self.record(doc_id))

    def _local_change(self, doc_id: str, event: TransactionEvent) -> None:
        if self._applying:
            return
        self._enqueue(doc_id, event.update)

    def _enqueue(self, doc_id: str, update: bytes) -> None:
        refused = [e for e in self.outbox if e.doc_id == doc_id and e.refused is not None]
        if refused:
            # A fix travels together with what it fixes, so the server validates the whole.
            update = merge_updates(*[e.update for e in refused], update)
            self.outbox = [e for e in self.outbox if not (e.doc_id == doc_id and e.refused)]
        self.clock += 1
        entry = OutboxEntry(self.clock, doc_id, update)
        self.outbox.append(entry)
        # Inside the doc's transaction its state cannot be read; the entry itself carries
        # the change, and loading replays the outbox over the saved docs.
        self._save(in_transaction=doc_id)
        if self._transport is not None and self._caught_up.is_set():
            asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Send unsent outbox entries strictly in clock order (the server relies on it)."""
        async with self._send_lock:
            for e in list(self.outbox):
                if self._transport is None or not self._caught_up.is_set():
                    return
                if e.refused is None and e.clock > self._sent_upto:
                    await self._send_entry(e)
                    self._sent_upto = e.clock

    def _apply_remote(self, doc_id: str, update: bytes) -> None:
        self._applying = True
        try:
            self.doc(doc_id).apply_update(update)
        finally:
            self._applying = False

    # -- persistence ------------------------------------------------------------------------

    def _save(self, in_transaction: str | None = None) -> None:
        if self.state_file is None:
            return
        for d, doc in self.docs.items():
            if d != in_transaction:
                self._saved_docs[d] = _b64(doc.get_update())
        data = {
            "device_id": self.device_id,
            "cursor": self.cursor,
            "clock": self.clock,
            "docs": {d: v for d, v in self._saved_docs.items() if d in self.docs},
            "outbox": [
                {"clock": e.clock, "doc": e.doc_id, "update": _b64(e.update), "refused": e.refused}
                for e in self.outbox
            ],
            "redirects": self.redirects,
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(self.state_file)

    def _load(self) -> None:
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text())
        self.cursor = int(data["cursor"])
        self.clock = int(data["clock"])
        self.redirects = dict(data.get("redirects", {}))
        for doc_id, state in data["docs"].items():
            self._apply_remote(doc_id, _unb64(state))
        self.outbox = [
            OutboxEntry(int(e["clock"]), e["doc"], _unb64(e["update"]), e.get("refused"))
            for e in data["outbox"]
        ]
        for e in self.outbox:
            self._apply_remote(e.doc_id, e.update)

    # -- the connection ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connect(self, url: str, token: str, **kw: Any) -> AsyncIterator[SyncClient]:
        """Connect over a websocket; the reader runs in the background while inside."""
        from websockets.asyncio.client import connect

        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=None,
            **kw,
        )
        async with self.attach(WebsocketsTransport(ws)):
            yield self

    @contextlib.asynccontextmanager
    async def attach(self, transport: Transport) -> AsyncIterator[SyncClient]:
        self._transport = transport
        self._caught_up.clear()
        self._sent_upto = 0
        self.close_code = None
        self._reader = asyncio.create_task(self._run(transport))
        try:
            yield self
        finally:
            self._transport = None
            reader = self._reader
            self._reader = None
            if not reader.done():
                with contextlib.suppress(Exception):
                    await transport.close(1000, "client done")
                reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self._save()

    @property
    def connected(self) -> bool:
        return self._transport is not None and self.close_code is None

    async def _send(self, frame: p.Frame) -> None:
        if self._transport is None:
            return
        data = p.encode(frame)
        self.bytes_sent += len(data)
        try:
            await self._transport.send(data)
        except Disconnected:
            pass

    async def _send_entry(self, e: OutboxEntry) -> None:
        await self._send(p.Sync(e.doc_id, e.clock, p.SyncMessageType.UPDATE, e.update))

    async def _run(self, transport: Transport) -> None:
        await self._send(p.Hello(p.PROTOCOL_VERSION, self.device_id, self.cursor, self.now_ms()))
        try:
            while True:
                data = await transport.recv()
                self.bytes_received += len(data)
                for frame in p.unpack(p.decode(data, max_frame=1 << 30)):
                    await self._handle(frame)
                self._changed.set()
        except Disconnected as e:
            self.close_code = e.code
            self.close_reason = e.reason
        finally:
            self._changed.set()

    async def _handle(self, frame: p.Frame) -> None:
        match frame:
            case p.Welcome():
                self.welcome = frame
            case p.Sync(doc_id, n, kind, payload):
                if kind == p.SyncMessageType.STEP1:
                    return
                if self._reset_pending is not None:
                    self._reset_pending.discard(doc_id)
                self._apply_remote(doc_id, payload)
                if self._caught_up.is_set() and n > self.cursor:
                    self.cursor = n
                    self._save()
            case p.Ack(clock):
                self.outbox = [e for e in self.outbox if e.clock > clock or e.refused]
                self._save()
            case p.Error() if frame.code == p.ErrorCode.STALE_CLOCK:
                self.errors.append(frame)
                self._renumber(frame)
            case p.Error():
                self.errors.append(frame)
                for e in self.outbox:
                    if e.clock == frame.clock and e.doc_id == frame.doc:
                        e.refused = {
                            "code": frame.code, "field": frame.field, "rule": frame.rule,
                            "message": frame.message, "message_zh": frame.message_zh,
                        }
            case p.Progress(done, total):
                self.progress = (done, total)
            case p.CaughtUp(cursor):
                if self._reset_pending is not None:
                    for doc_id in self._reset_pending:
                        if not any(e.doc_id == doc_id for e in self.outbox):
                            self._drop(doc_id)
                    self._reset_pending = None
                self.cursor = max(self.cursor, cursor)
                self._save()
                self._caught_up.set()
                await self._flush()
            case p.Cursor(cursor):
                if cursor > self.cursor:
                    self.cursor = cursor
                    self._save()
            case p.ScopeEnter():
                pass
            case p.ScopeLeave(doc_id, _reason, redirect):
                if doc_id == "*":
                    self._reset_pending = set(self.docs)
                    return
                if redirect:
                    self.redirects[doc_id] = redirect
                self._drop(doc_id)
                self._save()
            case p.Bye():
                pass

    def _renumber(self, frame: p.Error) -> None:
        """The server had seen the clock of this change from an earlier life of this device
        id and applied nothing: number it, and every unsent entry at or below the server's
        last clock, after that clock (in their order), and send them again."""
        last = int(frame.extra.get("last_clock", 0))
        moved = [
            e for e in self.outbox
            if e.refused is None and e.clock <= last
            and (e.clock > self._sent_upto or (e.clock == frame.clock and e.doc_id == frame.doc))
        ]
        if not moved:
            return
        self.clock = max(self.clock, last)
        for e in moved:
            self.clock += 1
            e.clock = self.clock
        gone = {id(e) for e in moved}
        self.outbox = [e for e in self.outbox if id(e) not in gone] + moved
        self._save()
        if self._transport is not None and self._caught_up.is_set():
            asyncio.get_running_loop().create_task(self._flush())

    def _drop(self, doc_id: str) -> None:
        self.docs.pop(doc_id, None)
        self._subs.pop(doc_id, None)

    # -- waiting ----------------------------------------------------------------------------

    async def _until(self, cond: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                if self._reader is None or self._reader.done():
                    raise Disconnected(self.close_code or 1006, self.close_reason)
                self._changed.clear()
                await self._changed.wait()

    async def wait_caught_up(self, timeout: float = 30) -> None:
        await self._until(self._caught_up.is_set, timeout)

    async def wait_flushed(self, timeout: float = 30) -> None:
        """Until every outbox entry is acked (refused ones stay, marked)."""
        await self._until(lambda: all(e.refused for e in self.outbox), timeout)

    async def wait_for(self, cond: Callable[[], bool], timeout: float = 30) -> None:
        await self._until(cond, timeout)

    async def wait_closed(self, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while self._reader is not None and not self._reader.done():
                self._changed.clear()
                await self._changed.wait()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    return base64.b64decode(s)


__all__ = ["Array", "Map", "OutboxEntry", "SyncClient", "Text", "WebsocketsTransport"]
