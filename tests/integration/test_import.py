"""`maildesk import`: mbox and Maildir history through the real pipeline, on both engines."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from maildesk.intake.importer import MARKER_FILE, import_path, mail_date
from maildesk.runtime.desk import Desk
from maildesk.store.models import Message, Outbox, RawMessage, Ticket
from tests.conftest import eml, write_desk

HISTORY = [
    "outlook/01-original.eml",  # new ticket
    "gmail/01-original.eml",  # new ticket
    "thunderbird/01-format-flowed.eml",  # threaded: In-Reply-To the Gmail original
    "outlook/03-reply-thread-index-only.eml",  # threaded: Thread-Index only
    "gmail/02-reply-references.eml",  # threaded: References
    "es/01-original-iso-8859-1-qp.eml",  # new ticket
    "mobile/02-iphone-es.eml",  # threaded: References to the Spanish original
    "apple/01-apple-mail-qp-html.eml",  # threaded: the whole chain
    "gmail/01-original.eml",  # the same mail twice: duplicate
    "broken/08-not-mail.eml",  # quarantined
]


def make_mbox(path: Path, names: list[str]) -> Path:
    box = mailbox.mbox(path)
    for name in names:
        box.add(eml(name))
    box.flush()
    box.close()
    return path


def _tickets(desk: Desk) -> list[tuple[str, int, datetime]]:
    with desk.sessions() as session:
        rows = session.execute(
            select(Ticket.ref, func.count(Message.id), Ticket.created_at)
            .join(Message, Message.ticket_id == Ticket.id).group_by(Ticket.id)
            .order_by(Ticket.number))
        return [(ref, n, created) for ref, n, created in rows]


def test_import_mbox_threads_and_summarises(desk: Desk, tmp_path: Path) -> None:
    source = make_mbox(tmp_path / "history.mbox", HISTORY)
    seen: list[tuple[int, int]] = []
    summary = import_path(desk, source, progress=lambda d, t: seen.append((d, t)))
    assert (summary.total, summary.skipped, summary.new_tickets, summary.threaded,
            summary.duplicates, summary.quarantined) == (10, 0, 3, 5, 1, 1)
    assert seen[-1] == (10, 10) and len(seen) == 10
    tickets = _tickets(desk)
    assert [(ref, n) for ref, n, _ in tickets] == [("MD-1", 2), ("MD-2", 4), ("MD-3", 2)]
    # Tickets carry their historical times, not the time of the import.
    assert tickets[0][2] == datetime(2024, 3, 4, 9, 14, 58, tzinfo=UTC)
    with desk.sessions() as session:
        assert session.execute(select(func.count()).select_from(Outbox)).scalar_one() == 0
        sources = set(session.execute(select(RawMessage.source)).scalars())
    assert sources == {"import"}
    assert (desk.config.storage.dir / MARKER_FILE).is_file()


def test_import_resumes_after_interruption(desk: Desk, tmp_path: Path) -> None:
    source = make_mbox(tmp_path / "history.mbox", HISTORY[:6])

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_path(desk, source, progress=stop_after_three)
    summary = import_path(desk, source)
    assert (summary.skipped, summary.new_tickets, summary.threaded, summary.duplicates) == (
        3, 1, 2, 0)
    again = import_path(desk, source)  # all done: nothing left to do
    assert (again.skipped, again.new_tickets + again.threaded + again.duplicates) == (6, 0)
    # Mail appended to the mbox: only the new message is looked at.
    make_mbox(source, ["outlook/01-original.eml"])
    grown = import_path(desk, source)
    assert (grown.total, grown.skipped, grown.duplicates) == (7, 6, 1)
    # A rewritten source starts over; deduplication keeps it correct.
    source.unlink()
    make_mbox(source, HISTORY[3:6])
    changed = import_path(desk, source)
    assert (changed.skipped, changed.duplicates) == (0, 3)


def test_import_maildir(desk: Desk, tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir")
    for name in HISTORY[:3]:
        box.add(eml(name))
    box.close()
    summary = import_path(desk, tmp_path / "Maildir")
    assert (summary.total, summary.new_tickets, summary.threaded) == (3, 2, 1)


def test_mail_date_is_clamped() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert mail_date(b"Date: Tue, 5 Mar 2030 08:29:41 +0100\r\n\r\nx", now) == now
    assert mail_date(b"Date: nonsense\n\nx", now) == now
    assert mail_date(b"Date: Mon, 4 Dec 2023 10:00:00 +0000\n\nx", now) == datetime(
        2023, 12, 4, 10, tzinfo=UTC)


def test_import_command(tmp_path: Path) -> None:
    config = write_desk(tmp_path / "desk", f"sqlite:///{tmp_path / 'desk' / 'maildesk.db'}")
    source = make_mbox(tmp_path / "history.mbox", HISTORY[:3])
    done = subprocess.run([sys.executable, "-m", "maildesk", "--config", str(config), "import",
                           str(source)], capture_output=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert b"new tickets  2" in done.stdout and b"threaded     1" in done.stdout
    assert b"import [" in done.stderr and b"3/3" in done.stderr
    missing = subprocess.run([sys.executable, "-m", "maildesk", "--config", str(config),
                              "import", str(tmp_path / "nope")], capture_output=True,
                             timeout=60)
    assert missing.returncode == 1 and b"no such mbox" in missing.stderr
