"""The figures an operator alerts on, read from the database (both engines)."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry
from sqlalchemy import select, update

from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.runtime.metrics import Metrics
from maildesk.runtime.store_metrics import StoreCollector
from maildesk.store.db import transaction
from maildesk.store.models import Outbox, RawMessage, Ticket
from maildesk.store.queries import log_event
from maildesk.types import OutboxState, RawMail, RawState, Source
from tests.conftest import eml


def _values(desk: Desk) -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(StoreCollector(desk.sessions, desk.clock))
    return {s.name: s.value for family in registry.collect() for s in family.samples}


def test_backlog_failures_quarantine_and_sla_events(desk: Desk) -> None:
    accept(desk, RawMail(eml("gmail/01-original.eml"), Source.CLI))
    accept(desk, RawMail(eml("outlook/01-original.eml"), Source.CLI))
    with transaction(desk.sessions) as session:
        ticket_id = session.execute(select(Ticket.id).limit(1)).scalar_one()
        log_event(session, ticket_id, "system", "sla-warning", {}, "near")
        log_event(session, ticket_id, "system", "sla-breach", {}, "late")
        log_event(session, ticket_id, "system", "sla-breach", {}, "late again")
        first = session.execute(select(Outbox.id).order_by(Outbox.id).limit(1)).scalar_one()
        session.execute(update(Outbox).where(Outbox.id == first)
                        .values(state=OutboxState.FAILED.value))
        session.execute(update(Outbox).where(Outbox.id != first)
                        .values(created_at=desk.clock() - timedelta(hours=2)))
        session.execute(update(RawMessage).where(RawMessage.id == 1)
                        .values(state=RawState.QUARANTINED.value))
        session.execute(update(RawMessage).where(RawMessage.id == 2)
                        .values(state=RawState.RECEIVED.value,
                                received_at=desk.clock() - timedelta(minutes=5)))
    values = _values(desk)
    with desk.sessions() as session:
        queued = session.query(Outbox).filter(Outbox.state == OutboxState.QUEUED.value).count()
    assert values["maildesk_store_up"] == 1
    assert queued >= 1 and values["maildesk_outbox_queued"] == queued
    assert values["maildesk_outbox_oldest_age_seconds"] >= 7200
    assert values["maildesk_outbox_failed"] == 1 and values["maildesk_outbox_bounced"] == 0
    assert values["maildesk_quarantine_size"] == 1
    assert values["maildesk_unprocessed"] == 1
    assert values["maildesk_processing_lag_seconds"] >= 300
    assert values["maildesk_sla_warnings_total"] == 1
    assert values["maildesk_sla_breaches_total"] == 2


def test_imap_poll_and_relay_gauges() -> None:
    metrics = Metrics()
    metrics.polled("support")
    metrics.relay({"target": "relay:25", "ok": False, "since": None, "error": "refused"})
    assert metrics.registry.get_sample_value(
        "maildesk_imap_last_poll_timestamp_seconds", {"account": "support"}) > 1.7e9
    assert metrics.registry.get_sample_value("maildesk_relay_up") == 0
    assert metrics.snapshot()["relay"]["error"] == "refused"
