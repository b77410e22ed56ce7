"""raw_messages.fingerprint: a different mail reusing a Message-ID is no duplicate

A mail is a duplicate only when its Message-ID and its content, without the trace fields
each delivery path adds, are those of a stored mail. Rows stored before this revision
keep NULL and have their fingerprint computed from their bytes when a mail with the same
Message-ID arrives; their dedup keys are unchanged.

Revision ID: raw_fingerprint
Revises: api_webhooks
"""
import sqlalchemy as sa
from alembic import op

revision = 'raw_fingerprint'
down_revision = 'form_brands_privacy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('raw_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('raw_messages', schema=None) as batch_op:
        batch_op.drop_column('fingerprint')
