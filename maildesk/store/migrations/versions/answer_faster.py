"""time spent on tickets, and full-text search over tickets' mail

`time_entries`: one row per `#time` (or `maildesk tickets time`): who, how many minutes,
on which ticket, when; the report sums them per queue, agent and type.

Search over messages (subject and text), as the knowledge base does (0002): on SQLite an
FTS5 table with external content kept in sync by triggers, tokenizer `porter unicode61
remove_diacritics 2`; on PostgreSQL a stored generated tsvector combining the `spanish`
and `english` configurations over `md_fold` (accent-folded) text, with a GIN index.

Revision ID: answer_faster
Revises: perf_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = 'answer_faster'
down_revision = 'perf_indexes'
branch_labels = None
depends_on = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE message_fts USING fts5(
        subject, text,
        content='messages', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER message_fts_ai AFTER INSERT ON messages BEGIN
        INSERT INTO message_fts(rowid, subject, text) VALUES (new.id, new.subject, new.text);
    END""",
    """CREATE TRIGGER message_fts_ad AFTER DELETE ON messages BEGIN
        INSERT INTO message_fts(message_fts, rowid, subject, text)
        VALUES ('delete', old.id, old.subject, old.text);
    END""",
    """CREATE TRIGGER message_fts_au AFTER UPDATE OF subject, text ON messages BEGIN
        INSERT INTO message_fts(message_fts, rowid, subject, text)
        VALUES ('delete', old.id, old.subject, old.text);
        INSERT INTO message_fts(rowid, subject, text) VALUES (new.id, new.subject, new.text);
    END""",
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS message_fts_au",
    "DROP TRIGGER IF EXISTS message_fts_ad",
    "DROP TRIGGER IF EXISTS message_fts_ai",
    "DROP TABLE IF EXISTS message_fts",
]


def _weighted(column: str, weight: str) -> str:
    text = f"md_fold({column})"
    return (f"setweight(to_tsvector('spanish'::regconfig, {text}), '{weight}') || "
            f"setweight(to_tsvector('english'::regconfig, {text}), '{weight}')")


# A tsvector holds at most 1 MB: a log dump pasted into a mail would make the insert fail,
# so only the head of a long text is indexed (SQLite's FTS5 has no such limit).
TSV = " || ".join([_weighted("left(subject, 2000)", "A"),
                   _weighted("left(text, 100000)", "B")])


def upgrade() -> None:
    op.create_table(
        'time_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('agent', sa.String(length=500), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id']),
        sa.PrimaryKeyConstraint('id'))
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_time_entries_ticket_id', ['ticket_id'], unique=False)
        batch_op.create_index('ix_time_entries_at', ['at'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    op.execute(f"ALTER TABLE messages ADD COLUMN search_tsv tsvector "
               f"GENERATED ALWAYS AS ({TSV}) STORED")
    op.execute("CREATE INDEX ix_messages_search_tsv ON messages USING gin (search_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for statement in SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_messages_search_tsv")
        op.execute("ALTER TABLE messages DROP COLUMN IF EXISTS search_tsv")
    op.drop_table('time_entries')
