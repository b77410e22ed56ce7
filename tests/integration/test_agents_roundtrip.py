"""The whole loop over real SMTP: customer mail -> ticket -> agent notification delivered
to an aiosmtpd sink -> the agent answers its Reply-To -> the customer gets the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from maildesk.config.model import OutboxConfig, RelayConfig
from maildesk.outbox.send import flush_once
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk
from maildesk.types import RawMail, Source
from tests.conftest import eml
from tests.integration.test_outbox_delivery import Recorder, Sink, free_port

FAST = OutboxConfig(burst_attempts=1, burst_wait=0.05)


def received(envelope: Any) -> EmailMessage:
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def flush(desk: Desk, port: int) -> None:
    later = datetime.now(UTC) + timedelta(seconds=5)
    flush_once(desk.sessions, RelayConfig(host="127.0.0.1", port=port, timeout=5), later, FAST)


def agent_reply(notification: EmailMessage) -> bytes:
    """What Ana's Gmail sends when she answers the notification with a command on top."""
    reply_to = notification["Reply-To"].addresses[0].addr_spec
    return (
        "MIME-Version: 1.0\r\n"
        "From: =?UTF-8?Q?Ana_Garc=C3=ADa?= <ana@example.com>\r\n"
        f"To: Acme Support <{reply_to}>\r\n"
        f"Subject: Re: {notification['Subject']}\r\n"
        f"In-Reply-To: {notification['Message-ID']}\r\n"
        f"References: {notification['Message-ID']}\r\n"
        "Message-ID: <CAGmail-roundtrip-ana@mail.gmail.com>\r\n"
        "Date: Mon, 4 Mar 2024 10:05:00 +0100\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "#tag refund\r\n\r\n"
        "Hi María, the duplicate charge is refunded.\r\n\r\n"
        "On Mon, 4 Mar 2024 at 09:12, Acme Support <support@acme.example> wrote:\r\n"
        "> invoice 2024-117 was charged twice\r\n").encode()


def test_round_trip_over_smtp(desk: Desk) -> None:
    port = free_port()
    with Sink(port, Recorder()) as sink:
        outcome = accept(desk, RawMail(eml("agents/00-customer-invoice.eml"), Source.SMTP,
                                       envelope_to=("support@acme.example",))).outcome
        ref = outcome.ref
        flush(desk, port)
        notices = [received(e) for e in sink.received if e.rcpt_tos == ["ana@example.com"]]
        assert len(notices) == 1
        notification = notices[0]
        reply_to = notification["Reply-To"].addresses[0].addr_spec
        assert reply_to.startswith(f"support+{ref}.") and reply_to.endswith("@acme.example")

        reply = accept(desk, RawMail(agent_reply(notification), Source.SMTP,
                                     envelope_to=(reply_to,))).outcome
        assert reply.kind == "agent-reply"
        sink.received.clear()
        flush(desk, port)

    to_maria = [received(e) for e in sink.received
                if e.rcpt_tos == ["maria@cliente.example"]]
    assert len(to_maria) == 1
    answer = to_maria[0]
    original = "<CAOrig-maria-0001@mail.cliente.example>"
    assert answer["In-Reply-To"] == original
    assert answer["References"].split()[-1] == original  # RFC 5322: ends with the parent
    assert str(answer["From"]) == "Ana García — Acme Support <support@acme.example>"
    assert f"[{ref}]" in answer["Subject"]
    assert "Auto-Submitted" not in answer  # a person's answer, not an automatic mail
    text = answer.get_body(("plain",)).get_content()
    assert "the duplicate charge is refunded" in text
    assert "wrote:" not in text and "charged twice" not in text and "#tag" not in text
    confirms = [received(e) for e in sink.received if e.rcpt_tos == ["ana@example.com"]]
    assert len(confirms) == 1 and "etiqueta: refund" in confirms[0].get_body(("plain",)).get_content()
