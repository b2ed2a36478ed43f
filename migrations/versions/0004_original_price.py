"""catalog: a SKU's original ("was") price of a discount claim

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('skus', sa.Column('original_price', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('skus', 'original_price')
