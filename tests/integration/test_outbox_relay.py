"""Outgoing mail without a working relay: what the admin sees, and what happens once the
relay is fixed (flush and retry send at once, in the order the mail was written)."""

from __future__ import annotations

import json
import signal
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from daemon_helpers import DaemonProcess, wait_until
from dovecot import free_port

from tests.conftest import SinkRecorder, eml, write_desk
from tests.integration.test_cli import maildesk

AGENT_REPLY = b"Hello,\n\nthe invoice is corrected now.\n\nAna\n"


def desk_on(tmp_path: Path, url: str, port: int) -> Path:
    relay = (f'\n[relay]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 5\nretry_for = "1d"\n'
             f'\n[outbox]\nburst_attempts = 1\nbackoff = "1h"\n')
    return write_desk(tmp_path / "desk", url, relay)


def outbox(config: Path) -> list[dict]:
    return json.loads(maildesk(config, "outbox", "list", "--json").stdout)


def start_relay(port: int) -> tuple[Controller, SinkRecorder]:
    recorder = SinkRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, recorder


def _subjects(sink: SinkRecorder, to: str) -> list[str]:
    return [message_from_bytes(e.content, policy=policy.default)["Subject"]
            for e in sink.received if e.rcpt_tos == [to]]


def test_mail_waits_for_the_relay_then_leaves_in_order(tmp_path: Path, db_url: str) -> None:
    port = free_port()  # nothing listens there yet
    config = desk_on(tmp_path, db_url, port)
    assert maildesk(config, "ingest", stdin=eml("gmail/01-original.eml")).returncode == 0
    down = maildesk(config, "outbox", "flush")
    assert down.returncode == 75, down
    assert b"unreachable" in down.stdout and b"sent 0" in down.stdout
    rows = outbox(config)
    assert rows and all(r["state"] == "queued" and r["attempts"] == 1 for r in rows)

    reply = maildesk(config, "tickets", "reply", "MD-1", "--as", "ana@example.com",
                     "--file", "-", stdin=AGENT_REPLY)
    assert reply.returncode == 0, reply.stderr
    assert b"queued" in reply.stdout and b"sent" not in reply.stdout
    status = maildesk(config, "status").stdout.decode()
    assert f"outbox: {len(rows) + 1} queued" in status and "oldest" in status
    assert "last delivery error" in status

    controller, sink = start_relay(port)
    try:
        flushed = maildesk(config, "outbox", "flush")  # backoff or not, everything goes now
        assert flushed.returncode == 0 and flushed.stdout.startswith(f"sent {len(rows) + 1}".encode())
    finally:
        controller.stop()
    customer = rows[0]["to"] if rows[0]["kind"].startswith("ack") else rows[1]["to"]
    first, second = _subjects(sink, customer)
    assert "[MD-1]" in first and "[MD-1]" in second
    sent = sorted((r for r in outbox(config) if r["to"] == customer), key=lambda r: r["id"])
    assert sent[0]["kind"].startswith("ack") and sent[-1]["kind"] == "update"
    assert [message_from_bytes(e.content, policy=policy.default)["Message-ID"].strip()
            for e in sink.received
            if e.rcpt_tos == [customer]] == [_mid(config, r["id"]) for r in sent]


def _mid(config: Path, outbox_id: int) -> str:
    from maildesk.config.model import load_config
    from maildesk.runtime.desk import open_desk
    from maildesk.store.models import Outbox

    desk = open_desk(load_config(config))
    try:
        with desk.sessions() as session:
            return f"<{session.get(Outbox, outbox_id).message_id}>"
    finally:
        desk.close()


def test_a_later_mail_does_not_overtake_one_waiting_for_backoff(tmp_path: Path,
                                                                db_url: str) -> None:
    port = free_port()
    config = desk_on(tmp_path, db_url, port)
    maildesk(config, "ingest", stdin=eml("gmail/01-original.eml"))
    maildesk(config, "outbox", "flush")  # relay down: the ack now waits for its backoff
    maildesk(config, "tickets", "reply", "MD-1", "--as", "ana@example.com", "--file", "-",
             stdin=AGENT_REPLY)
    answer = max(outbox(config), key=lambda r: r["id"])
    controller, sink = start_relay(port)
    try:
        _pass(config)  # a normal pass: the answer is due, the ack is not yet
        assert sink.received == []
        retried = maildesk(config, "outbox", "retry", str(answer["id"]))
        assert retried.returncode == 0, retried.stdout
        assert b"sent" in retried.stdout
    finally:
        controller.stop()
    kinds = [r["kind"] for r in sorted(outbox(config), key=lambda r: r["id"])
             if r["to"] == answer["to"] and r["state"] == "sent"]
    assert kinds[0].startswith("ack") and len(kinds) == 2
    assert len([e for e in sink.received if e.rcpt_tos == [answer["to"]]]) == 2


def _pass(config: Path) -> None:
    """One ordinary sender pass (what the daemon does every few seconds)."""
    from maildesk.config.model import load_config
    from maildesk.outbox.send import flush_once
    from maildesk.runtime.desk import open_desk

    desk = open_desk(load_config(config))
    try:
        flush_once(desk.sessions, desk.config.relay, desk.clock(), desk.config.outbox)
    finally:
        desk.close()


def test_retry_of_nothing_says_why(tmp_path: Path, db_url: str) -> None:
    config = desk_on(tmp_path, db_url, free_port())
    done = maildesk(config, "outbox", "retry", "99")
    assert done.returncode == 1 and b"nothing to retry" in done.stdout


def test_check_connect_reaches_each_server(tmp_path: Path, db_url: str, smtp_sink) -> None:  # noqa: ANN001
    config = desk_on(tmp_path, db_url, smtp_sink[0])
    good = maildesk(config, "check", "--connect")
    assert good.returncode == 0, good.stderr
    assert b"relay 127.0.0.1:" in good.stdout and b"database " in good.stdout
    assert good.stdout.count(b": OK") >= 3  # config, database, relay
    bad = maildesk(desk_on(tmp_path / "other", db_url, free_port()), "check", "--connect")
    assert bad.returncode == 1
    assert b"relay 127.0.0.1:" in bad.stderr and b"FAILED" in bad.stderr


def test_check_without_config_says_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "maildesk.toml"
    done = maildesk(missing, "check")
    assert done.returncode == 1
    assert str(missing).encode() in done.stderr and b"maildesk init" in done.stderr
    listed = maildesk(missing, "tickets", "list")
    assert listed.returncode == 78 and b"maildesk init" in listed.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_daemon_warns_once_and_status_shows_the_dead_relay(tmp_path: Path, db_url: str) -> None:
    config = desk_on(tmp_path, db_url, free_port())
    daemon = DaemonProcess(config)
    try:
        daemon.start()
        assert wait_until(lambda: "UNREACHABLE" in maildesk(config, "status").stdout.decode())
        daemon.signal(signal.SIGTERM)
        daemon.wait(60)
    finally:
        daemon.kill()
    warnings = [line for line in daemon.log.read_text().splitlines()
                if "WARNING" in line and "relay 127.0.0.1" in line]
    assert len(warnings) == 1, warnings
