"""Transports: the three calls a session needs from a socket, the bounded queue a session
sends through, and an in-memory pair.

The server adapts Starlette's WebSocket to `Transport`; tests drive sessions over
`memory_pair()` with no network at all.
"""

from __future__ import annotations

import asyncio
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

    def __init__(self, transport: Transport, limit: int) -> None:
        self.transport = transport
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(limit)
        self.sent_bytes = 0

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

    async def run(self) -> None:
        """Send until cancelled; raises Disconnected when the peer is gone."""
        while True:
            data = await self._queue.get()
            self.sent_bytes += len(data)
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
