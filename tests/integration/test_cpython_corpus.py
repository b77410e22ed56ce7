"""CPython's own email test messages, through the whole pipeline, on both engines.

CPython keeps odd but real mail shapes in Lib/test/test_email/data (Debian package
libpython3.11-testsuite, installed by .ci/setup). Every file there that is a mail ends as
a ticket; only what is not mail (images, sounds, and msg_19.txt, which is the expected
body text of msg_02.txt rather than a message) may be quarantined.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from sqlalchemy import select

from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact, Message, Outbox, RawMessage, Ticket
from maildesk.types import RawMail, RawState, Source
from tests.conftest import eml

DATA = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
NOT_MAIL_TEXT = {"msg_19.txt"}  # a digest's body, used by CPython to check an iterator


def _is_mail(path: Path) -> bool:
    return path.name.startswith("msg_") and path.name not in NOT_MAIL_TEXT


def _outcomes(desk: Desk) -> dict[int, tuple[str, str | None, bool]]:
    """raw id -> (state, error, has a message on a ticket)."""
    with desk.sessions() as session:
        rows = session.execute(select(RawMessage.id, RawMessage.state, RawMessage.error)).all()
        ticketed = set(session.execute(select(Message.raw_id).join(Ticket)).scalars())
    return {raw_id: (state, error, raw_id in ticketed) for raw_id, state, error in rows}


@pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} absent: apt-get install "
                    "libpython3.11-testsuite (.ci/setup does)")
def test_every_cpython_test_mail_ends_as_a_ticket(desk: Desk) -> None:
    files = sorted(p for p in DATA.iterdir() if p.is_file())
    assert len([p for p in files if _is_mail(p)]) >= 40
    raw_of = {p.name: accept(desk, RawMail(p.read_bytes(), Source.PIPE)).raw_id for p in files}
    outcomes = _outcomes(desk)
    wrong = []
    for path in files:
        state, error, ticketed = outcomes[raw_of[path.name]]
        if not _is_mail(path):
            ok = state == RawState.QUARANTINED and "no header fields" in (error or "")
        elif state == RawState.IGNORED:  # a delivery report about mail the desk never sent
            ok = "delivery report" in (error or "")
        else:
            ok = state == RawState.PROCESSED and ticketed
        if not ok:
            wrong.append((path.name, state, (error or "").strip().splitlines()[-1:]))
    assert wrong == []


def test_forwarded_empty_multipart_is_a_ticket(desk: Desk) -> None:
    """msg_42's shape: a message/rfc822 part holding an empty multipart."""
    result = accept(desk, RawMail(eml("broken/09-forwarded-empty-multipart.eml"), Source.PIPE))
    assert result.outcome is not None
    assert (result.outcome.kind, result.outcome.ref) == ("new-ticket", "MD-1")


def test_mail_without_from_is_a_ticket_without_an_answer(desk: Desk) -> None:
    data = (b"To: support@acme.example\r\nSubject: no sender\r\n"
            b"Message-ID: <no-from@scanner.example>\r\n\r\nScanned page attached.\r\n")
    result = accept(desk, RawMail(data, Source.PIPE))
    assert result.outcome is not None and result.outcome.kind == "new-ticket"
    envelope = accept(desk, RawMail(data.replace(b"no-from@", b"no-from-2@"), Source.SMTP,
                                    envelope_from="Scanner@Office.example"))
    assert envelope.outcome is not None and envelope.outcome.kind == "new-ticket"
    with desk.sessions() as session:
        customers = session.execute(select(Contact.email).join(
            Ticket, Ticket.customer_id == Contact.id).order_by(Ticket.id)).scalars().all()
        acks = session.execute(select(Outbox.to_addr).where(
            Outbox.kind != "notify_agent")).scalars().all()
    assert customers == ["unknown-sender@invalid", "scanner@office.example"]
    assert acks == []
