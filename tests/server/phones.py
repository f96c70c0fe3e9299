"""What the server tests do with phones: go online, write customers, wait for the server's own
follow-up edits, and ask the read API as a given user."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from sync.client import SyncClient
from tests.conftest import LiveServer
from tests.factories import new_customer

NAME = "北京友好创达科技有限公司"


def customer(user_id: str, name: str, created_at: int, **over: Any) -> dict[str, Any]:
    """A customer card with one contact of its own (no credit code, so only names match)."""
    rec = new_customer(user_id, name=name, created_at=created_at, credit_code=None, **over)
    rec["contacts"] = [dict(rec["contacts"][0], id=f"c-{user_id[:4]}", name=f"联系人{user_id[:4]}")]
    return rec


async def settle(server: LiveServer) -> None:
    """Wait until the server's own follow-up edits (codes, merges, re-parenting) are done."""
    await server.services.edits.settle()
    assert not server.services.edits.errors, server.services.edits.errors


@contextlib.asynccontextmanager
async def online(server: LiveServer, dev: SyncClient, login: str) -> AsyncIterator[SyncClient]:
    """The device connected as `login` and caught up, for the block's duration."""
    async with dev.connect(f"{server.ws}/sync", server.tokens[login]):
        await dev.wait_caught_up()
        yield dev


def http(server: LiveServer, login: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url,
                             headers={"Authorization": f"Bearer {server.tokens[login]}"})
