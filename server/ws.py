"""Websocket endpoints: `/sync` (one socket per device) and `/yjs/<doc id>` (y-websocket).

Both authenticate a bearer token, then hand the socket, adapted to `sync.transport`, to
the sync layer. Browsers cannot send headers on a websocket, so `?token=` works as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from sync import protocol as p
from sync.hub import Delivery, Hub
from sync.log import Append, Refusal
from sync.scope import Principal
from sync.session import SessionLimits, SyncSession
from sync.transport import Disconnected

from .errors import Unauthorized

if TYPE_CHECKING:
    from .app import Services

log = logging.getLogger(__name__)


class StarletteTransport:
    """`Transport` over Starlette's WebSocket."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def send(self, data: bytes) -> None:
        try:
            await self.ws.send_bytes(data)
        except (WebSocketDisconnect, RuntimeError) as e:
            raise Disconnected(getattr(e, "code", 1006)) from None

    async def recv(self) -> bytes:
        try:
            msg = await self.ws.receive()
        except RuntimeError:
            raise Disconnected() from None
        if msg["type"] == "websocket.disconnect":
            raise Disconnected(msg.get("code", 1000), msg.get("reason") or "")
        data = msg.get("bytes")
        if data is None:
            raise p.ProtocolError("text frames are not part of the protocol; send binary")
        return bytes(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await self.ws.close(code, p.close_reason(reason))


def bearer_token(ws: WebSocket) -> str | None:
    auth = ws.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return ws.query_params.get("token")


async def _authenticate(services: Services, ws: WebSocket) -> tuple[Principal, str, int] | None:
    await ws.accept()
    try:
        info = await services.accounts.authenticate(bearer_token(ws))
    except Unauthorized as e:
        await ws.close(p.CloseCode.BAD_TOKEN, p.close_reason(e.message))
        return None
    principal = await services.accounts.principal(info.user)
    return principal, info.id, info.created_at


async def sync_endpoint(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    auth = await _authenticate(services, ws)
    if auth is None:
        return
    principal, token_id, issued = auth
    cfg = services.config
    session = SyncSession(
        services.hub,
        StarletteTransport(ws),
        principal,
        token_issued_at=issued,
        limits=SessionLimits(max_frame=cfg.max_frame, queue_frames=cfg.send_queue_frames),
    )
    services.track(token_id, session)
    try:
        await session.run()
    finally:
        services.untrack(token_id, session)


class YjsSession:
    """One stock y-websocket client on one doc, through the same apply path as `/sync`.

    The y-websocket protocol has no acks and no error message, so a refused update
    closes the socket with INVALID_UPDATE and a reason naming the field and rule.
    """

    def __init__(self, hub: Hub, ws: WebSocket, principal: Principal, doc_id: str,
                 issued: int, max_frame: int) -> None:
        self.hub = hub
        self.ws = ws
        self.transport = StarletteTransport(ws)
        self.principal = principal
        self.doc_filter: str | None = doc_id
        self.doc_id = doc_id
        self.device_key = (principal.user_id, "yjs-" + secrets.token_hex(6))
        self.issued = issued
        self.max_frame = max_frame
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue(10_000)
        self._clock = 0
        self._closing: tuple[int, str] | None = None

    def deliver(self, items: list[Delivery]) -> None:
        for d in items:
            if d.event == "leave":
                self.close_soon(p.CloseCode.FORBIDDEN, "this doc left your scope")
                return
            try:
                self._out.put_nowait(p.encode_y_sync(p.SyncMessageType.UPDATE, d.payload))
            except asyncio.QueueFull:
                self.close_soon(p.CloseCode.TOO_SLOW, "send queue full")
                return

    def close_soon(self, code: int, reason: str) -> None:
        if self._closing is None:
            self._closing = (code, reason)
            asyncio.get_running_loop().create_task(self.transport.close(code, reason))

    async def _sender(self) -> None:
        while (data := await self._out.get()) is not None:
            await self.transport.send(data)

    async def run(self) -> None:
        try:
            kind = p.check_doc_id(self.doc_id, self.hub.rules.kinds)
        except ValueError as e:
            await self.transport.close(p.CloseCode.NOT_FOUND, str(e))
            return
        live = await self.hub.open(self.doc_id, kind)
        if live.exists and not self.principal.sees(live.grantees):
            await self.transport.close(p.CloseCode.NOT_FOUND, f"no doc {self.doc_id} for you")
            return
        if not live.exists and not self.hub.policy.may_create(self.principal, kind):
            await self.transport.close(p.CloseCode.FORBIDDEN, f"you may not create a {kind}")
            return
        self.hub.subscribe(self)
        sender = asyncio.create_task(self._sender())
        try:
            await self.transport.send(
                p.encode_y_sync(p.SyncMessageType.STEP1, live.ydoc.get_state())
            )
            while self._closing is None:
                data = await self.transport.recv()
                if len(data) > self.max_frame:
                    await self.transport.close(p.CloseCode.FRAME_TOO_LARGE, "message too large")
                    return
                mtype, kind_, payload = p.decode_y_message(data)
                if mtype == p.YMessage.AWARENESS or kind_ is None:
                    continue
                if kind_ == p.SyncMessageType.STEP1:
                    try:
                        diff = live.ydoc.get_update(payload)
                    except ValueError as e:
                        await self.transport.close(p.CloseCode.MALFORMED_FRAME, str(e))
                        return
                    await self._out.put(p.encode_y_sync(p.SyncMessageType.STEP2, diff))
                    continue
                self._clock += 1
                fut = await self.hub.apply(
                    self.principal, self.device_key[1], self.doc_id, payload, self._clock,
                    contact_floor_at=self.issued,
                )
                item = await fut
                if isinstance(item, Refusal):
                    d = item.detail
                    where = f" {d['field']}: {d.get('rule', '')}" if d.get("field") else ""
                    reason = f"{d['code']}{where} {d.get('message', '')}"
                    await self.transport.close(p.CloseCode.INVALID_UPDATE, reason)
                    return
                assert isinstance(item, Append)
        except p.ProtocolError as e:
            await self.transport.close(e.close_code, str(e))
        except Disconnected:
            pass
        finally:
            self.hub.unsubscribe(self)
            self._out.put_nowait(None)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Disconnected, Exception):
                await sender


async def yjs_endpoint(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    auth = await _authenticate(services, ws)
    if auth is None:
        return
    principal, token_id, issued = auth
    session = YjsSession(services.hub, ws, principal, ws.path_params["doc_id"], issued,
                         services.config.max_frame)
    services.track(token_id, session)
    try:
        await session.run()
    finally:
        services.untrack(token_id, session)
