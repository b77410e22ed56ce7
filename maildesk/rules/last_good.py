"""A copy of the last rules/ that loaded, so that one typo does not stop the CLI.

Every successful load keeps a copy under the storage directory (only when it differs);
when rules/ is broken, commands that read or act on tickets load the copy instead (or
no rules at all, if there is none) and say so in one warning line.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from maildesk.errors import ConfigError
from maildesk.rules.load import load_ruleset
from maildesk.rules.schema import RuleSet

log = logging.getLogger(__name__)

LAST_GOOD = "rules.last-good"


def remember(ruleset: RuleSet, rules_dir: Path, storage_dir: Path) -> None:
    """Copy the files this rule set was read from; best effort (a read-only CLI user)."""
    target = storage_dir / LAST_GOOD
    try:
        for name in ruleset.files:
            source = Path(name)
            if not source.is_relative_to(rules_dir):
                continue
            dest = target / source.relative_to(rules_dir)
            if dest.exists() and dest.read_bytes() == source.read_bytes():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    except OSError as exc:
        log.debug("could not keep a copy of the rules: %s", exc)


def recall(storage_dir: Path, *, templates: set[str] | None = None,
           sla_policies: set[str] | None = None) -> tuple[RuleSet, str]:
    """The last good rule set and where it came from, or no rules."""
    copy = storage_dir / LAST_GOOD
    if copy.is_dir():
        try:
            return load_ruleset(copy, templates=templates, sla_policies=sla_policies), str(copy)
        except ConfigError:
            pass
    return RuleSet(), "no rules"
