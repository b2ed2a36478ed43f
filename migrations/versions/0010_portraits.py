"""insights: stored consumer portraits, affinities, fan levels and incremental runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portrait_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engine', sa.String(length=20), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=True),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.Column('consumers', sa.Integer(), nullable=False),
    sa.Column('started_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portrait_runs'))
    )
    op.create_table('consumer_affinities',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.CheckConstraint("kind IN ('category', 'brand', 'price_band')", name=op.f('ck_consumer_affinities_kind_known')),
    sa.CheckConstraint('score >= 0 AND score <= 1', name=op.f('ck_consumer_affinities_score_range')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consumer_affinities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'kind', 'key', name=op.f('pk_consumer_affinities'))
    )
    op.create_index('ix_consumer_affinities_kind_key', 'consumer_affinities', ['kind', 'key'], unique=False)
    op.create_table('consumer_portraits',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('computed_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('watch_seconds', sa.Double(), nullable=False),
    sa.Column('sessions_watched', sa.Integer(), nullable=False),
    sa.Column('avg_stay_seconds', sa.Double(), nullable=True),
    sa.Column('active_hours', sa.JSON(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('likes', sa.Integer(), nullable=False),
    sa.Column('questions', sa.Integer(), nullable=False),
    sa.Column('interactions_per_hour', sa.Double(), nullable=True),
    sa.Column('top_keywords', sa.JSON(), nullable=False),
    sa.Column('products_viewed', sa.Integer(), nullable=False),
    sa.Column('categories_viewed', sa.Integer(), nullable=False),
    sa.Column('carts', sa.Integer(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('spend_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('return_rate', sa.Double(), nullable=True),
    sa.Column('recency_days', sa.Integer(), nullable=True),
    sa.Column('rfm_r', sa.Integer(), nullable=True),
    sa.Column('rfm_f', sa.Integer(), nullable=True),
    sa.Column('rfm_m', sa.Integer(), nullable=True),
    sa.Column('p_alive', sa.Double(), nullable=True),
    sa.Column('expected_purchases_30d', sa.Double(), nullable=True),
    sa.Column('expected_value_minor', sa.BigInteger(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.CheckConstraint('rfm_f BETWEEN 1 AND 5', name=op.f('ck_consumer_portraits_rfm_f_range')),
    sa.CheckConstraint('rfm_m BETWEEN 1 AND 5', name=op.f('ck_consumer_portraits_rfm_m_range')),
    sa.CheckConstraint('rfm_r BETWEEN 1 AND 5', name=op.f('ck_consumer_portraits_rfm_r_range')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consumer_portraits_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_consumer_portraits'))
    )
    op.create_table('fan_levels',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('anchor_id', sa.BigInteger(), nullable=False),
    sa.Column('score', sa.BigInteger(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.CheckConstraint('level >= 1', name=op.f('ck_fan_levels_level_positive')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_fan_levels_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'anchor_id', name=op.f('pk_fan_levels'))
    )
    op.create_index('ix_fan_levels_anchor', 'fan_levels', ['anchor_id'], unique=False)
    op.create_table('portrait_facts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('session_id', sa.BigInteger(), nullable=True),
    sa.Column('anchor_id', sa.BigInteger(), nullable=True),
    sa.Column('product_key', sa.String(length=120), nullable=True),
    sa.Column('category_key', sa.String(length=120), nullable=True),
    sa.Column('order_ref', sa.String(length=64), nullable=True),
    sa.Column('is_question', sa.Boolean(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.Column('watch_seconds', sa.Double(), nullable=True),
    sa.Column('watch_whole_seconds', sa.BigInteger(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('first_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_portrait_facts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portrait_facts'))
    )
    op.create_index('ix_portrait_facts_user', 'portrait_facts', ['user_id'], unique=False)
    op.create_table('portrait_keywords',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('word', sa.String(length=60), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_portrait_keywords_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'word', name=op.f('pk_portrait_keywords'))
    )
    op.create_table('portrait_log_files',
    sa.Column('name', sa.String(length=400), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('events', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['portrait_runs.id'], name=op.f('fk_portrait_log_files_run_id_portrait_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_portrait_log_files'))
    )


def downgrade() -> None:
    op.drop_table('portrait_log_files')
    op.drop_table('portrait_keywords')
    op.drop_index('ix_portrait_facts_user', table_name='portrait_facts')
    op.drop_table('portrait_facts')
    op.drop_index('ix_fan_levels_anchor', table_name='fan_levels')
    op.drop_table('fan_levels')
    op.drop_table('consumer_portraits')
    op.drop_index('ix_consumer_affinities_kind_key', table_name='consumer_affinities')
    op.drop_table('consumer_affinities')
    op.drop_table('portrait_runs')
