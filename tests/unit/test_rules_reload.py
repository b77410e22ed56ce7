"""Hot reload: a broken edit is reported and the last good rule set keeps running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maildesk.errors import ConfigError
from maildesk.rules import RulesHolder

GOOD = "- {name: a, when: {}, then: {queue: one}}\n"


def touch(path: Path, text: str, bump: int) -> None:
    """Write and move the mtime forward, so coarse file-system clocks still see a change."""
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "10-a.yaml").write_text(GOOD, encoding="utf-8")
    return directory


def test_broken_file_keeps_last_good_set(rules_dir: Path) -> None:
    holder = RulesHolder(rules_dir)
    good = holder.ruleset
    assert not holder.changed()
    touch(rules_dir / "10-a.yaml", "- {name: a, when: {subject: {regex: '('}}, then: {}}\n", 1)
    assert holder.changed()
    problems = holder.reload()
    assert problems and "10-a.yaml:1:" in str(problems[0]) and "rule 'a'" in str(problems[0])
    assert holder.ruleset is good
    assert not holder.changed()  # the same broken version is not retried in a loop
    touch(rules_dir / "10-a.yaml", "- {name: a, when: {}, then: {queue: two}}\n", 2)
    assert holder.changed()
    assert holder.reload() == []
    assert holder.ruleset.rules[0].then.queue == "two"


def test_added_removed_and_list_files_count_as_changes(rules_dir: Path) -> None:
    (rules_dir / "vip.txt").write_text("a@x.example\n", encoding="utf-8")
    (rules_dir / "20-b.yaml").write_text("- {name: b, when: {from: {file: vip.txt}}, then: {}}\n")
    holder = RulesHolder(rules_dir)
    touch(rules_dir / "vip.txt", "b@x.example\n", 1)
    assert holder.changed()
    holder.reload()
    (rules_dir / "30-c.yaml").write_text(GOOD.replace("a,", "c,"), encoding="utf-8")
    assert holder.changed()
    holder.reload()
    (rules_dir / "30-c.yaml").unlink()
    assert holder.changed()


def test_sla_files_are_not_watched(rules_dir: Path) -> None:
    holder = RulesHolder(rules_dir)
    (rules_dir / "sla.yaml").write_text("anything: [\n", encoding="utf-8")
    assert not holder.changed()
    assert holder.reload() == []


def test_invalid_at_start_raises(rules_dir: Path) -> None:
    (rules_dir / "10-a.yaml").write_text("- [\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        RulesHolder(rules_dir)
