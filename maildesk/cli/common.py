"""Helpers shared by commands: loading the config, opening the desk, printing."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from maildesk.config.model import ENV_CONFIG, Config, find_config, load_config
from maildesk.errors import ConfigError, Problem
from maildesk.runtime.desk import Desk, open_desk

EX_TEMPFAIL = 75  # sysexits: try again later (the relay or a server is down)


def missing_config(path: Path, explicit: str | None) -> str:
    """Where the config was looked for, and how to make one."""
    if explicit:
        how = "given with --config"
    elif os.environ.get(ENV_CONFIG):
        how = f"from ${ENV_CONFIG}"
    else:
        how = f"--config not given and ${ENV_CONFIG} not set, so ./maildesk.toml"
    return (f"{path}: no such file (looked at {path.resolve()}; {how}).\n"
            f"Create a desk with `maildesk init DIR` (it writes DIR/maildesk.toml, rules/ "
            f"and templates/), then run `maildesk --config DIR/maildesk.toml check`.")


def config_from(args: argparse.Namespace) -> Config:
    path = find_config(args.config)
    if not path.exists():
        raise ConfigError(Problem(str(path), None, "", missing_config(path, args.config)
                                  .removeprefix(f"{path}: ")))
    return load_config(path)


def desk_from(args: argparse.Namespace, **kwargs: Any) -> Desk:
    """The desk; pass lenient=True for commands that read or act on tickets, so that a
    broken rule file gives a warning and the last good rules instead of exit 78."""
    return open_desk(config_from(args), **kwargs)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]],
                max_width: int = 48) -> None:
    """A plain, aligned table that fits a terminal."""
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any, max_width: int) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= max_width else text[: max_width - 1] + "…"
