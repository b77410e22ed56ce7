"""A typo in a rule file must not stop the commands that read or act on tickets."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import eml, write_desk
from tests.integration.test_cli import maildesk

TYPO = "\n  - name: broken\n    when: {subjet: x\n"


def _warnings(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.strip()]


def test_read_and_agent_commands_use_the_last_good_rules(tmp_path: Path, db_url: str) -> None:
    config = write_desk(tmp_path / "desk", db_url)
    assert maildesk(config, "ingest", stdin=eml("gmail/01-original.eml")).returncode == 0
    rule_file = sorted((config.parent / "rules").glob("2*.yaml"))[0]
    rule_file.write_text(rule_file.read_text() + TYPO)
    assert maildesk(config, "check").returncode == 1

    for args in (("tickets", "list"), ("outbox", "list"), ("tickets", "show", "MD-1")):
        done = maildesk(config, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert b"MD-1" in done.stdout or b"ack" in done.stdout
        lines = _warnings(done.stderr)
        assert len(lines) == 1 and "problem(s)" in lines[0], lines
        assert "rules.last-good" in lines[0]
    status = maildesk(config, "status")
    assert status.returncode == 3 and b"daemon: DOWN" in status.stdout  # no daemon, not 78
    # The agents come from the last good team.yaml: Ana can still answer.
    reply = maildesk(config, "tickets", "reply", "MD-1", "--as", "ana@example.com",
                     "--file", "-", stdin=b"Fixed, thanks.\n")
    assert reply.returncode == 0, reply.stderr


def test_without_a_good_copy_the_commands_run_with_no_rules(tmp_path: Path, db_url: str) -> None:
    config = write_desk(tmp_path / "desk", db_url)
    (config.parent / "rules" / "20-classify.yaml").write_text("rules:" + TYPO)
    done = maildesk(config, "tickets", "list")
    assert done.returncode == 0, done.stderr
    lines = _warnings(done.stderr)
    assert len(lines) == 1 and "no rules" in lines[0], lines
