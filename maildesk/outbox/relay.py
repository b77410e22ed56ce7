"""Is the relay there? A connection probe, and the daemon's view of the relay's health.

The outbox keeps mail queued while the relay is unreachable or refuses it, which is right
but silent; the daemon probes the relay at start-up and then every RELAY_CHECK_EVERY
seconds, logs a WARNING once when it goes away (and INFO when it is back), and shows it
in `maildesk status` and the metrics.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosmtplib

from maildesk.config.model import RelayConfig

log = logging.getLogger(__name__)

RELAY_CHECK_EVERY = 60.0


async def probe_relay(relay: RelayConfig) -> str | None:
    """Connect, EHLO, log in when configured, QUIT: None when the relay is usable, else why."""
    client = aiosmtplib.SMTP(hostname=relay.host, port=relay.port,
                             use_tls=relay.security == "tls",
                             start_tls=relay.security == "starttls",
                             timeout=min(relay.timeout, 30.0))
    try:
        await client.connect()
        if relay.username:
            await client.login(relay.username, relay.password() or "")
        await client.quit()
    except Exception as exc:  # every failure becomes the reason shown to the admin
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            return f"{exc.code} {exc.message}"
        return f"{type(exc).__name__}: {exc}"
    return None


def target(relay: RelayConfig) -> str:
    return f"{relay.host}:{relay.port}"


@dataclass(frozen=True, slots=True)
class RelayState:
    target: str
    ok: bool | None  # None: not checked yet
    since: datetime | None
    error: str | None


class RelayHealth:
    """The last probe's verdict; changes of state are logged once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = RelayState("", None, None, None)

    def observe(self, relay: RelayConfig, error: str | None, now: datetime) -> RelayState:
        name = target(relay)
        with self._lock:
            old = self._state
            ok = error is None
            changed = old.ok is not ok or old.target != name
            self._state = RelayState(name, ok, now if changed else old.since, error)
        if changed and not ok:
            log.warning("relay %s unusable: %s; outgoing mail stays queued until it answers",
                        name, error)
        elif changed and old.ok is False:
            log.info("relay %s answers again", name)
        return self._state

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            state = self._state
        return {"target": state.target, "ok": state.ok,
                "since": state.since.isoformat() if state.since else None, "error": state.error}
