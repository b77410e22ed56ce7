"""Helpers shared by commands: loading the config, opening the desk, printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from maildesk.config.model import Config, find_config, load_config
from maildesk.runtime.desk import Desk, open_desk


def config_from(args: argparse.Namespace) -> Config:
    return load_config(find_config(args.config))


def desk_from(args: argparse.Namespace, **kwargs: Any) -> Desk:
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
