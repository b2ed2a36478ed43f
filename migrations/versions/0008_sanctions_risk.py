"""supervision: sanctions and appeals, the append-only audit log, consumer reports, risk scores

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import livecart.core.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# The audit log is append-only, held by the database (the same statements as
# livecart.supervision.models.AUDIT_TRIGGERS, copied so this revision never changes).
AUDIT_TRIGGERS = {
    "sqlite": (
        "CREATE TRIGGER supervision_audit_no_update BEFORE UPDATE ON supervision_audit "
        "BEGIN SELECT RAISE(ABORT, 'supervision_audit is append-only'); END",
        "CREATE TRIGGER supervision_audit_no_delete BEFORE DELETE ON supervision_audit "
        "BEGIN SELECT RAISE(ABORT, 'supervision_audit is append-only'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION supervision_audit_refuse() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'supervision_audit is append-only'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER supervision_audit_no_change BEFORE UPDATE OR DELETE ON supervision_audit "
        "FOR EACH ROW EXECUTE FUNCTION supervision_audit_refuse()",
    ),
}


def upgrade() -> None:
    op.create_table('supervision_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_kind', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_supervision_audit_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_audit'))
    )
    with op.batch_alter_table('supervision_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_audit_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_audit_at'), ['at'], unique=False)
        batch_op.create_index('ix_supervision_audit_subject', ['subject_kind', 'subject_id'], unique=False)

    op.create_table('supervision_sanctions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject_kind', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('party_user_id', sa.Integer(), nullable=True),
    sa.Column('party_brand_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lifted_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.Integer(), nullable=True),
    sa.Column('appeal_status', sa.String(length=20), nullable=False),
    sa.Column('appeal_text', sa.Text(), nullable=False),
    sa.Column('appeal_by', sa.Integer(), nullable=True),
    sa.Column('appealed_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('appeal_decided_by', sa.Integer(), nullable=True),
    sa.Column('appeal_decided_at', livecart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appeal_by'], ['users.id'], name=op.f('fk_supervision_sanctions_appeal_by_users')),
    sa.ForeignKeyConstraint(['appeal_decided_by'], ['users.id'], name=op.f('fk_supervision_sanctions_appeal_decided_by_users')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_supervision_sanctions_created_by_users')),
    sa.ForeignKeyConstraint(['lifted_by'], ['users.id'], name=op.f('fk_supervision_sanctions_lifted_by_users')),
    sa.ForeignKeyConstraint(['party_brand_id'], ['brands.id'], name=op.f('fk_supervision_sanctions_party_brand_id_brands')),
    sa.ForeignKeyConstraint(['party_user_id'], ['users.id'], name=op.f('fk_supervision_sanctions_party_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_sanctions'))
    )
    with op.batch_alter_table('supervision_sanctions', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_sanctions_subject', ['subject_kind', 'subject_id'], unique=False)

    op.create_table('supervision_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('negative', sa.Integer(), nullable=False),
    sa.Column('window_seconds', sa.Integer(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['live_sessions.id'], name=op.f('fk_supervision_alerts_session_id_live_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_alerts'))
    )
    with op.batch_alter_table('supervision_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_alerts_at'), ['at'], unique=False)
        batch_op.create_index('ix_supervision_alerts_session', ['session_id', 'at'], unique=False)

    op.create_table('supervision_negative_signals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['live_sessions.id'], name=op.f('fk_supervision_negative_signals_session_id_live_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_negative_signals'))
    )
    with op.batch_alter_table('supervision_negative_signals', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_negative_signals_window', ['session_id', 'at'], unique=False)

    op.create_table('supervision_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('anchor_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('handled_by', sa.Integer(), nullable=True),
    sa.Column('created_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', livecart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['anchor_id'], ['users.id'], name=op.f('fk_supervision_reports_anchor_id_users')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_supervision_reports_brand_id_brands')),
    sa.ForeignKeyConstraint(['handled_by'], ['users.id'], name=op.f('fk_supervision_reports_handled_by_users')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_supervision_reports_order_id_orders')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_supervision_reports_product_id_products')),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_supervision_reports_reporter_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['live_sessions.id'], name=op.f('fk_supervision_reports_session_id_live_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_reports'))
    )
    with op.batch_alter_table('supervision_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_reports_anchor_id'), ['anchor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_reports_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_reports_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_reports_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_reports_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_reports_status'), ['status'], unique=False)

    for statement in AUDIT_TRIGGERS.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade() -> None:
    # Dropping the table drops its triggers.
    for table in (
        'supervision_reports',
        'supervision_negative_signals',
        'supervision_alerts',
        'supervision_sanctions',
        'supervision_audit',
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS supervision_audit_refuse()')
