"""The Starlette application: services started in the lifespan, routes, error handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from schema.export import schema_json
from sync import protocol as p
from sync.fanout import CHANNEL, PgListener
from sync.hub import Hub
from sync.log import Compactor, Log

from .accounts import Accounts
from .approvals import Approvals
from .approvals_api import routes as approval_routes
from .attachments import BlobRights, named_blobs, reference_blobs
from .auth import bearer, current
from .backoffice import backoffice_routes
from .blobs import BlobStore, GarbageCollector, LocalDiskStore, S3Store, blob_routes
from .config import Config
from .connections import Connections
from .db import make_engine, migrate_async
from .duplicates import Duplicates
from .duplicates_api import routes as duplicates_routes
from .errors import BadRequest, HTTPError, handle_http_error, handle_starlette_http
from .history import record_history
from .openapi import openapi
from .params import json_object
from .pool import Pool
from .pool import Settings as PoolSettings
from .pool_api import routes as pool_routes
from .records import RecordPolicy, SchemaRules, ServerEdits, project_appends
from .records_api import routes as record_routes
from .services import Services, services_of
from .ws import sync_endpoint, yjs_endpoint

log = logging.getLogger(__name__)

SETTLE_ON_EXIT = 1.0  # seconds the lifespan's exit waits for the server's own edits


async def create_session(request: Request) -> Response:
    body = await json_object(request)
    login, password = body.get("login"), body.get("password")
    if not isinstance(login, str) or not login:
        raise BadRequest("'login' is required", field="login")
    if not isinstance(password, str) or not password:
        raise BadRequest("'password' is required", field="password")
    services = services_of(request)
    label = str(body.get("device", ""))[:200]
    address = request.client.host if request.client else ""
    token, user = await services.accounts.login(login, password, label=label, address=address)
    return JSONResponse({"token": token, "user": user.public()}, status_code=201)


async def delete_session(request: Request) -> Response:
    info = await current(request)
    services = services_of(request)
    await services.accounts.revoke(info.id)
    services.connections.revoke_tokens([info.id], "logged out")
    return Response(status_code=204)


async def me(request: Request) -> Response:
    info = await current(request)
    return JSONResponse({"user": info.user.public()})


_SCHEMA: dict[str, Any] = {}


async def schema(request: Request) -> Response:
    if not _SCHEMA:
        _SCHEMA.update(schema_json())
    return JSONResponse(_SCHEMA, headers={"Cache-Control": "no-cache"})


async def health(request: Request) -> Response:
    services = services_of(request)
    return JSONResponse(
        {"ok": True, "head": services.log.head, "live_docs": services.hub.live_count,
         "connections": services.connections.count}
    )


class AppFiles(StaticFiles):
    """The built PWA. Unknown paths under /app/ get the shell, so deep links work offline."""

    async def get_response(self, path: str, scope: Any) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as e:
            if e.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise
            response = await super().get_response("index.html", scope)
        if path in ("sw.js", "index.html", ".", "") or path.endswith("manifest.webmanifest"):
            response.headers["Cache-Control"] = "no-cache"
        return response


def app_dir() -> Path:
    return Path(__file__).parent / "static" / "app"


async def root(request: Request) -> Response:
    return RedirectResponse("/app/", status_code=302)


class _Caller:
    __slots__ = ("user_id",)

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id


def make_store(config: Config) -> BlobStore:
    if config.blob_store == "s3":
        return S3Store(
            endpoint_url=config.s3_endpoint_url or None,
            bucket=config.s3_bucket,
            access_key=config.s3_access_key or None,
            secret_key=config.s3_secret_key or None,
            region=config.s3_region,
            prefix=config.s3_prefix,
        )
    return LocalDiskStore(config.blobs)


async def commit_hooks(conn: Any, appends: Any) -> None:
    """Everything that must change in the same transaction as the log append."""
    await project_appends(conn, appends)
    await reference_blobs(conn, appends)
    await record_history(conn, appends)


def routes() -> list[BaseRoute]:
    app_files: list[BaseRoute] = []
    if app_dir().is_dir():
        app_files = [Mount("/app", AppFiles(directory=app_dir(), html=True), name="app")]
    return [
        Route("/", root, methods=["GET"]),
        Route("/api/session", create_session, methods=["POST"]),
        Route("/api/session", delete_session, methods=["DELETE"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/api/schema", schema, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        WebSocketRoute("/sync", sync_endpoint),
        WebSocketRoute("/yjs/{doc_id:path}", yjs_endpoint),
        *duplicates_routes(),
        *record_routes(),
        *approval_routes(),
        *pool_routes(),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        *app_files,
        Mount("/admin", routes=backoffice_routes()),
    ]


def create_app(config: Config, *, run_migrations: bool = True) -> Starlette:
    # Built now (no I/O yet) so the blob router can hold them; opened in the lifespan.
    engine = make_engine(config.database)
    store = make_store(config)
    accounts = Accounts(engine, token_ttl=config.token_ttl)

    async def authenticate(request: Request) -> _Caller:
        return _Caller((await accounts.authenticate(bearer(request))).user.id)

    blob_router = blob_routes(
        store=store,
        engine=engine,
        authenticate=authenticate,
        can_read=BlobRights(engine, accounts),
        chunk_dir=config.uploads,
        max_size=config.blob_max_size,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if run_migrations:
            await migrate_async(config.database)
        shared = config.pg_notify and not config.is_sqlite
        try:
            async with Log(engine, on_commit=commit_hooks,
                           notify_channel=CHANNEL if shared else None) as log_, GarbageCollector(
                engine=engine,
                store=store,
                chunk_dir=config.uploads,
                grace=timedelta(seconds=config.blob_gc_grace),
                upload_ttl=timedelta(seconds=config.upload_ttl),
                interval=timedelta(seconds=config.blob_gc_interval),
                named=named_blobs(engine),
            ):
                hub = Hub(
                    log_,
                    policy=RecordPolicy(),
                    rules=SchemaRules(),
                    max_live=config.max_live_docs,
                )
                edits = ServerEdits(hub)
                duplicates = Duplicates(hub, edits, config.secret())
                hub.listeners.append(edits.after_commit)
                hub.listeners.append(duplicates.after_commit)
                approvals = Approvals(hub, edits, accounts)
                hub.listeners.append(approvals.after_commit)
                connections = Connections(hub)
                pool = Pool(engine, hub, edits, accounts, PoolSettings(
                    config.pool_claim_limit, config.pool_release_days,
                    config.pool_sweep_interval))
                hub.listeners.append(pool.after_commit)
                app.state.services = Services(config, engine, accounts, store, log_, hub, edits,
                                              duplicates, connections, approvals, pool)
                async with contextlib.AsyncExitStack() as stack:
                    if shared:
                        connections.listener = await stack.enter_async_context(PgListener(
                            log_, config.database, on_revoked=connections.close_tokens_here,
                            on_scope_changed=connections.close_scopes_here,
                            on_devices_revoked=connections.close_devices_here,
                            on_gap=lambda: connections.close_all_here(
                                "this server lost its link to the other instances")))
                    await stack.enter_async_context(Compactor(
                        log_,
                        interval=config.compact_interval,
                        retention_ms=int(config.log_retention * 1000),
                    ))
                    await stack.enter_async_context(duplicates)  # its background finder
                    await stack.enter_async_context(pool)  # its automatic release
                    yield
                for sub in hub.subscribers():
                    sub.close_soon(p.CloseCode.GOING_AWAY, "server shutting down")
                # Bounded, so that SIGTERM stops the server in seconds whatever is queued.
                # Edits still running are left, not cancelled: one cancelled inside its
                # transaction would hold SQLite's write lock against the log's last commit.
                # And the log's last commits start no more: a burst of new cards would
                # otherwise keep it busy with their follow-ups. The duplicate rule is redone
                # from the finder's cursor at the next start (docs/duplicates.md, "Stopping").
                settling = asyncio.ensure_future(edits.settle())
                if not (await asyncio.wait([settling], timeout=SETTLE_ON_EXIT))[0]:
                    log.warning("stopping with the server's own edits still running after "
                                "%s s", SETTLE_ON_EXIT)
                hub.listeners.clear()
        finally:
            await store.aclose()
            await engine.dispose()

    app = Starlette(
        # Beside the other routes, not in a Mount(""): a mount matches every path, so a known
        # path asked with a method it does not take got the mount's 404 instead of a 405.
        routes=[*routes(), *blob_router.routes],
        lifespan=lifespan,
        exception_handlers={
            HTTPError: handle_http_error,
            HTTPException: handle_starlette_http,
        },
    )
    app.state.config = config
    return app

