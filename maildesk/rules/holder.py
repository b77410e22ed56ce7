"""Hot reload: keep the last good RuleSet while an admin fixes a broken file.

The daemon calls `changed()` on a timer (or reload() on SIGHUP); a reload that fails
returns its problems for the log and leaves the running rules untouched, per the rule
that admin-edited files never take the desk down.
"""

from __future__ import annotations

import logging
from pathlib import Path

from maildesk.errors import ConfigError, Problem
from maildesk.rules.load import load_ruleset, watched_files
from maildesk.rules.schema import RuleSet

log = logging.getLogger(__name__)


class RulesHolder:
    """The current rule set of one desk; `ruleset` is always a valid, complete set."""

    def __init__(self, rules_dir: Path, *, templates: set[str] | None = None,
                 sla_policies: set[str] | None = None) -> None:
        """Load once; raises ConfigError, since a desk must not start without valid rules."""
        self.rules_dir = Path(rules_dir)
        self.templates, self.sla_policies = templates, sla_policies
        self.ruleset: RuleSet = self._load()
        self._failed: dict[str, int] | None = None  # files of the last failed attempt
        self.problems: list[Problem] = []  # of the files on disk, when standing in for them

    @classmethod
    def standing_in(cls, rules_dir: Path, ruleset: RuleSet, problems: list[Problem], *,
                    templates: set[str] | None = None,
                    sla_policies: set[str] | None = None) -> RulesHolder:
        """A holder for `ruleset` while the files in rules_dir have `problems`."""
        holder = cls.__new__(cls)
        holder.rules_dir = Path(rules_dir)
        holder.templates, holder.sla_policies = templates, sla_policies
        holder.ruleset = ruleset
        holder._failed = holder._snapshot()
        holder.problems = list(problems)
        return holder

    @classmethod
    def from_ruleset(cls, rules_dir: Path, ruleset: RuleSet) -> RulesHolder:
        """A holder around a set already loaded (a desk built without one)."""
        holder = cls.__new__(cls)
        holder.rules_dir, holder.templates, holder.sla_policies = Path(rules_dir), None, None
        holder.ruleset, holder._failed = ruleset, None
        return holder

    def _load(self) -> RuleSet:
        return load_ruleset(self.rules_dir, templates=self.templates,
                            sla_policies=self.sla_policies)

    def reload(self) -> list[Problem]:
        """Try the files on disk; on success swap them in, else keep the old set."""
        try:
            ruleset = self._load()
        except ConfigError as exc:
            self._failed = self._snapshot()
            for problem in exc.problems:
                log.error("rules not reloaded: %s", problem)
            return exc.problems
        self.ruleset, self._failed = ruleset, None
        log.info("rules reloaded: %d rules from %s", len(ruleset.rules), self.rules_dir)
        return []

    def changed(self) -> bool:
        """True when a file was added, removed or modified since the last attempt.

        A broken version already reported is not "changed" again until it is edited,
        so a polling daemon logs each mistake once.
        """
        now = self._snapshot()
        if self._failed is not None:
            return now != self._failed
        return now != dict(self.ruleset.files)

    def _snapshot(self) -> dict[str, int]:
        files = {str(p): p for p in watched_files(self.rules_dir)}
        files.update({name: Path(name) for name in self.ruleset.files})  # list files too
        out = {}
        for name, path in files.items():
            try:
                out[name] = path.stat().st_mtime_ns
            except OSError:
                continue  # removed: absent from the snapshot, so it differs
        return out
