"""the learner's audience (officials, students, workers, citizens): /next's default goal

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-07 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('learners') as batch:
        batch.add_column(sa.Column('audience', sa.String(length=32), nullable=True,
                                   comment="content/audiences.yaml id (officials, students, workers, citizens); /next's default goal"))
        batch.add_column(sa.Column('audience_set_by', sa.String(length=16), nullable=True, comment='learner | platform | lti'))
        batch.add_column(sa.Column('audience_set_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('learners') as batch:
        batch.drop_column('audience_set_at')
        batch.drop_column('audience_set_by')
        batch.drop_column('audience')
