"""The desk a mail is processed with: one frozen snapshot, and the holder that swaps it.

A `Desk` is immutable: configuration, rules, templates, SLA settings and the clock are
fixed for as long as a mail is being processed. A reload builds a complete new snapshot
from disk and swaps it into the `DeskHolder` with one assignment, so a mail sees either
the old rule set or the new one, never a mixture. A bad edit never replaces a good
version: the holder keeps the last good snapshot and reports the problems.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from maildesk.agents.keys import Keyring, load_keyring, stamp
from maildesk.config.model import Config
from maildesk.errors import ConfigError, Problem, TemporaryFailure
from maildesk.mail.loops import LoopLimits
from maildesk.outbox.templates import TemplateStore
from maildesk.rules import RuleSet, RulesHolder, last_good
from maildesk.sla.load import load_sla
from maildesk.sla.model import SlaSettings
from maildesk.store.db import make_engine, make_sessionmaker
from maildesk.store.migrate import ensure_schema
from maildesk.store.models import utcnow
from maildesk.tickets.threader import Policy
from maildesk.webhooks import queue as webhook_queue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Desk:
    """Everything one mail is processed with; replace() makes a variant, nothing mutates."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    ruleset: RuleSet
    templates: TemplateStore
    sla: SlaSettings
    keys: Keyring  # read once per snapshot; a rotation reloads the snapshot
    clock: Callable[[], datetime] = utcnow
    send_mail: bool = True  # False while importing history: thread and store, never answer
    version: str = ""  # names the rule files this snapshot was built from, for the event log
    brand_templates: Mapping[str, TemplateStore] = field(default_factory=dict)  # by brand name

    @property
    def attachments_root(self) -> Path:
        return self.config.storage.attachments

    @property
    def quarantine_dir(self) -> Path:
        return self.config.storage.dir / "quarantine"

    @property
    def loop_limits(self) -> LoopLimits:
        return LoopLimits.from_config(self.config.loops, self.config.desk,
                                      self.config.threading.public_domains)

    def secret(self) -> bytes:
        """The current signing key (raises ConfigError when the secret file is unreadable)."""
        return self.keys.signing_key()

    def rekeyed(self) -> Desk:
        """This snapshot with the signing keys read again (after `maildesk secret rotate`)."""
        return replace(self, keys=load_keyring(self.config.desk.secret_file))

    def templates_for(self, brand: str | None) -> TemplateStore:
        """The brand's templates (its folder over the desk's), else the desk's."""
        return self.brand_templates.get(brand or "", self.templates)

    def thread_policy(self) -> Policy:
        t = self.config.threading
        others = tuple(dict.fromkeys(b.ticket_prefix for b in self.config.brands
                                     if b.ticket_prefix
                                     and b.ticket_prefix != self.config.desk.ticket_prefix))
        return Policy(prefix=self.config.desk.ticket_prefix,
                      desk_addresses=self.config.desk.addresses,
                      subject_match=t.subject_match, subject_match_days=t.subject_match_days,
                      reopen_days=t.reopen_days, public_domains=frozenset(t.public_domains),
                      other_prefixes=others)

    def close(self) -> None:
        self.engine.dispose()


def ruleset_version(ruleset: RuleSet) -> str:
    """A short, stable name for the rule files as loaded (path and modification time)."""
    files = "\n".join(f"{name}\t{stamp}" for name, stamp in sorted(ruleset.files.items()))
    return hashlib.sha256(files.encode()).hexdigest()[:12]


class DeskHolder:
    """The daemon's current snapshot. Workers read `current` once per unit of work."""

    def __init__(self, desk: Desk, rules: RulesHolder | None = None) -> None:
        self.current = desk
        self.rules = rules or RulesHolder.from_ruleset(desk.config.rules_dir, desk.ruleset)
        self._lock = threading.Lock()  # one reload at a time (SIGHUP and the file watcher)

    def reload(self, config: Config | None = None) -> list[Problem]:
        """Build a new snapshot from disk (and `config`, if given) and swap it in whole.

        Each part keeps its last good version when its files are broken; the problems are
        logged and returned.
        """
        with self._lock:
            old = self.current
            config = config or old.config
            problems: list[Problem] = []
            sla, templates, branded = old.sla, old.templates, old.brand_templates
            try:
                sla = load_sla(config.rules_dir, config.desk.timezone)
            except ConfigError as exc:
                problems.extend(exc.problems)
            try:
                templates = load_templates(config)
                branded = load_brand_templates(config)
            except ConfigError as exc:
                problems.extend(exc.problems)
            self.rules.templates = set(templates.names()) | {"none"}
            self.rules.sla_policies = set(sla.policies)
            problems.extend(self.rules.reload())
            ruleset = self.rules.ruleset
            webhook_queue.configure(old.sessions, config.webhooks)
            self.current = replace(old, config=config, ruleset=ruleset, templates=templates,
                                   sla=sla, keys=load_keyring(config.desk.secret_file),
                                   version=ruleset_version(ruleset),
                                   brand_templates=branded)
        for problem in problems:
            log.error("reload: %s (keeping the last good version)", problem)
        return problems

    def reload_if_changed(self) -> bool:
        """Reload when a rule file was added, edited or removed (broken versions once), or
        when the signing keys were rotated."""
        keys = self.current.keys
        rotated = stamp(self.current.config.desk.secret_file) != keys.stamp
        if not self.rules.changed() and not rotated:
            return False
        self.reload()
        return True


