"""The figures an operator alerts on, read from the database at each scrape.

Counters kept in memory restart at zero with the daemon and differ between daemons; what
an alert needs (how much mail waits, since when, how much failed) is in the database, so
this collector asks it when Prometheus scrapes, with a few small indexed queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maildesk.runtime.backlog import read_backlog
from maildesk.store.models import Event, Outbox, RawMessage
from maildesk.types import OutboxState, RawState

log = logging.getLogger(__name__)

SLA_EVENTS = {"sla-warning": "maildesk_sla_warnings", "sla-breach": "maildesk_sla_breaches"}


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class StoreCollector(Collector):
    """Backlog, failures, quarantine and SLA events, straight from the database."""

    def __init__(self, sessions: Callable[[], Session], clock: Callable[[], datetime]) -> None:
        self.sessions, self.clock = sessions, clock

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception as exc:  # a scrape must not fail because storage is down
            log.warning("metrics: database not readable: %s", exc)
            yield _gauge("maildesk_store_up", "1 when the database answered the scrape", 0)

    def _collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            backlog = read_backlog(session, self.clock())
            outbox = dict(session.execute(select(Outbox.state, func.count())
                                          .group_by(Outbox.state)).all())
            quarantined = session.execute(select(func.count()).select_from(RawMessage).where(
                RawMessage.state == RawState.QUARANTINED.value)).scalar_one()
            sla = dict(session.execute(select(Event.action, func.count())
                                       .where(Event.action.in_(SLA_EVENTS))
                                       .group_by(Event.action)).all())
        yield _gauge("maildesk_store_up", "1 when the database answered the scrape", 1)
        yield _gauge("maildesk_outbox_queued", "Mails not accepted by the relay yet",
                     backlog.outbox_queued)
        yield _gauge("maildesk_outbox_oldest_age_seconds", "Age of the oldest queued mail",
                     backlog.oldest_queued_age_s or 0)
        yield _gauge("maildesk_outbox_failed", "Mails the relay refused or gave up on",
                     outbox.get(OutboxState.FAILED.value, 0))
        yield _gauge("maildesk_outbox_bounced", "Mails that came back as a bounce",
                     outbox.get(OutboxState.BOUNCED.value, 0))
        yield _gauge("maildesk_quarantine_size", "Mails kept in quarantine", quarantined)
        yield _gauge("maildesk_unprocessed", "Mails stored but not processed yet",
                     backlog.received)
        yield _gauge("maildesk_processing_lag_seconds",
                     "Age of the oldest mail stored but not processed",
                     backlog.oldest_received_age_s or 0)
        for action, name in SLA_EVENTS.items():
            yield CounterMetricFamily(name, f"Tickets given an {action} event",
                                      value=sla.get(action, 0))
