"""Transports: the three calls a session needs from a socket, the bounded queue a session
sends through, and an in-memory pair.

The server adapts Starlette's WebSocket to `Transport`; tests drive sessions over
`memory_pair()` with no network at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream


class Disconnected(Exception):
    """The peer went away; `code` is the close code when one was given."""

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        super().__init__(f"disconnected ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


class Transport(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def recv(self) -> bytes:
        """The next binary message; raises Disconnected when the peer is gone."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class SendQueue:
    """Messages on their way to one transport: bounded, sent in order by `run`.

    Fan-out must never wait for a slow peer, so it `offer`s and learns when the queue is
    full (the session then closes the peer, which catches up when it reconnects); a
    session's own replies `put`, waiting for room, so a peer that asks faster than it
    reads is held back instead of buffered without bound.
    """

    def __init__(
        self,
        transport: Transport,
        limit: int,
        *,
        pack: Callable[[list[bytes]], bytes] | None = None,
        pack_frames: int = 0,
        pack_bytes: int = 0,
    ) -> None:
        """With `pack`, messages that are already waiting when the sender gets to them go
        out together as one message `pack(messages)`: at most `pack_frames` of them and
        `pack_bytes` of their bytes (a larger one goes alone). Nothing waits to be packed:
        a message queued alone is sent alone, as soon as the socket takes it."""
        self.transport = transport
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(limit)
        self._pack = pack
        self._pack_frames = pack_frames
        self._pack_bytes = pack_bytes
        self._held: bytes | None = None  # taken from the queue, next to go (did not fit)
        self.sent_bytes = 0
        self.sent_messages = 0

    async def put(self, data: bytes) -> None:
        await self._queue.put(data)

    def offer(self, *messages: bytes) -> bool:
        """Queue without waiting; False when the queue filled up (the rest is not queued)."""
        for data in messages:
            try:
                self._queue.put_nowait(data)
            except asyncio.QueueFull:
                return False
        return True

    def _next(self) -> bytes | None:
        if self._held is not None:
            data, self._held = self._held, None
            return data
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def _packed(self, first: bytes) -> bytes:
        if self._pack is None or len(first) >= self._pack_bytes:
            return first
        parts, size = [first], len(first)
        while len(parts) < self._pack_frames:
            data = self._next()
            if data is None:
                break
            if size + len(data) > self._pack_bytes:
                self._held = data
                break
            parts.append(data)
            size += len(data)
        return first if len(parts) == 1 else self._pack(parts)

    async def run(self) -> None:
        """Send until cancelled; raises Disconnected when the peer is gone."""
        while True:
            first = self._next()
            if first is None:
                first = await self._queue.get()
            data = self._packed(first)
            self.sent_bytes += len(data)
            self.sent_messages += 1
            await self.transport.send(data)


class MemoryTransport:
    """One end of an in-memory socket. Closing ends the peer's recv with the close code."""

    def __init__(
        self,
        send: MemoryObjectSendStream[bytes | Disconnected],
        recv: MemoryObjectReceiveStream[bytes | Disconnected],
    ) -> None:
        self._send = send
        self._recv = recv
        self.closed: Disconnected | None = None
        self.peer: MemoryTransport | None = None
        self._remote_close: Disconnected | None = None

    async def send(self, data: bytes) -> None:
        if self.closed is not None:
            raise self.closed
        try:
            await self._send.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise Disconnected() from None

    async def recv(self) -> bytes:
        if self.closed is not None:
            raise self.closed
        try:
            msg = await self._recv.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._release()
            # The close code arrives even when the stream was too full to carry it.
            raise (self._remote_close or Disconnected()) from None
        if isinstance(msg, Disconnected):
            self.closed = msg
            self._release()
            raise msg
        return msg

    def _release(self) -> None:
        self._recv.close()
        self._send.close()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed is not None:
            return
        self.closed = Disconnected(code, reason)
        if self.peer is not None:
            self.peer._remote_close = Disconnected(code, reason)
        try:
            self._send.send_nowait(Disconnected(code, reason))
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        self._release()


def memory_pair(buffer: int = 10_000) -> tuple[MemoryTransport, MemoryTransport]:
    a_send, b_recv = anyio.create_memory_object_stream[bytes | Disconnected](buffer)
    b_send, a_recv = anyio.create_memory_object_stream[bytes | Disconnected](buffer)
    a, b = MemoryTransport(a_send, a_recv), MemoryTransport(b_send, b_recv)
    a.peer, b.peer = b, a
    return a, b
