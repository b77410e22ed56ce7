"""IMAP pull (imapclient, in a worker thread): IDLE where offered, polling otherwise.

Messages are tracked by UID within UIDVALIDITY (RFC 3501 2.3.1.1) in the imap_state
table, never by \\Seen or sequence numbers, and fetched with BODY.PEEK[] so that a human
reading the same mailbox neither hides mail from the desk nor sees it marked read. A
message is moved (or flagged) only after accept() committed it; a crash in between
fetches it again and idempotent ingest keeps it single.

The decisions (which UIDs to fetch, what to do after the commit, whether an IDLE
response means new mail) are pure functions at the top; Mailbox is the thin I/O edge.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sqlalchemy.orm import Session
from tenacity import Retrying, retry_if_not_exception_type, wait_exponential, wait_random

from maildesk.auth import sasl
from maildesk.auth.tokens import AccessTokens
from maildesk.config.model import ImapAccount
from maildesk.errors import ReauthorizationNeeded
from maildesk.intake.receiver import Receiver
from maildesk.runtime.desk import Desk
from maildesk.store.db import transaction
from maildesk.store.models import ImapState, utcnow
from maildesk.types import RawMail, Source

log = logging.getLogger(__name__)

PROCESSED_FLAG = b"$MaildeskProcessed"
FETCH_BATCH = 20  # messages per FETCH: bounds memory with large mail
SOCKET_TIMEOUT = 60.0
IDLE_MAX = 29 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
IDLE_TICK = 1.0  # how often an IDLE wait looks at the stop flag
MIN_SESSION = 1.0  # an OAuth2 session lasts at least this long
REFRESH_RETRY = 30.0  # after a failed refresh, keep the session this long before retrying


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where an account's folder was left: UIDVALIDITY and the last UID committed."""

    uidvalidity: int
    last_uid: int


def plan_cursor(saved: Cursor | None, uidvalidity: int) -> Cursor:
    """The cursor to fetch from: the saved one, or from 0 when UIDVALIDITY changed.

    A new UIDVALIDITY means every old UID is meaningless; starting over re-reads the
    folder, and idempotent ingest (Message-ID or content hash) keeps duplicates out.
    """
    if saved is None or saved.uidvalidity != uidvalidity:
        return Cursor(uidvalidity, 0)
    return saved


def uids_to_fetch(found: Iterable[int], cursor: Cursor) -> list[int]:
    """UIDs above the cursor, in order. `UID n:*` always matches the last message, even
    when its UID is below n (RFC 3501 6.4.8), so the search result is filtered here."""
    return sorted(uid for uid in set(found) if uid > cursor.last_uid)


class After(StrEnum):
    MOVE = "move"  # RFC 6851 MOVE
    COPY_DELETE = "copy-delete"  # COPY, STORE \Deleted, EXPUNGE
    FLAG = "flag"  # leave it in place with $MaildeskProcessed


def after_commit(processed_folder: str | None, capabilities: Iterable[bytes]) -> After:
    if not processed_folder:
        return After.FLAG
    return After.MOVE if b"MOVE" in set(capabilities) else After.COPY_DELETE


def is_new_mail(responses: Iterable[Any]) -> bool:
    """True if an IDLE response announces mail: `* n EXISTS` or `* n RECENT`."""
    return any(isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT")
               for r in responses)


def source_ref(account: str, folder: str, cursor: Cursor, uid: int) -> str:
    return f"imap:{account}/{folder}/{cursor.uidvalidity}/{uid}"


def batches(uids: list[int], size: int = FETCH_BATCH) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        yield uids[start:start + size]


# --- storage of the cursor -------------------------------------------------------------

def load_cursor(desk: Desk, account: str, folder: str) -> Cursor | None:
    with transaction(desk.sessions) as session:
        row = session.get(ImapState, (account, folder))
        return Cursor(row.uidvalidity, row.last_uid) if row else None


def save_cursor(desk: Desk, account: str, folder: str, cursor: Cursor) -> None:
    with transaction(desk.sessions) as session:
        _put(session, account, folder, cursor)


