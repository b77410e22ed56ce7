"""Import past support mail (an mbox file or a Maildir) through the normal pipeline.

Every message goes through `accept()` exactly as live mail does, so threading,
customers and rules behave the same; the desk is switched to `send_mail=False` and each
message is processed "as of" its own Date header (clamped to the present), so tickets
get their historical creation times and threading windows apply as they did then.

Mail from the desk's addresses or its agents is the desk's past answer, kept on its
ticket as outgoing mail (pipeline/stages/history.py). When the source is done, each
ticket the import opened takes its state from its history and starts no timer for the
past (intake/settle.py).

Resuming: ingest is idempotent (a message already stored is a duplicate and is
skipped), and a small marker file, `import-progress.json` in the storage directory,
remembers per source path how many messages were done and the SHA-256 of the last one.
A restart checks that message is still at that position and skips straight past it;
if the source changed, it starts from the top and relies on deduplication.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mailbox
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path

from maildesk.intake.settle import Settled, settle
from maildesk.pipeline.flow import Accepted, accept
from maildesk.runtime.desk import Desk
from maildesk.types import RawMail, Source

log = logging.getLogger(__name__)

MARKER_FILE = "import-progress.json"
SAVE_EVERY = 100

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    total: int
    skipped: int  # done by an earlier, interrupted run (from the marker)
    new_tickets: int
    threaded: int
    duplicates: int
    quarantined: int
    ignored: int  # loops, the desk's mail to nobody outside...
    other: int  # any other outcome, or processing deferred by a storage hiccup
    answers: int = 0  # the desk's and agents' past answers, kept on their tickets
    settled: Settled = Settled()

    def lines(self) -> list[str]:
        return [f"{self.total} messages in the source, {self.skipped} done by an earlier run",
                f"new tickets  {self.new_tickets}", f"threaded     {self.threaded}",
                f"answers      {self.answers}  (the desk's past replies)",
                f"duplicates   {self.duplicates}", f"quarantined  {self.quarantined}",
                f"ignored      {self.ignored}", f"other        {self.other}",
                f"answered tickets {self.settled.answered}, left open {self.settled.open} "
                f"(no SLA timers, escalations, reminders or surveys for the past)"]


def open_source(path: Path) -> mailbox.Mailbox:  # type: ignore[type-arg]
    """A Maildir for a directory with cur/ and new/, else an mbox file."""
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise ValueError(f"{path} is a directory but not a Maildir (no cur/ or new/)")
        return mailbox.Maildir(path, factory=None, create=False)
    if not path.is_file():
        raise FileNotFoundError(f"no such mbox file or Maildir: {path}")
    return mailbox.mbox(path, factory=None, create=False)


def source_keys(box: mailbox.Mailbox) -> list[str]:  # type: ignore[type-arg]
    """A stable order: file order for mbox, sorted unique names for Maildir."""
    keys = list(box.keys())
    return sorted(keys) if isinstance(box, mailbox.Maildir) else keys


def mail_date(data: bytes, now: datetime) -> datetime:
    """The Date header as an aware time, never in the future; `now` when unusable."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    value = BytesHeaderParser(policy=compat32).parsebytes(head).get("Date")
    try:
        when = parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None or when.tzinfo is None:
        return now
    return min(when, now)


class Marker:
    """The progress file: {source path: {"done": n, "last": sha256}}, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}

    def get(self, source: str) -> tuple[int, str]:
        entry = self.data.get(source) or {}
        return int(entry.get("done", 0)), str(entry.get("last", ""))

    def set(self, source: str, done: int, last: str) -> None:
        self.data[source] = {"done": done, "last": last}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resume_point(box: mailbox.Mailbox, keys: list[str], done: int,  # type: ignore[type-arg]
                 last: str) -> int:
    """Where to start: after `done` if the message there is still the one remembered."""
    if 0 < done <= len(keys) and _sha(box.get_bytes(keys[done - 1])) == last:
        return done
    if done:
        log.info("import source changed since the last run; starting over (duplicates skip)")
    return 0


def classify(result: Accepted) -> str:
    if result.outcome is None:
        return "duplicates" if result.duplicate else "other"
    return {"new-ticket": "new_tickets", "threaded": "threaded", "quarantined": "quarantined",
            "ignored": "ignored", "past-answer": "answers"}.get(result.outcome.kind, "other")


def import_one(desk: Desk, data: bytes, source_ref: str) -> Accepted:
    """One message, processed as of its own date, with no mail sent."""
    when = mail_date(data, desk.clock())
    past = replace(desk, clock=lambda: when, send_mail=False)
    raw = RawMail(data=data, source=Source.IMPORT, source_ref=source_ref[-500:],
                  received_at=when)
    return accept(past, raw)


def _messages(box: mailbox.Mailbox, keys: list[str],  # type: ignore[type-arg]
              start: int) -> Iterator[tuple[int, bytes]]:
    for index in range(start, len(keys)):
        yield index, box.get_bytes(keys[index])


def import_path(desk: Desk, path: Path, *, marker: Path | None = None,
                progress: Progress | None = None) -> ImportSummary:
    """Import every message of `path`; resumable, see the module docstring."""
    source = str(path.resolve())
    box = open_source(path)
    keys = source_keys(box)
    marks = Marker(marker or desk.config.storage.dir / MARKER_FILE)
    start = resume_point(box, keys, *marks.get(source))
    counts: Counter[str] = Counter()
    refs: set[str] = set()
    done, last = start, marks.get(source)[1]
    try:
        for index, data in _messages(box, keys, start):
            result = import_one(desk, data, f"import:{source}#{keys[index]}")
            counts[classify(result)] += 1
            if result.outcome is not None and result.outcome.ref:
                refs.add(result.outcome.ref)
            done, last = index + 1, _sha(data)
            if done % SAVE_EVERY == 0:
                marks.set(source, done, last)
            if progress is not None:
                progress(done, len(keys))
    finally:
        marks.set(source, done, last)
        box.close()
    settled = settle(desk, refs, desk.clock())
    return ImportSummary(total=len(keys), skipped=start, settled=settled, **{
        k: counts[k] for k in ("new_tickets", "threaded", "duplicates", "quarantined",
                               "ignored", "other", "answers")})