def holder_of(desk: Desk | DeskHolder) -> DeskHolder:
    return desk if isinstance(desk, DeskHolder) else DeskHolder(desk)


def load_templates(config: Config) -> TemplateStore:
    store = TemplateStore(config.templates_dir, config.desk.language,
                          {"desk_name": config.desk.name, "desk_address": config.desk.address})
    problems = store.load()
    if problems:
        raise ConfigError(problems)
    return store


def load_brand_templates(config: Config) -> dict[str, TemplateStore]:
    """One store per [[brands]] entry: shipped, then the desk's, then the brand's folder."""
    stores: dict[str, TemplateStore] = {}
    problems: list[Problem] = []
    for brand in config.brands:
        root = brand.templates or config.templates_dir
        store = TemplateStore(root, brand.language or config.desk.language,
                              {"desk_name": brand.display_name, "desk_address": brand.address},
                              under=(config.templates_dir,))
        problems.extend(store.load())
        stores[brand.name] = store
    if problems:
        raise ConfigError(problems)
    return stores


def _rules(config: Config, names: set[str] | None, policies: set[str] | None,
           lenient: bool) -> RulesHolder:
    """The rules on disk; when `lenient` and they are broken, the last good copy (or none)."""
    try:
        holder = RulesHolder(config.rules_dir, templates=names, sla_policies=policies)
    except ConfigError as exc:
        if not lenient:
            raise
        ruleset, origin = last_good.recall(config.storage.dir, templates=names,
                                           sla_policies=policies)
        log.warning("%s has %d problem(s) (see `maildesk check`); using %s",
                    config.rules_dir, len(exc.problems), origin)
        return RulesHolder.standing_in(config.rules_dir, ruleset, exc.problems,
                                       templates=names, sla_policies=policies)
    last_good.remember(holder.ruleset, config.rules_dir, config.storage.dir)
    return holder


def load_resources(config: Config, *, lenient: bool = False
                   ) -> tuple[RulesHolder, TemplateStore, SlaSettings]:
    """Rules, templates and SLA settings, all valid, or ConfigError listing every problem.

    `lenient` (commands that read or act on tickets) stands in the last good rules for
    broken ones, with a warning, instead of failing.
    """
    problems: list[Problem] = []
    templates = sla = None
    try:
        templates = load_templates(config)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        sla = load_sla(config.rules_dir, config.desk.timezone)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        names = set(templates.names()) | {"none"} if templates else None
        rules = _rules(config, names, set(sla.policies) if sla else None, lenient)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return rules, templates, sla  # type: ignore[return-value]


def open_desk(config: Config, *, migrate: bool | None = None,
              clock: Callable[[], datetime] = utcnow, lenient: bool = False) -> Desk:
    """Load rules and templates, then connect to storage (migrating when configured)."""
    return open_holder(config, migrate=migrate, clock=clock, lenient=lenient).current


def open_holder(config: Config, *, migrate: bool | None = None,
                clock: Callable[[], datetime] = utcnow, lenient: bool = False) -> DeskHolder:
    """The same, kept in a holder that can reload it (the daemon's way)."""
    rules, templates, sla = load_resources(config, lenient=lenient)
    engine = make_engine(config.database.url)
    if config.database.auto_migrate if migrate is None else migrate:
        try:
            ensure_schema(engine)
        except (OperationalError, DBAPIError) as exc:
            raise TemporaryFailure(f"storage unavailable: {str(exc).splitlines()[0]}") from exc
    sessions = make_sessionmaker(engine)
    webhook_queue.install(sessions, config.webhooks)
    desk = Desk(config=config, engine=engine, sessions=sessions,
                ruleset=rules.ruleset, templates=templates, sla=sla,
                keys=load_keyring(config.desk.secret_file), clock=clock,
                version=ruleset_version(rules.ruleset),
                brand_templates=load_brand_templates(config))
    return DeskHolder(desk, rules)
