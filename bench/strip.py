"""Reply stripping: accuracy and speed on tests/mail/replies, next to two other libraries.

Each fixture NAME.eml has NAME.expected.txt, the author's new words. For every stripper
the table counts mails kept exactly right, mails that lost any of the author's words,
mails that leaked words of quoted history, the total words lost and leaked, and the time
per mail. Words are compared as multisets, so layout does not count.

Side by side in the same run: maildesk (HTML structure when present, else the text part),
maildesk on the text part only, mail-parser-reply alone (the component maildesk used
before) and email_reply_parser. The two libraries are in the optional `bench` extra:

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/strip.py [--repeat 20] [--show-failures]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from maildesk.mail.parse import parse
from maildesk.mail.quotes import author_text, strip_reply
from maildesk.types import ParsedMail

REPLIES = Path(__file__).resolve().parent.parent / "tests" / "mail" / "replies"
LANGUAGES = ["en", "es", "pt", "fr", "de", "it", "nl", "sv", "da", "pl", "ru"]
WORD = re.compile(r"\w+", re.UNICODE)

Stripper = Callable[[ParsedMail], str]


@dataclass(frozen=True, slots=True)
class Score:
    name: str
    right: int = 0
    lost_mails: int = 0
    leaked_mails: int = 0
    lost_words: int = 0
    leaked_words: int = 0
    seconds: float = 0.0


def words(text: str) -> Counter[str]:
    return Counter(w.casefold() for w in WORD.findall(text))


def strippers() -> dict[str, Stripper]:
    found: dict[str, Stripper] = {
        "maildesk": author_text,
        "maildesk (text part)": lambda mail: strip_reply(mail.text),
    }
    try:
        from mailparser_reply import EmailReplyParser as MailParserReply

        def mail_parser_reply(mail: ParsedMail) -> str:
            return MailParserReply(languages=LANGUAGES).parse_reply(text=mail.text)

        found["mail-parser-reply"] = mail_parser_reply
    except ImportError:
        print("mail-parser-reply not installed (pip install -e '.[bench]')", file=sys.stderr)
    try:
        from email_reply_parser import EmailReplyParser

        found["email_reply_parser"] = lambda mail: EmailReplyParser.parse_reply(mail.text)
    except ImportError:
        print("email_reply_parser not installed (pip install -e '.[bench]')", file=sys.stderr)
    return found


def score(name: str, strip: Stripper, cases: list[tuple[str, ParsedMail, str]], repeat: int,
          show: bool) -> Score:
    right = lost_mails = leaked_mails = lost_words = leaked_words = 0
    for label, mail, expected in cases:
        got, want = words(strip(mail) or ""), words(expected)
        lost, leaked = want - got, got - want
        right += not lost and not leaked
        lost_mails += bool(lost)
        leaked_mails += bool(leaked)
        lost_words += sum(lost.values())
        leaked_words += sum(leaked.values())
        if show and lost:
            print(f"  {name}: {label} lost {' '.join(sorted(lost))[:100]}")
    start = time.perf_counter()
    for _ in range(repeat):
        for _, mail, _ in cases:
            strip(mail)
    seconds = (time.perf_counter() - start) / (repeat * len(cases))
    return Score(name, right, lost_mails, leaked_mails, lost_words, leaked_words, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timing passes over the corpus")
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    cases = [(path.stem, parse(path.read_bytes()),
              path.with_suffix(".expected.txt").read_text(encoding="utf-8"))
             for path in sorted(REPLIES.glob("*.eml"))]
    print(f"{len(cases)} mails from tests/mail/replies\n")
    head = ("stripper", "right", "lost mails", "leaked mails", "lost words", "leaked words",
            "ms/mail")
    print(f"{head[0]:<22}" + "".join(f"{h:>14}" for h in head[1:]))
    for name, strip in strippers().items():
        s = score(name, strip, cases, args.repeat, args.show_failures)
        print(f"{s.name:<22}{s.right:>14}{s.lost_mails:>14}{s.leaked_mails:>14}"
              f"{s.lost_words:>14}{s.leaked_words:>14}{s.seconds * 1000:>14.3f}")


if __name__ == "__main__":
    main()
