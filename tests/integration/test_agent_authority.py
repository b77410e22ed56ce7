"""Who may act as an agent, and for how long: deactivation, key rotation, tickets opened
on a customer's behalf. Mail goes through the real ingest path, on both engines."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from maildesk.agents import keys
from maildesk.agents.tokens import sign_link
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.store.models import Contact, Event, Message, Outbox, Ticket
from maildesk.tickets.links import STATUS
from maildesk.types import TicketStatus
from maildesk.web.app import Refused, check_token
from tests.conftest import eml
from tests.integration.test_agents import (
    ANA,
    agent_mail,
    events,
    ingest,
    intake,
    open_ticket,
    ticket,
    to_agent,
    to_customer,
    trusting_desk,
)


def config_path(desk: Desk) -> Path:
    return desk.config.desk.secret_file.parent / "maildesk.toml"


def secret_cli(desk: Desk, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maildesk", "--config", str(config_path(desk)),
                           "secret", *args], capture_output=True, text=True, timeout=60,
                          check=True)


def deactivate(desk: Desk, email: str) -> Desk:
    """Edit rules/team.yaml and reload, as the daemon does: the new desk snapshot."""
    team = desk.config.rules_dir / "team.yaml"
    text = team.read_text()
    line = next(x for x in text.splitlines() if f"email: {email}" in x)
    team.write_text(text.replace(line, line.replace("}", ", active: false}", 1)))
    holder = DeskHolder(desk)
    assert holder.reload() == []
    assert not holder.current.ruleset.agent_for(email).active
    return holder.current


def status_token(desk: Desk, ref: str) -> str:
    """What tickets/links.status_link puts at the end of a status URL."""
    return sign_link(desk.secret(), STATUS, ref, int(time.time()) + 86400)


def nothing_happened(desk: Desk, ref: str, sent_before: int) -> None:
    saved = ticket(desk, ref)
    assert saved.status == TicketStatus.NEW and saved.first_response_at is None
    assert len(to_customer(desk)) == sent_before


# -- 5. deactivation and key rotation ---------------------------------------------------------

def test_deactivated_agent_loses_power_at_once(desk: Desk) -> None:
    opened = open_ticket(desk)
    before = len(to_customer(desk))
    desk = deactivate(desk, ANA)
    outcome = ingest(desk, agent_mail("08-iphone-es-close.eml", opened)).outcome
    assert (outcome.kind, outcome.ref) == ("flagged", opened.ref)
    assert "deactivated" in outcome.detail
    nothing_happened(desk, opened.ref, before)


def test_deactivated_agent_cannot_open_tickets_on_behalf(desk: Desk) -> None:
    address = intake(desk)
    desk = deactivate(desk, ANA)
    outcome = ingest(desk, eml("agents/12-forward-inline-gmail.eml"), address).outcome
    assert outcome.kind == "flagged"
    with desk.sessions() as session:
        assert session.execute(select(Outbox)).scalars().all() == []


def test_deactivated_assignee_gets_no_more_notifications(desk: Desk) -> None:
    opened = open_ticket(desk)
    ingest(desk, agent_mail("02-gmail-reply.eml", opened))  # Ana answers: she is the assignee
    assert ticket(desk, opened.ref).assignee == ANA
    desk = deactivate(desk, ANA)
    notices = len(to_agent(desk, "notify_agent"))
    follow_up = eml("agents/00-customer-invoice.eml").replace(
        b"Message-ID: <CAOrig-maria-0001@mail.cliente.example>",
        b"Message-ID: <CAOrig-maria-0099@mail.cliente.example>\n"
        b"In-Reply-To: <CAOrig-maria-0001@mail.cliente.example>")
    assert ingest(desk, follow_up).outcome.ref == opened.ref
    assert len(to_agent(desk, "notify_agent")) == notices


def test_rotate_without_grace_revokes_every_token_and_link(desk: Desk) -> None:
    opened = open_ticket(desk)
    link = status_token(desk, opened.ref)
    assert check_token(desk, STATUS, link) == opened.ref
    before = len(to_customer(desk))
    out = secret_cli(desk, "rotate", "--grace", "0").stdout
    assert check_token(desk, STATUS, link) == opened.ref  # a snapshot keeps its keys
    desk = desk.rekeyed()  # what the daemon's watcher does when the key files change
    assert "revoked" in out
    for path in (desk.config.desk.secret_file, keys.previous_file(desk.config.desk.secret_file)):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ingest(desk, agent_mail("08-iphone-es-close.eml", opened)).outcome.kind == "flagged"
    nothing_happened(desk, opened.ref, before)
    assert check_token(desk, STATUS, link) == Refused(403)
    fresh = status_token(desk, opened.ref)
    assert check_token(desk, STATUS, fresh) == opened.ref


def test_rotate_keeps_old_tokens_for_the_grace_period_only(desk: Desk) -> None:
    opened = open_ticket(desk)
    link = status_token(desk, opened.ref)
    secret_cli(desk, "rotate", "--grace", "7d")
    desk = desk.rekeyed()
    assert "retired" in secret_cli(desk, "status").stdout
    assert check_token(desk, STATUS, link) == opened.ref
    assert ingest(desk, agent_mail("02-gmail-reply.eml", opened)).outcome.kind == "agent-reply"
    # the grace period ends: rotating again, as if 8 days had passed since the first one
    secret_file = desk.config.desk.secret_file
    retired = keys.read_retired(secret_file)
    keys.previous_file(secret_file).write_text(
        "".join(f"{int(time.time()) - 60} {r.key.decode()}\n" for r in retired))
    desk = desk.rekeyed()
    assert check_token(desk, STATUS, link) == Refused(403)
    close = agent_mail("08-iphone-es-close.eml", opened)
    assert ingest(desk, close).outcome.kind == "flagged"
    assert ticket(desk, opened.ref).status != TicketStatus.CLOSED


def test_new_notifications_carry_the_new_key(desk: Desk) -> None:
    secret_cli(desk, "rotate", "--grace", "0")
    desk = desk.rekeyed()
    opened = open_ticket(desk)  # notified after the rotation
    assert ingest(desk, agent_mail("02-gmail-reply.eml", opened)).outcome.kind == "agent-reply"


def test_the_watcher_picks_up_a_rotation_and_mail_never_reads_the_key_files(desk: Desk) -> None:
    holder = DeskHolder(desk)
    assert not holder.reload_if_changed()
    old = holder.current.keys.current
    secret_cli(desk, "rotate", "--grace", "1h")
    assert holder.reload_if_changed()
    assert holder.current.keys.current not in (b"", old)
    assert old in holder.current.keys.live(time.time())  # still within its grace period
    # the snapshot holds the keys: a mail is processed without touching the files
    secret_file = desk.config.desk.secret_file
    saved = secret_file.read_bytes()
    secret_file.unlink()
    try:
        opened = open_ticket(holder.current)
        assert ingest(holder.current, agent_mail("02-gmail-reply.eml", opened)).outcome.kind \
            == "agent-reply"
    finally:
        secret_file.write_bytes(saved)


def test_secret_address_prints_the_agents_intake_address(desk: Desk) -> None:
    printed = secret_cli(desk, "address", "Ana García").stdout.strip()
    assert printed == intake(desk)[0]


# -- 6. forged mail "on behalf" of a customer --------------------------------------------------

def _victim_untouched(desk: Desk, victim: str) -> None:
    with desk.sessions() as session:
        assert session.execute(select(Contact).where(Contact.email == victim)).first() is None
        assert session.execute(select(Outbox)).scalars().all() == []
        assert not session.execute(select(Event).where(
            Event.action == "opened-on-behalf")).first()


def test_forged_forward_opens_nothing_for_the_victim(desk: Desk) -> None:
    outcome = ingest(desk, eml("agents/12-forward-inline-gmail.eml")).outcome
    assert outcome.kind == "flagged"
    assert "on a customer's behalf" in outcome.detail
    _victim_untouched(desk, "r.ortega@cliente.example")
    with desk.sessions() as session:
        flagged = session.execute(select(Message).where(Message.flagged.is_(True))).scalar_one()
        owner = session.get(Contact, session.get(Ticket, flagged.ticket_id).customer_id)
    assert owner.email == ANA and flagged.kind == "customer"  # the sender's own mail


def test_forged_attached_forward_opens_nothing(desk: Desk) -> None:
    outcome = ingest(desk, eml("agents/13-forward-attached-es.eml")).outcome
    assert outcome.kind == "flagged"
    _victim_untouched(desk, "anabelen.soto@tienda.example")


def test_forged_copy_records_no_first_response(desk: Desk) -> None:
    outcome = ingest(desk, eml("agents/14-cc-desk.eml")).outcome
    assert outcome.kind == "flagged"
    _victim_untouched(desk, "luis.romero@cliente.example")
    with desk.sessions() as session:
        assert session.execute(select(Ticket.first_response_at)).scalar_one() is None
        assert session.execute(select(Ticket.assignee)).scalar_one() is None


def test_forward_with_someone_elses_intake_token_is_flagged(desk: Desk) -> None:
    outcome = ingest(desk, eml("agents/12-forward-inline-gmail.eml"),
                     intake(desk, "bruno@example.com")).outcome
    assert outcome.kind == "flagged"
    _victim_untouched(desk, "r.ortega@cliente.example")


def test_forward_proven_by_authentication_results(tmp_path, db_url: str) -> None:  # noqa: ANN001
    desk = trusting_desk(tmp_path, db_url)
    try:
        header = (b"Authentication-Results: mx.acme.example; dkim=pass header.d=example.com "
                  b"header.i=@example.com\n")
        outcome = ingest(desk, header + eml("agents/12-forward-inline-gmail.eml")).outcome
        assert outcome.kind == "new-ticket"
        assert any(e.action == "opened-on-behalf" and e.actor == ANA
                   for e in events(desk, outcome.ref))
    finally:
        desk.close()
