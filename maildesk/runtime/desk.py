"""The running desk: configuration plus the resources every stage shares.

Built once by the CLI or the daemon and passed explicitly; there is no global.
Rules, templates and SLA settings are held as "last good" values: reload() swaps in a
new version only when all of it is valid, so a bad edit never stops intake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from maildesk.config.model import Config
from maildesk.errors import ConfigError, Problem, TemporaryFailure
from maildesk.mail.loops import LoopLimits
from maildesk.outbox.templates import TemplateStore
from maildesk.rules import RulesHolder
from maildesk.sla.model import SlaSettings, load_sla
from maildesk.store.db import make_engine, make_sessionmaker
from maildesk.store.migrate import ensure_schema
from maildesk.store.models import utcnow
from maildesk.tickets.threader import Policy

log = logging.getLogger(__name__)


@dataclass
class Desk:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    rules: RulesHolder
    templates: TemplateStore
    sla: SlaSettings
    clock: Callable[[], datetime] = utcnow
    send_mail: bool = True  # False while importing history: thread and store, never answer

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
        return self.config.secret()

    def thread_policy(self) -> Policy:
        t = self.config.threading
        return Policy(prefix=self.config.desk.ticket_prefix,
                      desk_addresses=self.config.desk.addresses,
                      subject_match=t.subject_match, subject_match_days=t.subject_match_days,
                      reopen_days=t.reopen_days, public_domains=frozenset(t.public_domains))

    def reload(self) -> list[Problem]:
        """Reload SLA, templates and rules from disk; keep the last good version on error."""
        problems: list[Problem] = []
        try:
            self.sla = load_sla(self.config.rules_dir, self.config.desk.timezone)
        except ConfigError as exc:
            problems.extend(exc.problems)
        problems.extend(self.templates.load())
        self.rules.templates = set(self.templates.names()) | {"none"}
        self.rules.sla_policies = set(self.sla.policies)
        problems.extend(self.rules.reload())
        for problem in problems:
            log.error("reload: %s (keeping the last good version)", problem)
        return problems

    def close(self) -> None:
        self.engine.dispose()


def load_templates(config: Config) -> TemplateStore:
    store = TemplateStore(config.templates_dir, config.desk.language,
                          {"desk_name": config.desk.name, "desk_address": config.desk.address})
    problems = store.load()
    if problems:
        raise ConfigError(problems)
    return store


def load_resources(config: Config) -> tuple[RulesHolder, TemplateStore, SlaSettings]:
    """Rules, templates and SLA settings, all valid, or ConfigError listing every problem."""
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
        rules = RulesHolder(config.rules_dir, templates=names,
                            sla_policies=set(sla.policies) if sla else None)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return rules, templates, sla  # type: ignore[return-value]


def open_desk(config: Config, *, migrate: bool | None = None,
              clock: Callable[[], datetime] = utcnow) -> Desk:
    """Load rules and templates, then connect to storage (migrating when configured)."""
    rules, templates, sla = load_resources(config)
    engine = make_engine(config.database.url)
    if config.database.auto_migrate if migrate is None else migrate:
        try:
            ensure_schema(engine)
        except (OperationalError, DBAPIError) as exc:
            raise TemporaryFailure(f"storage unavailable: {str(exc).splitlines()[0]}") from exc
    return Desk(config=config, engine=engine, sessions=make_sessionmaker(engine), rules=rules,
                templates=templates, sla=sla, clock=clock)
