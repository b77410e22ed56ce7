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
class Config:
    path: Path
    desk: DeskConfig = field(default_factory=DeskConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    threading: ThreadingConfig = field(default_factory=ThreadingConfig)
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
    url = os.environ.get(ENV_DATABASE) or r.get("url", str, DatabaseConfig.url)
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
                    threading=_threading(reader("threading")), raw=data)
    if check_secret and not config.desk.secret_file.is_file():
        problems.append(Problem(str(path), locate.line("desk", "secret_file"), "desk.secret_file",
                                f"secret file {config.desk.secret_file} does not exist "
                                "(maildesk init writes one)"))
    if problems:
        raise ConfigError(problems)
    return config
