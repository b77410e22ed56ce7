"""outbox rows drafted on the ingest path, built into MIME by the sender

`outbox.draft` keeps the rendered parts and the headers decided when the mail was
queued (JSON); `outbox.data` is filled by the sender when it first claims the row, so it
may now be NULL.

Revision ID: lazy_compose
Revises: raw_fingerprint
"""
import sqlalchemy as sa
from alembic import op

revision = 'lazy_compose'
down_revision = 'raw_fingerprint'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('draft', sa.JSON(), nullable=True))
        batch_op.alter_column('data', existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('data', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('draft')
