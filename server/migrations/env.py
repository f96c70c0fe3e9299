"""Alembic environment: async engines, every package's metadata."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from server.metadata import all_metadata

config = context.config
target_metadata = all_metadata()


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


# What this run applied, for the one line `server.db.migrate` logs.
applied: list[str] = config.attributes.setdefault("applied", [])


def _applied(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    for rev in step.destination_revisions:
        applied.append(f"{rev.revision} ({rev.doc})")


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      on_version_apply=_applied)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "",
                                 poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
