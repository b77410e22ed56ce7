"""indexes for the per-mail lookups; ticket numbers from a sequence on PostgreSQL

The weak-subject threading lookup filters tickets on normalized_subject and a range of
last_activity_at; the loop limits count outbox rows per recipient and per ticket over a
recent window. A composite index for each keeps their cost flat as the tables grow.

On PostgreSQL, ticket numbers come from `ticket_number_seq` instead of an UPDATE on the
`counters` row, whose lock was held until the end of each mail's transaction and so
serialised every new ticket across daemons. The sequence starts after the highest number
already given, and is OWNED BY tickets.number (dropped with it, reset by TRUNCATE ...
RESTART IDENTITY). SQLite keeps `counters`.

Revision ID: perf_indexes
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = 'perf_indexes'
down_revision = 'outbox_sender_domain'
branch_labels = None
depends_on = None

INDEXES = [
    ('tickets', 'ix_tickets_subject_activity', ['normalized_subject', 'last_activity_at']),
    ('outbox', 'ix_outbox_to_created', ['to_addr', 'created_at']),
    ('outbox', 'ix_outbox_ticket_created', ['ticket_id', 'created_at']),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute('CREATE SEQUENCE ticket_number_seq AS BIGINT OWNED BY tickets.number')
    last = bind.execute(sa.text(
        "SELECT GREATEST((SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'ticket'),"
        " (SELECT COALESCE(MAX(number), 0) FROM tickets))")).scalar_one()
    if last:
        bind.execute(sa.text("SELECT setval('ticket_number_seq', :last)"), {'last': last})


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(
            "INSERT INTO counters (name, value) SELECT 'ticket', COALESCE(MAX(number), 0) "
            "FROM tickets ON CONFLICT (name) DO UPDATE SET value = GREATEST("
            "counters.value, EXCLUDED.value)")
        op.execute('DROP SEQUENCE ticket_number_seq')
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
