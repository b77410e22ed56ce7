"""maildesk.toml -> frozen dataclasses, validated once.

Every problem is reported as `path:line: key: what is wrong`; tomllib gives no positions
for values, so lines are found by locating the key under its [section] in the text.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from maildesk.config.brands import Brand, brand_for, read_brands
from maildesk.config.integrations import ApiConfig, WebhookConfig, read_api, read_webhooks
from maildesk.config.reader import Locator, Reader, read_duration, read_positive
from maildesk.config.services import (
    ImapAccount,
    LoopsConfig,
    MetricsConfig,
    NthTable,
    OutboxConfig,
    RelayConfig,
    SmtpConfig,
    WebConfig,
    read_imap,
    read_loops,
    read_metrics,
    read_outbox,
    read_relay,
    read_smtp,
    read_web,
)
from maildesk.errors import ConfigError, Problem
from maildesk.mail.addresses import normalise_address

# Settings classes live in config_services.py; importing them from here keeps working.
__all__ = [
    "AgentsConfig", "Config", "DaemonConfig", "DatabaseConfig", "DeskConfig", "ImapAccount", "KbConfig",
    "LoopsConfig", "MetricsConfig", "OutboxConfig", "ParticipantsConfig", "RelayConfig", "SlaRuntimeConfig",
    "SmtpConfig", "StorageConfig", "ThreadingConfig", "WebConfig", "find_config", "load_config",
]

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
    # Quote a new ticket's text back to a sender whose From nothing vouches for: a forged
    # From would make the desk deliver the forger's words to the victim (backscatter).
    quote_unverified: bool = False

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
class KbConfig:
    """[kb]: knowledge base drafting and suggestions (both off by default)."""

    draft_on_close: bool = False  # draft an article from the last agent answer on closure
    suggest_queues: tuple[str, ...] = ()  # queues whose acknowledgements suggest articles


@dataclass(frozen=True, slots=True)
class SlaRuntimeConfig:
    """[sla]: how the daemon runs the timers (the targets live in rules/sla.yaml)."""

    tick_interval: float = 60.0  # seconds between two timer passes of the daemon
    low_score: int = 2  # satisfaction scores at or below this notify the team lead


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """[daemon]: the processing workers of `maildesk run` (intake only stores the mail)."""

    workers: int = 2  # processing workers; on SQLite mail is processed one at a time anyway
    poll_interval: float = 2.0  # seconds: how often idle workers look for other daemons' mail


@dataclass(frozen=True, slots=True)
class ParticipantsConfig:
    """[participants]: people copied on a customer's mail who keep receiving the answers."""

    cc_on_answers: bool = True  # copy answers to the customer to the participants
    max_participants: int = 10  # no more are added from mail beyond this many
    excluded_domains: tuple[str, ...] = ()  # addresses of these domains are never added


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """[retention]: how long personal data is kept (0 = for ever), applied by the timers."""

    raw_days: int = 0  # raw bytes of processed mail
    attachments_days: int = 0  # attachment files
    closed_ticket_days: int = 0  # tickets closed longer ago are erased (pseudonymised)

    @property
    def enabled(self) -> bool:
        return bool(self.raw_days or self.attachments_days or self.closed_ticket_days)


def _retention(r: Reader) -> RetentionConfig:
    r.unknown({"raw_days", "attachments_days", "closed_ticket_days"})
    values = {}
    for key in ("raw_days", "attachments_days", "closed_ticket_days"):
        value = r.get(key, int, 0)
        if value < 0:
            r.fail(key, "must be 0 (keep for ever) or a number of days")
            value = 0
        values[key] = value
    return RetentionConfig(**values)


AFTER_REPLY = ("open", "pending")
ANSWERED_STATES = ("resolved", "closed")


@dataclass(frozen=True, slots=True)
class ImportConfig:
    """[import]: how `maildesk import` settles tickets from their history."""

    answered_state: str = "resolved"  # a ticket whose history ends with the desk's answer


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
    # An answer arriving this soon after another agent's, written without seeing it, is
    # held for its author to #send or #drop (seconds; 0 never holds).
    collision_window: int = 600

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
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    webhooks: tuple[WebhookConfig, ...] = ()
    participants: ParticipantsConfig = field(default_factory=ParticipantsConfig)
    brands: tuple[Brand, ...] = ()
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    history: ImportConfig = field(default_factory=ImportConfig)  # [import]
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

    def brand(self, name: str | None) -> Brand | None:
        """The brand named so (stored on a ticket), or None for the desk itself."""
        return next((b for b in self.brands if b.name == name), None) if name else None

    def brand_for(self, recipients: tuple[str, ...] | list[str]) -> Brand | None:
        return brand_for(self.brands, recipients)

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


ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _desk(r: Reader, base: Path) -> DeskConfig:
    r.unknown({"name", "addresses", "ticket_prefix", "language", "timezone", "secret_file",
               "quote_unverified"})
    d = DeskConfig()
    written = r.get("addresses", list, list(d.addresses))
    addresses = [normalise_address(a) for a in written if isinstance(a, str)]
    if not addresses or len(addresses) < len(written) or \
            not all(ADDRESS.match(a) for a in addresses):
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
                      addresses=tuple(addresses), ticket_prefix=prefix,
                      language=language, timezone=timezone, secret_file=secret,
                      quote_unverified=r.get("quote_unverified", bool, d.quote_unverified))


