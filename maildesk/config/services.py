"""Settings of the desk's services: intake (SMTP/LMTP, IMAP), delivery (relay, outbox,
loop limits), and the HTTP endpoints (web, metrics). Part of maildesk.toml."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maildesk.config.oauth import OAUTH_KEYS, OAuth2Config, read_auth, read_oauth
from maildesk.config.reader import (
    Locator,
    Reader,
    read_duration,
    read_listen,
    read_positive,
    split_listen,
)
from maildesk.errors import ConfigError, Problem


@dataclass(frozen=True, slots=True)
class LoopsConfig:
    """[loops]: how much automatic mail the desk may send before it holds back.

    Counts cover automatic mail only (acknowledgements, reminders, notifications); a human
    agent's reply is never held back. Windows are durations ("1h", "30m", "2d" or seconds).
    """

    per_recipient: int = 5  # at most this many automatic mails to one address (+tags folded) ...
    per_recipient_window: int = 3600  # ... in this many seconds
    per_domain: int = 20  # ... to one domain (public mail providers excepted) ...
    per_domain_window: int = 3600
    per_ticket: int = 10  # at most this many automatic mails on one ticket ...
    per_ticket_window: int = 3600
    # The global limit counts repeat mail only: mail to an address that already had
    # automatic mail in the window. Addresses written to for the first time in the
    # window have their own allowance, so one flooding sender never starves new ones.
    global_limit: int = 500
    global_window: int = 3600
    first_contact_limit: int = 500  # new addresses answered per global_window
    suppress_for: int = 7 * 86400  # how long a hard-bounced address gets no automatic mail


RELAY_SECURITY = ("none", "starttls", "tls")
ENV_RELAY_PASSWORD = "MAILDESK_RELAY_PASSWORD"


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """[relay]: the SMTP server that delivers the desk's outgoing mail."""

    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none, starttls (required) or tls (implicit TLS, port 465)
    username: str | None = None
    password_file: Path | None = None  # never the password itself in maildesk.toml
    timeout: float = 60.0  # seconds per SMTP connection
    retry_for: int = 2 * 86400  # keep retrying a temporary failure this long, then give up
    oauth: OAuth2Config | None = None  # auth = "oauth2": SASL XOAUTH2 instead of a password

    def password(self) -> str | None:
        """$MAILDESK_RELAY_PASSWORD, else the first line of password_file, else None."""
        if os.environ.get(ENV_RELAY_PASSWORD):
            return os.environ[ENV_RELAY_PASSWORD]
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    """[outbox]: how the sender loop paces itself."""

    interval: float = 5.0  # seconds between looks at the outbox when nobody pokes it
    batch: int = 50  # rows claimed per pass
    burst_attempts: int = 3  # tries within one pass before the row is rescheduled
    burst_wait: float = 2.0  # first wait between tries in a pass (doubles each time)
    backoff: int = 60  # first wait between passes for a row (doubles per attempt)
    backoff_max: int = 3600
    # A claimed row is left alone this long by other senders; renewed while being sent,
    # so after a crash the next sender takes the row over within one lease.
    lease: int = 30


MIN_LEASE = 3
SMTP_PROTOCOLS = ("smtp", "lmtp")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """[smtp]: the SMTP or LMTP listener of `maildesk run` (on when the table exists)."""

    enabled: bool = False
    listen: str = "127.0.0.1:8025"
    protocol: str = "smtp"  # smtp, or lmtp behind an MTA (one answer per recipient)
    max_size: int = 25 * 1024 * 1024
    tls_cert: Path | None = None  # both set: offer STARTTLS
    tls_key: Path | None = None
    timeout: float = 300.0  # seconds of client silence before the connection is closed
    max_connections: int = 100  # beyond this, new connections get 421 4.7.0
    max_connections_per_client: int = 10  # from one IP address; beyond it 421 4.7.0
    session_limit: int = 1800  # seconds a whole session may last, however busy
    data_limit: int = 600  # seconds from DATA's 354 to the final dot
    # Bytes of mail held at once by all sessions (received or being stored); beyond it
    # 452 4.3.1 (or 421 mid-DATA) so senders retry. At least max_size; 4 x max_size unset.
    max_bytes_in_flight: int = 4 * 25 * 1024 * 1024

    @property
    def address(self) -> tuple[str, int]:
        return split_listen(self.listen)


