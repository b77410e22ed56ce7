"""`maildesk init [DIR]`: write a complete, working, commented desk to start from."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from maildesk.config.examples import SOURCES, example_path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("init", help="write an example desk (config, rules, templates)")
    parser.add_argument("dir", nargs="?", default=".", type=Path)
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(handler=run)


def write_secret(path: Path) -> None:
    """A fresh 256-bit secret, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def example_files() -> Iterator[tuple[Path, Path]]:
    """(source, path relative to the desk) for every shipped example file."""
    for name in SOURCES:
        root = example_path(name)
        if root.is_file():
            yield root, Path(name)
            continue
        for source in sorted(root.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                yield source, Path(name) / source.relative_to(root)


def run(args: argparse.Namespace) -> int:
    target: Path = args.dir
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for source, relative in example_files():
        dest = target / relative
        if dest.exists() and not args.force:
            print(f"kept existing {dest}")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        written += 1
    secret = target / "secret"
    if not secret.exists() or args.force:
        write_secret(secret)
        written += 1
    print(f"wrote {written} files in {target}; next: maildesk --config "
          f"{target / 'maildesk.toml'} check")
    return 0
