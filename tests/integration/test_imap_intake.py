"""IMAP pull against a real Dovecot on loopback, both engines."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemon_helpers import counts, mail, maildesk, make_desk, wait_until
from dovecot import DOVECOT, PASSWORD, USER, Dovecot, start_dovecot
from imapclient import IMAPClient

from maildesk.config.model import load_config
from maildesk.intake.imap import PROCESSED_FLAG, Cursor, Poller, fetch_once, save_cursor
from maildesk.intake.receiver import Receiver
from maildesk.intake.reconcile import reconcile
from maildesk.runtime.desk import Desk, open_desk

pytestmark = [pytest.mark.dovecot,
              pytest.mark.skipif(not Path(DOVECOT).exists(), reason="no dovecot binary")]


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def imap_toml(server: Dovecot, extra: str = "") -> str:
    return (f'[[imap]]\nname = "support"\nhost = "127.0.0.1"\nport = {server.port}\n'
            f'security = "none"\nusername = "{USER}"\npassword_env = "TEST_IMAP_PASSWORD"\n'
            f"reconnect_max = 0.5\n{extra}")


@pytest.fixture
def make(tmp_path: Path, db_url: str, dovecot: Dovecot,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Desk]]:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    opened: list[Desk] = []

    def build(extra: str = "") -> Desk:
        desk = open_desk(load_config(make_desk(tmp_path / "desk", db_url,
                                               imap_toml(dovecot, extra))))
        opened.append(desk)
        return desk

    yield build
    for desk in opened:
        desk.close()


def client(server: Dovecot) -> IMAPClient:
    imap = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    imap.login(USER, PASSWORD)
    return imap


def append(server: Dovecot, *messages: bytes, folder: str = "INBOX") -> None:
    imap = client(server)
    for data in messages:
        imap.append(folder, data)
    imap.logout()


def flags(server: Dovecot, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
    imap = client(server)
    imap.select_folder(folder, readonly=True)
    found = imap.get_flags(imap.search(["ALL"]))
    imap.logout()
    return [found[uid] for uid in sorted(found)]


def test_appended_mail_becomes_tickets_and_stays_unread(make, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make()
    append(dovecot, mail(1), mail(2), mail(3))
    receiver = Receiver(desk)
    assert fetch_once(desk.config.imap[0], receiver) == 3
    assert counts(db_url) == (3, 3)
    assert all(PROCESSED_FLAG in f and b"\\Seen" not in f for f in flags(dovecot))
    assert fetch_once(desk.config.imap[0], receiver) == 0  # tracked by UID, not flags
    assert counts(db_url) == (3, 3)


def test_processed_folder_gets_the_mail_after_commit(make, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make('processed_folder = "Processed"\n')
    append(dovecot, mail(1), mail(2))
    assert fetch_once(desk.config.imap[0], Receiver(desk)) == 2
    assert flags(dovecot) == []
    assert len(flags(dovecot, "Processed")) == 2
    assert counts(db_url) == (2, 2)


def test_crash_between_commit_and_move_redelivers_once(make, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make('processed_folder = "Processed"\n')
    append(dovecot, mail(1))
    receiver = Receiver(desk)
    from maildesk.types import RawMail, Source
    receiver.accept_sync(RawMail(data=mail(1), source=Source.IMAP))  # committed, never moved
    assert fetch_once(desk.config.imap[0], receiver) == 1
    assert counts(db_url) == (1, 1)
    assert receiver.metrics.snapshot()["duplicates"] == 1
    assert len(flags(dovecot, "Processed")) == 1


def test_uidvalidity_change_restarts_from_zero_without_duplicates(make, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make()
    append(dovecot, mail(1), mail(2))
    receiver = Receiver(desk)
    fetch_once(desk.config.imap[0], receiver)
    save_cursor(desk, "support", "INBOX", Cursor(uidvalidity=1, last_uid=99))
    assert fetch_once(desk.config.imap[0], receiver) == 2  # everything read again
    assert counts(db_url) == (2, 2)


def test_idle_picks_mail_up_without_waiting_for_a_poll(make, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make("poll_interval = 60\nidle = true\n")
    stop = threading.Event()
    poller = threading.Thread(target=Poller(desk.config.imap[0], Receiver(desk)).serve,
                              args=(stop,), daemon=True)
    poller.start()
    try:
        append(dovecot, mail(1))
        assert wait_until(lambda: counts(db_url) == (1, 1))
        append(dovecot, mail(2))
        assert wait_until(lambda: counts(db_url) == (2, 2))
    finally:
        stop.set()
        poller.join(5)
    assert not poller.is_alive()


def test_dovecot_restart_mid_run_loses_and_duplicates_nothing(make, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make("poll_interval = 60\n")
    stop = threading.Event()
    poller = threading.Thread(target=Poller(desk.config.imap[0], Receiver(desk)).serve,
                              args=(stop,), daemon=True)
    poller.start()
    try:
        append(dovecot, mail(1), mail(2))
        assert wait_until(lambda: counts(db_url) == (2, 2))
        dovecot.stop()
        dovecot.start()
        append(dovecot, mail(3), mail(4))  # while the poller is reconnecting
        assert wait_until(lambda: counts(db_url) == (4, 4))
    finally:
        stop.set()
        poller.join(5)
    assert counts(db_url) == (4, 4)
    assert len(flags(dovecot)) == 4


def test_reconcile_reports_both_directions(make, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    desk = make()
    append(dovecot, mail(1), mail(2))
    fetch_once(desk.config.imap[0], Receiver(desk))
    imap = client(dovecot)
    imap.select_folder("INBOX")
    imap.delete_messages(imap.search(["HEADER", "Message-ID", "t-1@customer.example"]))
    imap.expunge()
    imap.logout()
    append(dovecot, mail(3))
    result = reconcile(desk, desk.config.imap[0])
    assert result.missing_from_desk == ("t-3@customer.example",)
    assert result.missing_from_mailbox == ("t-1@customer.example",)


def test_fetch_command_and_exit_75_when_storage_is_down(tmp_path, dovecot, db_url,  # type: ignore[no-untyped-def]
                                                        monkeypatch) -> None:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    config = make_desk(tmp_path / "ok", db_url, imap_toml(dovecot))
    append(dovecot, mail(1))
    done = maildesk(config, "fetch")
    assert (done.returncode, done.stdout) == (0, "support: 1 message(s)\n"), done.stderr
    assert counts(db_url) == (1, 1)
    down = make_desk(tmp_path / "down", "postgresql://postgres@127.0.0.1:1/x", imap_toml(dovecot))
    assert maildesk(down, "fetch").returncode == 75


def test_plaintext_password_is_rejected_by_check(tmp_path, dovecot, db_url) -> None:  # type: ignore[no-untyped-def]
    config = make_desk(tmp_path / "desk", db_url,
                       imap_toml(dovecot).replace('password_env = "TEST_IMAP_PASSWORD"',
                                                  'password = "hunter2"'))
    result = maildesk(config, "check")
    assert result.returncode != 0
    assert "imap.password: put the password in password_file" in result.stderr
