"""What keeps the web form from being abused: CSRF tokens and rate limits.

CSRF is the double-submit pattern with a signed token: the first GET sets a random,
HttpOnly, SameSite=Strict cookie, and the form carries `sign_link(nonce)` with an expiry,
signed with the desk's live keys like every other signed link. A POST counts only when
the token is authentic, unexpired and names the cookie's nonce, so another site can
neither read nor forge it.

Rate limits count the form's own stored mail (raw_messages of source `web`) by the given
address (envelope sender) and by client IP (source_ref `web:IP`) over `[web] form_window`:
they hold across restarts and across several daemons on one database.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from maildesk.agents.tokens import sign_link, verify_link
from maildesk.config.model import Config
from maildesk.runtime.desk import Desk
from maildesk.store.models import RawMessage
from maildesk.types import Source

COOKIE = "maildesk_form"
PURPOSE = "form"
TOKEN_SECONDS = 4 * 3600  # a form left open this long must be reloaded


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def form_token(desk: Desk, nonce: str) -> str:
    return sign_link(desk.secret(), PURPOSE, nonce, int(time.time()) + TOKEN_SECONDS)


def token_ok(desk: Desk, token: str, nonce: str | None) -> bool:
    """The token is authentic, unexpired, and was issued for this browser's cookie."""
    if not nonce or not token:
        return False
    now = time.time()
    value = verify_link(desk.keys.live(now), PURPOSE, token, now)
    return value is not None and secrets.compare_digest(value, nonce)


def client_ref(ip: str) -> str:
    return f"web:{ip}"[:500]


def over_limit(session: Session, config: Config, email: str, ip: str,
               now: datetime) -> str | None:
    """"address" or "ip" when that limit is reached within the window, else None."""
    web = config.web
    since = now - timedelta(seconds=web.form_window)

    def count(*where: ColumnElement[bool]) -> int:
        return int(session.execute(select(func.count()).select_from(RawMessage).where(
            RawMessage.source == str(Source.WEB), RawMessage.received_at >= since,
            *where)).scalar_one())

    if count(RawMessage.envelope_from == email) >= web.form_per_address:
        return "address"
    if count(RawMessage.source_ref == client_ref(ip)) >= web.form_per_ip:
        return "ip"
    return None
