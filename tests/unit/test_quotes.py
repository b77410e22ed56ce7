"""strip_reply on what real clients write; inline forwards."""

from __future__ import annotations

import pytest

from maildesk.mail.parse import parse
from maildesk.mail.quotes import author_text, split_forward, strip_reply
from tests.conftest import eml

CASES = {
    "gmail en": ("Hi,\n\nRestart it.\n\nOn Mon, 4 Mar 2024 at 10:00, Maria <m@x.com> wrote:\n"
                 "> It broke\n", "Hi,\n\nRestart it."),
    "gmail es": ("Hola,\n\nReinicia.\n\nEl lun, 4 mar 2024 a las 10:00, María (<m@x.com>) "
                 "escribió:\n> Se rompió\n", "Hola,\n\nReinicia."),
    "gmail es wrapped": ("Hola,\n\nReinicia.\n\nEl lun, 4 mar 2024 a las 10:00, María Pérez (<\n"
                         "m@x.com>) escribió:\n> Se rompió\n", "Hola,\n\nReinicia."),
    "outlook en": ("Please restart.\n\nFrom: Acme Support <support@acme.example>\n"
                   "Sent: Monday, March 4, 2024 10:00 AM\nTo: Ana <ana@example.com>\n"
                   "Subject: [MD-1] printer\n\nold\n", "Please restart."),
    "outlook es": ("Reinicia.\n\nDe: Acme Support <support@acme.example>\n"
                   "Enviado el: lunes, 4 de marzo de 2024 10:00\nPara: Ana <ana@example.com>\n"
                   "Asunto: [MD-1] impresora\n\nviejo\n", "Reinicia."),
    "original message": ("Restart it.\n\n-----Original Message-----\nFrom: x\nSent: y\n\nold\n",
                         "Restart it."),
    "mensaje original": ("Reinicia.\n\n-----Mensaje original-----\nDe: x\nEnviado: y\n\nviejo\n",
                         "Reinicia."),
    "iphone": ("Restart it please.\n\nSent from my iPhone\n\n> On 4 Mar 2024, at 10:00, M "
               "<m@x.com> wrote:\n> old\n", "Restart it please."),
    "iphone es": ("Reinícialo.\n\nEnviado desde mi iPhone\n\n> El 4 mar 2024, a las 10:00, M "
                  "<m@x.com> escribió:\n> viejo\n", "Reinícialo."),
    "thunderbird": ("Restart.\n\n-- \nAna\n\nOn 04/03/2024 10:00, Acme Support wrote:\n> old\n",
                    "Restart."),
    "hyphen list kept": ("Steps:\n- one\n- two\n\nOn Mon, 4 Mar 2024, A <a@x> wrote:\n> q\n",
                         "Steps:\n- one\n- two"),
    "commands kept": ("#close\n#tag vpn\n\nDone.\n\nOn Mon, 4 Mar 2024, A <a@x> wrote:\n> q\n",
                      "#close\n#tag vpn\n\nDone."),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_strip_reply(name: str) -> None:
    text, expected = CASES[name]
    assert strip_reply(text) == expected


def test_empty() -> None:
    assert strip_reply("") == "" and strip_reply("  \n") == ""


def test_corpus_spanish_gmail_reply() -> None:
    mail = parse(eml("es/05-gmail-es-iso-8859-1-8bit.eml"))
    assert "escribió" in mail.text and "escribió" not in strip_reply(mail.text)


@pytest.mark.parametrize("name, sender", [
    ("forwarded/01-inline-gmail.eml", "r.ortega@example.com"),
    ("forwarded/04-thunderbird-es-mensaje-reenviado.eml", "anabelen.soto@example.es"),
    ("es/03-rv-outlook-forward.eml", "avisos@transportes.example"),
])
def test_split_forward_finds_original_sender(name: str, sender: str) -> None:
    found = split_forward(parse(eml(name)).text)
    assert found is not None and found.sender.email == sender and found.text


def test_split_forward_none_for_plain_mail() -> None:
    assert split_forward("Hello,\nno forward here.\n") is None


@pytest.mark.parametrize("text", [
    "Meeting moved to 10:30 with Maria <maria@x.example>:\n- agenda first\n- then budget\n",
    "Ana <ana@x.example> skrev 10:00:\nnothing here is quoted, it is my own note.\n",
    "On Monday I wrote:\nthe fix works.\n",
    "From: the supplier we got ZIP files.\nTo: the team they are blocked.\n",
])
def test_text_that_only_looks_like_a_header_is_kept(text: str) -> None:
    assert strip_reply(text) == text.strip()


def test_attribution_without_a_quote_below_cuts_only_when_explicit() -> None:
    text = "Done.\n\nOn Mon, 4 Mar 2024 at 10:00, Maria <m@x.com> wrote:\nold text unquoted\n"
    assert strip_reply(text) == "Done."


def test_signature_delimiter_with_a_long_block_below_is_text() -> None:
    text = "Output:\n\n--\n" + "\n".join(f"line {n}" for n in range(15))
    assert strip_reply(text) == text


def test_gmail_html_forward_keeps_the_comment_not_the_forward() -> None:
    """Gmail puts a forward's header where a reply's attribution goes (gmail_attr)."""
    mail = parse(eml("forwarded/01-inline-gmail.eml"))
    assert author_text(mail) == "Hi,\n\nsee the complaint below from our customer."


def test_html_without_quote_marks_falls_back_to_the_text_part() -> None:
    mail = parse(eml("outlook/01-original.eml"))
    assert author_text(mail) == strip_reply(mail.text)


def test_attribution_without_a_date_counts_only_above_a_quote() -> None:
    assert strip_reply("Restart it.\n\nOn Mon, Ana wrote:\n> It broke\n") == "Restart it."
    assert strip_reply("On Mon, Ana wrote:\nthe fix works.\n") == (
        "On Mon, Ana wrote:\nthe fix works.")
