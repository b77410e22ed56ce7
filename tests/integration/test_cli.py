"""The `maildesk` command as admins and MTAs run it: real subprocesses, both engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import eml, write_desk

EX_TEMPFAIL = 75


def maildesk(config: Path, *args: str, stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "maildesk", "--config", str(config), *args],
                          input=stdin, capture_output=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_init_writes_a_working_desk(tmp_path: Path) -> None:
    target = tmp_path / "desk"
    done = subprocess.run([sys.executable, "-m", "maildesk", "init", str(target)],
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (target / "secret").stat().st_mode & 0o777 == 0o600
    assert len((target / "secret").read_text().strip()) == 64
    for path in ("maildesk.toml", "rules/50-outages.yaml", "rules/team.yaml",
                 "templates/es/ack.txt.j2", "templates/en/closure.html.j2"):
        assert (target / path).is_file(), path
    check = maildesk(target / "maildesk.toml", "check")
    assert check.returncode == 0, check.stderr
    stored = maildesk(target / "maildesk.toml", "ingest", stdin=eml("gmail/01-original.eml"))
    assert stored.returncode == 0 and b"new-ticket MD-1" in stored.stdout
    assert (target / "maildesk.db").exists()


def test_ingest_list_and_show(tmp_path: Path, db_url: str) -> None:
    config = write_desk(tmp_path / "desk", db_url)
    for name in ("outlook/01-original.eml", "outlook/02-reply-in-reply-to.eml"):
        assert maildesk(config, "ingest", stdin=eml(name)).returncode == 0
    listed = json.loads(maildesk(config, "tickets", "list", "--json").stdout)
    assert [t["ref"] for t in listed] == ["MD-1"]
    assert listed[0]["customer"] and listed[0]["status"] == "new"
    human = maildesk(config, "tickets", "list").stdout.decode()
    assert human.splitlines()[0].split()[:2] == ["REF", "STATUS"] and "MD-1" in human
    by_ref = json.loads(maildesk(config, "tickets", "show", "MD-1", "--json").stdout)
    original_id = by_ref["messages"][0]["message_id"]
    shown = json.loads(maildesk(config, "tickets", "show", f"<{original_id}>", "--json").stdout)
    assert shown["ref"] == "MD-1"
    assert {"ref", "status", "type", "priority", "queue", "assignee", "customer", "subject",
            "messages"} <= set(shown)
    kinds = [(m["direction"], m["kind"]) for m in shown["messages"]]
    assert ("in", "customer") in kinds and all(
        {"message_id", "direction", "kind", "from", "subject", "text", "attachments"}
        <= set(m) for m in shown["messages"])
    # outlook/02 answers the desk's ack, unknown here: Outlook's Thread-Index threads it.
    assert [m["threaded_by"] for m in shown["messages"] if m["direction"] == "in"] == [
        "new", "thread-index"]


def test_storage_down_exits_75_and_retry_succeeds(tmp_path: Path) -> None:
    config = write_desk(tmp_path / "desk", "postgresql+psycopg://postgres@127.0.0.1:1/test")
    down = maildesk(config, "ingest", stdin=eml("gmail/01-original.eml"))
    assert down.returncode == EX_TEMPFAIL, down.stderr
    assert b"try again later" in down.stderr
    up = maildesk(config, "ingest", stdin=eml("gmail/01-original.eml"),
                  env={"MAILDESK_DATABASE_URL": f"sqlite:///{tmp_path}/up.db"})
    assert up.returncode == 0


def test_unwritable_sqlite_exits_75(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        url = "sqlite:////proc/maildesk-cannot-live-here/maildesk.db"
    else:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        url = f"sqlite:///{locked}/maildesk.db"
    config = write_desk(tmp_path / "desk", url)
    assert maildesk(config, "ingest", stdin=eml("gmail/01-original.eml")).returncode == EX_TEMPFAIL


def test_quarantine_list_show_retry(tmp_path: Path, db_url: str) -> None:
    config = write_desk(tmp_path / "desk", db_url)
    done = maildesk(config, "ingest", stdin=eml("broken/08-not-mail.eml"))
    assert done.returncode == 0 and b"quarantined" in done.stdout
    rows = json.loads(maildesk(config, "quarantine", "list", "--json").stdout)
    assert len(rows) == 1 and "no header" in rows[0]["error"]
    shown = maildesk(config, "quarantine", "show", str(rows[0]["id"]))
    assert shown.stdout == eml("broken/08-not-mail.eml")
    assert maildesk(config, "quarantine", "retry").returncode == 1  # still not mail


@pytest.mark.parametrize("edit, expected", [
    ('ticket_prefix = "MD"', 'maildesk.toml:4: desk.ticket_prefix: must be'),
    ('timezone = "Europe/Madrid"', 'maildesk.toml:6: desk.timezone: unknown time zone'),
])
def test_check_names_file_line_and_key(tmp_path: Path, edit: str, expected: str) -> None:
    config = write_desk(tmp_path / "desk", f"sqlite:///{tmp_path}/x.db")
    broken = {'ticket_prefix = "MD"': 'ticket_prefix = "md-"',
              'timezone = "Europe/Madrid"': 'timezone = "Mars/Olympus"'}[edit]
    config.write_text(config.read_text().replace(edit, broken))
    done = maildesk(config, "check")
    assert done.returncode == 1 and expected.encode() in done.stderr, done.stderr


def test_check_reports_rule_and_template_errors(tmp_path: Path) -> None:
    config = write_desk(tmp_path / "desk", f"sqlite:///{tmp_path}/x.db")
    rules = config.parent / "rules" / "60-mine.yaml"
    rules.write_text("- name: mine\n  when: {subject: {regex: '(open'}}\n  then: {queue: x}\n")
    template = config.parent / "templates" / "es" / "ack.txt.j2"
    template.write_text(template.read_text().replace("{{ ticket_ref }}", "{{ ticket_ref }", 1))
    done = maildesk(config, "check").stderr.decode()
    assert "60-mine.yaml:2:" in done and "rule 'mine'" in done and "regular expression" in done
    assert "templates/es/ack.txt.j2:" in done
