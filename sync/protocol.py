"""The `/sync` wire protocol: frame types, close codes, and pure encode/decode.

No I/O and no database here. Integers are lib0 var-uints and strings lib0 var-strings, so
any Yjs client (which already ships lib0) can speak it; `docs/protocol.md` has the layouts.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

PROTOCOL_VERSION = 2  # 2: BATCH frames (many frames in one message); 1 is refused by name
DEFAULT_MAX_FRAME = 1 << 20  # bytes; a record doc is small, photos never travel here
# A BATCH the server packs holds at most this many frames and this many bytes of them; a
# frame larger than that travels alone. A slow phone is never handed megabytes at once.
BATCH_FRAMES = 1_000
BATCH_BYTES = 256 * 1024

DOC_ID_RE = re.compile(
    r"^(?P<kind>[a-z][a-z_]{1,30}):"
    r"(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


class FrameType(IntEnum):
    HELLO = 0  # device -> server: version, device id, cursor
    WELCOME = 1  # server -> device: version, user id, head sequence, max frame size
    SYNC = 2  # both: doc id, clock or sequence, one y-protocols sync message
    ACK = 3  # server -> device: every update with clock <= n is processed
    ERROR = 4  # server -> device: a refused update or request, JSON detail
    PROGRESS = 5  # server -> device: initial download, done of total docs
    CAUGHT_UP = 6  # server -> device: catch-up complete, the new cursor
    SCOPE_ENTER = 7  # server -> device: a doc entered the device's scope
    SCOPE_LEAVE = 8  # server -> device: a doc left it (reason, redirect doc id)
    BYE = 9  # both: orderly goodbye with a reason
    CURSOR = 10  # server -> device: nothing in your scope up to n that you lack
    BATCH = 11  # server -> device (version 2): several frames of the above in one message
    # server -> device (version 2): a SYNC whose doc id <kind>:<uuid> travels as the kind
    # and the uuid's 16 bytes (22-25 bytes instead of 43-46); decodes to a `Sync`.
    SYNC_UUID = 12


class SyncMessageType(IntEnum):
    """The y-protocols sync message types, carried inside SYNC frames."""

    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class CloseCode(IntEnum):
    """Websocket close codes; the PWA mirrors these names in `pwa/src/protocol.ts`.

    4400-4499 mean "do not reconnect": a stock y-websocket client (3.x) stops there for
    good. A condition that reconnecting cures uses 1xxx, 42xx or 45xx (docs/protocol.md).
    """

    NORMAL = 1000
    GOING_AWAY = 1001
    INTERNAL_ERROR = 1011
    # Not an error: the user's reporting tree or role changed. Reconnect at once; the
    # catch-up brings the new scope (a reset when docs were lost).
    SCOPE_CHANGED = 4205
    MALFORMED_FRAME = 4400
    BAD_TOKEN = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    BAD_VERSION = 4406
    HELLO_TIMEOUT = 4408
    REPLACED = 4409
    DEVICE_REVOKED = 4410
    FRAME_TOO_LARGE = 4413
    INVALID_UPDATE = 4422
    # (`/yjs`) the card was merged into another; the reason is "merged into <doc id>".
    MERGED = 4430
    # The peer did not read fast enough: transient, so 45xx (429's "try again later").
    TOO_SLOW = 4529


class ErrorCode:
    """Codes of ERROR frames: the request failed, the connection stays up."""

    BAD_DOC_ID = "bad_doc_id"
    BAD_UPDATE = "bad_update"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"
    # The HELLO's protocol version is not spoken here (sent just before close BAD_VERSION).
    BAD_VERSION = "bad_version"
    # The update's clock is at or below the device's last clock (its counter restarted),
    # yet it brings changes: nothing was applied. Detail `last_clock`: number unsent
    # changes after it and send them again (docs/protocol.md, "Clocks").
    STALE_CLOCK = "stale_clock"


class ProtocolError(Exception):
    """A frame that cannot be decoded; the connection is closed with `close_code`."""

    def __init__(self, message: str, close_code: CloseCode = CloseCode.MALFORMED_FRAME) -> None:
        super().__init__(message)
        self.close_code = close_code


# -- lib0 primitives ------------------------------------------------------------------


def write_uint(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"var-uint cannot encode a negative number: {n}")
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def write_bytes(b: bytes) -> bytes:
    return write_uint(len(b)) + b


def write_str(s: str) -> bytes:
    return write_bytes(s.encode("utf-8"))


class Reader:
    """Reads lib0 primitives from a frame; every overrun is a ProtocolError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def uint(self) -> int:
        n = 0
        shift = 0
        while True:
            if self.pos >= len(self.data):
                raise ProtocolError("frame ends inside a var-uint")
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7
            if shift > 63:
                raise ProtocolError("var-uint longer than 64 bits")

    def bytes(self) -> bytes:
        n = self.uint()
        end = self.pos + n
        if end > len(self.data):
            raise ProtocolError(f"length {n} runs past the end of the frame")
        b = self.data[self.pos : end]
        self.pos = end
        return b

    def str(self) -> str:
        raw = self.bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("string is not valid UTF-8") from e

    def done(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolError(f"{len(self.data) - self.pos} unexpected trailing bytes")


# -- frames -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    version: int
    device: str
    cursor: int
    time: int = 0  # the device's clock, ms since the epoch; 0 if unknown (optional on the wire)


@dataclass(frozen=True, slots=True)
class Welcome:
    version: int
    user: str
    head: int
    max_frame: int


@dataclass(frozen=True, slots=True)
class Sync:
    """One y-protocols sync message for one doc.

    `n` is the device's clock on device -> server STEP2/UPDATE (what ACK refers to), the
    log sequence the data reaches on server -> device frames, and 0 where neither applies.
    """

    doc: str
    n: int
    kind: SyncMessageType
    payload: bytes


@dataclass(frozen=True, slots=True)
class Ack:
    clock: int


@dataclass(frozen=True, slots=True)
class Error:
    doc: str
    clock: int
    code: str
    message: str
    field: str = ""
    rule: str = ""
    message_zh: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_detail(cls, doc: str, clock: int, detail: Mapping[str, Any]) -> Error:
        """The frame of a refusal's JSON detail: its five named keys, the rest as `extra`."""
        return cls(doc, clock, str(detail.get("code", "")), str(detail.get("message", "")),
                   str(detail.get("field", "")), str(detail.get("rule", "")),
                   str(detail.get("message_zh", "")),
                   {k: v for k, v in detail.items() if k not in _ERROR_KEYS})


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class CaughtUp:
    cursor: int


@dataclass(frozen=True, slots=True)
class ScopeEnter:
    doc: str


@dataclass(frozen=True, slots=True)
class ScopeLeave:
    doc: str
    reason: str
    redirect: str = ""


@dataclass(frozen=True, slots=True)
class Bye:
    reason: str


@dataclass(frozen=True, slots=True)
class Cursor:
    cursor: int


@dataclass(frozen=True, slots=True)
class Batch:
    """Several frames in one websocket message, in order (server -> device, version 2).

    The frames inside are any but HELLO and BATCH; a receiver handles them exactly as if
    each had come in a message of its own. The server only packs frames already waiting
    to be sent, so a batch never delays one."""

    frames: tuple[Frame, ...]


Frame = (
    Hello | Welcome | Sync | Ack | Error | Progress | CaughtUp | ScopeEnter | ScopeLeave | Bye
    | Cursor | Batch
)


def pack(encoded: list[bytes]) -> bytes:
    """One BATCH message of frames already encoded (shared bytes are copied, not re-encoded)."""
    out = bytearray([FrameType.BATCH])
    out += write_uint(len(encoded))
    for data in encoded:
        out += write_uint(len(data))
        out += data
    return bytes(out)


def encode_sync(frame: Sync) -> bytes:
    """A server -> device SYNC, as SYNC_UUID when its doc id is `<kind>:<uuid>` (the same
    frame once decoded, 21 bytes shorter), else as SYNC."""
    m = DOC_ID_RE.match(frame.doc)
    if m is None:
        return encode(frame)
    return (bytes([FrameType.SYNC_UUID]) + write_str(m.group("kind"))
            + bytes.fromhex(m.group("uuid").replace("-", "")) + write_uint(frame.n)
            + write_uint(frame.kind) + write_bytes(frame.payload))


def split(data: bytes) -> list[bytes]:
    """The encoded frames one message carries: those inside a BATCH, else the message itself
    (each still to be `decode`d, which checks it)."""
    if not data or data[0] != FrameType.BATCH:
        return [data]
    r = Reader(data)
    r.pos = 1
    parts = [r.bytes() for _ in range(r.uint())]
    r.done()
    return parts


def unpack(frame: Frame) -> tuple[Frame, ...]:
    """The frames a message carries: those of a BATCH, else the frame itself."""
    return frame.frames if isinstance(frame, Batch) else (frame,)


def encode(frame: Frame) -> bytes:
    """Encode one frame to the bytes of one binary websocket message."""
    match frame:
        case Hello(version, device, cursor, time):
            body = write_uint(version) + write_str(device) + write_uint(cursor)
            if time:
                body += write_uint(time)
            return bytes([FrameType.HELLO]) + body
        case Welcome(version, user, head, max_frame):
            body = write_uint(version) + write_str(user) + write_uint(head) + write_uint(max_frame)
            return bytes([FrameType.WELCOME]) + body
        case Sync(doc, n, kind, payload):
            body = write_str(doc) + write_uint(n) + write_uint(kind) + write_bytes(payload)
            return bytes([FrameType.SYNC]) + body
        case Ack(clock):
            return bytes([FrameType.ACK]) + write_uint(clock)
        case Error():
            detail: dict[str, Any] = {
                "code": frame.code,
                "message": frame.message,
                "message_zh": frame.message_zh,
                "field": frame.field,
                "rule": frame.rule,
                **frame.extra,
            }
            body = (
                write_str(frame.doc)
                + write_uint(frame.clock)
                + write_str(json.dumps(detail, ensure_ascii=False))
            )
            return bytes([FrameType.ERROR]) + body
        case Progress(done, total):
            return bytes([FrameType.PROGRESS]) + write_uint(done) + write_uint(total)
        case CaughtUp(cursor):
            return bytes([FrameType.CAUGHT_UP]) + write_uint(cursor)
        case ScopeEnter(doc):
            return bytes([FrameType.SCOPE_ENTER]) + write_str(doc)
        case ScopeLeave(doc, reason, redirect):
            body = write_str(doc) + write_str(reason) + write_str(redirect)
            return bytes([FrameType.SCOPE_LEAVE]) + body
        case Bye(reason):
            return bytes([FrameType.BYE]) + write_str(reason)
        case Cursor(cursor):
            return bytes([FrameType.CURSOR]) + write_uint(cursor)
        case Batch(frames):
            return pack([encode(f) for f in frames])
    raise TypeError(f"not a frame: {frame!r}")


_ERROR_KEYS = {"code", "message", "message_zh", "field", "rule"}


def decode(data: bytes, *, max_frame: int = DEFAULT_MAX_FRAME) -> Frame:
    """Decode one websocket message; raises ProtocolError naming what is wrong."""
    if len(data) > max_frame:
        raise ProtocolError(
            f"frame of {len(data)} bytes exceeds the limit of {max_frame}",
            CloseCode.FRAME_TOO_LARGE,
        )
    if not data:
        raise ProtocolError("empty frame")
    r = Reader(data)
    r.pos = 1
    try:
        ftype = FrameType(data[0])
    except ValueError:
        raise ProtocolError(f"unknown frame type {data[0]}") from None
    frame: Frame
    match ftype:
        case FrameType.HELLO:
            version, device, cursor = r.uint(), r.str(), r.uint()
            frame = Hello(version, device, cursor, r.uint() if r.pos < len(data) else 0)
        case FrameType.WELCOME:
            frame = Welcome(r.uint(), r.str(), r.uint(), r.uint())
        case FrameType.SYNC | FrameType.SYNC_UUID:
            if ftype == FrameType.SYNC:
                doc = r.str()
            else:
                kind_name = r.str()
                uuid = r.data[r.pos : r.pos + 16]
                if len(uuid) < 16:
                    raise ProtocolError("frame ends inside a uuid")
                r.pos += 16
                h = uuid.hex()
                doc = f"{kind_name}:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            n, kind_n = r.uint(), r.uint()
            try:
                kind = SyncMessageType(kind_n)
            except ValueError:
                raise ProtocolError(f"unknown sync message type {kind_n}") from None
            frame = Sync(doc, n, kind, r.bytes())
        case FrameType.ACK:
            frame = Ack(r.uint())
        case FrameType.ERROR:
            doc, clock, raw = r.str(), r.uint(), r.str()
            try:
                detail = json.loads(raw)
            except ValueError:
                raise ProtocolError("error detail is not JSON") from None
            if not isinstance(detail, dict) or not isinstance(detail.get("code"), str):
                raise ProtocolError("error detail must be an object with a string 'code'")
            frame = Error.from_detail(doc, clock, detail)
        case FrameType.PROGRESS:
            frame = Progress(r.uint(), r.uint())
        case FrameType.CAUGHT_UP:
            frame = CaughtUp(r.uint())
        case FrameType.SCOPE_ENTER:
            frame = ScopeEnter(r.str())
        case FrameType.SCOPE_LEAVE:
            frame = ScopeLeave(r.str(), r.str(), r.str())
        case FrameType.BYE:
            frame = Bye(r.str())
        case FrameType.CURSOR:
            frame = Cursor(r.uint())
        case FrameType.BATCH:
            count = r.uint()
            if count > len(data):  # every frame inside takes 2 bytes at least
                raise ProtocolError(f"batch of {count} frames in {len(data)} bytes")
            inner: list[Frame] = []
            for i in range(count):
                part = r.bytes()
                if part[:1] in (bytes([FrameType.HELLO]), bytes([FrameType.BATCH])):
                    raise ProtocolError(
                        f"frame {i} of a batch is a {FrameType(part[0]).name}, "
                        "which a batch may not carry"
                    )
                try:
                    inner.append(decode(part, max_frame=max_frame))
                except ProtocolError as e:
                    raise ProtocolError(f"frame {i} of a batch: {e}", e.close_code) from None
            frame = Batch(tuple(inner))
    r.done()
    return frame


def close_reason(text: str, limit: int = 123) -> str:
    """A websocket close reason fits in 123 bytes of UTF-8; cut at a character boundary."""
    raw = text.encode("utf-8")[:limit]
    return raw.decode("utf-8", errors="ignore")


def check_doc_id(doc_id: str, kinds: frozenset[str] | None = None) -> str:
    """Return the doc id's kind, or raise ValueError naming what is wrong with it."""
    m = DOC_ID_RE.match(doc_id)
    if m is None:
        raise ValueError(
            f"doc id {doc_id[:80]!r} is not of the form <kind>:<uuid> "
            "(lower-case kind, canonical lower-case uuid)"
        )
    kind = m.group("kind")
    if kinds is not None and kind not in kinds:
        raise ValueError(f"doc id {doc_id!r} names unknown kind {kind!r}")
    return kind


def decode_state_vector(sv: bytes) -> dict[int, int]:
    """A Yjs state vector as {client id: clock}; raises ProtocolError when malformed."""
    r = Reader(sv)
    out = {}
    for _ in range(r.uint()):
        client = r.uint()
        out[client] = r.uint()
    r.done()
    return out


# -- the y-websocket protocol (one doc per socket) --------------------------------------


class YMessage(IntEnum):
    SYNC = 0
    AWARENESS = 1


def encode_y_sync(kind: SyncMessageType, payload: bytes) -> bytes:
    """A y-websocket message: [SYNC][sync type][payload]."""
    return bytes([YMessage.SYNC]) + write_uint(kind) + write_bytes(payload)


def decode_y_message(data: bytes) -> tuple[YMessage, SyncMessageType | None, bytes]:
    """Split a y-websocket message into (message type, sync type, payload)."""
    if not data:
        raise ProtocolError("empty message")
    r = Reader(data)
    mtype_n = r.uint()
    try:
        mtype = YMessage(mtype_n)
    except ValueError:
        raise ProtocolError(f"unknown y-websocket message type {mtype_n}") from None
    if mtype == YMessage.AWARENESS:
        return mtype, None, r.bytes()
    kind_n = r.uint()
    try:
        kind = SyncMessageType(kind_n)
    except ValueError:
        raise ProtocolError(f"unknown sync message type {kind_n}") from None
    payload = r.bytes()
    r.done()
    return mtype, kind, payload