IMAP_SECURITY = ("tls", "starttls", "none")


@dataclass(frozen=True, slots=True)
class ImapAccount:
    """One [[imap]] account that `maildesk run` and `maildesk fetch` pull mail from."""

    name: str
    host: str
    username: str
    port: int = 993
    security: str = "tls"  # tls (implicit, 993), starttls (143) or none (tests, loopback)
    password_file: Path | None = None  # never the password itself in maildesk.toml
    password_env: str | None = None
    folder: str = "INBOX"
    processed_folder: str | None = None  # None: leave mail in place, add a keyword flag
    poll_interval: float = 60.0  # seconds between polls, and the longest IDLE round
    idle: bool = True  # use IDLE when the server offers it
    reconnect_max: float = 60.0  # the longest wait between reconnection attempts
    oauth: OAuth2Config | None = None  # auth = "oauth2": XOAUTH2/OAUTHBEARER, no password

    def password(self) -> str:
        """$password_env if set, else the first line of password_file."""
        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        raise ConfigError(Problem("", None, f"imap.{self.name}",
                                  "no password: set password_file or password_env"))


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """[metrics]: the Prometheus endpoint; empty listen means off."""

    listen: str = ""


@dataclass(frozen=True, slots=True)
class WebConfig:
    """[web]: the daemon's small HTTP endpoint for survey links and status pages."""

    listen: str = ""  # e.g. "127.0.0.1:8080"; empty disables the endpoint
    base_url: str = ""  # public URL of that endpoint, used in links in mail
    link_days: int = 30  # how long a signed link in a mail stays valid
    # The web form at /new (on whenever the endpoint listens, unless form = false).
    form: bool = True
    form_max_size: int = 10 * 1024 * 1024  # bytes of one submission, attachments included
    form_per_address: int = 5  # submissions per e-mail address per form_window ...
    form_per_ip: int = 20  # ... and per client IP address
    form_window: int = 3600  # seconds

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)


def read_loops(r: Reader) -> LoopsConfig:
    d = LoopsConfig()
    r.unknown({"per_recipient", "per_recipient_window", "per_domain", "per_domain_window",
               "per_ticket", "per_ticket_window", "global_limit", "global_window",
               "first_contact_limit", "suppress_for"})
    return LoopsConfig(
        per_recipient=read_positive(r, "per_recipient", int, d.per_recipient),
        per_recipient_window=read_duration(r, "per_recipient_window", d.per_recipient_window),
        per_domain=read_positive(r, "per_domain", int, d.per_domain),
        per_domain_window=read_duration(r, "per_domain_window", d.per_domain_window),
        per_ticket=read_positive(r, "per_ticket", int, d.per_ticket),
        per_ticket_window=read_duration(r, "per_ticket_window", d.per_ticket_window),
        global_limit=read_positive(r, "global_limit", int, d.global_limit),
        global_window=read_duration(r, "global_window", d.global_window),
        first_contact_limit=read_positive(r, "first_contact_limit", int,
                                          d.first_contact_limit),
        suppress_for=read_duration(r, "suppress_for", d.suppress_for),
    )


def token_file(storage: Path, account: str) -> Path:
    """Where an OAuth2 account's tokens are kept: `relay`, or `imap-` and the account name."""
    return storage / "oauth" / f"{account}.json"


