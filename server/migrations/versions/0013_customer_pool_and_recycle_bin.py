"""customer pool and recycle bin

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rec_customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pool', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('binned_at', sa.BigInteger(), nullable=True))
    op.create_table('customer_holds',
    sa.Column('doc_id', sa.String(length=80), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=True),
    sa.Column('since', sa.BigInteger(), nullable=False),
    sa.Column('extended_until', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('doc_id')
    )
    op.create_index('ix_customer_holds_owner', 'customer_holds', ['owner'], unique=False)
    op.create_table('pool_extensions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('doc_id', sa.String(length=80), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.BigInteger(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_pool_extensions_doc_id', 'pool_extensions', ['doc_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pool_extensions_doc_id', table_name='pool_extensions')
    op.drop_table('pool_extensions')
    op.drop_index('ix_customer_holds_owner', table_name='customer_holds')
    op.drop_table('customer_holds')
    with op.batch_alter_table('rec_customer', schema=None) as batch_op:
        batch_op.drop_column('binned_at')
        batch_op.drop_column('pool')
