"""Everything `maildesk check` validates beyond maildesk.toml itself.

Each check returns the problems it found; adding a check is one line in CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import Config
from .errors import Problem

Check = Callable[[Config], list[Problem]]

CHECKS: list[Check] = []


def validate_all(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    for check in CHECKS:
        problems.extend(check(config))
    return problems
