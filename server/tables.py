"""SQL tables of the server: users and the reporting tree, tokens, the audit trail."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("manager_id", String(64), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
)

# Bearer tokens are random; only their SHA-256 is stored.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("label", String(200), nullable=False, server_default=""),
    Index("ix_tokens_user", "user_id"),
)

# Server decisions worth answering for later: merges, refusals, ownership moves, logins.
audit = Table(
    "audit",
    metadata,
    # SQLite auto-increments only an INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("action", String(40), nullable=False),
    Column("user_id", String(64), nullable=True),
    Column("doc_id", String(80), nullable=True),
    Column("detail", Text, nullable=False, server_default="{}"),
    Index("ix_audit_at", "at"),
    Index("ix_audit_action_at", "action", "at"),
)

# Failed logins, for throttling password guessing per account and per client address.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("login", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Index("ix_login_failures_login_at", "login", "at"),
    Index("ix_login_failures_address_at", "address", "at"),
    Index("ix_login_failures_at", "at"),
)

# Who changed which field of which record when, from which device: written in the commit
# transaction, so it outlives the compaction of the raw updates.
field_history = Table(
    "field_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("doc_id", String(80), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("device_id", String(128), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("committed_at", BigInteger, nullable=False),
    Column("field", String(64), nullable=False),
    Column("old", Text, nullable=True),  # JSON
    Column("new", Text, nullable=True),  # JSON
    Index("ix_field_history_doc_seq", "doc_id", "seq"),
)

# Pairs of customers that are probably one (similar names, a shared phone or address), for
# the back office to merge or dismiss. A dismissed pair is never merged automatically.
duplicate_candidates = Table(
    "duplicate_candidates",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("doc_a", String(80), nullable=False),  # doc_a < doc_b
    Column("doc_b", String(80), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # open | merged | dismissed
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    UniqueConstraint("doc_a", "doc_b", name="uq_duplicate_candidates_pair"),
    Index("ix_duplicate_candidates_status", "status", "created_at"),
)

# Every merge, with what it moved and filled, so that an admin can undo it.
merges = Table(
    "merges",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("survivor", String(80), nullable=False),
    Column("duplicate", String(80), nullable=False),
    Column("rule", String(32), nullable=False),  # same_name | same_credit_code | manual
    Column("at", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Column("undone_at", BigInteger, nullable=True),
    Column("undone_by", String(64), nullable=True),
    Index("ix_merges_at", "at"),
)

# Settings an admin changes at run time (the expense amount that needs a second approver).
settings = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(64), nullable=True),
)

# One row per decided step of an approval round: the key refuses a second decision of the
# same step, whichever server instance takes it (server.approvals).
approval_claims = Table(
    "approval_claims",
    metadata,
    Column("doc_id", String(80), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("at", BigInteger, nullable=False),
)

# Pool (公海) bookkeeping, one row per customer that was ever in the pool or claimed from it
# (server.pool): `owner` NULL while it is in the pool, so a claim is one conditional UPDATE and
# the first claim wins on any instance; `since` starts the hold (or the stay in the pool).
customer_holds = Table(
    "customer_holds",
    metadata,
    Column("doc_id", String(80), primary_key=True),
    Column("owner", String(64), nullable=True),
    Column("via", String(16), nullable=False),  # released | claim | assign
    Column("reason", String(16), nullable=True),  # why it entered the pool
    Column("since", BigInteger, nullable=False),
    Column("extended_until", BigInteger, nullable=True),
    Index("ix_customer_holds_owner", "owner"),
)

# An owner's request to keep a customer longer before automatic release (延期).
pool_extensions = Table(
    "pool_extensions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(80), nullable=False, index=True),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("days", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("status", String(16), nullable=False),  # pending | granted | refused
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
)