def read_relay(r: Reader, base: Path, storage: Path) -> RelayConfig:
    d = RelayConfig()
    r.unknown({"host", "port", "security", "username", "password", "password_file", "timeout",
               "retry_for"} | OAUTH_KEYS)
    oauth = None
    if read_auth(r) == "oauth2":
        oauth = read_oauth(r, base, token_file(storage, "relay"))
        if not r.get("username", str, ""):
            r.fail("username", "is required with auth = \"oauth2\" (the mailbox to send as)")
    if "password" in r.table:
        r.fail("password", f"put the password in password_file or ${ENV_RELAY_PASSWORD}, "
                           "not in maildesk.toml")
    security = r.get("security", str, d.security)
    if security not in RELAY_SECURITY:
        r.fail("security", f"must be one of {', '.join(RELAY_SECURITY)}")
        security = d.security
    port = r.get("port", int, d.port)
    if not 0 < port < 65536:
        r.fail("port", "must be between 1 and 65535")
        port = d.port
    password_file = r.get("password_file", str, None)
    return RelayConfig(
        host=r.get("host", str, d.host), port=port, security=security,
        username=r.get("username", str, None),
        password_file=base / password_file if password_file else None,
        timeout=read_positive(r, "timeout", float, d.timeout),
        retry_for=read_duration(r, "retry_for", d.retry_for), oauth=oauth,
    )


def read_outbox(r: Reader) -> OutboxConfig:
    d = OutboxConfig()
    r.unknown({"interval", "batch", "burst_attempts", "burst_wait", "backoff", "backoff_max",
               "lease"})
    return OutboxConfig(
        interval=read_positive(r, "interval", float, d.interval),
        batch=read_positive(r, "batch", int, d.batch),
        burst_attempts=read_positive(r, "burst_attempts", int, d.burst_attempts),
        burst_wait=r.get("burst_wait", (int, float), d.burst_wait),
        backoff=read_duration(r, "backoff", d.backoff),
        backoff_max=read_duration(r, "backoff_max", d.backoff_max),
        lease=_read_lease(r, d.lease),
    )


def _read_lease(r: Reader, default: int) -> int:
    lease = read_duration(r, "lease", default)
    if lease < MIN_LEASE:
        r.fail("lease", f"must be at least {MIN_LEASE} seconds (it is renewed every third)")
        return default
    return lease


def read_smtp(r: Reader, base: Path) -> SmtpConfig:
    d = SmtpConfig()
    r.unknown({"enabled", "listen", "protocol", "max_size", "tls_cert", "tls_key", "timeout",
               "max_connections", "max_connections_per_client", "session_limit", "data_limit",
               "max_bytes_in_flight"})
    protocol = r.get("protocol", str, d.protocol)
    if protocol not in SMTP_PROTOCOLS:
        r.fail("protocol", f"must be one of {', '.join(SMTP_PROTOCOLS)}")
        protocol = d.protocol
    cert, key = r.get("tls_cert", str, None), r.get("tls_key", str, None)
    if bool(cert) != bool(key):
        r.fail("tls_cert" if not cert else "tls_key", "set both tls_cert and tls_key, or neither")
        cert = key = None
    max_size = read_positive(r, "max_size", int, d.max_size)
    return SmtpConfig(
        enabled=r.get("enabled", bool, bool(r.table)), listen=read_listen(r, "listen", d.listen),
        protocol=protocol, max_size=max_size,
        tls_cert=base / cert if cert else None, tls_key=base / key if key else None,
        timeout=read_positive(r, "timeout", float, d.timeout),
        max_connections=read_positive(r, "max_connections", int, d.max_connections),
        max_connections_per_client=read_positive(r, "max_connections_per_client", int,
                                                 d.max_connections_per_client),
        session_limit=_read_limit(r, "session_limit", d.session_limit),
        data_limit=_read_limit(r, "data_limit", d.data_limit),
        max_bytes_in_flight=_read_in_flight(r, max_size),
    )


def _read_in_flight(r: Reader, max_size: int) -> int:
    """At least one mail of max_size must fit, or such a mail would be refused for ever."""
    value = read_positive(r, "max_bytes_in_flight", int, 4 * max_size)
    if value < max_size:
        r.fail("max_bytes_in_flight", f"must be at least max_size ({max_size})")
        return 4 * max_size
    return int(value)


def _read_limit(r: Reader, key: str, default: int) -> int:
    """A duration (300, "5m") that must be above zero."""
    value = read_duration(r, key, default)
    if value <= 0:
        r.fail(key, "must be greater than 0")
        return default
    return value


