"""Pipeline stages. Each takes (desk, session, item) and returns the next item.

An Item is a frozen value; a stage returns `replace(item, ...)` with what it learnt.
A stage that settles the mail's fate sets `outcome` with final=True, and the pipeline
stops there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from maildesk.types import AuthorKind, Decision, ParsedMail, RawMail, ThreadMatch


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # new-ticket, threaded, ignored, bounce, quarantined, processed, ...
    ref: str | None = None
    detail: str = ""
    final: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    raw_id: int
    raw: RawMail
    now: datetime
    parsed: ParsedMail | None = None
    automatic: str | None = None  # why no automatic answer may be sent, if any
    match: ThreadMatch | None = None
    known_ids: Mapping[str, int] = field(default_factory=dict)  # referenced ids -> ticket
    author: AuthorKind = AuthorKind.CUSTOMER
    agent: str | None = None  # the agent's e-mail when the author is an agent
    agent_proof: str = ""  # how an agent's mail was proven (token, ...); "" when it was not
    customer_id: int | None = None
    decision: Decision | None = None
    ticket_id: int | None = None
    message_row_id: int | None = None
    new_ticket: bool = False
    reopened: bool = False
    spam: bool = False
    outcome: Outcome | None = None

    @property
    def mail(self) -> ParsedMail:
        if self.parsed is None:
            raise RuntimeError("stage ran before parse_mail")
        return self.parsed
