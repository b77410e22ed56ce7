"""Pure: the lines by which mail clients mark quoted history, signatures and closings.

One table per kind of mark, in the languages the desk sees most (en, es, pt, fr, de,
it, nl, sv, da, nb, pl, ru). Every pattern is anchored to a whole line, because the
first rule of reply stripping is that a wrong cut is worse than a leaked quote: a word
such as "Thanks," in the middle of a mail must never look like a mark.
"""

from __future__ import annotations

import re

_Q = r"(?:>\s?)*"  # a mark may itself be quoted, in a reply to a reply

# "On … wrote:" and its translations: the word that opens it and the verb that closes it.
_INTRO = (r"On|El|Em|Le|Am|Il giorno|Il|Op|Den|På|W dniu|Dnia|\-{2,3}\s*On")
_VERB = (r"wrote|escribi[oó]|escreveu|a\s+écrit|schrieb|ha\s+scritto|scrisse|schreef"
         r"|skrev(?:\s+følgende)?|napisał(?:\(a\)|a)?|pisze|написал(?:\(а\)|а)?|пишет"
         r"|kirjoitti|yazdı|escribió")
_MOMENT = r"(?:\d{1,2}[:.h]\d{2}|\d{4}|@)"  # a time, a year or an address: a real header

WROTE = re.compile(rf"^{_Q}\s*(?:{_INTRO})\b(?=.*{_MOMENT}).*\b(?:{_VERB})(?!\w).*:\s*$",
                   re.IGNORECASE)
# Without a date: "On Mon, Ana wrote:"; counted only right above a ">" block.
WROTE_LOOSE = re.compile(rf"^{_Q}\s*(?:{_INTRO})\b.{{1,150}}\b(?:{_VERB})(?!\w)[^.!?]*:\s*$",
                         re.IGNORECASE)
# "Maria <m@x.com> skrev:", "4 марта 2024 г., в 10:00, Мария <m@x> написал:"
WROTE_TAIL = re.compile(rf"^{_Q}\s*(?=.*{_MOMENT}).{{3,}}\b(?:{_VERB})(?!\w)\s*:\s*$",
                        re.IGNORECASE)
# Gmail's old form "2014-10-17 11:28 GMT+03:00 Maria Perez <m@x.com>:", and the verbless
# forms some localised clients write ("пн, 4 мар. 2024 г. в 10:00, Мария <m@x.com>:").
DATE_FIRST = re.compile(rf"^{_Q}\s*(?=.*\d{{1,2}}:\d{{2}}).*<[^<>@\s]+@[^<>\s]+>\s*:\s*$")
GMAIL_DATED = re.compile(rf"^{_Q}\s*\d{{4}}-\d{{2}}-\d{{2}}\s+\d{{1,2}}:\d{{2}}\b.*<[^<>\s]+@[^<>\s]+>\s*:\s*$")
# The same header written at the end of the author's last line ("… Thanks. On Mon, … wrote:").
WROTE_INLINE = re.compile(rf"(?<=[.!?)])\s+((?:On|El|Em|Le|Am|Op|Den)\s(?=.*{_MOMENT}).*"
                          rf"\b(?:{_VERB})(?!\w).*:)\s*$", re.IGNORECASE)

_SEPARATOR_WORDS = (
    r"Original Message|Reply Message|Forwarded message|Forwarded Message|Mensaje original"
    r"|Mensaje reenviado|Mensagem original|Mensagem encaminhada|Message d'origine"
    r"|Message transféré|Message d’origine|Ursprüngliche Nachricht|Original-Nachricht"
    r"|Weitergeleitete Nachricht|Messaggio originale|Messaggio inoltrato"
    r"|Oorspronkelijk bericht|Origineel bericht|Doorgestuurd bericht|Originalmeddelande"
    r"|Ursprungligt meddelande|Vidarebefordrat meddelande|Oprindelig meddelelse"
    r"|Videresendt meddelelse|Opprinnelig melding|Videresendt melding"
    r"|Wiadomość oryginalna|Oryginalna wiadomość|Przekazana wiadomość|Исходное сообщение"
    r"|Пересылаемое сообщение|Переслано сообщение")
