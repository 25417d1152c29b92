"""the platform's catalog: courses, activities, alignments, import jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('courses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('platform', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False, comment="the platform's course identifier"),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False, comment='the package it was read from (its file name)'),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imports', sa.Integer(), nullable=False, comment='how many times it was imported'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'key', name='uq_courses_platform_key')
    )
    op.create_table('catalog_activities',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('platform', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False, comment="the platform's identifier (an OLX usage key, a SCORM or CC identifier, an activity IRI)"),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='lesson | item | ungraded'),
    sa.Column('origin', sa.String(length=16), nullable=False, comment='package | statement'),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False, comment="the activity as read (catalog.course.Activity), or the statement's definition"),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('alignment', sa.String(length=16), nullable=False, comment='tagged | accepted | review | none'),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'key', name='uq_catalog_activities_platform_key')
    )
    op.create_index('ix_catalog_activities_course', 'catalog_activities', ['course_id', 'position'], unique=False)
    op.create_index('ix_catalog_activities_alignment', 'catalog_activities', ['alignment'], unique=False)
    op.create_table('alignments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('activity_id', sa.String(length=40), nullable=False),
    sa.Column('skill', sa.String(length=64), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='suggested | accepted | rejected'),
    sa.Column('decided_by', sa.String(length=120), nullable=True, comment="'auto' above the threshold, else the reviewer's key prefix and name"),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False, comment="the activity's kind, copied so /next reads one index"),
    sa.Column('course_order', sa.BigInteger(), nullable=False, comment="the activity's place in the platform's order (course id, position), copied likewise"),
    sa.ForeignKeyConstraint(['activity_id'], ['catalog_activities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_alignments_activity', 'alignments', ['activity_id'], unique=False)
    op.create_index('ix_alignments_next', 'alignments', ['skill', 'status', 'kind', 'course_order'], unique=False)
    op.create_table('import_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('platform', sa.String(length=40), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False, comment='queued | reading | aligning | storing | done | failed'),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=16), existing_nullable=False,
                              comment='answer | pending (a graded answer whose activity awaits alignment) | exposure | skipped')
        batch_op.create_index('ix_events_item_kind', ['item_id', 'kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_item_kind')
        batch_op.alter_column('kind', existing_type=sa.String(length=16), existing_nullable=False, comment='answer | exposure | skipped')
    op.drop_table('import_jobs')
    op.drop_index('ix_alignments_next', table_name='alignments')
    op.drop_index('ix_alignments_activity', table_name='alignments')
    op.drop_table('alignments')
    op.drop_index('ix_catalog_activities_alignment', table_name='catalog_activities')
    op.drop_index('ix_catalog_activities_course', table_name='catalog_activities')
    op.drop_table('catalog_activities')
    op.drop_table('courses')
