"""`maildesk import PATH`: load an mbox or Maildir of past support mail, sending nothing.

Progress goes to stderr: a redrawn bar on a terminal, a line every 10% otherwise (so a
log file does not fill with carriage returns). It is a dozen lines, so no dependency.
Interrupted? Run the same command again: it resumes where it stopped.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from maildesk.cli.common import desk_from
from maildesk.errors import TemporaryFailure
from maildesk.intake.importer import import_path

EX_TEMPFAIL = 75
BAR = 30


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("import", help="import past mail from an mbox file or a Maildir",
                            description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="an mbox file or a Maildir directory")
    parser.add_argument("--marker", type=Path,
                        help="progress file (default: <storage dir>/import-progress.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


class ProgressBar:
    """`import [#########-----]  612/2000  31%  48.2 msg/s` on stderr, at most 10 times/s."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.drawn = 0.0
        self.last_tenth = -1

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.tty and (now - self.drawn >= 0.1 or done == total):
            self.drawn = now
            self.stream.write("\r" + self.line(done, total, now))
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif not self.tty and total and done * 10 // total != self.last_tenth:
            self.last_tenth = done * 10 // total
            self.stream.write(self.line(done, total, now) + "\n")

    def line(self, done: int, total: int, now: float) -> str:
        share = done / total if total else 1.0
        filled = round(BAR * share)
        rate = done / max(now - self.started, 1e-6)
        return (f"import [{'#' * filled}{'-' * (BAR - filled)}] {done}/{total} "
                f"{share:4.0%} {rate:6.1f} msg/s")


def run(args: argparse.Namespace) -> int:
    desk = desk_from(args)
    if not args.quiet:  # one log line per mail would tear the bar apart
        logging.getLogger("maildesk").setLevel(max(logging.WARNING, logging.root.level))
    try:
        summary = import_path(desk, args.path, marker=args.marker,
                              progress=None if args.quiet else ProgressBar())
    except (FileNotFoundError, ValueError) as exc:
        print(f"maildesk import: {exc}", file=sys.stderr)
        return 1
    except TemporaryFailure as exc:
        print(f"maildesk import: storage unavailable ({exc}); run again to resume",
              file=sys.stderr)
        return EX_TEMPFAIL
    except KeyboardInterrupt:
        print("\nmaildesk import: interrupted; run the same command again to resume",
              file=sys.stderr)
        return 130
    finally:
        desk.close()
    print(f"{args.path}:")
    for line in summary.lines():
        print(f"  {line}")
    return 0
