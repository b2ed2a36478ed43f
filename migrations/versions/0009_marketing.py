"""marketing: segments, stage tracks, campaigns, holdouts and messages

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "marketing_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_marketing_segments_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_segments")),
    )
    op.create_table(
        "consumer_stages",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("track", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("entered_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_consumer_stages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "track", name=op.f("pk_consumer_stages")),
    )
    op.create_table(
        "stage_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("track", sa.String(length=64), nullable=False),
        sa.Column("from_stage", sa.String(length=32), nullable=True),
        sa.Column("to_stage", sa.String(length=32), nullable=False),
        sa.Column("moved_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_stage_transitions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_transitions")),
    )
    op.create_index(
        "ix_stage_transitions_track_at", "stage_transitions", ["track", "moved_at"], unique=False
    )
    op.create_index(
        op.f("ix_stage_transitions_user_id"), "stage_transitions", ["user_id"], unique=False
    )
    op.create_table(
        "marketing_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("track", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("coupon_code", sa.String(length=40), nullable=True),
        sa.Column("coupon_amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("outcome_source", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", livecart.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("measured_at", livecart.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_marketing_campaigns_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["marketing_segments.id"],
            name=op.f("fk_marketing_campaigns_segment_id_marketing_segments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["live_sessions.id"],
            name=op.f("fk_marketing_campaigns_session_id_live_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_campaigns")),
    )
    op.create_table(
        "campaign_assignments",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=10), nullable=False),
        sa.Column("assigned_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("converted", sa.Boolean(), nullable=True),
        sa.Column("gmv", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["marketing_campaigns.id"],
            name=op.f("fk_campaign_assignments_campaign_id_marketing_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_campaign_assignments_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_campaign_assignments")),
    )
    op.create_index(
        op.f("ix_campaign_assignments_user_id"), "campaign_assignments", ["user_id"], unique=False
    )
    op.create_table(
        "marketing_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=True),
        sa.Column("coupon_code", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", livecart.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["marketing_campaigns.id"],
            name=op.f("fk_marketing_messages_campaign_id_marketing_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_marketing_messages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_messages")),
    )
    op.create_index(
        op.f("ix_marketing_messages_campaign_id"),
        "marketing_messages",
        ["campaign_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_marketing_messages_user_id"), "marketing_messages", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_marketing_messages_user_id"), table_name="marketing_messages")
    op.drop_index(op.f("ix_marketing_messages_campaign_id"), table_name="marketing_messages")
    op.drop_table("marketing_messages")
    op.drop_index(op.f("ix_campaign_assignments_user_id"), table_name="campaign_assignments")
    op.drop_table("campaign_assignments")
    op.drop_table("marketing_campaigns")
    op.drop_index(op.f("ix_stage_transitions_user_id"), table_name="stage_transitions")
    op.drop_index("ix_stage_transitions_track_at", table_name="stage_transitions")
    op.drop_table("stage_transitions")
    op.drop_table("consumer_stages")
    op.drop_table("marketing_segments")
