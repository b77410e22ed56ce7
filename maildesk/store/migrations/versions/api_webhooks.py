"""API tokens and the webhook delivery queue

`api_tokens` holds per-agent tokens for /api/v1 (only a SHA-256 of each secret);
`webhook_deliveries` is the durable queue of signed webhook posts, written in the same
transaction as the event it reports; `webhook_state` counts a hook's consecutive
failures and records when it was paused.

Revision ID: api_webhooks
Revises: phase
"""
import sqlalchemy as sa
from alembic import op

revision = 'api_webhooks'
down_revision = 'participants'
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('agent', sa.String(length=500), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('read_only', sa.Boolean(), nullable=False),
        _when('created_at', False), _when('expires_at'), _when('revoked_at'),
        _when('last_used_at'),
        sa.UniqueConstraint('token_hash'))
    op.create_index('ix_api_tokens_agent', 'api_tokens', ['agent'])
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('hook', sa.String(length=100), nullable=False),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _when('next_attempt_at', False),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        _when('created_at', False), _when('delivered_at'))
    op.create_index('ix_webhook_deliveries_hook_state', 'webhook_deliveries',
                    ['hook', 'state', 'id'])
    op.create_table(
        'webhook_state',
        sa.Column('hook', sa.String(length=100), primary_key=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        _when('paused_at'),
        sa.Column('last_error', sa.Text(), nullable=True),
        _when('last_success_at'))


def downgrade() -> None:
    op.drop_table('webhook_state')
    op.drop_index('ix_webhook_deliveries_hook_state', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_api_tokens_agent', table_name='api_tokens')
    op.drop_table('api_tokens')
