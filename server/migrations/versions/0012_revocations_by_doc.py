"""sync_revocations by doc: an index on (doc_id, seq)

Catch-up of other instances' commits (`sync.log.follower.read_committed`) and a merged card's former
grantees (`Log.grantees_before_redirect`) look revocations up by doc; without this index
each was a scan of the whole table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 17:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_revocations', schema=None) as batch_op:
        batch_op.create_index('ix_sync_revocations_doc_seq', ['doc_id', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_revocations', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_revocations_doc_seq')
