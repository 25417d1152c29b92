"""each learner's next-answer history, kept beside mastery

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 14:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('answer_histories',
    sa.Column('learner_id', sa.String(length=64), nullable=False),
    sa.Column('model_key', sa.String(length=32), nullable=False, comment='NextAnswerModel.state_key of the model that built it; another model rebuilds it'),
    sa.Column('state', sa.JSON(), nullable=False, comment='LearnerHistory.to_json()'),
    sa.Column('n_answers', sa.Integer(), nullable=False, comment='answers folded in, base included'),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True, comment='latest answer time folded in'),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('base_key', sa.String(length=32), nullable=True, comment='model_key of base_state'),
    sa.Column('base_state', sa.JSON(), nullable=True, comment='the history folded from events removed by retention'),
    sa.Column('base_n', sa.Integer(), nullable=True),
    sa.Column('base_until', sa.DateTime(timezone=True), nullable=True, comment='events up to this time are folded into base_state'),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('learner_id')
    )


def downgrade() -> None:
    op.drop_table('answer_histories')
