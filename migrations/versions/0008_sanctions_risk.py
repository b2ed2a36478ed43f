"""supervision: sanctions and appeals, the append-only audit log, consumer reports, risk scores

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
