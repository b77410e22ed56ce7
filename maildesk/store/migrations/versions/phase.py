"""the Message-IDs each stored mail refers to, for processing in conversation order

Intake reads In-Reply-To and References from the header block and keeps them here, so a
processing worker can skip a reply while an earlier stored mail it refers to is still
waiting or in flight, with one indexed query.

Revision ID: phase
Revises: repair
"""
import sqlalchemy as sa
from alembic import op

revision = 'phase'
down_revision = 'repair'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'raw_references',
        sa.Column('raw_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('ref', sa.String(length=998), nullable=False),
        sa.ForeignKeyConstraint(['raw_id'], ['raw_messages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('raw_id', 'ref'),
    )


def downgrade() -> None:
    op.drop_table('raw_references')
