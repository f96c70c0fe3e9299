"""Migrations: each revision's own effect, up and down, on both backends."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from server.db import alembic_config, make_engine
from sync import tables as st


def _indexes(url: str, table: str) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        eng = make_engine(url)
        try:
            async with eng.connect() as conn:
                found = await conn.run_sync(lambda c: inspect(c).get_indexes(table))
        finally:
            await eng.dispose()
        return {str(i["name"]): [str(c) for c in i["column_names"]] for i in found}

    return asyncio.run(read())


def test_0012_indexes_revocations_by_doc_and_seq(database_url: str) -> None:
    name = "ix_sync_revocations_doc_seq"
    assert _indexes(database_url, "sync_revocations")[name] == ["doc_id", "seq"]
    # the tables the code declares say the same as the migrated database
    declared = {str(i.name): [c.name for c in i.columns] for i in st.revocations.indexes}
    assert declared[name] == ["doc_id", "seq"]
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0011")
    try:
        assert name not in _indexes(database_url, "sync_revocations")
    finally:
        command.upgrade(cfg, "head")
    assert _indexes(database_url, "sync_revocations")[name] == ["doc_id", "seq"]


def test_0014_indexes_customers_by_seq(database_url: str) -> None:
    from schema.tables import KIND_TABLES

    name = "ix_rec_customer_seq"
    assert _indexes(database_url, "rec_customer")[name] == ["seq"]
    declared = {str(i.name): [c.name for c in i.columns] for i in KIND_TABLES["customer"].indexes}
    assert declared[name] == ["seq"]
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0013")
    try:
        assert name not in _indexes(database_url, "rec_customer")
    finally:
        command.upgrade(cfg, "head")
    assert _indexes(database_url, "rec_customer")[name] == ["seq"]
