"""Websocket endpoints: `/sync` (one socket per device) and `/yjs/<doc id>` (y-websocket).

Both authenticate a bearer token (`server.auth`, header or `?token=`), then hand the socket,
adapted to `sync.transport`, to the sync layer, tracked in `server.connections` meanwhile.
"""

from __future__ import annotations

import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from sync import protocol as p
from sync.scope import Principal
from sync.session import SessionLimits, SyncSession
from sync.transport import Disconnected
from sync.yjs import YjsSession

from .auth import caller
from .errors import Unauthorized
from .services import services_of

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


async def _authenticate(ws: WebSocket) -> tuple[Principal, str, int] | None:
    await ws.accept()
    try:
        info, principal = await caller(ws, query=True)
    except Unauthorized as e:
        await ws.close(p.CloseCode.BAD_TOKEN, p.close_reason(e.message))
        return None
    return principal, info.id, info.created_at


async def sync_endpoint(ws: WebSocket) -> None:
    services = services_of(ws)
    auth = await _authenticate(ws)
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
    services.connections.track(token_id, session)
    try:
        await session.run()
    finally:
        services.connections.untrack(token_id, session)


async def yjs_endpoint(ws: WebSocket) -> None:
    services = services_of(ws)
    auth = await _authenticate(ws)
    if auth is None:
        return
    principal, token_id, issued = auth
    cfg = services.config
    session = YjsSession(
        services.hub,
        StarletteTransport(ws),
        principal,
        ws.path_params["doc_id"],
        token_issued_at=issued,
        limits=SessionLimits(max_frame=cfg.max_frame, queue_frames=cfg.send_queue_frames),
    )
    services.connections.track(token_id, session)
    try:
        await session.run()
    finally:
        services.connections.untrack(token_id, session)
