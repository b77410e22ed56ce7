"""maildesk.toml -> frozen dataclasses, validated once.

Every problem is reported as `path:line: key: what is wrong`; tomllib gives no positions
for values, so lines are found by locating the key under its [section] in the text.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError, Problem

ENV_CONFIG = "MAILDESK_CONFIG"
ENV_DATABASE = "MAILDESK_DATABASE_URL"
LANGUAGES = ("en", "es")


@dataclass(frozen=True, slots=True)
class DeskConfig:
    name: str = "Support"
    addresses: tuple[str, ...] = ("support@example.com",)
    ticket_prefix: str = "MD"
    language: str = "en"
    timezone: str = "UTC"
    secret_file: Path = Path("secret")

    @property
    def address(self) -> str:
        return self.addresses[0]

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = "sqlite:///maildesk.db"
    auto_migrate: bool = True


@dataclass(frozen=True, slots=True)
class StorageConfig:
    dir: Path = Path("var")

    @property
    def attachments(self) -> Path:
        return self.dir / "attachments"


@dataclass(frozen=True, slots=True)
class ThreadingConfig:
    subject_match: bool = True  # step 4: weak match on a normalised subject
    subject_match_days: int = 14
    reopen_days: int = 14  # grace period in which a reply reopens a closed ticket
    public_domains: tuple[str, ...] = (
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.es",
        "live.com", "msn.com", "yahoo.com", "yahoo.es", "icloud.com", "me.com", "mac.com",
        "aol.com", "gmx.com", "gmx.net", "gmx.de", "proton.me", "protonmail.com",
        "telefonica.net", "movistar.es", "orange.es", "yandex.com", "mail.com",
    )


@dataclass(frozen=True, slots=True)
class LoopsConfig:
    """[loops]: how much automatic mail the desk may send before it holds back.

    Counts cover automatic mail only (acknowledgements, reminders, notifications); a human
    agent's reply is never held back. Windows are durations ("1h", "30m", "2d" or seconds).
    """

    per_recipient: int = 5  # at most this many automatic mails to one address ...
    per_recipient_window: int = 3600  # ... in this many seconds
    per_ticket: int = 10  # at most this many automatic mails on one ticket ...
    per_ticket_window: int = 3600
    global_limit: int = 500  # at most this many automatic mails in all ...
    global_window: int = 3600
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
    lease: int = 600  # a claimed row is left alone this long by other senders


SMTP_PROTOCOLS = ("smtp", "lmtp")


def split_listen(listen: str) -> tuple[str, int]:
    """"127.0.0.1:8025" or "[::1]:8025" -> (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


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
class KbConfig:
    """[kb]: knowledge base drafting and suggestions (both off by default)."""

    draft_on_close: bool = False  # draft an article from the last agent answer on closure
    suggest_queues: tuple[str, ...] = ()  # queues whose acknowledgements suggest articles


@dataclass(frozen=True, slots=True)
class WebConfig:
    """[web]: the daemon's small HTTP endpoint for survey links and status pages."""

    listen: str = ""  # e.g. "127.0.0.1:8080"; empty disables the endpoint
    base_url: str = ""  # public URL of that endpoint, used in links in mail
    link_days: int = 30  # how long a signed link in a mail stays valid

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)


@dataclass(frozen=True, slots=True)
class SlaRuntimeConfig:
    """[sla]: how the daemon runs the timers (the targets live in rules/sla.yaml)."""

    tick_interval: float = 60.0  # seconds between two timer passes of the daemon
    low_score: int = 2  # satisfaction scores at or below this notify the team lead


AFTER_REPLY = ("open", "pending")


