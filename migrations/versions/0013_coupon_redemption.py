"""marketing: coupon redemption at checkout (reserved; empty until filled)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:45:00.000000
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
