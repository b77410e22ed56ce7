"""tickets: merged_into, the ticket a merged ticket now lives in

A merged ticket keeps its row (its reference, its events) with status `merged` and
this pointer, so mail that still names it (its tag, its token) lands in the target.

Revision ID: repair
Revises: answer_faster
"""
import sqlalchemy as sa
from alembic import op

revision = 'repair'
down_revision = 'answer_faster'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_tickets_merged_into', 'tickets', ['merged_into_id'],
                                    ['id'])


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_tickets_merged_into', type_='foreignkey')
        batch_op.drop_column('merged_into_id')
