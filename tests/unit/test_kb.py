"""Knowledge base: drafting from a ticket, publishing, and search on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from maildesk.config.model import KbConfig
from maildesk.kb import articles as kb
from maildesk.mail.quotes import strip_reply
from maildesk.store.models import Article, Contact, Message, Ticket

NOW = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)

ARTICLES = [
    ("La impresora no imprime", "La impresora de la oficina no imprime nada.",
     "Reinicie la cola de impresión y vuelva a instalar el controlador.", ["impresora"], "es"),
    ("El servidor de correo está caído", "No llega el correo, el servidor parece caído.",
     "Reiniciamos el servicio; las conexiones volvieron.", ["correo"], "es"),
    ("Printer shows offline", "The office printer shows offline on every laptop.",
     "Remove the printer and add it again with the new driver.", ["printing"], "en"),
    ("Password reset link expired", "The reset link says it expired.",
     "Links last one hour; request a new one from the login page.", ["account"], "en"),
]


def _add_articles(session: Session, state: str = kb.PUBLISHED) -> list[Article]:
    rows = [Article(title=t, problem=p, solution=s, tags=tags, language=lang, state=state,
                    created_at=NOW, updated_at=NOW) for t, p, s, tags, lang in ARTICLES]
    session.add_all(rows)
    session.flush()
    return rows


@pytest.fixture
def session(engine: Engine):  # noqa: ANN201
    with Session(engine) as session, session.begin():
        yield session


@pytest.mark.parametrize(("query", "expected"), [
    ("impresoras", "La impresora no imprime"),
    ("IMPRESIÓN", "La impresora no imprime"),
    ("caido", "El servidor de correo está caído"),
    ("servidores caídos", "El servidor de correo está caído"),
    ("conexión", "El servidor de correo está caído"),
    ("printers", "Printer shows offline"),
    ("expiring passwords", "Password reset link expired"),
])
def test_search_finds_inflections_and_accents(session: Session, query: str,
                                              expected: str) -> None:
    _add_articles(session)
    hits = kb.search(session, query)
    assert hits, query
    assert hits[0].title == expected


def test_search_ranks_title_matches_first_and_filters(session: Session) -> None:
    _add_articles(session)
    hits = kb.search(session, "printer offline laptop", limit=5)
    assert [h.title for h in hits][:1] == ["Printer shows offline"]
    assert kb.search(session, "impresora", language="en") == []
    assert [h.title for h in kb.search(session, "impresora", language="es")] == [
        "La impresora no imprime"]
    assert kb.search(session, "the and of") == []


def test_drafts_are_not_suggested_until_published(session: Session) -> None:
    rows = _add_articles(session, state=kb.DRAFT)
    assert kb.suggest_for(session, "my printer is offline") == []
    assert kb.search(session, "printer", published_only=False)
    kb.publish(session, rows[2], NOW)
    session.flush()
    assert [h.id for h in kb.suggest_for(session, "my printer is offline")] == [rows[2].id]


def test_edit_keeps_the_index_in_sync(session: Session) -> None:
    rows = _add_articles(session)
    kb.edit(session, rows[3], NOW, title="Cuenta bloqueada", solution="Desbloquear la cuenta.",
            tags=["cuentas", " "])
    assert rows[3].tags == ["cuentas"]
    assert kb.search(session, "password") == []
    assert [h.id for h in kb.search(session, "cuentas bloqueadas")] == [rows[3].id]
    session.delete(rows[0])
    session.flush()
    assert kb.search(session, "impresora") == []


def _ticket_with_answer(session: Session) -> tuple[Ticket, Message]:
    customer = Contact(email="ana@cliente.example", name="Ana", created_at=NOW)
    session.add(customer)
    session.flush()
    ticket = Ticket(number=7, ref="MD-7", customer_id=customer.id,
                    subject="RE: [MD-7] Fwd: La impresora no imprime",
                    tags=["impresora", "oficina"], language="es", created_at=NOW,
                    updated_at=NOW, last_activity_at=NOW)
    session.add(ticket)
    session.flush()
    session.add(Message(ticket_id=ticket.id, direction="in", kind="customer",
                        text="Hola,\nla impresora no imprime.\n-- \nAna", created_at=NOW))
    answer = Message(ticket_id=ticket.id, direction="out", kind="agent",
                     text="#kb\nReinicie la cola de impresión.\n\nOn Mon, Ana wrote:\n> hola",
                     created_at=NOW)
    session.add(answer)
    session.flush()
    return ticket, answer


def test_draft_from_ticket(session: Session) -> None:
    ticket, answer = _ticket_with_answer(session)
    article = kb.draft_from_ticket(session, ticket, answer, NOW, "en")
    assert (article.title, article.state, article.language) == (
        "La impresora no imprime", "draft", "es")
    assert article.problem == "Hola,\nla impresora no imprime."
    assert article.solution == "Reinicie la cola de impresión."
    assert (article.tags, article.source_ticket_id) == (["impresora", "oficina"], ticket.id)
    again = kb.draft_from_ticket(session, ticket, answer, NOW, "en")
    assert again.id == article.id  # one draft per ticket
    assert kb.draft_on_close(session, KbConfig(draft_on_close=True), ticket, NOW, "en") is None


def test_draft_on_close(session: Session) -> None:
    ticket, _ = _ticket_with_answer(session)
    assert kb.draft_on_close(session, KbConfig(), ticket, NOW, "en") is None
    article = kb.draft_on_close(session, KbConfig(draft_on_close=True), ticket, NOW, "en")
    assert article is not None and article.solution == "Reinicie la cola de impresión."


def test_draft_language_too_short_to_tell_is_the_desk_language(session: Session) -> None:
    """kb had its own guesser that said "en" for anything it could not tell; the one
    guesser says None and the caller chooses the default: the desk's language."""
    ticket, answer = _ticket_with_answer(session)
    ticket.language = None
    first = kb.first_customer_message(session, ticket)
    assert first is not None
    first.text = "The VPN is down"
    answer.text = "Gateway restarted."
    assert kb.draft_from_ticket(session, ticket, answer, NOW, "es").language == "es"
    answer.text = "Please restart the gateway, it is a known problem with the update."
    assert kb.draft_from_ticket(session, ticket, answer, NOW, "es").language == "en"


