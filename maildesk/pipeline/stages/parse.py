"""Parse the stored bytes once; every later stage reads item.mail."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.mail.parse import parse
from maildesk.pipeline.item import Item
from maildesk.runtime.desk import Desk


def parse_mail(desk: Desk, session: Session, item: Item) -> Item:
    return replace(item, parsed=parse(item.raw.data))
