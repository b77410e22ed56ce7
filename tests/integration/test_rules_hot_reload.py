"""The running desk picks up edited rule files; a broken edit keeps the last good set;
a reload never reaches a mail that is already being processed."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from maildesk.config.model import Config
from maildesk.pipeline import flow
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import DeskHolder, open_holder
from maildesk.store.models import Event, Ticket
from maildesk.types import RawMail, Source

RULE = """- name: printers go to hardware
  when: {subject: {contains: ["impresora"]}}
  then: {queue: hardware}
"""


def _touch_later(path: Path, seconds: float = 5) -> None:
    later = time.time() + seconds
    os.utime(path, (later, later))


@pytest.fixture
def holder(desk_config: Config) -> Iterator[DeskHolder]:
    holder = open_holder(desk_config)
    yield holder
    holder.current.close()


def test_edited_rules_are_reloaded_and_broken_ones_refused(holder: DeskHolder) -> None:
    before = len(holder.current.ruleset.rules)
    assert not holder.reload_if_changed()
    path = holder.current.config.rules_dir / "60-printers.yaml"
    path.write_text(RULE)
    _touch_later(path)
    assert holder.reload_if_changed()
    assert len(holder.current.ruleset.rules) == before + 1
    path.write_text(RULE.replace("queue: hardware", "queue: [not, a, string]"))
    _touch_later(path, 10)
    holder.reload_if_changed()
    mine = [r for r in holder.current.ruleset.rules if r.name == "printers go to hardware"]
    assert [r.then.queue for r in mine] == ["hardware"]  # the last good version
    assert len(holder.current.ruleset.rules) == before + 1
    assert not holder.reload_if_changed()  # the broken version is reported once


def _printer_mail() -> bytes:
    return (b"From: Ana <ana@customer.example>\r\nTo: support@acme.example\r\n"
            b"Subject: La impresora no imprime\r\nMessage-ID: <printer-1@customer.example>\r\n"
            b"Date: Mon, 30 Nov 2026 10:00:00 +0100\r\n\r\nLa impresora de la planta 2 "
            b"no imprime nada desde ayer.\r\n")


def test_a_reload_during_processing_does_not_reach_the_mail(
        holder: DeskHolder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow stage, a reload in between: the mail is decided by one rule set only."""
    rules_dir = holder.current.config.rules_dir
    (rules_dir / "60-printers.yaml").write_text(RULE)
    _touch_later(rules_dir / "60-printers.yaml")
    assert holder.reload_if_changed()
    old = holder.current
    reloaded = threading.Event()

    def edit_and_reload() -> None:
        (rules_dir / "60-printers.yaml").write_text(RULE.replace("hardware", "facilities"))
        _touch_later(rules_dir / "60-printers.yaml", 10)
        assert holder.reload_if_changed()
        reloaded.set()

    def slow_stage(desk, session, item):  # noqa: ANN001, ANN202 - a stage's signature
        threading.Thread(target=edit_and_reload).start()  # another thread, as the watcher
        assert reloaded.wait(30)
        return item

    stages = list(flow.STAGES)
    stages.insert(stages.index(flow.STAGES[1]), slow_stage)  # after parsing, before rules
    monkeypatch.setattr(flow, "STAGES", stages)
    outcome = accept(holder.current, RawMail(_printer_mail(), Source.PIPE)).outcome
    assert outcome is not None and outcome.kind == "new-ticket"
    new = holder.current
    assert new.version != old.version
    assert [r.then.queue for r in new.ruleset.rules if r.name.startswith("printers")] == [
        "facilities"]
    with old.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.ref == outcome.ref)).one()
        versions = {e.detail.get("rules_version") for e in session.scalars(
            select(Event).where(Event.ticket_id == ticket.id)) if e.actor.startswith("rule:")}
    assert ticket.queue == "hardware"  # decided by the set in force when processing began
    assert versions == {old.version}
    monkeypatch.setattr(flow, "STAGES", list(flow.STAGES))
    second = _printer_mail().replace(b"printer-1@", b"printer-2@").replace(b"planta 2", b"planta 3")
    outcome = accept(holder.current, RawMail(second, Source.PIPE)).outcome
    with new.sessions() as session:
        assert session.scalars(select(Ticket.queue).where(Ticket.ref == outcome.ref)).one() == (
            "facilities")
