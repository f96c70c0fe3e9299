"""The database: one async engine for SQLite or PostgreSQL, and migrations run at start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


def make_engine(url: str, **kw: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # WAL: many readers beside the one writer; size the pool for many devices at once.
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=10,
                                     max_overflow=20, pool_timeout=60, **kw)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside the one writer; FULL makes every group commit
            # durable against power loss, not only against a crash of this process.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kw)


def alembic_config(url: str) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def migrate(url: str) -> None:
    """Upgrade the database to the newest schema (blocking; runs its own event loop)."""
    from alembic import command

    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    from alembic.script import ScriptDirectory

    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    head = ScriptDirectory.from_config(cfg).get_current_head()
    applied = cfg.attributes.get("applied") or []
    if applied:
        log.info("migrations applied: %s; the database schema is at %s", ", ".join(applied), head)
    else:
        log.info("the database schema is up to date (%s)", head)


async def migrate_async(url: str) -> None:
    await asyncio.to_thread(migrate, url)
