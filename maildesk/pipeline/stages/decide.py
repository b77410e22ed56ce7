"""Evaluate the admins' rules against the mail."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from maildesk.pipeline.item import Item
from maildesk.rules import RuleContext, evaluate
from maildesk.runtime.desk import Desk
from maildesk.store.models import Contact


def decide(desk: Desk, session: Session, item: Item) -> Item:
    """Evaluate the admins' rules against the mail."""
    customer = session.get(Contact, item.customer_id)
    assert customer is not None and item.match is not None
    context = RuleContext(
        now=item.now, timezone=desk.config.desk.timezone,
        desk_addresses=desk.config.desk.addresses,
        customer_organisation=customer.organisation, customer_vip=customer.vip,
        is_follow_up=item.match.ticket_id is not None,
        in_business_hours=desk.sla.calendar.is_business_time)
    decision = evaluate(desk.ruleset, item.mail, context)
    return replace(item, decision=replace(decision, rules_version=desk.version))