def _database(r: Reader, base: Path) -> DatabaseConfig:
    r.unknown({"url", "auto_migrate"})
    url = os.environ.get(ENV_DATABASE) or r.get("url", str, DatabaseConfig().url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            url = f"sqlite:///{base / relative}"
    return DatabaseConfig(url=url, auto_migrate=r.get("auto_migrate", bool, True))


def _storage(r: Reader, base: Path) -> StorageConfig:
    r.unknown({"dir"})
    return StorageConfig(dir=base / r.get("dir", str, "var"))


def _threading(r: Reader) -> ThreadingConfig:
    d = ThreadingConfig()
    r.unknown({"subject_match", "subject_match_days", "reopen_days", "public_domains"})
    domains = r.get("public_domains", list, list(d.public_domains))
    return ThreadingConfig(
        subject_match=r.get("subject_match", bool, d.subject_match),
        subject_match_days=r.get("subject_match_days", int, d.subject_match_days),
        reopen_days=r.get("reopen_days", int, d.reopen_days),
        public_domains=tuple(str(x).lower() for x in domains),
    )


def _kb(r: Reader) -> KbConfig:
    r.unknown({"draft_on_close", "suggest_queues"})
    queues = r.get("suggest_queues", list, [])
    if not all(isinstance(q, str) and q for q in queues):
        r.fail("suggest_queues", "must be a list of queue names")
        queues = []
    return KbConfig(draft_on_close=r.get("draft_on_close", bool, False),
                    suggest_queues=tuple(queues))


def _sla(r: Reader) -> SlaRuntimeConfig:
    r.unknown({"tick_interval", "low_score"})
    low = r.get("low_score", int, 2)
    if not 0 <= low <= 5:
        r.fail("low_score", "must be a whole number from 0 (never) to 5")
        low = 2
    return SlaRuntimeConfig(tick_interval=read_positive(r, "tick_interval", float, 60.0),
                            low_score=low)


def _daemon(r: Reader) -> DaemonConfig:
    r.unknown({"workers", "poll_interval"})
    d = DaemonConfig()
    return DaemonConfig(workers=read_positive(r, "workers", int, d.workers),
                        poll_interval=read_positive(r, "poll_interval", float, d.poll_interval))


def _participants(r: Reader) -> ParticipantsConfig:
    d = ParticipantsConfig()
    r.unknown({"cc_on_answers", "max_participants", "excluded_domains"})
    cap = r.get("max_participants", int, d.max_participants)
    if cap < 0:
        r.fail("max_participants", "must be 0 (add none from mail) or more")
        cap = d.max_participants
    domains = r.get("excluded_domains", list, [])
    if not all(isinstance(x, str) and x.strip() and "@" not in x for x in domains):
        r.fail("excluded_domains", "must be a list of domain names (example.com)")
        domains = []
    return ParticipantsConfig(cc_on_answers=r.get("cc_on_answers", bool, d.cc_on_answers),
                              max_participants=cap,
                              excluded_domains=tuple(x.strip().lower().lstrip(".")
                                                     for x in domains))


def _agents(r: Reader) -> AgentsConfig:
    r.unknown({"after_reply", "trust_authentication_results", "trusted_authserv_ids",
               "collision_window"})
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
                        trusted_authserv_ids=tuple(i.strip().lower() for i in ids),
                        collision_window=read_duration(r, "collision_window", 600))


def _import(r: Reader) -> ImportConfig:
    r.unknown({"answered_state"})
    state = r.get("answered_state", str, "resolved")
    if state not in ANSWERED_STATES:
        r.fail("answered_state", f"must be one of {', '.join(ANSWERED_STATES)}")
        state = "resolved"
    return ImportConfig(answered_state=state)


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
    locate, problems = Locator(text), list[Problem]()

    def reader(section: str) -> Reader:
        return Reader(path, locate, section, data.get(section, {}), problems)

    storage = _storage(reader("storage"), base)
    config = Config(path=path.resolve(), desk=_desk(reader("desk"), base),
                    database=_database(reader("database"), base), storage=storage,
                    threading=_threading(reader("threading")),
                    loops=read_loops(reader("loops")), relay=read_relay(reader("relay"), base, storage.dir),
                    outbox=read_outbox(reader("outbox")), smtp=read_smtp(reader("smtp"), base),
                    imap=read_imap(path, text, data.get("imap", []), base, problems,
                                   storage.dir),
                    metrics=read_metrics(reader("metrics")), kb=_kb(reader("kb")),
                    web=read_web(reader("web")), sla=_sla(reader("sla")),
                    agents=_agents(reader("agents")), daemon=_daemon(reader("daemon")),
                    api=read_api(reader("api")),
                    webhooks=read_webhooks(path, data.get("webhooks", []), base, problems,
                                           lambda i: NthTable(text, "webhooks", i)),
                    participants=_participants(reader("participants")),
                    history=_import(reader("import")),
                    retention=_retention(reader("retention")), raw=data)
    brands = read_brands(path, text, data.get("brands", []), base, problems)
    if brands:
        # A brand's addresses are the desk's own too: its mail coming back is no customer,
        # and +tokens on them thread.
        own = dict.fromkeys((*config.desk.addresses, *(a for b in brands for a in b.addresses)))
        config = replace(config, brands=brands, desk=replace(config.desk, addresses=tuple(own)))
    if check_secret and not config.desk.secret_file.is_file():
        problems.append(Problem(str(path), locate.line("desk", "secret_file"), "desk.secret_file",
                                f"secret file {config.desk.secret_file} does not exist "
                                "(maildesk init writes one)"))
    if problems:
        raise ConfigError(problems)
    return config
