"""Counters of what the intakes received and what the pipeline made of it.

One Metrics per daemon, on its own Prometheus registry (so tests can run several in one
process), fed from the Accepted values that accept() returns and, in the daemon, from
the outcomes of its processing workers. The same numbers go
into the heartbeat row that `maildesk status` reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric

from maildesk.config.model import MetricsConfig
from maildesk.config.reader import split_listen
from maildesk.pipeline.flow import Accepted
from maildesk.pipeline.item import Outcome

log = logging.getLogger(__name__)

# Outcome kinds that have their own counter; every kind is also counted by label.
NEW_TICKET, THREADED, QUARANTINED = "new-ticket", "threaded", "quarantined"


class Metrics:
    """Prometheus counters plus a plain snapshot for the heartbeat."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()  # IMAP threads and the event loop both record
        self._stats: dict[str, Any] = {"received": {}, "errors": {}, "outcomes": {},
                                       "duplicates": 0, "last_error": None}
        r = self.registry
        self.received = Counter("maildesk_received", "Mails received", ["source"], registry=r)
        self.new_tickets = Counter("maildesk_new_tickets", "Tickets opened", registry=r)
        self.threaded = Counter("maildesk_threaded_replies", "Mails added to a ticket",
                                registry=r)
        self.quarantined = Counter("maildesk_quarantined", "Mails quarantined", registry=r)
        self.duplicates = Counter("maildesk_duplicates", "Mails already stored", registry=r)
        self.outcomes = Counter("maildesk_outcomes", "Pipeline outcomes", ["kind"], registry=r)
        self.errors = Counter("maildesk_errors", "Intake failures (mail not taken)",
                              ["source"], registry=r)
        self.relay_up = Gauge("maildesk_relay_up",
                              "1 when the last probe of the relay succeeded, else 0", registry=r)
        self.imap_last_poll = Gauge("maildesk_imap_last_poll_timestamp_seconds",
                                    "When the account was last read without error (Unix time)",
                                    ["account"], registry=r)

    def watch_store(self, collector: Any) -> None:
        """Add the database figures (a StoreCollector) to this registry."""
        self.registry.register(collector)

    def polled(self, account: str) -> None:
        """An IMAP account was read to the end without error."""
        self.imap_last_poll.labels(account).set_to_current_time()

    def relay(self, state: dict[str, Any]) -> None:
        """Record the relay's health (a RelayHealth snapshot) for the gauge and the heartbeat."""
        self.relay_up.set(1 if state.get("ok") else 0)
        with self._lock:
            self._stats["relay"] = dict(state)

    def record(self, source: str, result: Accepted, processed_later: bool = False) -> None:
        """Count one mail that accept() took, by what became of it.

        With processed_later (the daemon's intakes only store), the outcome is counted by
        processed() when a processing worker has run the stages.
        """
        self.received.labels(source).inc()
        with self._lock:
            _bump(self._stats["received"], source)
        if result.duplicate and result.outcome is None and not result.waiting:
            self.duplicates.inc()
            with self._lock:
                self._stats["duplicates"] += 1
        elif not processed_later:
            self.processed(result.outcome)

    def processed(self, outcome: Outcome | None) -> None:
        """Count what the stages made of one mail (None: left for a later retry)."""
        kind = outcome.kind if outcome else "deferred"
        self.outcomes.labels(kind).inc()
        {NEW_TICKET: self.new_tickets, THREADED: self.threaded,
         QUARANTINED: self.quarantined}.get(kind, _NOOP).inc()
        with self._lock:
            _bump(self._stats["outcomes"], kind)

    def error(self, source: str, message: str) -> None:
        """Count a mail that could not be taken (storage down, server gone)."""
        self.errors.labels(source).inc()
        with self._lock:
            _bump(self._stats["errors"], source)
            self._stats["last_error"] = f"{source}: {message}"[:2000]

    def watch_oauth(self, states: Callable[[datetime], list[dict[str, Any]]]) -> None:
        """Export the OAuth2 accounts' token state, read from the token files at each
        scrape (the refresher may run in another thread or process)."""
        self.registry.register(_TokenCollector(states))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {k: dict(v) if isinstance(v, dict) else v for k, v in self._stats.items()}

    def serve(self, config: MetricsConfig) -> Any:
        """Start the /metrics endpoint in a thread; None when [metrics] listen is empty."""
        if not config.listen:
            return None
        host, port = split_listen(config.listen)
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        log.info("metrics on http://%s:%s/metrics", host, server.server_port)
        return server


class _TokenCollector:
    """Gauges per OAuth2 account: login needed, token valid, expiry, failures."""

    def __init__(self, states: Callable[[datetime], list[dict[str, Any]]]) -> None:
        self.states = states

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        families = {
            "needs_login": GaugeMetricFamily(
                "maildesk_oauth_login_needed", "1 when only `maildesk auth login` can help "
                "(refresh token revoked or expired)", labels=["account"]),
            "valid": GaugeMetricFamily("maildesk_oauth_token_valid",
                                       "1 while the access token is valid", labels=["account"]),
            "valid_until": GaugeMetricFamily("maildesk_oauth_token_expiry_seconds",
                                             "Unix time the access token expires",
                                             labels=["account"]),
            "failures": GaugeMetricFamily("maildesk_oauth_refresh_failures",
                                          "Token refresh failures since the last success",
                                          labels=["account"]),
        }
        for state in self.states(now):
            for key, family in families.items():
                value = state.get(key)
                if isinstance(value, datetime):
                    value = value.timestamp()
                family.add_metric([state["name"]], float(value or 0))
        yield from families.values()


class _Noop:
    def inc(self) -> None:
        return None


_NOOP = _Noop()


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1