def read_imap_account(r: Reader, base: Path, storage: Path) -> ImapAccount | None:
    r.unknown({"name", "host", "port", "security", "username", "password", "password_file",
               "password_env", "folder", "processed_folder", "poll_interval", "idle",
               "reconnect_max"} | OAUTH_KEYS)
    if "password" in r.table:
        r.fail("password", "put the password in password_file (or name an environment "
                           "variable in password_env), not in maildesk.toml")
    security = r.get("security", str, "tls")
    if security not in IMAP_SECURITY:
        r.fail("security", f"must be one of {', '.join(IMAP_SECURITY)}")
        security = "tls"
    missing = [k for k in ("name", "host", "username") if not r.get(k, str, "")]
    for key in missing:
        r.fail(key, "is required")
    password_file, password_env = r.get("password_file", str, None), r.get("password_env", str, None)
    oauth2 = read_auth(r) == "oauth2"
    if not password_file and not password_env and not oauth2:
        r.fail("password_file", "set password_file or password_env")
    oauth = read_oauth(r, base, token_file(storage, f"imap-{r.table.get('name', '')}")) if oauth2 else None
    if missing or (oauth2 and oauth is None):
        return None
    return ImapAccount(
        name=r.table["name"], host=r.table["host"], username=r.table["username"],
        port=r.get("port", int, 993 if security == "tls" else 143), security=security,
        password_file=base / password_file if password_file else None,
        password_env=password_env, folder=r.get("folder", str, "INBOX"),
        processed_folder=r.get("processed_folder", str, None) or None,
        poll_interval=read_positive(r, "poll_interval", float, 60.0),
        idle=r.get("idle", bool, True), reconnect_max=read_positive(r, "reconnect_max", float, 60.0),
        oauth=oauth,
    )


def read_imap(path: Path, text: str, tables: Any, base: Path, problems: list[Problem],
              storage: Path) -> tuple[ImapAccount, ...]:
    """[[imap]] tables; each is read with a locator starting at its own header."""
    if not isinstance(tables, list):
        problems.append(Problem(str(path), Locator(text).line("imap"), "imap",
                                "must be an array of tables: [[imap]]"))
        return ()
    accounts: list[ImapAccount] = []
    for index, table in enumerate(tables):
        r = Reader(path, NthTable(text, "imap", index), "imap", table, problems)
        account = read_imap_account(r, base, storage)
        if account is not None:
            accounts.append(account)
    names = [a.name for a in accounts]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(Problem(str(path), None, "imap.name", f"duplicate account name {name!r}"))
    return tuple(accounts)


class NthTable(Locator):
    """A locator that only looks at the index-th [[section]] of an array of tables."""

    def __init__(self, text: str, section: str, index: int) -> None:
        super().__init__(text)
        headers = [n for n, line in enumerate(self.lines)
                   if re.match(rf"^\s*\[\[\s*{re.escape(section)}\s*\]\]", line)]
        start = headers[index] if index < len(headers) else 0
        end = headers[index + 1] if index + 1 < len(headers) else len(self.lines)
        self.offset = start
        self.lines = self.lines[start:end]

    def line(self, section: str, key: str = "") -> int | None:
        found = super().line(section, key)
        return found + self.offset if found is not None else None


def read_metrics(r: Reader) -> MetricsConfig:
    r.unknown({"listen"})
    return MetricsConfig(listen=read_listen(r, "listen", "", empty_ok=True))


def read_web(r: Reader) -> WebConfig:
    r.unknown({"listen", "base_url", "link_days", "form", "form_max_size", "form_per_address",
               "form_per_ip", "form_window"})
    base_url = r.get("base_url", str, "").rstrip("/")
    if base_url and not re.match(r"^https?://", base_url):
        r.fail("base_url", "must start with http:// or https://")
        base_url = ""
    d = WebConfig()
    return WebConfig(listen=r.get("listen", str, ""), base_url=base_url,
                     link_days=read_positive(r, "link_days", int, 30),
                     form=r.get("form", bool, d.form),
                     form_max_size=read_positive(r, "form_max_size", int, d.form_max_size),
                     form_per_address=read_positive(r, "form_per_address", int,
                                                    d.form_per_address),
                     form_per_ip=read_positive(r, "form_per_ip", int, d.form_per_ip),
                     form_window=read_duration(r, "form_window", d.form_window))


