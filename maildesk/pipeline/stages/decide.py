"""Evaluate the admins' rules against the mail."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.pipeline.item import Item
from maildesk.rules import evaluate
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact
from maildesk.tickets.split import rule_context


def decide(desk: Desk, session: Session, item: Item) -> Item:
    """Evaluate the admins' rules against the mail."""
    customer = session.get(Contact, item.customer_id)
    assert customer is not None and item.match is not None
    # The same context a split or `rules diff` gives the rules (tickets/split.py).
    context = rule_context(desk, customer, item.now, item.match.ticket_id is not None)
    decision = evaluate(desk.ruleset, item.mail, context)
    return replace(item, decision=replace(decision, rules_version=desk.version))
