"""live: anchor scripts of sessions, compliance-scanned

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_scripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=False),
        sa.Column("updated_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["live_sessions.id"],
            name=op.f("fk_session_scripts_session_id_live_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_session_scripts_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_scripts")),
        sa.UniqueConstraint("session_id", "version", name="uq_session_scripts_version"),
    )


def downgrade() -> None:
    op.drop_table("session_scripts")
