"""LTI 1.3: registered platforms, deployments, used nonces, the tool's key

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lti_platforms',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False, comment="the platform's iss claim"),
    sa.Column('client_id', sa.String(length=200), nullable=False, comment='the id the platform gave this tool (the aud claim)'),
    sa.Column('login_url', sa.Text(), nullable=False, comment="the platform's OIDC authorisation endpoint"),
    sa.Column('token_url', sa.Text(), nullable=True, comment="the platform's OAuth2 token endpoint (grades)"),
    sa.Column('jwks_url', sa.Text(), nullable=True, comment='where the platform publishes its key set'),
    sa.Column('jwks', sa.JSON(), nullable=True, comment="the platform's key set, pasted"),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer', 'client_id', name='uq_lti_platforms_issuer_client')
    )
    op.create_table('lti_deployments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_id', 'deployment_id', name='uq_lti_deployments_platform_deployment')
    )
    op.create_table('lti_nonces',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )
    op.create_index('ix_lti_nonces_expires_at', 'lti_nonces', ['expires_at'], unique=False)
    op.create_table('lti_tool_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_pem', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kid')
    )


def downgrade() -> None:
    op.drop_table('lti_tool_keys')
    op.drop_index('ix_lti_nonces_expires_at', table_name='lti_nonces')
    op.drop_table('lti_nonces')
    op.drop_table('lti_deployments')
    op.drop_table('lti_platforms')
