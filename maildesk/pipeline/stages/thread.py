"""Find the ticket a mail belongs to (the threader decides; this stage feeds it)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.pipeline.item import Item
from maildesk.runtime.desk import Desk
from maildesk.store.queries import make_lookups
from maildesk.tickets import threader


def thread(desk: Desk, session: Session, item: Item) -> Item:
    """Find the ticket; the referenced ids looked up here also decide the aliases later."""
    lookups = make_lookups(session)
    referenced = threader.candidate_ids(item.mail)
    known = dict(lookups.by_message_ids(referenced)) if referenced else {}
    lookups = replace(lookups, by_message_ids=lambda ids: {i: known[i] for i in ids if i in known})
    match = threader.find_ticket(item.mail, item.raw.envelope_to, item.now,
                                 desk.thread_policy(), lookups)
    return replace(item, match=match, known_ids=known)
