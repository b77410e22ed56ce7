"""Where the example desk's files are: in the installed package, or in a source checkout.

There is one copy of the example files, at the top of the source tree (`templates/`,
`rules/`, `examples/maildesk.toml`), where admins and contributors read them. The wheel
carries them as `maildesk/example/` (hatchling's `force-include`, see pyproject.toml);
a source checkout or an editable install has no such directory, so the top-level
copies are used instead. `maildesk init` copies them; the template store falls back
to the packaged templates for any template a desk has not overridden.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
PACKAGED = PACKAGE / "example"
CHECKOUT = PACKAGE.parent

# Name in a desk directory (and in the wheel's example/) -> path in a source checkout.
SOURCES = {"maildesk.toml": "examples/maildesk.toml", "rules": "rules",
           "templates": "templates"}


def example_path(name: str) -> Path:
    """The example file or folder `name` (a key of SOURCES), wherever maildesk runs from."""
    packaged = PACKAGED / name
    if packaged.exists():
        return packaged
    return CHECKOUT / SOURCES[name]


def templates_dir() -> Path:
    """The shipped mail templates, the fallback for any template a desk does not override."""
    return example_path("templates")
