"""marketing: coupon redemption at checkout (per-consumer coupons, order discounts)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("marketing_campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coupon_percent", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("coupon_min_spend", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("coupon_brand_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("coupon_product_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("coupon_valid_days", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_marketing_campaigns_coupon_brand_id_brands"),
            "brands",
            ["coupon_brand_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_marketing_campaigns_coupon_product_id_products"),
            "products",
            ["coupon_product_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("min_spend", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", livecart.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("discount", sa.BigInteger(), nullable=True),
        sa.Column("redeemed_at", livecart.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"],
            ["brands.id"],
            name=op.f("fk_coupons_brand_id_brands"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["marketing_campaigns.id"],
            name=op.f("fk_coupons_campaign_id_marketing_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_coupons_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coupons_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("campaign_id", "user_id", name="uq_coupons_campaign_user"),
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.create_index("ix_coupons_user_status", ["user_id", "status"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("discount", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("coupon_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_coupon_id_coupons"),
            "coupons",
            ["coupon_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("discount", sa.BigInteger(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.drop_column("discount")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_orders_coupon_id_coupons"), type_="foreignkey")
        batch_op.drop_column("coupon_id")
        batch_op.drop_column("discount")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_index("ix_coupons_user_status")
    op.drop_table("coupons")
    with op.batch_alter_table("marketing_campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_marketing_campaigns_coupon_product_id_products"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_marketing_campaigns_coupon_brand_id_brands"), type_="foreignkey"
        )
        batch_op.drop_column("coupon_valid_days")
        batch_op.drop_column("coupon_product_id")
        batch_op.drop_column("coupon_brand_id")
        batch_op.drop_column("coupon_min_spend")
        batch_op.drop_column("coupon_percent")
