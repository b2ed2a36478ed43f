"""commerce: return and refund requests, evidence, merchant answers and refunds

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('category_return_rules',
    sa.Column('category', sa.String(length=80), nullable=False),
    sa.Column('no_reason_returns', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('updated_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_category_return_rules_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('category', name=op.f('pk_category_return_rules'))
    )
    op.create_table('after_sales_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('order_item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer_due_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answer_reason', sa.Text(), nullable=False),
    sa.Column('auto_approved', sa.Boolean(), nullable=False),
    sa.Column('goods_received_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refunded_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('quantity >= 1', name=op.f('ck_after_sales_requests_quantity_positive')),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_after_sales_requests_answered_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_after_sales_requests_brand_id_brands')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_after_sales_requests_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_item_id'], ['order_items.id'], name=op.f('fk_after_sales_requests_order_item_id_order_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_after_sales_requests_product_id_products')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_after_sales_requests_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_after_sales_requests'))
    )
    op.create_index('ix_after_sales_requests_brand', 'after_sales_requests', ['brand_id', 'requested_at'], unique=False)
    op.create_index(op.f('ix_after_sales_requests_order_id'), 'after_sales_requests', ['order_id'], unique=False)
    op.create_index('ix_after_sales_requests_status_due', 'after_sales_requests', ['status', 'answer_due_at'], unique=False)
    op.create_table('refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('provider', sa.String(length=30), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refunds_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['after_sales_requests.id'], name=op.f('fk_refunds_request_id_after_sales_requests'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('idempotency_key', name='uq_refunds_idempotency')
    )
    op.create_index(op.f('ix_refunds_order_id'), 'refunds', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_refunds_order_id'), table_name='refunds')
    op.drop_table('refunds')
    op.drop_index('ix_after_sales_requests_status_due', table_name='after_sales_requests')
    op.drop_index(op.f('ix_after_sales_requests_order_id'), table_name='after_sales_requests')
    op.drop_index('ix_after_sales_requests_brand', table_name='after_sales_requests')
    op.drop_table('after_sales_requests')
    op.drop_table('category_return_rules')
