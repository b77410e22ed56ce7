"""`maildesk rules test MAIL.eml --at TIME`: time conditions evaluated at a chosen time."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MAIL_DIR, write_desk
from tests.integration.test_cli import maildesk

MAIL = str(MAIL_DIR / "gmail" / "01-original.eml")


def test_at_moves_the_clock_of_time_conditions(tmp_path: Path) -> None:
    config = write_desk(tmp_path / "desk", f"sqlite:///{tmp_path / 'md.db'}")
    night = maildesk(config, "rules", "test", MAIL, "--at", "2025-11-26T23:30:00+01:00")
    assert night.returncode == 0, night.stdout
    assert b"out of hours" in night.stdout
    assert b"evaluated at 2025-11-26T23:30:00+01:00" in night.stderr
    day = maildesk(config, "rules", "test", MAIL, "--at", "2025-11-26T11:00:00+01:00")
    assert day.returncode == 0 and b"out of hours" not in day.stdout


def test_without_at_the_mail_date_is_used(tmp_path: Path) -> None:
    config = write_desk(tmp_path / "desk", f"sqlite:///{tmp_path / 'md.db'}")
    done = maildesk(config, "rules", "test", MAIL)
    assert done.returncode == 0
    line = next(x for x in done.stderr.decode().splitlines() if x.startswith("evaluated at"))
    assert line == "evaluated at 2024-03-05T08:29:41+01:00 (Europe/Madrid)"  # its Date
