"""Everything `maildesk check` validates beyond maildesk.toml itself.

Each check returns the problems it found; adding a check is one line in CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable

from maildesk.agents import macros
from maildesk.config.model import Config
from maildesk.errors import ConfigError, Problem
from maildesk.outbox.context import samples
from maildesk.runtime.desk import load_brand_templates, load_resources, load_templates

Check = Callable[[Config], list[Problem]]


def check_resources(config: Config) -> list[Problem]:
    """Rules, templates and SLA files load, and cross-references between them resolve."""
    try:
        load_resources(config)
    except ConfigError as exc:
        return exc.problems
    return []


def check_template_rendering(config: Config) -> list[Problem]:
    """Render each template once with sample values: catches misspelt variables."""
    try:
        store = load_templates(config)
    except ConfigError:
        return []  # already reported by check_resources
    return store.check(samples())


def check_macros(config: Config) -> list[Problem]:
    """Macros compile, render with sample values, and their commands are valid."""
    try:
        ruleset = load_resources(config)[0].ruleset
    except ConfigError:
        ruleset = None  # its problems are check_resources'; still check the macros alone
    return macros.check(macros.book_for(config), ruleset)


def check_brand_templates(config: Config) -> list[Problem]:
    """Each [[brands]] template folder compiles and renders, over the desk's templates
    (whose own problems the checks above report once)."""
    try:
        stores = load_brand_templates(config)
    except ConfigError as exc:
        problems = exc.problems
    else:
        problems = [p for store in stores.values() for p in store.check(samples())]
    folders = tuple(str(b.templates) for b in config.brands if b.templates)
    return [p for p in problems if folders and str(p.path).startswith(folders)]


CHECKS: list[Check] = [check_resources, check_template_rendering, check_macros,
                       check_brand_templates]


def validate_all(config: Config) -> list[Problem]:
    problems: list[Problem] = []
    for check in CHECKS:
        problems.extend(check(config))
    return problems
