"""Signed, expiring links in mail to customers: one-click survey scores, status pages.

The web endpoint (maildesk/web/app.py) verifies them with link_keys; no login needed,
and a link is useless for any other ticket or after it expires. Links follow the key
versions of agents/keys.py: signed with the current key, they stay valid after
`maildesk secret rotate` only for its grace period.
"""

from __future__ import annotations

import time

from maildesk.agents.tokens import sign_link
from maildesk.config.model import Config
from maildesk.outbox.context import SurveyLink
from maildesk.runtime.desk import Desk

SURVEY = "survey"
STATUS = "status"


def _expires(config: Config) -> int:
    return int(time.time()) + config.web.link_days * 86400


def base_url(config: Config, brand: str | None = None) -> str:
    """The ticket's brand's web address, else [web] base_url ("" when there is none)."""
    found = config.brand(brand)
    return (found.base_url if found else "") or config.web.base_url


def survey_links(desk: Desk, ref: str, brand: str | None = None) -> tuple[SurveyLink, ...]:
    """One link per score 1-5, or none when the desk has no web endpoint."""
    config = desk.config
    base = base_url(config, brand)
    if not base:
        return ()
    expires, key = _expires(config), desk.secret()
    return tuple(SurveyLink(score, f"{base}/survey/"
                                   f"{sign_link(key, SURVEY, f'{ref}:{score}', expires)}")
                 for score in range(1, 6))


def status_link(desk: Desk, ref: str, brand: str | None = None) -> str:
    config = desk.config
    base = base_url(config, brand)
    if not base:
        return ""
    token = sign_link(desk.secret(), STATUS, ref, _expires(config))
    return f"{base}/status/{token}"


def link_keys(desk: Desk, now: float) -> tuple[bytes, ...]:
    """The keys a link may be signed with at `now`: current, then retired within grace."""
    return desk.keys.live(now)
