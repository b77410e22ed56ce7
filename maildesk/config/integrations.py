"""Settings of the desk's integrations: the HTTP API ([api]) and outgoing webhooks
([[webhooks]]). Part of maildesk.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maildesk.config.reader import Reader, read_duration, read_positive
from maildesk.errors import Problem

# What a hook can subscribe to (docs/api.md says when each is sent).
WEBHOOK_EVENTS = ("ticket.created", "ticket.updated", "message.received", "message.sent",
                  "ticket.status_changed", "sla.warning", "sla.breached", "survey.answered")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """[api]: the JSON API under /api/v1 of the [web] endpoint."""

    rate_limit: int = 120  # requests per token ...
    rate_window: int = 60  # ... in this many seconds (a token bucket refilled evenly)
    page_size: int = 50  # tickets per page when the client does not say
    max_page_size: int = 200


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """One [[webhooks]] table: where to POST which events, signed with which secret."""

    name: str
    url: str
    events: tuple[str, ...]
    secret_file: Path
    timeout: float = 10.0  # seconds per delivery attempt
    backoff: float = 30.0  # first wait after a failure, doubled each time ...
    backoff_max: float = 3600.0  # ... up to this
    pause_after: int = 10  # consecutive failures that pause the hook until `webhooks retry`

    def secret(self) -> bytes:
        return self.secret_file.read_bytes().strip()


def read_api(r: Reader) -> ApiConfig:
    r.unknown({"rate_limit", "rate_window", "page_size", "max_page_size"})
    d = ApiConfig()
    max_size = read_positive(r, "max_page_size", int, d.max_page_size)
    size = min(read_positive(r, "page_size", int, d.page_size), max_size)
    window = read_duration(r, "rate_window", d.rate_window)
    if window <= 0:
        r.fail("rate_window", "must be greater than 0")
        window = d.rate_window
    return ApiConfig(rate_limit=read_positive(r, "rate_limit", int, d.rate_limit),
                     rate_window=window, page_size=size, max_page_size=max_size)


HOOK_KEYS = {"name", "url", "events", "secret_file", "timeout", "backoff", "backoff_max",
             "pause_after"}


def read_webhook(r: Reader, base: Path, index: int) -> WebhookConfig | None:
    r.unknown(HOOK_KEYS)
    url = r.get("url", str, "")
    if not re.match(r"^https?://[^\s/]+", url):
        r.fail("url", "is required: an http:// or https:// URL")
    events = r.get("events", list, [])
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if not events or unknown:
        r.fail("events", f"must list events among {', '.join(WEBHOOK_EVENTS)}"
               + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else ""))
    secret = r.get("secret_file", str, "")
    if not secret:
        r.fail("secret_file", "is required (the file holding the signing secret)")
    elif not (base / secret).is_file():
        r.fail("secret_file", f"secret file {base / secret} does not exist")
    if not url or not events or unknown or not secret:
        return None
    return WebhookConfig(
        name=r.get("name", str, "") or f"hook{index + 1}", url=url,
        events=tuple(dict.fromkeys(events)), secret_file=base / secret,
        timeout=read_positive(r, "timeout", float, 10.0),
        backoff=read_positive(r, "backoff", float, 30.0),
        backoff_max=read_positive(r, "backoff_max", float, 3600.0),
        pause_after=read_positive(r, "pause_after", int, 10))


def read_webhooks(path: Path, tables: Any, base: Path, problems: list[Problem],
                  locator: Any) -> tuple[WebhookConfig, ...]:
    """[[webhooks]] tables; `locator(index)` finds lines inside the index-th table."""
    if not isinstance(tables, list):
        problems.append(Problem(str(path), locator(0).line("webhooks"), "webhooks",
                                "must be an array of tables: [[webhooks]]"))
        return ()
    hooks = []
    for index, table in enumerate(tables):
        hook = read_webhook(Reader(path, locator(index), "webhooks", table, problems), base,
                            index)
        if hook is not None:
            hooks.append(hook)
    names = [h.name for h in hooks]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(str(path), None, "webhooks.name", f"duplicate hook name {name!r}"))
    return tuple(hooks)
