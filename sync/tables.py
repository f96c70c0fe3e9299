"""SQL tables of the sync layer: the change log, snapshots, doc metadata, grants, devices.

Times are integers, milliseconds since the epoch (server clock unless named `claimed_`),
so SQLite and PostgreSQL store and compare them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

DOC_ID = String(80)
USER_ID = String(64)
DEVICE_ID = String(128)

# The one ordered change log. `seq` is allocated from `counters` inside the committing
# transaction, so sequence numbers are gap-free and in commit order.
changes = Table(
    "sync_changes",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("doc_id", DOC_ID, nullable=False),
    Column("update", LargeBinary, nullable=False),
    Column("user_id", USER_ID, nullable=False),
    Column("device_id", DEVICE_ID, nullable=False),
    Column("clock", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("committed_at", BigInteger, nullable=False),
    Index("ix_sync_changes_doc_seq", "doc_id", "seq"),
)

counters = Table(
    "sync_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Merged state of a doc covering every change with seq <= `seq`.
snapshots = Table(
    "sync_snapshots",
    metadata,
    Column("doc_id", DOC_ID, primary_key=True),
    Column("state", LargeBinary, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

docs = Table(
    "sync_docs",
    metadata,
    Column("doc_id", DOC_ID, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("created_by", USER_ID, nullable=False),
    Column("created_device", DEVICE_ID, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_committed_at", BigInteger, nullable=False, server_default="0"),
    Column("first_received_at", BigInteger, nullable=False),
    # The device's last acknowledged contact before the session that brought the doc:
    # the earliest the server can vouch the record was made (duplicate resolution).
    Column("contact_floor_at", BigInteger, nullable=False),
    # Device clock minus server clock at the session that brought the doc (ms): corrects a
    # phone whose clock is set wrong.
    Column("clock_offset", BigInteger, nullable=False, server_default="0"),
    Column("merged_into", DOC_ID, nullable=True),
    Index("ix_sync_docs_last_seq", "last_seq"),
)

# Direct read grants: the users a doc belongs to. Managers see their reports' grants
# through the reporting tree, so a tree change touches no rows here.
grants = Table(
    "sync_grants",
    metadata,
    Column("doc_id", DOC_ID, nullable=False),
    Column("user_id", USER_ID, nullable=False),
    Column("since_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("doc_id", "user_id"),
    Index("ix_sync_grants_user_since", "user_id", "since_seq"),
)

revocations = Table(
    "sync_revocations",
    metadata,
    Column("seq", BigInteger, nullable=False),
    Column("doc_id", DOC_ID, nullable=False),
    Column("user_id", USER_ID, nullable=False),
    Index("ix_sync_revocations_user_seq", "user_id", "seq"),
    Index("ix_sync_revocations_doc_seq", "doc_id", "seq"),
)

devices = Table(
    "sync_devices",
    metadata,
    Column("user_id", USER_ID, nullable=False),
    Column("device_id", DEVICE_ID, nullable=False),
    # Highest clock processed (committed or refused): resends at or below it are answered
    # from the record, never applied again.
    Column("last_clock", BigInteger, nullable=False),
    Column("first_seen_at", BigInteger, nullable=False),
    Column("last_contact_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    # Set when the device's scope changed in a way a cursor cannot express.
    Column("needs_reset", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("user_id", "device_id"),
)

refusals = Table(
    "sync_refusals",
    metadata,
    Column("user_id", USER_ID, nullable=False),
    Column("device_id", DEVICE_ID, nullable=False),
    Column("clock", BigInteger, nullable=False),
    Column("doc_id", DOC_ID, nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "device_id", "clock"),
)
