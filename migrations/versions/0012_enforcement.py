"""supervision: enforcement and scarcity claims: a flash sale's banner (scanned, claim checked)

Sanctions need no column of their own: the flash purchase path, the catalog's listings and the
cart read `supervision_sanctions` (migration 0008). The banner is the seller's line shown over
the countdown; the compliance lexicon scans it and its claimed remaining units are checked
against the sale's.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 20:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flash_sales") as batch_op:
        batch_op.add_column(
            sa.Column("banner", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("flash_sales") as batch_op:
        batch_op.drop_column("banner")
