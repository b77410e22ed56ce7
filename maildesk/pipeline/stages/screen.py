"""Drop the desk's own mail coming back; note why no automatic answer may go out."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.mail import loops
from maildesk.pipeline.item import Item, Outcome
from maildesk.runtime.desk import Desk


def screen(desk: Desk, session: Session, item: Item) -> Item:
    """Drop the desk's own mail coming back; note why no automatic answer may go out."""
    if loops.is_own_mail(item.mail, desk.config.desk.addresses):
        return replace(item, outcome=Outcome("ignored", detail="the desk's own mail",
                                             final=True))
    return replace(item, automatic=loops.is_automatic(item.mail))
