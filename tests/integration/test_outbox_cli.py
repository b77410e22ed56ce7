"""`maildesk outbox list|flush|retry` against a real SMTP sink, on both engines."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

from tests.conftest import eml, write_desk
from tests.integration.test_cli import maildesk


def test_flush_delivers_ack_and_failure_shows_on_ticket(tmp_path: Path, db_url: str,
                                                        smtp_sink) -> None:  # noqa: ANN001
    port, sink = smtp_sink
    config = write_desk(tmp_path / "desk", db_url,
                        f'\n[relay]\nhost = "127.0.0.1"\nport = {port}\nretry_for = "1h"\n')
    assert maildesk(config, "ingest", stdin=eml("es/01-original-iso-8859-1-qp.eml")).returncode == 0
    queued = json.loads(maildesk(config, "outbox", "list", "--json").stdout)
    # The billing rule assigns team l1: the customer's ack and the agent's notification.
    assert sorted((r["kind"], r["state"]) for r in queued) == [
        ("ack-out-of-hours" if "out-of-hours" in queued[0]["kind"] + queued[1]["kind"]
         else "ack", "queued"), ("notify_agent", "queued")]
    assert maildesk(config, "outbox", "flush").stdout.startswith(b"sent 2")
    ack = next(e for e in sink.received if e.rcpt_tos == ["mj.nunez@cliente.example"])
    mail = message_from_bytes(ack.content, policy=policy.default)
    assert "[MD-1]" in mail["Subject"] and mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] and mail.get_body(("html",)) is not None

    sink.replies.append("550 5.1.1 mailbox unavailable")
    maildesk(config, "ingest", stdin=eml("gmail/01-original.eml"))
    maildesk(config, "outbox", "flush")
    failed = json.loads(maildesk(config, "outbox", "list", "--state", "failed", "--json").stdout)
    assert len(failed) == 1 and "550" in failed[0]["error"]
    shown = json.loads(maildesk(config, "tickets", "show", failed[0]["ticket"], "--json").stdout)
    assert "delivery-failed" in [e["action"] for e in shown["events"]]
    retried = maildesk(config, "outbox", "retry", str(failed[0]["id"]))
    assert retried.returncode == 0 and b"sent (was failed)" in retried.stdout
    assert len(sink.received) == 4  # 2 + the second ticket's notification + the retried ack


def test_queued_mail_is_built_by_the_sender_and_survives_a_template_edit(
        tmp_path: Path, db_url: str, smtp_sink) -> None:  # noqa: ANN001
    """The ingest path drafts the ack (Message-ID and text fixed); the sender builds it."""
    port, sink = smtp_sink
    root = tmp_path / "desk"
    config = write_desk(root, db_url, f'\n[relay]\nhost = "127.0.0.1"\nport = {port}\n')
    assert maildesk(config, "ingest", stdin=eml("gmail/01-original.eml")).returncode == 0
    queued = json.loads(maildesk(config, "outbox", "list", "--json").stdout)
    ack = next(r for r in queued if r["kind"].startswith("ack"))
    shown = maildesk(config, "outbox", "show", str(ack["id"]))
    before = message_from_bytes(shown.stdout, policy=policy.default)
    assert shown.returncode == 0 and "[MD-1]" in before["Subject"]
    for template in root.glob("templates/*/ack*.j2"):  # edited after the mail was queued
        template.write_text("{% block subject %}CHANGED{% endblock %}"
                            "{% block body %}CHANGED TEMPLATE{% endblock %}\n", encoding="utf-8")
    assert maildesk(config, "outbox", "flush").stdout.startswith(b"sent")
    sent = next(e for e in sink.received if b"[MD-1]" in e.content and
                before["Message-ID"].encode() in e.content)
    mail = message_from_bytes(sent.content, policy=policy.default)
    assert mail["Message-ID"] == before["Message-ID"] and mail["Date"] == before["Date"]
    assert b"CHANGED" not in sent.content
    assert mail.get_body(("plain",)).get_content() == \
        before.get_body(("plain",)).get_content()
    after = maildesk(config, "outbox", "show", str(ack["id"])).stdout  # the bytes sent
    assert after.replace(b"\r\n", b"\n") == sent.content.replace(b"\r\n", b"\n")
    assert maildesk(config, "outbox", "show", "9999").returncode == 1
