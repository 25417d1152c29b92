"""mastery day marks: a late answer replays from the start of its day, not from the learner's first answer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mastery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mark_at', sa.DateTime(timezone=True), nullable=True,
                                      comment='start (UTC) of the latest day with an answer; mark_p folds every answer before it'))
        batch_op.add_column(sa.Column('mark_p', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('mark_n', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mastery', schema=None) as batch_op:
        batch_op.drop_column('mark_n')
        batch_op.drop_column('mark_p')
        batch_op.drop_column('mark_at')