@dataclass(frozen=True, slots=True)
class AgentsConfig:
    """[agents]: how agents' mail is trusted and what an agent's reply does to the ticket.

    An agent's mail acts on a ticket when it reaches the signed +REF.TOKEN address; with
    trust_authentication_results on, a DKIM or SPF pass for the agent's domain, stamped
    by one of trusted_authserv_ids (the desk's own MX, RFC 8601), is enough too.
    """

    after_reply: str = "open"  # status after an agent's public reply: open or pending
    trust_authentication_results: bool = False
    trusted_authserv_ids: tuple[str, ...] = ()

    @property
    def status_after_reply(self) -> str:
        return self.after_reply


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    desk: DeskConfig = field(default_factory=DeskConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    threading: ThreadingConfig = field(default_factory=ThreadingConfig)
    loops: LoopsConfig = field(default_factory=LoopsConfig)
    relay: RelayConfig = field(default_factory=RelayConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    web: WebConfig = field(default_factory=WebConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    imap: tuple[ImapAccount, ...] = ()
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    kb: KbConfig = field(default_factory=KbConfig)
    agents: AgentsConfig = field(default_factory=AgentsConfig)
    sla: SlaRuntimeConfig = field(default_factory=SlaRuntimeConfig)
    raw: dict[str, Any] = field(default_factory=dict)  # the whole parsed file, for sections added later

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def rules_dir(self) -> Path:
        return self.base_dir / "rules"

    @property
    def templates_dir(self) -> Path:
        return self.base_dir / "templates"

    def secret(self) -> bytes:
        """The signing secret (HMAC tokens); read from secret_file, never from the config."""
        return self.desk.secret_file.read_bytes().strip()

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        return value if isinstance(value, dict) else {}


def find_config(explicit: str | os.PathLike[str] | None) -> Path:
    """--config PATH, then $MAILDESK_CONFIG, then ./maildesk.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    return Path("maildesk.toml")


class _Locator:
    """Finds the line of `key` under `[section]` in TOML text, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, section: str, key: str = "") -> int | None:
        current = ""
        header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
        for number, line in enumerate(self.lines, start=1):
            match = header.match(line)
            if match:
                current = match.group(1)
                if current == section and not key:
                    return number
                continue
            if current == section and key and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
                return number
        return None


class _Reader:
    """Typed access to one TOML table that collects problems instead of raising."""

    def __init__(self, path: Path, locate: _Locator, section: str, table: Any,
                 problems: list[Problem]) -> None:
        self.path, self.locate, self.section = path, locate, section
        self.table = table if isinstance(table, dict) else {}
        self.problems = problems
        if not isinstance(table, dict):
            self.fail("", "must be a table")

    def fail(self, key: str, message: str) -> None:
        dotted = f"{self.section}.{key}" if key else self.section
        self.problems.append(Problem(str(self.path), self.locate.line(self.section, key),
                                     dotted, message))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in self.table:
            return default
        value = self.table[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.fail(key, f"expected {names}, got {type(value).__name__} {value!r}")
            return default
        return value

    def unknown(self, known: set[str]) -> None:
        for key in self.table:
            if key not in known:
                self.fail(key, f"unknown key (known: {', '.join(sorted(known))})")


ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _desk(r: _Reader, base: Path) -> DeskConfig:
    r.unknown({"name", "addresses", "ticket_prefix", "language", "timezone", "secret_file"})
    d = DeskConfig()
    addresses = r.get("addresses", list, list(d.addresses))
    if not addresses or not all(isinstance(a, str) and ADDRESS.match(a) for a in addresses):
        r.fail("addresses", "must be a non-empty list of e-mail addresses")
        addresses = list(d.addresses)
    prefix = r.get("ticket_prefix", str, d.ticket_prefix)
    if not re.fullmatch(r"[A-Z][A-Z0-9]{0,9}", prefix):
        r.fail("ticket_prefix", "must be 1-10 upper-case letters or digits, starting with a letter")
        prefix = d.ticket_prefix
    language = r.get("language", str, d.language)
    if language not in LANGUAGES:
        r.fail("language", f"must be one of {', '.join(LANGUAGES)}")
        language = d.language
    timezone = r.get("timezone", str, d.timezone)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("timezone", f"unknown time zone {timezone!r}")
        timezone = d.timezone
    secret = base / r.get("secret_file", str, str(d.secret_file))
    return DeskConfig(name=r.get("name", str, d.name),
                      addresses=tuple(a.lower() for a in addresses), ticket_prefix=prefix,
                      language=language, timezone=timezone, secret_file=secret)


def _database(r: _Reader, base: Path) -> DatabaseConfig:
    r.unknown({"url", "auto_migrate"})
    url = os.environ.get(ENV_DATABASE) or r.get("url", str, DatabaseConfig().url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            url = f"sqlite:///{base / relative}"
    return DatabaseConfig(url=url, auto_migrate=r.get("auto_migrate", bool, True))


def _storage(r: _Reader, base: Path) -> StorageConfig:
    r.unknown({"dir"})
    return StorageConfig(dir=base / r.get("dir", str, "var"))


def _threading(r: _Reader) -> ThreadingConfig:
    d = ThreadingConfig()
    r.unknown({"subject_match", "subject_match_days", "reopen_days", "public_domains"})
    domains = r.get("public_domains", list, list(d.public_domains))
    return ThreadingConfig(
        subject_match=r.get("subject_match", bool, d.subject_match),
        subject_match_days=r.get("subject_match_days", int, d.subject_match_days),
        reopen_days=r.get("reopen_days", int, d.reopen_days),
        public_domains=tuple(str(x).lower() for x in domains),
    )


DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> int | None:
    """Seconds from an int or a string like "90", "30m", "1h", "2d"; None if not valid."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    match = DURATION.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * DURATION_UNITS[match.group(2)] if match else None


def _duration(r: _Reader, key: str, default: int) -> int:
    if key not in r.table:
        return default
    seconds = parse_duration(r.table[key])
    if seconds is None:
        r.fail(key, f"expected a duration like 3600, \"30m\", \"1h\" or \"2d\", got {r.table[key]!r}")
        return default
    return seconds


def _positive(r: _Reader, key: str, kind: type, default: Any) -> Any:
    value = r.get(key, (int, float) if kind is float else kind, default)
    if value <= 0:
        r.fail(key, "must be greater than 0")
        return default
    return kind(value)


def _loops(r: _Reader) -> LoopsConfig:
    d = LoopsConfig()
    r.unknown({"per_recipient", "per_recipient_window", "per_ticket", "per_ticket_window",
               "global_limit", "global_window", "suppress_for"})
    return LoopsConfig(
        per_recipient=_positive(r, "per_recipient", int, d.per_recipient),
        per_recipient_window=_duration(r, "per_recipient_window", d.per_recipient_window),
        per_ticket=_positive(r, "per_ticket", int, d.per_ticket),
        per_ticket_window=_duration(r, "per_ticket_window", d.per_ticket_window),
        global_limit=_positive(r, "global_limit", int, d.global_limit),
        global_window=_duration(r, "global_window", d.global_window),
        suppress_for=_duration(r, "suppress_for", d.suppress_for),
    )


def _relay(r: _Reader, base: Path) -> RelayConfig:
    d = RelayConfig()
    r.unknown({"host", "port", "security", "username", "password", "password_file", "timeout",
               "retry_for"})
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
        timeout=_positive(r, "timeout", float, d.timeout),
        retry_for=_duration(r, "retry_for", d.retry_for),
    )


def _outbox(r: _Reader) -> OutboxConfig:
    d = OutboxConfig()
    r.unknown({"interval", "batch", "burst_attempts", "burst_wait", "backoff", "backoff_max",
               "lease"})
    return OutboxConfig(
        interval=_positive(r, "interval", float, d.interval),
        batch=_positive(r, "batch", int, d.batch),
        burst_attempts=_positive(r, "burst_attempts", int, d.burst_attempts),
        burst_wait=r.get("burst_wait", (int, float), d.burst_wait),
        backoff=_duration(r, "backoff", d.backoff),
        backoff_max=_duration(r, "backoff_max", d.backoff_max),
        lease=_duration(r, "lease", d.lease),
    )


def _listen(r: _Reader, key: str, default: str, *, empty_ok: bool = False) -> str:
    value = r.get(key, str, default)
    if empty_ok and value == "":
        return value
    try:
        host, port = split_listen(value)
        if not 0 <= port < 65536:
            raise ValueError
    except ValueError:
        r.fail(key, f"expected \"host:port\" like \"127.0.0.1:8025\", got {value!r}")
        return default
    return value


def _smtp(r: _Reader, base: Path) -> SmtpConfig:
    d = SmtpConfig()
    r.unknown({"enabled", "listen", "protocol", "max_size", "tls_cert", "tls_key", "timeout",
               "max_connections"})
    protocol = r.get("protocol", str, d.protocol)
    if protocol not in SMTP_PROTOCOLS:
        r.fail("protocol", f"must be one of {', '.join(SMTP_PROTOCOLS)}")
        protocol = d.protocol
    cert, key = r.get("tls_cert", str, None), r.get("tls_key", str, None)
    if bool(cert) != bool(key):
        r.fail("tls_cert" if not cert else "tls_key", "set both tls_cert and tls_key, or neither")
        cert = key = None
    return SmtpConfig(
        enabled=r.get("enabled", bool, bool(r.table)), listen=_listen(r, "listen", d.listen),
        protocol=protocol, max_size=_positive(r, "max_size", int, d.max_size),
        tls_cert=base / cert if cert else None, tls_key=base / key if key else None,
        timeout=_positive(r, "timeout", float, d.timeout),
        max_connections=_positive(r, "max_connections", int, d.max_connections),
    )


def _imap_account(r: _Reader, base: Path) -> ImapAccount | None:
    r.unknown({"name", "host", "port", "security", "username", "password", "password_file",
               "password_env", "folder", "processed_folder", "poll_interval", "idle",
               "reconnect_max"})
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
    if not password_file and not password_env:
        r.fail("password_file", "set password_file or password_env")
    if missing:
        return None
    return ImapAccount(
        name=r.table["name"], host=r.table["host"], username=r.table["username"],
        port=r.get("port", int, 993 if security == "tls" else 143), security=security,
        password_file=base / password_file if password_file else None,
        password_env=password_env, folder=r.get("folder", str, "INBOX"),
        processed_folder=r.get("processed_folder", str, None) or None,
        poll_interval=_positive(r, "poll_interval", float, 60.0),
        idle=r.get("idle", bool, True), reconnect_max=_positive(r, "reconnect_max", float, 60.0),
    )


def _imap(path: Path, text: str, tables: Any, base: Path,
          problems: list[Problem]) -> tuple[ImapAccount, ...]:
    """[[imap]] tables; each is read with a locator starting at its own header."""
    if not isinstance(tables, list):
        problems.append(Problem(str(path), _Locator(text).line("imap"), "imap",
                                "must be an array of tables: [[imap]]"))
        return ()
    accounts: list[ImapAccount] = []
    for index, table in enumerate(tables):
        r = _Reader(path, _NthTable(text, "imap", index), "imap", table, problems)
        account = _imap_account(r, base)
        if account is not None:
            accounts.append(account)
    names = [a.name for a in accounts]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(Problem(str(path), None, "imap.name", f"duplicate account name {name!r}"))
    return tuple(accounts)


class _NthTable(_Locator):
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


def _metrics(r: _Reader) -> MetricsConfig:
    r.unknown({"listen"})
    return MetricsConfig(listen=_listen(r, "listen", "", empty_ok=True))


def _kb(r: _Reader) -> KbConfig:
    r.unknown({"draft_on_close", "suggest_queues"})
    queues = r.get("suggest_queues", list, [])
    if not all(isinstance(q, str) and q for q in queues):
        r.fail("suggest_queues", "must be a list of queue names")
        queues = []
    return KbConfig(draft_on_close=r.get("draft_on_close", bool, False),
                    suggest_queues=tuple(queues))


def _web(r: _Reader) -> WebConfig:
    r.unknown({"listen", "base_url", "link_days"})
    base_url = r.get("base_url", str, "").rstrip("/")
    if base_url and not re.match(r"^https?://", base_url):
        r.fail("base_url", "must start with http:// or https://")
        base_url = ""
    return WebConfig(listen=r.get("listen", str, ""), base_url=base_url,
                     link_days=_positive(r, "link_days", int, 30))


def _sla(r: _Reader) -> SlaRuntimeConfig:
    r.unknown({"tick_interval", "low_score"})
    low = r.get("low_score", int, 2)
    if not 0 <= low <= 5:
        r.fail("low_score", "must be a whole number from 0 (never) to 5")
        low = 2
    return SlaRuntimeConfig(tick_interval=_positive(r, "tick_interval", float, 60.0),
                            low_score=low)


def _agents(r: _Reader) -> AgentsConfig:
    r.unknown({"after_reply", "trust_authentication_results", "trusted_authserv_ids"})
    after = r.get("after_reply", str, "open")
    if after not in AFTER_REPLY:
        r.fail("after_reply", f"must be one of {', '.join(AFTER_REPLY)}")
        after = "open"
    ids = r.get("trusted_authserv_ids", list, [])
    if not all(isinstance(i, str) and i.strip() for i in ids):
        r.fail("trusted_authserv_ids", "must be a list of host names (authserv-id)")
        ids = []
    trust = r.get("trust_authentication_results", bool, False)
    if trust and not ids:
        r.fail("trusted_authserv_ids", "set the authserv-id your MX stamps, or turn "
                                       "trust_authentication_results off")
    return AgentsConfig(after_reply=after, trust_authentication_results=trust,
                        trusted_authserv_ids=tuple(i.strip().lower() for i in ids))


def load_config(path: Path, *, check_secret: bool = True) -> Config:
    """Read and validate maildesk.toml; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(Problem(str(path), None, "", f"cannot read: {exc.strerror}")) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ConfigError(Problem(str(path), int(line.group(1)) if line else None, "",
                                  f"not valid TOML: {exc}")) from exc
    base = path.resolve().parent
    locate, problems = _Locator(text), []

    def reader(section: str) -> _Reader:
        return _Reader(path, locate, section, data.get(section, {}), problems)

    config = Config(path=path.resolve(), desk=_desk(reader("desk"), base),
                    database=_database(reader("database"), base),
                    storage=_storage(reader("storage"), base),
                    threading=_threading(reader("threading")),
                    loops=_loops(reader("loops")), relay=_relay(reader("relay"), base),
                    outbox=_outbox(reader("outbox")), smtp=_smtp(reader("smtp"), base),
                    imap=_imap(path, text, data.get("imap", []), base, problems),
                    metrics=_metrics(reader("metrics")), kb=_kb(reader("kb")),
                    web=_web(reader("web")), sla=_sla(reader("sla")),
                    agents=_agents(reader("agents")), raw=data)
    if check_secret and not config.desk.secret_file.is_file():
        problems.append(Problem(str(path), locate.line("desk", "secret_file"), "desk.secret_file",
                                f"secret file {config.desk.secret_file} does not exist "
                                "(maildesk init writes one)"))
    if problems:
        raise ConfigError(problems)
    return config