def test_suggest_enabled_per_queue() -> None:
    assert not kb.suggest_enabled(KbConfig(), "general")
    assert kb.suggest_enabled(KbConfig(suggest_queues=("general",)), "general")
    assert not kb.suggest_enabled(KbConfig(suggest_queues=("general",)), "billing")


@pytest.mark.parametrize("text", [
    "This solved it, thanks!", "Solved", "solved.", "Resuelto", "Esto lo ha resuelto",
    "Ya funciona, muchas gracias", "Hola,\n\nya funciona.\n\nUn saludo", "Problem solved!",
    "That fixed it", "It's working now", "Perfecto, resuelto", "Ya está solucionado",
    "Hi Tom,\nThis has solved it. Cheers\n> quoted",
])
def test_solved_reply_recognises(text: str) -> None:
    assert kb.solved_reply(text)


@pytest.mark.parametrize("text", [
    "", "Solved?", "Not solved", "No funciona", "Ya no funciona", "It is still not working",
    "The printer is broken again, the solution you sent solved nothing",
    "Todavía no está resuelto", "> this solved it", "Solved the first part but not the rest",
])
def test_solved_reply_rejects(text: str) -> None:
    assert not kb.solved_reply(text)


def test_spanish_forms() -> None:
    assert {"impresora", "impresoras"} <= kb.spanish_forms("impresoras")
    assert {"conexion", "conexiones"} <= kb.spanish_forms("conexion")
    assert {"luz", "luces"} <= kb.spanish_forms("luces")
    assert kb.clean_title("Re: [MD-12] [EXT] RV: Printer  offline") == "Printer offline"


@pytest.mark.parametrize("body", [
    "Reinicie el router.\n\nEl lun, 4 mar 2024 a las 10:00, María López <maria@cliente.example>\n"
    "escribió:\n> No tengo internet.",  # a Spanish quote header wrapped over two lines
    "Open the menu and choose:\nFrom: the top, Settings > Reset.\nThat clears it.",
    "Done.\n\n-----Original Message-----\nFrom: Ana\nSent: Monday\n\nold text",
    "Thanks!\n-- \nAna García\nAcme Support",
])
def test_clean_body_strips_quotes_as_the_pipeline_does(body: str) -> None:
    """The knowledge base had its own quote stripper: it kept a wrapped Spanish quote
    header and its history, and cut an answer at any line starting with "From:"."""
    assert kb.clean_body("#kb\n" + body) == strip_reply(body)
