"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 13:27:41.001821
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('added_lessons',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('api_clients',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False, comment='shown in listings to tell keys apart'),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False, comment='space-separated'),
    sa.Column('learner_id', sa.String(length=64), nullable=True, comment='for learner-scope keys: the only learner it may read'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('key_prefix')
    )
    op.create_table('learners',
    sa.Column('id', sa.String(length=64), nullable=False, comment="HMAC-SHA256 pseudonym of the platform's learner id"),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('service_state',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False, comment='client-chosen id or xAPI statement id; idempotency key'),
    sa.Column('learner_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='answer | exposure | skipped'),
    sa.Column('item_id', sa.String(length=128), nullable=True),
    sa.Column('lesson_id', sa.String(length=128), nullable=True),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False, comment='events | xapi'),
    sa.Column('verb', sa.String(length=64), nullable=True),
    sa.Column('skip_reason', sa.String(length=200), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_learner_time', ['learner_id', 'occurred_at'], unique=False)

    op.create_table('mastery',
    sa.Column('learner_id', sa.String(length=64), nullable=False),
    sa.Column('skill_id', sa.String(length=64), nullable=False),
    sa.Column('p_mastered', sa.Float(), nullable=False),
    sa.Column('n_observations', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('learner_id', 'skill_id')
    )


def downgrade() -> None:
    op.drop_table('mastery')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_learner_time')

    op.drop_table('events')
    op.drop_table('service_state')
    op.drop_table('learners')
    op.drop_table('api_clients')
    op.drop_table('added_lessons')
