"""A lean `/sync` device for load generation, and the record updates it sends.

`sync.client.SyncClient` saves its briefcase on every ack and applies every frame to
pycrdt docs; at thousands of frames a second that client, not the server, would be the
bottleneck. This one speaks the same frames (`sync.protocol`) and does only what a
benchmark measures: count bytes, send precomputed frames in a window, read acks.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from pycrdt import Doc, Map, Text
from websockets.asyncio.client import ClientConnection, connect

from sync import protocol as p

T0 = 1_763_000_000_000  # ms; any plausible device clock


# -- record updates -----------------------------------------------------------------------


def new_id(kind: str) -> str:
    return f"{kind}:{uuid.uuid4()}"


@dataclass
class VisitDoc:
    """A visit record as a device holds it: its Y doc, to derive further updates from."""

    doc_id: str
    ydoc: Doc

    @property
    def record(self) -> Map:
        return self.ydoc.get("record", type=Map)

    def change(self, fn: object) -> bytes:
        before = self.ydoc.get_state()
        with self.ydoc.transaction():
            fn(self.record)  # type: ignore[operator]
        return self.ydoc.get_update(before)


def create_visit(user_id: str, customer_id: str, n: int) -> tuple[VisitDoc, bytes]:
    """A new draft visit (the fields a rep fills first); returns the doc and its update."""
    v = VisitDoc(new_id("visit"), Doc())

    def fill(rec: Map) -> None:
        rec["customer_id"] = customer_id
        rec["visit_type"] = "visit_out"
        rec["started_at"] = T0 + n * 60_000
        rec["purpose"] = Text(f"介绍新款扫描仪 #{n}")
        rec["created_at"] = T0 + n * 60_000
        rec["created_by"] = user_id

    return v, v.change(fill)


def set_place(v: VisitDoc, n: int) -> bytes:
    """A small edit: one scalar field of an existing visit."""

    def edit(rec: Map) -> None:
        rec["place"] = f"客户办公室 {n}"

    return v.change(edit)


def write_result(v: VisitDoc, text: str) -> bytes:
    """A typical edit after a visit: its result, a sentence of Chinese in a Y.Text."""

    def edit(rec: Map) -> None:
        rec["result"] = Text(text)

    return v.change(edit)


# -- the device ---------------------------------------------------------------------------


@dataclass
class Stats:
    bytes_sent: int = 0
    bytes_received: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    by_type: dict[str, int] = field(default_factory=dict)  # bytes received per frame type

    def reset(self) -> None:
        self.bytes_sent = self.bytes_received = self.frames_sent = self.frames_received = 0
        self.by_type = {}


class Device:
    """One device on one `/sync` socket. Payload bytes are counted at the message level
    (what the protocol puts on the socket, before websocket framing; no compression)."""

    def __init__(self, url: str, token: str, device_id: str, *, cursor: int = 0) -> None:
        self.url = url
        self.token = token
        self.device_id = device_id
        self.cursor = cursor
        self.ws: ClientConnection | None = None
        self.stats = Stats()
        self.welcome: p.Welcome | None = None
        self.acked = 0
        self.errors: list[p.Error] = []
        self.docs_seen: set[str] = set()
        self._unread: deque[tuple[p.Frame, int]] = deque()  # of a BATCH, not yet returned

    async def open(self, *, open_timeout: float = 120) -> None:
        self._unread.clear()
        self.ws = await connect(
            self.url,
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=None,
            compression=None,
            open_timeout=open_timeout,
            ping_interval=None,
            close_timeout=5,
        )
        await self.send_frame(p.Hello(p.PROTOCOL_VERSION, self.device_id, self.cursor))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def send_frame(self, frame: p.Frame) -> None:
        await self.send_raw(p.encode(frame))

    async def send_raw(self, data: bytes) -> None:
        assert self.ws is not None
        self.stats.bytes_sent += len(data)
        self.stats.frames_sent += 1
        await self.ws.send(data)

    async def recv(self) -> p.Frame:
        """The next frame; those of a BATCH message one by one (bytes counted per message,
        `by_type` per frame inside, `frames_received` per message)."""
        if not self._unread:
            assert self.ws is not None
            data = await self.ws.recv()
            assert isinstance(data, bytes)
            self.stats.bytes_received += len(data)
            self.stats.frames_received += 1
            parts = p.split(data)
            self._unread.extend((p.decode(f, max_frame=1 << 30), len(f)) for f in parts)
        frame, size = self._unread.popleft()
        name = type(frame).__name__
        self.stats.by_type[name] = self.stats.by_type.get(name, 0) + size
        self.note(frame)
        return frame

    def note(self, frame: p.Frame) -> None:
        """Track cursor, acks, errors and which docs arrived."""
        match frame:
            case p.Welcome():
                self.welcome = frame
            case p.Sync(doc_id, _, kind, _):
                if kind != p.SyncMessageType.STEP1:
                    self.docs_seen.add(doc_id)
            case p.Ack(clock):
                self.acked = max(self.acked, clock)
            case p.Error():
                self.errors.append(frame)
            case p.CaughtUp(cursor) | p.Cursor(cursor):
                self.cursor = max(self.cursor, cursor)

    async def until_caught_up(self) -> list[p.Frame]:
        """Read frames until CAUGHT_UP; returns them (the catch-up)."""
        frames = []
        while True:
            frame = await self.recv()
            frames.append(frame)
            if isinstance(frame, p.CaughtUp):
                return frames

    async def send_pipelined(
        self, frames: list[bytes], *, window: int, timeout: float = 600  # noqa: ASYNC109
    ) -> tuple[float, float, list[float]]:
        """Send update frames (clocks 1..n in order) keeping up to `window` unacked; returns
        (first send time, last ack time, ack latency of every update in seconds)."""
        n = len(frames)
        sent_at = [0.0] * n
        latencies: list[float] = []
        base = self.acked  # clocks in `frames` are base+1 .. base+n
        nxt = 0
        t_first = time.perf_counter()
        deadline = t_first + timeout
        while nxt < min(window, n):
            sent_at[nxt] = time.perf_counter()
            await self.send_raw(frames[nxt])
            nxt += 1
        done = 0
        while done < n:
            frame = await self.recv()
            if isinstance(frame, p.Ack):
                now = time.perf_counter()
                upto = min(frame.clock - base, n)
                for j in range(done, upto):
                    latencies.append(now - sent_at[j])
                done = max(done, upto)
                while nxt < n and nxt - done < window:
                    sent_at[nxt] = time.perf_counter()
                    await self.send_raw(frames[nxt])
                    nxt += 1
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{self.device_id}: {done}/{n} acked after {timeout}s")
        return t_first, time.perf_counter(), latencies


def update_frame(doc_id: str, clock: int, update: bytes) -> bytes:
    return p.encode(p.Sync(doc_id, clock, p.SyncMessageType.UPDATE, update))
