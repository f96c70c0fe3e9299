"""rec_customer by seq: an index on seq

The likely-duplicate finder and the duplicate rule's offline index page through customers
by `seq > cursor ORDER BY seq`; without this index each page was a scan of the table
(15-30 ms a page at 100,000 customers, two pages per 500 imported cards).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 21:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rec_customer', schema=None) as batch_op:
        batch_op.create_index('ix_rec_customer_seq', ['seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rec_customer', schema=None) as batch_op:
        batch_op.drop_index('ix_rec_customer_seq')
