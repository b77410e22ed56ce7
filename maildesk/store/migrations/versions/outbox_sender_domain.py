"""outbox: the recipient's base address and domain, for per-sender and per-domain limits

Rows queued before this revision keep empty values: they are not counted per sender or
per domain, which only matters inside the first loop window after the upgrade.

Revision ID: outbox_sender_domain
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = 'outbox_sender_domain'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('to_base', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('to_domain', sa.String(length=255), nullable=False,
                                      server_default=''))
        batch_op.create_index('ix_outbox_to_base_created', ['to_base', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_outbox_to_domain_created', ['to_domain', 'created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_to_domain_created')
        batch_op.drop_index('ix_outbox_to_base_created')
        batch_op.drop_column('to_domain')
        batch_op.drop_column('to_base')
