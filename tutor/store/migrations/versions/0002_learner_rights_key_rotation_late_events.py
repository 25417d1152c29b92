"""learner rights, key rotation, late events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:38:45.024929
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False, comment="key prefix and name, or 'cli'"),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('erasures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True, comment='set on the old key when it is rotated'))
        batch_op.add_column(sa.Column('rate_per_minute', sa.Integer(), nullable=True, comment='requests per minute per worker; null = no limit'))

    with op.batch_alter_table('mastery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True, comment='latest answer time folded in'))
        batch_op.add_column(sa.Column('base_p', sa.Float(), nullable=True, comment='mastery folded from events removed by retention'))
        batch_op.add_column(sa.Column('base_n', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('base_until', sa.DateTime(timezone=True), nullable=True, comment='events up to this time are folded into base_p'))



def downgrade() -> None:
    with op.batch_alter_table('mastery', schema=None) as batch_op:
        batch_op.drop_column('base_until')
        batch_op.drop_column('base_n')
        batch_op.drop_column('base_p')
        batch_op.drop_column('last_event_at')

    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.drop_column('rate_per_minute')
        batch_op.drop_column('expires_at')

    op.drop_table('erasures')
    op.drop_table('audit_log')
