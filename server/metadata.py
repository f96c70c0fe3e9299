"""Every package's tables, gathered for migrations and test set-up."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> list[MetaData]:
    from schema import tables as schema_tables
    from sync import tables as sync_tables

    from . import tables as server_tables
    from .blobs import tables as blob_tables

    return [
        sync_tables.metadata,
        server_tables.metadata,
        schema_tables.metadata,
        blob_tables.metadata,
    ]
