"""The running desk picks up edited rule files; a broken edit keeps the last good set."""

from __future__ import annotations

import os
import time

from maildesk.runtime.daemon import reload_if_changed
from maildesk.runtime.desk import Desk

RULE = """- name: printers go to hardware
  when: {subject: {contains: ["impresora"]}}
  then: {queue: hardware}
"""


def _touch_later(path) -> None:  # noqa: ANN001
    later = time.time() + 5
    os.utime(path, (later, later))


def test_edited_rules_are_reloaded_and_broken_ones_refused(desk: Desk) -> None:
    before = len(desk.rules.ruleset.rules)
    assert not reload_if_changed(desk)
    path = desk.config.rules_dir / "60-printers.yaml"
    path.write_text(RULE)
    _touch_later(path)
    assert reload_if_changed(desk)
    assert len(desk.rules.ruleset.rules) == before + 1
    path.write_text(RULE.replace("queue: hardware", "queue: [not, a, string]"))
    _touch_later(path)
    reload_if_changed(desk)
    mine = [r for r in desk.rules.ruleset.rules if r.name == "printers go to hardware"]
    assert [r.then.queue for r in mine] == ["hardware"]  # the last good version
    assert len(desk.rules.ruleset.rules) == before + 1
    assert not reload_if_changed(desk)  # the broken version is reported once
