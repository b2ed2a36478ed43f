"""supervision: risk signals (compliance hits, price-truth violations, bot-like viewers)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 20:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervision_compliance_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("excerpt", sa.String(length=200), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("anchor_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_compliance_hits")),
    )
    with op.batch_alter_table("supervision_compliance_hits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_supervision_compliance_hits_brand", ["brand_id", "at"], unique=False
        )
        batch_op.create_index(
            "ix_supervision_compliance_hits_product", ["product_id", "at"], unique=False
        )
        batch_op.create_index(
            "ix_supervision_compliance_hits_anchor", ["anchor_id", "at"], unique=False
        )

    op.create_table(
        "supervision_bot_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("anchor_id", sa.Integer(), nullable=False),
        sa.Column("detector", sa.String(length=32), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("seen_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detected_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_bot_findings")),
    )
    with op.batch_alter_table("supervision_bot_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_supervision_bot_findings_anchor", ["anchor_id", "seen_at"], unique=False
        )
        batch_op.create_index(
            "uq_supervision_bot_findings_session", ["session_id", "detector"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("supervision_bot_findings", schema=None) as batch_op:
        batch_op.drop_index("uq_supervision_bot_findings_session")
        batch_op.drop_index("ix_supervision_bot_findings_anchor")
    op.drop_table("supervision_bot_findings")
    with op.batch_alter_table("supervision_compliance_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_supervision_compliance_hits_anchor")
        batch_op.drop_index("ix_supervision_compliance_hits_product")
        batch_op.drop_index("ix_supervision_compliance_hits_brand")
    op.drop_table("supervision_compliance_hits")
