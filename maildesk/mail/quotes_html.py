"""Pure: an HTML mail as text in which the parts its client marked as quoted start with "> ".

Clients mark quotes in HTML more reliably than in their text parts: Gmail's
`gmail_quote` blockquote and `gmail_attr` attribution, Apple Mail's and Thunderbird's
`<blockquote type="cite">` (with `moz-cite-prefix`), Yahoo's `yahoo_quoted`, and Outlook's
`divRplyFwdMsg` or `border-top` header block, below which everything is the old mail.
The marked text then goes through the same segmenter as a plain-text mail, so interleaved
answers between blockquotes stay the author's.

lxml gives the tree (it is already installed as inscriptis's parser, and its XPath finds
the class, id, type and style marks); inscriptis renders the text as everywhere else.
"""

from __future__ import annotations

import re

import inscriptis
import lxml.html
from lxml.etree import ParserError

from maildesk.mail.quote_marks import BEGIN_FORWARD, FROM_FIELD, SEPARATOR

BEGIN, END = "\u2063mdq+\u2063", "\u2063mdq-\u2063"  # invisible separators: never typed by hand
_CONTAINED = ("//blockquote[@type='cite'] | //blockquote[contains(@class,'gmail_quote')]"
              " | //div[contains(@class,'gmail_attr')] | //div[contains(@class,'moz-cite-prefix')]"
              " | //div[contains(@class,'yahoo_quoted')]")
_TO_THE_END = ("//div[@id='divRplyFwdMsg'] | //div[@id='appendonsend']"
               " | //div[contains(translate(@style,' ',''),'border-top:solid')]")
_SIGNATURES = ("//div[contains(@class,'gmail_signature')] | //div[contains(@class,'moz-signature')]"
               " | //div[@id='Signature']")


def quoted_text(html: str) -> str | None:
    """The text of `html` with quoted parts as "> " lines; None when nothing is marked."""
    try:
        root = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return None
    contained = _outermost([el for el in root.xpath(_CONTAINED) if not _forward_header(el)])
    to_the_end = [el for el in root.xpath(_TO_THE_END) if _outlook_header(el)]
    if not contained and not to_the_end:
        return None
    for element in root.xpath(_SIGNATURES):
        element.drop_tree()
    for element in contained:
        begin = _marker(BEGIN)
        begin.tail, element.text = element.text, None
        element.insert(0, begin)
        element.append(_marker(END))
    if to_the_end:
        to_the_end[0].addprevious(_marker(BEGIN))
        root.append(_marker(END))
    text = inscriptis.get_text(lxml.html.tostring(root, encoding="unicode"))
    return _prefix_quoted(text)


def _outermost(elements: list[lxml.html.HtmlElement]) -> list[lxml.html.HtmlElement]:
    chosen = set(elements)
    return [el for el in elements if not any(a in chosen for a in el.iterancestors())]


def _forward_header(element: lxml.html.HtmlElement) -> bool:
    """Gmail writes a forward's header where a reply's attribution goes; the forward is not
    a quote to the segmenter but the rest of the mail, so it stays unmarked."""
    first = next((text.strip() for text in element.itertext() if text.strip()), "")
    return bool(SEPARATOR.match(first) or BEGIN_FORWARD.match(first))


def _outlook_header(element: lxml.html.HtmlElement) -> bool:
    """Outlook's block names the old mail's sender right at its top."""
    if element.get("id") in ("divRplyFwdMsg", "appendonsend"):
        return True
    head = re.sub(r"\s+", " ", element.text_content()).strip()[:200]
    return bool(FROM_FIELD.match(head))


def _marker(text: str) -> lxml.html.HtmlElement:
    marker = lxml.html.Element("div")
    marker.text = text
    return marker


def _prefix_quoted(text: str) -> str:
    depth = 0
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in (BEGIN, END):
            depth += 1 if stripped == BEGIN else -1
            lines.append("")
            continue
        # inscriptis indents nested blocks; the segmenter wants lines as typed.
        lines.append(f"> {stripped}" if depth > 0 and stripped else stripped)
    return "\n".join(lines)
