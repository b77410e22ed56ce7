"""brands on tickets, the web form's rate-limit lookup, purge marks for retention

tickets.brand names the [[brands]] entry a ticket belongs to (NULL: the desk itself).
raw_messages(source, received_at) serves the web form's per-address and per-IP limits.
raw_messages.purged_at and blobs.purged_at record when [retention] removed the bytes
while keeping the row (dedup by Message-ID, counts and sizes stay right).

Revision ID: form_brands_privacy
Revises: phase
"""
import sqlalchemy as sa
from alembic import op

revision = 'form_brands_privacy'
down_revision = 'api_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('brand', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_tickets_brand', ['brand'], unique=False)
    with op.batch_alter_table('raw_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_raw_messages_source_received', ['source', 'received_at'],
                              unique=False)
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('raw_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_raw_messages_source_received')
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_brand')
        batch_op.drop_column('brand')
