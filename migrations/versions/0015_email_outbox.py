"""marketing: e-mail messages are an outbox (attempts, next try, sent time, last error)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("marketing_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "next_attempt_at", livecart.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("sent_at", livecart.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_error", sa.String(length=300), nullable=True))
        batch_op.create_index(
            "ix_marketing_messages_outbox", ["status", "next_attempt_at"], unique=False
        )
    # E-mails recorded before the outbox were handed to the server once and their result was
    # not kept: `unknown`, never tried again.
    op.execute(
        "UPDATE marketing_messages SET status = 'unknown' "
        "WHERE channel = 'email' AND status = 'queued'"
    )


def downgrade() -> None:
    with op.batch_alter_table("marketing_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_marketing_messages_outbox")
        batch_op.drop_column("last_error")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