SEPARATOR = re.compile(rf"^{_Q}\s*-{{2,}}\s*(?:{_SEPARATOR_WORDS})\s*-*\s*$", re.IGNORECASE)
# Apple Mail's forward and reply-with-history openers.
BEGIN_FORWARD = re.compile(
    rf"^{_Q}\s*(?:Begin forwarded message|Inicio del mensaje reenviado|Início da mensagem "
    r"reencaminhada|Début du message réexpédié|Anfang der weitergeleiteten Nachricht"
    r"|Inizio messaggio inoltrato|Begin doorgestuurd bericht|Vidarebefordrat brev"
    r"|Videresendt besked|Videresendt e-post|Początek przekazywanej wiadomości"
    r"|Начало переадресованного сообщения)\s*:\s*$", re.IGNORECASE)
FORWARD_SEPARATOR = re.compile(
    r"forward|reenviad|encaminhad|transféré|weitergeleitet|inoltrat|doorgestuurd"
    r"|vidarebefordr|videresendt|przekazan|пересыла|переслан|переадрес|réexpédié",
    re.IGNORECASE)

_FROM = r"From|De|Von|Da|Van|Från|Fra|Od|От|Mittente"
_DATE = (r"Sent|Date|Enviado(?: el)?|Enviada(?: em)?|Fecha|Data|Envoyé(?: le)?|Gesendet"
         r"|Datum|Inviato|Verzonden|Skickat|Sendt|Dato|Wysłano|Wysłane|Отправлено|Дата")
_TO = r"To|Para|À|A|An|Aan|Till|Til|Do|Кому|Destinatario"
_SUBJECT = r"Subject|Asunto|Assunto|Objet|Betreff|Oggetto|Onderwerp|Ämne|Emne|Temat|Тема"


def _field(names: str) -> re.Pattern[str]:
    # "From: x", "*From:* x", "**De :** x", "From:" alone when the client folded it.
    return re.compile(rf"^{_Q}\s*\*{{0,2}}(?:{names})\s?\*{{0,2}}\s?:\s?\*{{0,2}}(?:\s|$)",
                      re.IGNORECASE)


FROM_FIELD = _field(_FROM)
DATE_FIELD = _field(_DATE)
TO_FIELD = _field(_TO)
SUBJECT_FIELD = _field(_SUBJECT)
CC_FIELD = _field(r"Cc|Kopia|Копия")
HEADER_FIELD = re.compile(
    rf"^\s*\*{{0,2}}({_FROM}|{_DATE}|{_TO}|{_SUBJECT}|Cc)\s?\*{{0,2}}\s?:\s?\*{{0,2}}\s*(.*)$",
    re.IGNORECASE)
RULE = re.compile(r"^\s*(?:_{10,}|-{10,}|={10,})\s*$")  # Outlook's line above its header block

# A device line a phone adds under the text: cut only at the end of the mail.
DEVICE = re.compile(
    r"^\s*(?:Sent from my|Sent from|Get Outlook for|Enviado desde mi|Enviado desde|Enviado do meu"
    r"|Enviado do|Envoyé de mon|Envoyé depuis|Von meinem|Gesendet von|Inviato da|Inviato dal"
    r"|Verzonden vanaf|Verstuurd vanaf|Skickat från|Sendt fra|Wysłane z|Отправлено с"
    r"|Obtener Outlook para|Descargar Outlook para)\b.{0,100}$", re.IGNORECASE)
SIGNATURE = re.compile(r"^-- ?$")

CLOSING = re.compile(
    r"^\s*(?:thanks?(?: you| again| a lot| in advance)?|many thanks|thank you(?: very much)?"
    r"|best(?: regards| wishes)?|kind regards|regards|warm regards|cheers|sincerely|br"
    r"|gracias(?: de antemano)?|muchas gracias|saludos(?: cordiales)?|un saludo|atentamente"
    r"|cordialmente|obrigad[oa]|atenciosamente|abraços?|merci(?: beaucoup)?|cordialement"
    r"|bien à vous|danke(?: schön)?|vielen dank|(?:viele|beste|liebe|freundliche) grüße|gruß|grüße"
    r"|mit freundlichen grüßen|lg|mfg"
    r"|grazie(?: mille)?|cordiali saluti|saluti|distinti saluti|bedankt|groeten"
    r"|met vriendelijke groet(?:en)?|tack(?: så mycket)?|hälsningar|med vänliga hälsningar|mvh"
    r"|tak|venlig hilsen|med venlig hilsen|hilsen|vennlig hilsen|dziękuję|pozdrawiam"
    r"|z poważaniem|спасибо|с уважением)\s*[,.!]*\s*$", re.IGNORECASE)


def is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def unquote(line: str) -> str:
    return re.sub(r"^\s*(?:>\s?)+", "", line)
