"""One device's `/sync` session: hello, catch-up by cursor, updates in, acks and fan-out out.

A session reads frames in order, hands updates to the hub without waiting for their
commit, and a separate pump acks them in clock order once committed. Outgoing frames
go through a bounded queue; a device too slow to drain it is closed with TOO_SLOW and
catches up by cursor on its next connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from dataclasses import dataclass

from . import protocol as p
from .hub import Delivery, Hub
from .log import Append, Item, Reads, Refusal, now_ms
from .scope import Principal
from .transport import Disconnected, SendQueue, Transport

log = logging.getLogger(__name__)

DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CATCH_UP_CHUNK = 200
CLOCK_TOLERANCE_MS = 120_000
PRELOAD_BATCH = 256  # frames taken from the inbox at once, their docs loaded together


@dataclass(frozen=True, slots=True)
class SessionLimits:
    max_frame: int = p.DEFAULT_MAX_FRAME
    queue_frames: int = 20_000
    inbox_frames: int = 1_000
    hello_timeout: float = 15.0
    batch_frames: int = p.BATCH_FRAMES
    batch_bytes: int = p.BATCH_BYTES


class CloseWith(Exception):
    """Raised inside a session to close its socket with this code and reason (the peer going
    away on its own is `sync.transport.Disconnected`)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class SyncSession:
    """Serves one device over one transport until either side closes."""

    doc_filter: str | None = None

    def __init__(
        self,
        hub: Hub,
        transport: Transport,
        principal: Principal,
        *,
        token_issued_at: int = 0,
        limits: SessionLimits = SessionLimits(),
    ) -> None:
        self.hub = hub
        self.transport = transport
        self.principal = principal
        self.token_issued_at = token_issued_at
        self.limits = limits
        self.device_key: tuple[str, str] = (principal.user_id, "")
        # Frames waiting together go out as one BATCH message (protocol version 2): a
        # catch-up's 200-doc chunk is one message, not 200 (docs/protocol.md).
        self._out = SendQueue(transport, limits.queue_frames, pack=p.pack,
                              pack_frames=limits.batch_frames, pack_bytes=limits.batch_bytes)
        self._acks: deque[tuple[str, int, asyncio.Future[Item] | None]] = deque()
        self._acks_ready = asyncio.Event()
        # Frames read but not yet processed; a device this far ahead waits (backpressure).
        self._inbox: asyncio.Queue[p.Frame | p.ProtocolError | Disconnected] = asyncio.Queue(
            limits.inbox_frames)
        self._reset = False
        self._clock_offset = 0
        self._clock = 0
        self._contact_floor = 0
        self._registered = False
        self._held: list[list[Delivery]] | None = None  # deliveries held during catch-up
        self._held_count = 0
        self.catch_up_rounds = 1
        self._closing: CloseWith | None = None
        self._close_task: asyncio.Task[None] | None = None
        self.stats_received = 0

    @property
    def stats_sent(self) -> int:
        return self._out.sent_bytes

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        tasks: list[asyncio.Task[None]] = []
        try:
            hello = await self._hello()
            tasks.append(asyncio.create_task(self._out.run(), name="sync-sender"))
            tasks.append(asyncio.create_task(self._ack_pump(), name="sync-acks"))
            await self._catch_up(hello.cursor, reset=self._reset)
            await self._read_loop()
        except CloseWith as c:
            await self._close(c.code, c.reason)
        except p.ProtocolError as e:
            log.info("closing %s: %s", self.device_key, e)
            await self._close(e.close_code, p.close_reason(str(e)))
        except Disconnected:
            pass
        except Exception:
            # Storage trouble (a pool timeout, a lost database): say so with a named code,
            # so that the device backs off and resends, instead of a silent drop.
            log.exception("session of %s failed", self.device_key)
            await self._close(p.CloseCode.INTERNAL_ERROR, "server error; reconnect later")
        finally:
            self.hub.unsubscribe(self)
            self.hub.release_device(self)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Disconnected, Exception):
                    await task

    def close_soon(self, code: int, reason: str) -> None:
        """Close from outside (revocation, slow consumer, replacement) without blocking."""
        if self._closing is None:
            self._closing = CloseWith(code, reason)
            # held, so that the loop's weak reference is not the task's only one
            self._close_task = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.transport.close(code, reason)

    async def _send(self, frame: p.Frame) -> None:
        await self._out.put(p.encode(frame))

    async def _send_sync(self, frame: p.Sync) -> None:
        await self._out.put(p.encode_sync(frame))  # SYNC_UUID: the doc id in 16 bytes

    # -- hello ------------------------------------------------------------------------------

    async def _recv(self) -> p.Frame:
        data = await self.transport.recv()
        self.stats_received += len(data)
        return p.decode(data, max_frame=self.limits.max_frame)

    async def _hello(self) -> p.Hello:
        try:
            async with asyncio.timeout(self.limits.hello_timeout):
                frame = await self._recv()
                arrived = now_ms()
        except TimeoutError:
            raise CloseWith(p.CloseCode.HELLO_TIMEOUT, "no hello in time") from None
        if not isinstance(frame, p.Hello):
            raise p.ProtocolError(f"expected HELLO first, got {type(frame).__name__}")
        if frame.version != p.PROTOCOL_VERSION:
            # Said twice: as an ERROR (a client that shows errors shows it) and as the close
            # reason. A version-1 client decodes both; it stops on 4406 with its outbox kept.
            reason = (f"protocol version {frame.version} is not supported; "
                      f"this server speaks {p.PROTOCOL_VERSION} (update the app)")
            with contextlib.suppress(Disconnected):
                await self.transport.send(p.encode(p.Error(
                    "", 0, p.ErrorCode.BAD_VERSION, reason,
                    message_zh=f"不支持协议版本 {frame.version}，服务器使用版本 "
                               f"{p.PROTOCOL_VERSION}：请更新应用",
                    extra={"version": frame.version, "supported": [p.PROTOCOL_VERSION]})))
            raise CloseWith(p.CloseCode.BAD_VERSION, reason)
        if not DEVICE_ID_RE.match(frame.device):
            raise p.ProtocolError("device id must be 1-128 of A-Z a-z 0-9 . _ : -")
        user = self.principal.user_id
        self.device_key = (user, frame.device)
        state = await self.hub.log.devices.register(user, frame.device)
        if state.revoked_at is not None:
            raise CloseWith(p.CloseCode.DEVICE_REVOKED, "this device was revoked")
        self.hub.claim_device(self)
        if await self.hub.log.devices.settled(user, frame.device):
            # an earlier session's updates were still committing: read the clock anew
            self._clock = await self.hub.log.devices.clock(user, frame.device)
        else:
            self._clock = state.last_clock
        is_new = state.first_seen_at == state.last_contact_at and state.last_clock == 0
        self._contact_floor = max(
            self.token_issued_at, 0 if is_new else state.last_contact_at
        )
        self._reset = state.needs_reset
        # A phone whose clock is wrong says so here; creation times it claims are corrected.
        # Within the tolerance the phone's own clock (network-synced) beats one measurement
        # that carries the network's latency.
        offset = frame.time - arrived if frame.time else 0
        self._clock_offset = offset if abs(offset) > CLOCK_TOLERANCE_MS else 0
        await self.transport.send(
            p.encode(
                p.Welcome(p.PROTOCOL_VERSION, user, self.hub.log.head, self.limits.max_frame)
            )
        )
        return frame

    # -- catch-up ---------------------------------------------------------------------------

    async def _catch_up(self, cursor: int, *, reset: bool) -> None:
        """Send what changed after `cursor`, then follow live, in one read of the log.

        The session subscribes first and holds what the hub delivers meanwhile; the range
        it reads ends at the head of that moment, so the held deliveries start where the
        range ends and go out after it. However many devices commit while this one waits
        for a catch-up slot, it reads the log once (the old loop read it again until the
        head stood still: rounds grew with the number of devices). Only if more arrives
        meanwhile than the send queue holds is the hold dropped and another range read."""
        log_ = self.hub.log
        first = cursor == 0 or reset
        if reset:
            await self._send(p.ScopeLeave("*", "reset"))
            cursor = 0
        self.hub.subscribe(self)
        while True:
            # No await between these two: everything dispatched from here on is after `head`.
            self._held, self._held_count = [], 0
            head = log_.head
            if head > cursor:
                await self._send_range(cursor, head, first=first)
            cursor = head
            first = False
            if self._held is not None:
                break
            self.catch_up_rounds += 1  # the hold overflowed; read again from `head`
        held, self._held = self._held, None
        self._registered = True
        for items in held:
            self.deliver(items)
        if reset:
            await log_.devices.clear_reset(*self.device_key)
        await self._send(p.CaughtUp(cursor))

    async def _send_range(self, after: int, upto: int, *, first: bool) -> None:
        async with self.hub.catch_up_slots:
            await self._send_range_now(after, upto, first=first)

    async def _send_range_now(self, after: int, upto: int, *, first: bool) -> None:
        async with self.hub.log.reader.reads() as reads:  # one connection for the round
            await self._send_range_on(reads, after, upto, first=first)

    async def _send_range_on(self, reads: Reads, after: int, upto: int, *, first: bool) -> None:
        changed, entered, left = await reads.scope_changes(self.principal.visible, after, upto)
        for doc_id, redirect in left:
            await self._send(p.ScopeLeave(doc_id, "merged" if redirect else "scope", redirect))
        whole = set(changed) if first else set(entered)
        total = len(changed)
        if first and total:
            await self._send(p.Progress(0, total))
        done = 0
        for i in range(0, len(changed), CATCH_UP_CHUNK):
            part = changed[i : i + CATCH_UP_CHUNK]
            whole_part = [d for d in part if d in whole]
            delta_part = [d for d in part if d not in whole]
            deltas, compacted = await reads.deltas(
                delta_part, after, upto, exclude_device=self.device_key)
            states = await reads.states(whole_part + compacted, upto)
            for doc_id in part:
                if doc_id in states:
                    state, seq = states[doc_id]
                    if doc_id in entered and not first:
                        await self._send(p.ScopeEnter(doc_id))
                    await self._send_sync(p.Sync(doc_id, seq, p.SyncMessageType.STEP2, state))
                elif doc_id in deltas:
                    upd, seq = deltas[doc_id]
                    await self._send_sync(p.Sync(doc_id, seq, p.SyncMessageType.UPDATE, upd))
            done += len(part)
            if first:
                await self._send(p.Progress(done, total))

    # -- live delivery ----------------------------------------------------------------------

    def deliver(self, items: list[Delivery]) -> None:
        if self._closing is not None:
            return
        if not self._registered:
            # Catching up: hold until the range is sent (see `_catch_up`); past the send
            # queue's size drop the hold, and the catch-up reads the log again instead.
            if self._held is not None:
                self._held.append(items)
                self._held_count += len(items)
                if self._held_count > self.limits.queue_frames:
                    self._held = None
            return
        for d in items:
            if not self._out.offer(*d.wire()):
                log.warning("device %s cannot keep up; closing it", self.device_key)
                self.close_soon(p.CloseCode.TOO_SLOW, "send queue full; reconnect to catch up")
                return

    # -- incoming ---------------------------------------------------------------------------

    async def _reader(self) -> None:
        """Keep reading the socket while updates are being applied, so that pongs and
        close frames are never stuck behind a busy database; frames wait here in order."""
        try:
            while True:
                await self._inbox.put(await self._recv())
        except (p.ProtocolError, Disconnected) as e:
            await self._inbox.put(e)

    async def _read_loop(self) -> None:
        reader = asyncio.create_task(self._reader(), name="sync-reader")
        try:
            await self._process()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _process(self) -> None:
        batch: deque[p.Frame | p.ProtocolError | Disconnected] = deque()
        while True:
            if self._closing is not None:
                raise self._closing
            if not batch:
                batch.append(await self._inbox.get())
                # Every frame already read: their docs are looked up in one go.
                while not self._inbox.empty() and len(batch) < PRELOAD_BATCH:
                    batch.append(self._inbox.get_nowait())
                if len(batch) > 1:
                    await self.hub.preload(f.doc for f in batch if isinstance(f, p.Sync))
            frame = batch.popleft()
            if isinstance(frame, BaseException):
                raise frame
            match frame:
                case p.Sync(doc_id, n, p.SyncMessageType.STEP1, payload):
                    await self._step1(doc_id, payload)
                case p.Sync(doc_id, n, _, payload):
                    await self._update(doc_id, n, payload)
                case p.Bye():
                    raise CloseWith(p.CloseCode.NORMAL, "bye")
                case _:
                    raise p.ProtocolError(
                        f"a device may not send {type(frame).__name__} after HELLO"
                    )

    async def _step1(self, doc_id: str, state_vector: bytes) -> None:
        live = await self.hub.state_for(self.principal, doc_id)
        if live is None:
            await self._send(p.Error(doc_id, 0, p.ErrorCode.NOT_FOUND, f"no doc {doc_id} for you"))
            return
        try:
            diff = live.ydoc.get_update(state_vector)
        except ValueError as e:
            await self._send(
                p.Error(doc_id, 0, p.ErrorCode.BAD_UPDATE, f"not a valid state vector: {e}")
            )
            return
        await self._send_sync(p.Sync(doc_id, live.seq, p.SyncMessageType.STEP2, diff))

    async def _update(self, doc_id: str, clock: int, update: bytes) -> None:
        if clock == 0:
            raise p.ProtocolError("an update from a device needs a clock of 1 or more")
        if clock <= self._clock:
            user, device = self.device_key
            if await self.hub.holds(doc_id, update) or await self.hub.log.devices.refusal(
                user, device, clock, doc_id
            ) is not None:
                # A resend of something already processed: answer from the record.
                self._queue_ack(doc_id, clock, None)
                return
            # New changes under a used clock: the device's counter restarted (a new client
            # object, storage lost but the id kept). Acking them would drop them; refuse
            # without recording, and say where the device's numbering must continue.
            log.warning("stale clock %s (last %s) from %s on %s", clock, self._clock,
                        self.device_key, doc_id)
            stale: asyncio.Future[Item] = asyncio.get_running_loop().create_future()
            stale.set_result(Refusal(user, device, clock, doc_id, {
                "code": p.ErrorCode.STALE_CLOCK,
                "message": f"clock {clock} was already used by this device (its last is "
                           f"{self._clock}); nothing was applied: send it again numbered "
                           f"after {self._clock}",
                "message_zh": f"本设备已用过序号 {clock}（最后为 {self._clock}），"
                              f"此更改未保存：请从 {self._clock + 1} 起重新编号后再发送",
                "last_clock": self._clock,
            }))
            self._queue_ack(doc_id, clock, stale)
            return
        self._clock = clock
        fut = await self.hub.apply(
            self.principal,
            self.device_key[1],
            doc_id,
            update,
            clock,
            contact_floor_at=self._contact_floor,
            clock_offset=self._clock_offset,
        )
        self._queue_ack(doc_id, clock, fut)

    def _queue_ack(self, doc_id: str, clock: int, fut: asyncio.Future[Item] | None) -> None:
        self._acks.append((doc_id, clock, fut))
        self._acks_ready.set()

    async def _ack_pump(self) -> None:
        """Ack in clock order; one ACK (and CURSOR) covers every update already settled."""
        user, device = self.device_key
        last_seq = 0
        while True:
            while not self._acks:
                self._acks_ready.clear()
                await self._acks_ready.wait()
            doc_id, clock, fut = self._acks.popleft()
            if fut is None:
                detail = await self.hub.log.devices.refusal(user, device, clock, doc_id)
                if detail is not None:
                    await self._send(p.Error.from_detail(doc_id, clock, detail))
            else:
                try:
                    item = await fut
                except Exception:
                    log.exception("commit failed for %s clock %s", self.device_key, clock)
                    await self._send(
                        p.Error(doc_id, clock, p.ErrorCode.UNAVAILABLE, "storage failed; resend")
                    )
                    self.close_soon(p.CloseCode.INTERNAL_ERROR, "storage failed")
                    return
                if isinstance(item, Refusal):
                    await self._send(p.Error.from_detail(doc_id, clock, item.detail))
                elif isinstance(item, Append):
                    last_seq = max(last_seq, item.seq)
            nxt = self._acks[0][2] if self._acks else None
            if not self._acks or (nxt is not None and not nxt.done()):
                await self._send(p.Ack(clock))
                cursor = min(last_seq, self.hub.log.head)
                if cursor and self._registered:
                    # Every in-scope change up to the dispatched head was queued to this
                    # device before this point, so the device may move its cursor there.
                    await self._send(p.Cursor(cursor))
                last_seq = 0
