"""privacy: consent to personalisation, account deletion

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 07:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, not a batch: on SQLite a batch would copy `users` into
    # a new table and drop the old one, and with foreign keys on, dropping it cascades to
    # role_grants, cart_items, reservations and flash holdings. Existing accounts keep
    # personalisation on, as new ones get it.
    op.add_column('users', sa.Column('personalisation', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('users', sa.Column('deleted_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('erased_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason.
    op.drop_column('users', 'erased_at')
    op.drop_column('users', 'deleted_at')
    op.drop_column('users', 'personalisation')
