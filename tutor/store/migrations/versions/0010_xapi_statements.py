"""xAPI statements kept as sent (agents pseudonymised), for GET /v1/xapi/statements, 409 on a reused id, and voiding

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 14:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('xapi_statements',
    sa.Column('statement_id', sa.String(length=36), nullable=False, comment="the statement's UUID, lower case"),
    sa.Column('learner_id', sa.String(length=64), nullable=True, comment='pseudonym of the actor'),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False, comment='keyed hash of the statement as sent, to tell a resend from a different statement'),
    sa.Column('voids', sa.String(length=36), nullable=True, comment='for a voiding statement: the id it voids'),
    sa.Column('voided_by', sa.String(length=36), nullable=True, comment='set when a voiding statement names this one'),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False, comment='its timestamp; retention deletes by it'),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('statement_id')
    )
    op.create_index('ix_xapi_statements_voids', 'xapi_statements', ['voids'], unique=False)
    op.create_index('ix_xapi_statements_learner', 'xapi_statements', ['learner_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_xapi_statements_learner', table_name='xapi_statements')
    op.drop_index('ix_xapi_statements_voids', table_name='xapi_statements')
    op.drop_table('xapi_statements')