def _put(session: Session, account: str, folder: str, cursor: Cursor) -> None:
    row = session.get(ImapState, (account, folder))
    if row is None:
        session.add(ImapState(account=account, folder=folder, uidvalidity=cursor.uidvalidity,
                              last_uid=cursor.last_uid))
    else:
        row.uidvalidity, row.last_uid = cursor.uidvalidity, cursor.last_uid


# --- the I/O edge ------------------------------------------------------------------------

def connect(account: ImapAccount) -> IMAPClient:
    """Log in to the account; security none is meant for loopback and tests only."""
    client = IMAPClient(account.host, port=account.port, ssl=account.security == "tls",
                        ssl_context=ssl.create_default_context(), timeout=SOCKET_TIMEOUT)
    if account.security == "starttls":
        client.starttls(ssl.create_default_context())
    login(client, account)
    return client


def login(client: IMAPClient, account: ImapAccount) -> None:
    """Password LOGIN, or SASL XOAUTH2/OAUTHBEARER with the account's access token.

    A refused token is refreshed and tried once more: it may have been revoked, or the
    server's clock may run ahead of ours.
    """
    if account.oauth is None:
        client.login(account.username, account.password())
        return
    tokens = AccessTokens(account.name, account.oauth)
    mechanism = sasl.choose(client.capabilities(), account.oauth.sasl)
    try:
        _oauth_login(client, mechanism, account.username, tokens.get())
    except LoginError as exc:
        log.info("imap %s: %s refused (%s); refreshing the token", account.name,
                 mechanism, exc)
        _oauth_login(client, mechanism, account.username, tokens.get(force=True))


def _oauth_login(client: IMAPClient, mechanism: sasl.Mechanism, user: str, token: str) -> None:
    if mechanism is sasl.Mechanism.OAUTHBEARER:
        client.oauthbearer_login(user, token)
    else:
        client.oauth2_login(user, token)


def session_deadline(account: ImapAccount) -> float | None:
    """time.monotonic() at which an OAuth2 session should log in again with a fresh
    token (servers such as Exchange Online drop sessions whose token expired)."""
    if account.oauth is None:
        return None
    ends = AccessTokens(account.name, account.oauth).session_ends()
    if ends is None:
        return None
    return time.monotonic() + session_length((ends - utcnow()).total_seconds(),
                                             account.poll_interval)


def session_length(until_refresh: float, poll_interval: float) -> float:
    """Seconds an OAuth2 session may last. A refresh moment already past means the
    refresh failed and the old token is still in use: keep the session a while instead
    of logging in again (and asking the identity provider) every second."""
    if until_refresh <= 0:
        return min(REFRESH_RETRY, poll_interval)
    return max(until_refresh, MIN_SESSION)


