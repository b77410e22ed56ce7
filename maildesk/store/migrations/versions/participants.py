"""participants of a ticket, and one delivery record per recipient of each outbox mail

Outbox rows queued before this revision have no delivery records: `tickets show` falls
back to the row's recipients and state for them.

Revision ID: participants
Revises: phase
"""
import sqlalchemy as sa
from alembic import op

revision = 'participants'
down_revision = 'phase'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'participants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=500), nullable=False),
        sa.Column('name', sa.String(length=500), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('added_by', sa.String(length=500), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('removed_by', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ticket_id', 'email', name='uq_participants_ticket_email'),
    )
    op.create_index('ix_participants_ticket_id', 'participants', ['ticket_id'], unique=False)
    op.create_table(
        'deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=500), nullable=False),
        sa.Column('role', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_deliveries_outbox_id', 'deliveries', ['outbox_id'], unique=False)
    op.create_index('ix_deliveries_email', 'deliveries', ['email'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_deliveries_email', table_name='deliveries')
    op.drop_index('ix_deliveries_outbox_id', table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_index('ix_participants_ticket_id', table_name='participants')
    op.drop_table('participants')
