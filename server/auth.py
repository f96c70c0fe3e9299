"""Request authentication for routes and sockets alike: the bearer token and who it is.

Browsers cannot set headers on a websocket, so sockets may also carry the token as
`?token=`; HTTP routes take it from the `Authorization` header only (URLs end up in logs).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from sync.scope import Principal

from .accounts import TokenInfo
from .services import services_of


def bearer(conn: HTTPConnection, *, query: bool = False) -> str | None:
    auth = conn.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return conn.query_params.get("token") if query else None


async def current(conn: HTTPConnection, *, query: bool = False) -> TokenInfo:
    """The caller's token, or Unauthorized (no, bad, expired or revoked token)."""
    return await services_of(conn).accounts.authenticate(bearer(conn, query=query))


async def caller(conn: HTTPConnection, *, query: bool = False) -> tuple[TokenInfo, Principal]:
    """The caller's token and what they may see."""
    info = await current(conn, query=query)
    return info, await services_of(conn).accounts.principal(info.user)
