"""catalog and service: knowledge cards, consumer questions, answers and service tickets

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('knowledge_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('selling_points', sa.JSON(), nullable=False),
    sa.Column('specifications', sa.JSON(), nullable=False),
    sa.Column('faqs', sa.JSON(), nullable=False),
    sa.Column('compliance_notes', sa.JSON(), nullable=False),
    sa.Column('edited_by', sa.Integer(), nullable=True),
    sa.Column('generated_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['edited_by'], ['users.id'], name=op.f('fk_knowledge_cards_edited_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_knowledge_cards_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_cards')),
    sa.UniqueConstraint('product_id', name=op.f('uq_knowledge_cards_product_id'))
    )
    op.create_table('service_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('asker_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('asked_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('suggestion', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('first_response_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answer_mode', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_service_questions_answered_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['asker_id'], ['users.id'], name=op.f('fk_service_questions_asker_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_service_questions_brand_id_brands'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['chat_messages.id'], name=op.f('fk_service_questions_message_id_chat_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_service_questions_product_id_products'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['live_sessions.id'], name=op.f('fk_service_questions_session_id_live_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_questions'))
    )
    with op.batch_alter_table('service_questions', schema=None) as batch_op:
        batch_op.create_index('ix_service_questions_asker', ['asker_id'], unique=False)
        batch_op.create_index('ix_service_questions_brand', ['brand_id', 'status'], unique=False)
        batch_op.create_index('ix_service_questions_session', ['session_id', 'status'], unique=False)

    op.create_table('service_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('after_sales_request_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('rated_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('satisfaction IS NULL OR (satisfaction >= 1 AND satisfaction <= 5)', name=op.f('ck_service_tickets_satisfaction_1_to_5')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_service_tickets_brand_id_brands')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_service_tickets_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_service_tickets_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_tickets'))
    )
    with op.batch_alter_table('service_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_service_tickets_brand', ['brand_id', 'status'], unique=False)
        batch_op.create_index('ix_service_tickets_user', ['user_id'], unique=False)

    op.create_table('service_ticket_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('from_staff', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_service_ticket_messages_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_id'], ['service_tickets.id'], name=op.f('fk_service_ticket_messages_ticket_id_service_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_ticket_messages'))
    )
    with op.batch_alter_table('service_ticket_messages', schema=None) as batch_op:
        batch_op.create_index('ix_service_ticket_messages_ticket', ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('service_ticket_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_service_ticket_messages_ticket')
    op.drop_table('service_ticket_messages')
    with op.batch_alter_table('service_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_service_tickets_user')
        batch_op.drop_index('ix_service_tickets_brand')
    op.drop_table('service_tickets')
    with op.batch_alter_table('service_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_service_questions_session')
        batch_op.drop_index('ix_service_questions_brand')
        batch_op.drop_index('ix_service_questions_asker')
    op.drop_table('service_questions')
    op.drop_table('knowledge_cards')
