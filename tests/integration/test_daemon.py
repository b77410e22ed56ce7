"""`maildesk run` as a subprocess: SIGTERM, SIGHUP, status, and kill -9 under load."""

from __future__ import annotations

import json
import shutil
import signal
import smtplib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import (
    DEADLINE,
    DaemonProcess,
    counts,
    mail,
    maildesk,
    make_desk,
    message_ids,
    wait_idle,
    wait_until,
)
from dovecot import DOVECOT, PASSWORD, USER, Dovecot, free_port, start_dovecot
from imapclient import IMAPClient


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def desk_with_smtp(root: Path, url: str, port: int, extra: str = "") -> Path:
    return make_desk(root, url, f'[smtp]\nlisten = "127.0.0.1:{port}"\n{extra}')


def send(port: int, data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("c@customer.example", ["support@acme.example"], data)


def test_sigterm_exits_0_within_10_seconds(tmp_path: Path, db_url: str,
                                           daemons: list[DaemonProcess]) -> None:
    port = free_port()
    daemon = DaemonProcess(desk_with_smtp(tmp_path / "desk", db_url, port))
    daemons.append(daemon)
    daemon.start()
    send(port, mail(1))
    idle = smtplib.SMTP("127.0.0.1", port, timeout=10)  # an open session must not hold it up
    idle.ehlo()
    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert time.monotonic() - started < 10
    idle.close()
    assert counts(db_url) == (1, 1)


def test_status_and_sighup_reload_keeps_running(tmp_path: Path, db_url: str,
                                                daemons: list[DaemonProcess]) -> None:
    port = free_port()
    config = desk_with_smtp(tmp_path / "desk", db_url, port)
    daemon = DaemonProcess(config)
    daemons.append(daemon)
    daemon.start()
    send(port, mail(1))
    status = maildesk(config, "status")
    assert status.returncode == 0 and "daemon: up" in status.stdout, status.stdout
    good = config.read_text()
    config.write_text(good + "\n[smtp.bogus]\n")  # broken: the running version stays
    daemon.signal(signal.SIGHUP)
    assert wait_until(lambda: "keeping the running configuration" in daemon.log.read_text())
    config.write_text(good.replace('name = "Acme Support"', 'name = "Acme Help"'))
    daemon.signal(signal.SIGHUP)
    assert wait_until(lambda: "reloaded" in daemon.log.read_text())
    send(port, mail(2))  # still listening, same connections
    assert wait_until(lambda: counts(db_url) == (2, 2))
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
    assert maildesk(config, "status").returncode == 3


def answers_http(port: int) -> bool:
    """Whether something speaks HTTP on the port (any status: the token is a dummy)."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/status/x", timeout=5)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def test_sighup_applies_relay_and_web_live_and_names_what_needs_a_restart(
        tmp_path: Path, db_url: str, daemons: list[DaemonProcess], smtp_sink) -> None:  # noqa: ANN001
    port, web_before, web_after, dead = free_port(), free_port(), free_port(), free_port()
    sink_port, sink = smtp_sink
    config = desk_with_smtp(tmp_path / "desk", db_url, port,
                            f'[relay]\nhost = "127.0.0.1"\nport = {dead}\n'
                            f'[web]\nlisten = "127.0.0.1:{web_before}"\n'
                            f'base_url = "http://127.0.0.1:{web_before}"\n')
    daemon = DaemonProcess(config)
    daemons.append(daemon)
    daemon.start()
    assert wait_until(lambda: answers_http(web_before))
    config.write_text(config.read_text().replace(f"port = {dead}", f"port = {sink_port}")
                      .replace(str(web_before), str(web_after))
                      .replace("[smtp]\n", "[smtp]\nmax_size = 1000000\n"))
    daemon.signal(signal.SIGHUP)
    assert wait_until(lambda: "reloaded" in daemon.log.read_text())
    assert wait_until(lambda: answers_http(web_after))
    assert not answers_http(web_before)
    warning = [line for line in daemon.log.read_text().splitlines() if "WARNING" in line
               and "restart" in line]
    assert warning and "[smtp]" in warning[-1] and "[relay]" not in warning[-1]
    status = json.loads(maildesk(config, "status", "--json").stdout)
    assert status["daemons"][0]["restart_needed"] == ["smtp"]
    assert "restart needed: [smtp]" in maildesk(config, "status").stdout
    send(port, mail(1))  # its acknowledgement leaves through the new relay
    assert wait_until(lambda: len(sink.received) >= 1)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(10) == 0


def _stream_smtp(port: int, acknowledged: list[str], stop: threading.Event) -> None:
    """Send until told to stop; remember what got a 250."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            send(port, mail(n, "smtp"))
            acknowledged.append(f"smtp-{n}@customer.example")
        except (OSError, smtplib.SMTPException):
            time.sleep(0.05)  # daemon down: the client keeps the mail and retries later


def _stream_imap(server: Dovecot, appended: list[str], stop: threading.Event) -> None:
    imap = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    imap.login(USER, PASSWORD)
    n = 0
    while not stop.is_set():
        n += 1
        imap.append("INBOX", mail(n, "imap"))
        appended.append(f"imap-{n}@customer.example")
        time.sleep(0.02)
    imap.logout()


@pytest.mark.skipif(not Path(DOVECOT).exists(), reason="no dovecot binary")
def test_kill_9_under_load_then_restart_tickets_everything_once(
        tmp_path: Path, db_url: str, dovecot: Dovecot, daemons: list[DaemonProcess],
        monkeypatch: pytest.MonkeyPatch, smtp_sink) -> None:  # noqa: ANN001
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    port = free_port()
    relay = f'[relay]\nhost = "127.0.0.1"\nport = {smtp_sink[0]}\n'
    imap = relay + (f'[[imap]]\nname = "support"\nhost = "127.0.0.1"\nport = {dovecot.port}\n'
            f'security = "none"\nusername = "{USER}"\npassword_env = "TEST_IMAP_PASSWORD"\n'
            f'poll_interval = 60\nreconnect_max = 0.5\n')
    config = desk_with_smtp(tmp_path / "desk", db_url, port, imap)
    first = DaemonProcess(config)
    daemons.append(first)
    first.start()
    acknowledged: list[str] = []
    appended: list[str] = []
    stop = threading.Event()
    streams = [threading.Thread(target=_stream_smtp, args=(port, acknowledged, stop)),
               threading.Thread(target=_stream_imap, args=(dovecot, appended, stop))]
    for thread in streams:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 15 and len(appended) >= 15)
    first.signal(signal.SIGKILL)
    first.wait(5)
    time.sleep(0.3)  # mail keeps arriving while the daemon is down
    second = DaemonProcess(config)
    daemons.append(second)
    second.start()
    time.sleep(0.5)
    stop.set()
    for thread in streams:
        thread.join(10)
    expected = set(acknowledged) | set(appended)
    wait_until(lambda: expected <= set(message_ids(db_url)))
    assert expected - set(message_ids(db_url)) == set(), second.log.read_text()[-3000:]
    left = wait_idle(config)  # the restarted daemon works through what the first one left
    assert left.get("idle"), (left, second.log.read_text()[-3000:])
    second.signal(signal.SIGTERM)
    assert second.wait(DEADLINE) == 0
    ids = message_ids(db_url)
    assert len(ids) == len(set(ids)), "a message was stored twice"
    result = maildesk(config, "tickets", "list", "--json")
    assert result.returncode == 0, result.stderr
    tickets, raws = counts(db_url)
    quarantine = maildesk(config, "quarantine", "list").stdout
    assert tickets == raws == len(ids) >= len(expected), quarantine
