"""What the desk repeats, and to whom: acknowledgements that do not echo forged mail
(backscatter), and authors named truthfully when an outsider joins by headers.
Mail goes through the real ingest path, on both engines."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlalchemy import select

from maildesk.runtime.desk import Desk
from maildesk.store.models import Event, Outbox, Ticket
from maildesk.tickets.links import status_link
from tests.conftest import eml
from tests.integration.test_agents import ingest, trusting_desk


def acks(desk: Desk) -> list[tuple[str, EmailMessage]]:
    with desk.sessions() as session:
        rows = session.execute(select(Outbox).where(Outbox.kind.like("ack%"))
                               .order_by(Outbox.id)).scalars().all()
    return [(r.to_addr, message_from_bytes(r.data, policy=policy.default)) for r in rows]


def texts(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


HOSTILE = ("PHISH-TEXT-0001", "account-check.example", "mailbox-verify.example",
           "pay-now-at-account-check")


def test_ack_to_an_unverified_sender_does_not_echo_their_mail(desk: Desk) -> None:
    outcome = ingest(desk, eml("forged/01-backscatter-en.eml")).outcome
    [(to, ack)] = acks(desk)
    assert to == "victim@customer.example"
    plain, html = texts(ack)
    for part in (plain, html, str(ack["Subject"])):
        for words in HOSTILE:
            assert words not in part, words
    assert outcome.ref in plain and "Question about my order" in plain
    assert "Received:" in plain and "Received:" in html


def test_spanish_ack_says_what_was_received_without_the_text(desk: Desk) -> None:
    ingest(desk, eml("forged/02-backscatter-es.eml"))
    [(_, ack)] = acks(desk)
    plain, html = texts(ack)
    assert "TEXTO-FALSO-0002" not in plain and "verificar-cuenta" not in html
    assert "Consulta sobre mi pedido" in plain and "Recibida:" in plain
    assert "Lo que nos ha escrito" not in plain


def test_admin_may_turn_quoting_back_on(tmp_path, db_url: str) -> None:  # noqa: ANN001
    from maildesk.config.model import load_config
    from maildesk.runtime.desk import open_desk
    from tests.conftest import write_desk

    config = write_desk(tmp_path / "q", db_url)
    text = config.read_text().replace('secret_file = "secret"\n',
                                      'secret_file = "secret"\nquote_unverified = true\n')
    config.write_text(text)
    desk = open_desk(load_config(config))
    try:
        ingest(desk, eml("forged/01-backscatter-en.eml"))
        [(_, ack)] = acks(desk)
        plain, _ = texts(ack)
        assert "PHISH-TEXT-0001" in plain and "pay-now-at-account-check" in plain
    finally:
        desk.close()


def test_verified_sender_gets_their_words_back(tmp_path, db_url: str) -> None:  # noqa: ANN001
    desk = trusting_desk(tmp_path, db_url)
    try:
        passed = b"Authentication-Results: mx.acme.example; dmarc=pass header.from=customer.example\n"
        other = b"Authentication-Results: mx.acme.example; dkim=pass header.d=sender.example\n"
        ingest(desk, passed + eml("forged/01-backscatter-en.eml"))
        ingest(desk, other + eml("forged/02-backscatter-es.eml"))
        [(_, verified), (_, unverified)] = acks(desk)
        assert "PHISH-TEXT-0001" in texts(verified)[0]  # the MX vouched for the From domain
        assert "TEXTO-FALSO-0002" not in texts(unverified)[0]  # a pass for another domain
    finally:
        desk.close()


# -- 8. an outsider joining a customer's ticket by References ----------------------------------

CUSTOMER_ID = "CAOrig-maria-0001@mail.cliente.example"


def outsider_mail(sender: bytes = b"Eve Outsider <eve@elsewhere.example>") -> bytes:
    data = eml("forged/03-outsider-references.eml").replace(b"{CUSTOMER_ID}",
                                                            CUSTOMER_ID.encode())
    return data.replace(b"Eve Outsider <eve@elsewhere.example>", sender)


def notices(desk: Desk) -> list[EmailMessage]:
    with desk.sessions() as session:
        rows = session.execute(select(Outbox).where(Outbox.kind == "notify_agent")
                               .order_by(Outbox.id)).scalars().all()
    return [message_from_bytes(r.data, policy=policy.default) for r in rows]


def outsider_events(desk: Desk, ref: str) -> list[Event]:
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        return list(session.execute(select(Event).where(
            Event.ticket_id == ticket.id, Event.action == "outsider-joined")).scalars())


def test_outsider_is_flagged_on_the_ticket_and_in_the_notification(desk: Desk) -> None:
    ref = ingest(desk, eml("agents/00-customer-invoice.eml")).outcome.ref
    outcome = ingest(desk, outsider_mail()).outcome
    assert outcome.ref == ref  # threading keeps it: it might be a colleague
    [event] = outsider_events(desk, ref)
    assert "eve@elsewhere.example" in event.reason
    plain, html = texts(notices(desk)[-1])
    # Ana reads Spanish (rules/team.yaml)
    assert "AVISO: Eve Outsider <eve@elsewhere.example> no es parte" in plain
    assert "Eve Outsider &lt;eve@elsewhere.example&gt; ha respondido" in html
    assert "María Pérez ha respondido" not in plain and "OUTSIDER-TEXT-0003" in plain


def test_the_customer_and_known_colleagues_are_not_outsiders(desk: Desk) -> None:
    first = eml("agents/00-customer-invoice.eml").replace(
        b"To: support@acme.example", b"To: support@acme.example\nCc: boss@cliente.example")
    ref = ingest(desk, first).outcome.ref
    assert ingest(desk, outsider_mail(b"Boss <boss@cliente.example>")).outcome.ref == ref
    again = outsider_mail(b"Maria <maria@cliente.example>").replace(b"outsider-0003",
                                                                    b"maria-0004")
    assert ingest(desk, again).outcome.ref == ref
    assert outsider_events(desk, ref) == []
    assert "AVISO" not in texts(notices(desk)[-1])[0]


def test_status_page_names_each_author_truthfully(tmp_path, db_url: str) -> None:  # noqa: ANN001
    from tests.integration.test_survey import WEB, fetch, local, serving
    from tests.integration.test_tick import make_desk

    desk = make_desk(tmp_path / "desk", db_url, WEB)
    try:
        ref = ingest(desk, eml("agents/00-customer-invoice.eml")).outcome.ref
        ingest(desk, outsider_mail(b'"Support" <eve@elsewhere.example>'))
        link = status_link(desk, ref)
        with serving(desk) as base:
            status, page = fetch(local(link, base))
    finally:
        desk.close()
    assert status == 200
    mine, eves = page.split("charged twice to our card")[0], page.split("OUTSIDER-TEXT")[0]
    assert "<h3>You · " in mine
    heading = eves.rsplit("<h3>", 1)[1]
    assert heading.startswith("Someone else (eve@elsewhere.example) · "), heading
    assert page.count("<h3>You · ") == 1


def test_only_the_customer_can_say_it_is_solved(desk: Desk) -> None:
    ref = ingest(desk, eml("agents/00-customer-invoice.eml")).outcome.ref
    solved = outsider_mail().replace(
        b"Please send the refund to account ES00 0000 0000 0000 instead. OUTSIDER-TEXT-0003",
        b"This solved it, thanks.")
    ingest(desk, solved)
    with desk.sessions() as session:
        assert session.execute(select(Ticket.status).where(Ticket.ref == ref)).scalar_one() \
            != "resolved"
    mine = solved.replace(b"Eve Outsider <eve@elsewhere.example>",
                          b"Maria <maria@cliente.example>").replace(b"outsider-0003", b"m-5")
    ingest(desk, mine)
    with desk.sessions() as session:
        assert session.execute(select(Ticket.status).where(Ticket.ref == ref)).scalar_one() \
            == "resolved"
