"""One stock y-websocket client on one doc (`/yjs/<doc id>`), served over a `Transport`.

The same authorise -> validate -> commit path as `/sync`, in y-websocket's framing. That
protocol has no acks and no error message, so a refusal closes the socket with a named code
and a reason; docs/protocol.md says which codes a stock client reconnects after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from pycrdt import Doc, get_update

from . import protocol as p
from .hub import Delivery, Hub
from .log import Refusal
from .scope import Principal
from .session import CloseWith, SessionLimits
from .transport import Disconnected, SendQueue, Transport

log = logging.getLogger(__name__)

MERGED_GRACE = 5.0  # seconds a merged card's client has to send what it still holds
MAX_REDIRECTS = 16  # merge chains are short; a cycle in bad data must not loop


def merged_reason(survivor: str) -> str:
    """The close reason of MERGED, which clients parse: exactly "merged into <doc id>"."""
    return f"merged into {survivor}"


class YjsSession:
    """Serves one stock Yjs client on one doc until either side closes.

    A doc that does not exist yet may be opened, to create it or to wait for it: only an
    update that brings content is a creation. A merged card's client first sends what it
    holds (the server carries that into the survivor), then is told where the card went.
    """

    def __init__(
        self,
        hub: Hub,
        transport: Transport,
        principal: Principal,
        doc_id: str,
        *,
        token_issued_at: int = 0,
        limits: SessionLimits | None = None,
        merged_grace: float = MERGED_GRACE,
    ) -> None:
        self.hub = hub
        self.transport = transport
        self.principal = principal
        self.doc_id = doc_id
        self.doc_filter: str | None = doc_id
        self.device_key = (principal.user_id, "yjs-" + secrets.token_hex(6))
        self.token_issued_at = token_issued_at
        self.limits = limits or SessionLimits()
        self.merged_grace = merged_grace
        self._out = SendQueue(transport, self.limits.queue_frames)
        self._clock = 0
        self._saw = False  # the doc existed for this client (a leave is then FORBIDDEN)
        self._closing: CloseWith | None = None
        self._close_task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        sender = asyncio.create_task(self._out.run(), name="yjs-sender")
        try:
            try:
                kind = p.check_doc_id(self.doc_id, self.hub.rules.kinds)
            except ValueError as e:
                raise CloseWith(p.CloseCode.NOT_FOUND, str(e)) from None
            live = await self.hub.open(self.doc_id, kind)
            if live.exists:
                target = self.hub.rules.redirect(kind, live.record)
                if target is not None:
                    await self._hand_over(kind, target)
                self._check_visible(live.grantees)
                self._saw = True
            # Subscribed before step 1: whatever commits from here on reaches this client.
            self.hub.subscribe(self)
            await self._out.put(p.encode_y_sync(p.SyncMessageType.STEP1, live.ydoc.get_state()))
            await self._read_loop(kind)
        except CloseWith as c:
            await self._close(c.code, c.reason)
        except p.ProtocolError as e:
            log.info("closing /yjs %s of %s: %s", self.doc_id, self.principal.user_id, e)
            await self._close(e.close_code, str(e))
        except Disconnected:
            pass
        except Exception:
            # Storage trouble: a transient close, so that a stock client reconnects and its
            # sync step 2 brings again what did not commit.
            log.exception("/yjs session of %s on %s failed", self.principal.user_id, self.doc_id)
            await self._close(p.CloseCode.INTERNAL_ERROR, "server error; reconnect later")
        finally:
            self.hub.unsubscribe(self)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Disconnected, Exception):
                await sender

    def close_soon(self, code: int, reason: str) -> None:
        """Close from outside (revocation, a merge, slow consumer) without blocking."""
        if self._closing is None:
            self._closing = CloseWith(code, reason)
            self._close_task = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.transport.close(code, p.close_reason(reason))

    def _check_visible(self, grantees: frozenset[str]) -> None:
        if not self.principal.sees(grantees):
            # absent and not yours look the same: ids cannot be probed
            raise CloseWith(p.CloseCode.NOT_FOUND, f"no doc {self.doc_id} for you")

    # -- live delivery ----------------------------------------------------------------------

    def deliver(self, items: list[Delivery]) -> None:
        if self._closing is not None:
            return
        for d in items:
            if d.event == "leave":
                if d.redirect:
                    self.close_soon(p.CloseCode.MERGED, merged_reason(d.redirect))
                elif self._saw:
                    self.close_soon(p.CloseCode.FORBIDDEN, "this doc left your scope")
                else:
                    self.close_soon(p.CloseCode.NOT_FOUND, f"no doc {self.doc_id} for you")
                return
            self._saw = True
            if not self._out.offer(p.encode_y_sync(p.SyncMessageType.UPDATE, d.payload)):
                log.warning("/yjs client %s cannot keep up; closing it", self.device_key)
                self.close_soon(p.CloseCode.TOO_SLOW, "send queue full; reconnect")
                return

    # -- incoming ---------------------------------------------------------------------------

    async def _recv(self) -> tuple[p.YMessage, p.SyncMessageType | None, bytes]:
        data = await self.transport.recv()
        if len(data) > self.limits.max_frame:
            raise CloseWith(p.CloseCode.FRAME_TOO_LARGE,
                         f"message of {len(data)} bytes exceeds the limit of "
                         f"{self.limits.max_frame}")
        return p.decode_y_message(data)

    async def _read_loop(self, kind: str) -> None:
        while True:
            if self._closing is not None:
                raise self._closing
            mtype, sync_type, payload = await self._recv()
            if mtype == p.YMessage.AWARENESS:
                # Echoed to its sender only (nobody else learns who is looking): y-websocket
                # drops a socket that heard nothing for 30 s, and the client renews its own
                # awareness every 15 s, which is what keeps an idle socket open.
                await self._out.put(bytes([p.YMessage.AWARENESS]) + p.write_bytes(payload))
            elif sync_type == p.SyncMessageType.STEP1:
                await self._step1(kind, payload)
            else:
                await self._update(kind, payload)

    async def _step1(self, kind: str, state_vector: bytes) -> None:
        live = await self.hub.open(self.doc_id, kind)
        if live.exists:
            self._check_visible(live.grantees)
        try:
            diff = live.ydoc.get_update(state_vector)
        except ValueError as e:
            raise p.ProtocolError(f"not a valid state vector: {e}") from None
        await self._out.put(p.encode_y_sync(p.SyncMessageType.STEP2, diff))

    async def _update(self, kind: str, update: bytes) -> None:
        live = await self.hub.open(self.doc_id, kind)
        if not _brings_news(live.ydoc, update):
            # A client answers step 1 with what it has that the server lacks: nothing, for
            # a doc it just opened (empty) or already holds. Not a creation, not a change,
            # so no validation either (a record that rules made since then would refuse
            # must not close a reader for good).
            return
        self._clock += 1
        fut = await self.hub.apply(
            self.principal, self.device_key[1], self.doc_id, update, self._clock,
            contact_floor_at=self.token_issued_at,
        )
        item = await fut
        if isinstance(item, Refusal):
            d = item.detail
            code = (p.CloseCode.FORBIDDEN if d.get("code") == p.ErrorCode.FORBIDDEN
                    else p.CloseCode.INVALID_UPDATE)
            raise CloseWith(code, _refusal_reason(d))

    # -- merged cards -----------------------------------------------------------------------

    async def _hand_over(self, kind: str, target: str) -> None:
        """The doc is a merged card: for whoever could see it before the merge, take what
        the client still holds, then close with MERGED naming the surviving card."""
        before = await self.hub.log.reader.grantees_before_redirect(self.doc_id)
        self._check_visible(before)
        survivor = await self._survivor(kind, target)
        live = await self.hub.open(self.doc_id, kind)
        await self._out.put(p.encode_y_sync(p.SyncMessageType.STEP1, live.ydoc.get_state()))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.merged_grace):
                while True:
                    _, sync_type, payload = await self._recv()
                    if sync_type in (p.SyncMessageType.STEP2, p.SyncMessageType.UPDATE):
                        try:
                            await self._update(kind, payload)
                        except CloseWith as c:
                            log.info("/yjs %s: change to merged %s refused: %s",
                                     self.principal.user_id, self.doc_id, c.reason)
                        break
        raise CloseWith(p.CloseCode.MERGED, merged_reason(survivor))

    async def _survivor(self, kind: str, target: str) -> str:
        """Follow a chain of merges to the card that is not merged itself."""
        seen = {self.doc_id}
        while target not in seen and len(seen) < MAX_REDIRECTS:
            seen.add(target)
            nxt = self.hub.rules.redirect(kind, (await self.hub.open(target, kind)).record)
            if nxt is None:
                break
            target = nxt
        return target


def _brings_news(doc: Doc[Any], update: bytes) -> bool:
    """Whether `update` would change `doc`: structs it lacks, or deletions not yet made.

    (Yjs puts a doc's whole delete set in every step 2, so only applying tells.)"""
    try:
        if get_update(update, doc.get_state())[0] != 0:
            return True
        probe: Doc[Any] = Doc()
        probe.apply_update(doc.get_update())
        before = probe.get_update()
        probe.apply_update(update)
    except ValueError:
        return True  # not valid Yjs: the hub refuses it, saying why
    return probe.get_update() != before


def _refusal_reason(detail: dict[str, Any]) -> str:
    where = f" {detail['field']}: {detail.get('rule', '')}" if detail.get("field") else ""
    return f"{detail['code']}{where} {detail.get('message', '')}"
