"""The composition root: every long-lived part of a running server, built once in the app's
lifespan from `Config`, and reached by routes as `services_of(request)`. No behaviour here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from sync.hub import Hub
from sync.log import Log

from .accounts import Accounts
from .approvals import Approvals
from .blobs import BlobStore
from .config import Config
from .connections import Connections
from .duplicates import Duplicates
from .pool import Pool
from .records import ServerEdits


@dataclass(frozen=True)
class Services:
    config: Config
    engine: AsyncEngine
    accounts: Accounts
    store: BlobStore
    log: Log
    hub: Hub
    edits: ServerEdits
    duplicates: Duplicates
    connections: Connections
    approvals: Approvals
    pool: Pool


def services_of(conn: HTTPConnection) -> Services:
    """The running server's services, from a request or a websocket."""
    services = conn.app.state.services
    assert isinstance(services, Services), "the app's lifespan has not started"
    return services