class Mailbox:
    """One logged-in session on one account's folder."""

    def __init__(self, account: ImapAccount, client: IMAPClient, receiver: Receiver) -> None:
        self.account, self.client, self.receiver = account, client, receiver
        self.after = after_commit(account.processed_folder, client.capabilities())
        if account.processed_folder and not client.folder_exists(account.processed_folder):
            client.create_folder(account.processed_folder)

    @property
    def desk(self) -> Desk:
        return self.receiver.holder.current

    def sync(self) -> int:
        """Fetch, accept and settle every message above the cursor; returns how many.

        Searches again until a search finds nothing: the EXISTS announcing mail that
        arrived during a FETCH is swallowed with that command's response, and IDLE would
        not announce it a second time.
        """
        status = self.client.select_folder(self.account.folder)
        cursor = plan_cursor(load_cursor(self.desk, self.account.name, self.account.folder),
                             int(status[b"UIDVALIDITY"]))
        if cursor.last_uid == 0:
            save_cursor(self.desk, self.account.name, self.account.folder, cursor)
        total = 0
        while uids := uids_to_fetch(self.client.search(["UID", f"{cursor.last_uid + 1}:*"]),
                                    cursor):
            for batch in batches(uids):
                fetched = self.client.fetch(batch, [b"BODY.PEEK[]"])
                for uid in batch:
                    cursor = self._take(uid, fetched.get(uid, {}).get(b"BODY[]"), cursor)
            total += len(uids)
        return total

    def _take(self, uid: int, data: bytes | None, cursor: Cursor) -> Cursor:
        """Accept one message, then move or flag it, then advance the cursor."""
        if data is not None:  # None: expunged by someone else since the SEARCH
            self.receiver.accept_sync(RawMail(
                data=data, source=Source.IMAP,
                source_ref=source_ref(self.account.name, self.account.folder, cursor, uid)))
            self._settle(uid)
        cursor = Cursor(cursor.uidvalidity, uid)
        save_cursor(self.desk, self.account.name, self.account.folder, cursor)
        return cursor

    def _settle(self, uid: int) -> None:
        target = self.account.processed_folder
        if self.after is After.MOVE:
            self.client.move([uid], target)
        elif self.after is After.COPY_DELETE:
            self.client.copy([uid], target)
            self.client.delete_messages([uid])
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge([uid])
            else:  # may also expunge what a human deleted; servers without UIDPLUS are rare
                self.client.expunge()
        else:
            self.client.add_flags([uid], [PROCESSED_FLAG])

    def wait(self, stop: threading.Event, until: float | None = None) -> None:
        """Until new mail may be there (or `until`, a monotonic time): IDLE when allowed
        and offered, else sleep."""
        longest = min(self.account.poll_interval, IDLE_MAX,
                      until - time.monotonic() if until is not None else IDLE_MAX)
        if not (self.account.idle and self.client.has_capability("IDLE")):
            stop.wait(max(longest, 0))
            return
        if is_new_mail(self.client.noop()[1]):  # arrived after the last SEARCH
            return
        deadline = time.monotonic() + longest
        self.client.idle()
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                if is_new_mail(self.client.idle_check(timeout=IDLE_TICK)):
                    break
        finally:
            self.client.idle_done()

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            self.client.shutdown()


class _Dropped(Exception):
    """A session that had worked ended; reconnect with a fresh backoff."""


class Poller:
    """Keeps one account synced until told to stop, reconnecting with backoff."""

    def __init__(self, account: ImapAccount, receiver: Receiver) -> None:
        self.account, self.receiver = account, receiver

    def serve(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._retrying(stop)(self._session, stop)
            except _Dropped:
                continue
            except Exception:  # noqa: BLE001 - only when stopping during a retry
                if not stop.is_set():
                    raise

    def _retrying(self, stop: threading.Event) -> Retrying:
        """Exponential backoff (0.5 s doubling to reconnect_max, with jitter); the sleep
        is stop.wait, so a shutdown interrupts it."""
        return Retrying(
            retry=retry_if_not_exception_type(_Dropped),
            wait=wait_exponential(multiplier=0.5, max=self.account.reconnect_max)
            + wait_random(0, 0.25),
            stop=lambda _state: stop.is_set(), sleep=lambda s: None if stop.wait(s) else None, reraise=True,
            before_sleep=self._log_retry)

    def _log_retry(self, state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ReauthorizationNeeded):
            return  # logged once by the refresher, shown by `maildesk status`
        log.warning("imap %s: %s; retrying in %.1fs", self.account.name,
                    f"{exc.__class__.__name__}: {exc}",
                    state.next_action.sleep if state.next_action else 0)
        self.receiver.metrics.error(f"imap:{self.account.name}", str(exc))

    def _session(self, stop: threading.Event) -> None:
        mailbox, synced = Mailbox(self.account, connect(self.account), self.receiver), False
        log.info("imap %s: connected to %s:%d", self.account.name, self.account.host,
                 self.account.port)
        until = session_deadline(self.account)
        try:
            while not stop.is_set() and (until is None or time.monotonic() < until):
                mailbox.sync()
                synced = True
                self.receiver.metrics.polled(self.account.name)
                mailbox.wait(stop, until)
        except Exception as exc:
            if synced:
                log.warning("imap %s: connection lost: %s", self.account.name, exc)
                raise _Dropped() from exc
            raise
        finally:
            mailbox.close()


def fetch_once(account: ImapAccount, receiver: Receiver) -> int:
    """One sync pass over one account (cron mode); errors propagate to the caller."""
    mailbox = Mailbox(account, connect(account), receiver)
    try:
        return mailbox.sync()
    finally:
        mailbox.close()
