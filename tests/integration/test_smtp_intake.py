"""The SMTP/LMTP listener against real clients (smtplib, swaks) on loopback, both engines."""

from __future__ import annotations

import re
import smtplib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import write_desk
from daemon_helpers import LoopThread, counts, mail, make_desk, wait_until
from sqlalchemy import select

from maildesk.agents.tokens import agent_intake_address
from maildesk.config.model import MetricsConfig, load_config
from maildesk.intake import smtp
from maildesk.intake.receiver import Receiver
from maildesk.runtime.desk import Desk, open_desk
from maildesk.runtime.metrics import Metrics
from maildesk.store.db import make_engine, make_sessionmaker
from maildesk.store.models import Contact, Outbox, RawMessage, Ticket
from maildesk.types import RawMail, Source

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"


@dataclass
class Served:
    desk: Desk
    listener: smtp.Listener
    url: str
    receiver: Receiver

    @property
    def port(self) -> int:
        return self.listener.port

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=10)


@pytest.fixture
def serve(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Served]]:
    loop, started = LoopThread(), []

    def start(extra: str = "", addresses: str = "", rules: bool = False) -> Served:
        settings = '[smtp]\nlisten = "127.0.0.1:0"\n' + extra
        path = (write_desk(tmp_path / "desk", db_url, settings) if rules
                else make_desk(tmp_path / "desk", db_url, settings))
        if addresses:  # as an admin may write them: [desk] addresses = ["Support@..."]
            path.write_text(re.sub(r"(?m)^addresses = .*$", f"addresses = {addresses}",
                                   path.read_text()))
        config = load_config(path)
        desk = open_desk(config)
        receiver = Receiver(desk)
        listener = loop.run(smtp.listen(config.smtp, receiver))
        started.append((desk, listener))
        return Served(desk, listener, db_url, receiver)

    yield start
    for desk, listener in started:
        loop.run(_shut(listener))  # asyncio servers are closed from their own loop
        desk.close()
    loop.close()


async def _shut(listener: smtp.Listener) -> None:
    listener.stop_accepting()
    await listener.close_sessions()


def test_accepted_mail_becomes_a_ticket(serve: Callable[..., Served]) -> None:
    served = serve()
    with served.client() as client:
        refused = client.sendmail("c1@customer.example", ["support@acme.example"], mail(1))
    assert refused == {}
    assert counts(served.url) == (1, 1)


def test_swaks_and_plus_token_address(serve: Callable[..., Served]) -> None:
    served = serve()
    result = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{served.port}", "--from", "c2@customer.example",
         "--to", "Support+MD-77@ACME.example", "--header", "Subject: from swaks"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout
    assert "250 2.0.0 OK: stored" in result.stdout
    assert counts(served.url) == (1, 1)


DESK_IN_CAPITALS = b"""\
From: Ana Garcia <ana@example.com>\r
To: Support+Ventas@ACME.example, Nueva Clienta <nueva@cliente.example>\r
Subject: Presupuesto de renovacion\r
Message-ID: <ana-copy-1@example.com>\r
Date: Mon, 23 Nov 2026 11:00:00 +0000\r
\r
Hola, te paso el presupuesto de la renovacion. Un saludo.\r
"""


def cc_mail(n: int, to: str, cc: str) -> bytes:
    return mail(n, "case", to).replace(b"\r\nSubject:", f"\r\nCc: {cc}\r\nSubject:".encode())


def test_desk_address_configured_in_capitals_matches_any_case(
        serve: Callable[..., Served]) -> None:
    """`Support@Acme.example` in maildesk.toml: every spelling reaches the desk, and the
    desk is never taken for a customer, whoever copies it."""
    served = serve(addresses='["Support@Acme.example"]', rules=True)
    with served.client() as client:
        client.ehlo()
        client.mail("c1@customer.example")
        for spelling in ("support@acme.example", "SUPPORT@ACME.EXAMPLE", "Support+X@acme.EXAMPLE"):
            assert client.rcpt(spelling)[0] == 250, spelling
    with served.client() as client:
        assert client.sendmail("c1@customer.example", ["support@acme.example"],
                               cc_mail(1, "support@acme.example", "SUPPORT@ACME.EXAMPLE")) == {}
        assert client.sendmail("c2@customer.example", ["SUPPORT@ACME.EXAMPLE"],
                               cc_mail(2, "SUPPORT@ACME.EXAMPLE", "Support+Ventas@Acme.Example")
                               ) == {}
        # Ana copies the desk on a mail to a new customer, through her signed intake
        # address (a copy on a customer's behalf needs proof, see docs/security.md)
        intake = agent_intake_address(served.desk.secret(), "support@acme.example",
                                      "ana@example.com")
        assert client.sendmail("ana@example.com", ["SUPPORT@ACME.EXAMPLE", intake],
                               DESK_IN_CAPITALS) == {}
    assert counts(served.url) == (3, 3)
    with served.desk.sessions() as session:
        customers = set(session.execute(select(Contact.email).join(
            Ticket, Ticket.customer_id == Contact.id)).scalars())
        contacts = set(session.execute(select(Contact.email)).scalars())
        recipients = set(session.execute(select(Outbox.to_addr)).scalars())
    assert customers == {"c1@customer.example", "c2@customer.example", "nueva@cliente.example"}
    assert not any("acme.example" in address for address in contacts | recipients)
    assert "c1@customer.example" in recipients  # the acknowledgements went to the customers


def test_other_recipients_are_refused_at_rcpt(serve: Callable[..., Served]) -> None:
    served = serve()
    with served.client() as client:
        client.ehlo()
        client.mail("spammer@else.example")
        assert client.rcpt("victim@elsewhere.example") == (550, smtp.NO_SUCH_RECIPIENT[4:].encode())
        assert client.rcpt("support@acme.example.evil.example")[0] == 550
        assert client.rcpt("support@acme.example")[0] == 250
    assert counts(served.url) == (0, 0)


def test_oversize_mail_gets_552(serve: Callable[..., Served]) -> None:
    served = serve("max_size = 2000\n")
    big = mail(3) + (b"x" * 70 + b"\r\n") * 50
    with served.client() as client:  # smtplib declares SIZE=, refused at MAIL FROM
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            client.sendmail("c3@customer.example", ["support@acme.example"], big)
        assert declared.value.smtp_code == 552
    with served.client() as client:  # no SIZE declared: refused after DATA
        client.ehlo()
        client.mail("c3@customer.example")
        client.rcpt("support@acme.example")
        code, _ = client.data(big)
        assert code == 552
    assert counts(served.url) == (0, 0)


def test_storage_down_gives_451_then_accepted_on_retry(serve: Callable[..., Served]) -> None:
    served = serve()
    working = served.receiver.holder.current
    down = make_engine(UNREACHABLE)
    served.receiver.holder.current = replace(working, sessions=make_sessionmaker(down))
    try:
        with served.client() as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("c4@customer.example", ["support@acme.example"], mail(4))
            assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (451, b"4.3.0")
    finally:
        served.receiver.holder.current = working
        down.dispose()
    assert counts(served.url) == (0, 0)
    with served.client() as client:  # the client's retry
        assert client.sendmail("c4@customer.example", ["support@acme.example"], mail(4)) == {}
    assert counts(served.url) == (1, 1)


def test_lmtp_answers_once_per_recipient_and_stores_once(serve: Callable[..., Served]) -> None:
    served = serve('protocol = "lmtp"\n')
    client = smtplib.LMTP("127.0.0.1", served.port, timeout=10)
    try:
        client.ehlo()  # smtplib's LMTP sends LHLO
        client.mail("c5@customer.example")
        assert client.rcpt("support@acme.example")[0] == 250
        assert client.rcpt("nobody@acme.example")[0] == 550
        assert client.rcpt("soporte+x@acme.example")[0] == 250
        first = client.data(mail(5))
        second = client.getreply()
        assert first[0] == second[0] == 250
        client.sock.settimeout(0.3)
        with pytest.raises((TimeoutError, socket.timeout)):  # exactly two answers, no third
            client.sock.recv(100)
    finally:
        client.close()
    with served.desk.sessions() as session:
        rows = session.execute(select(RawMessage)).scalars().all()
    assert [r.envelope_to.split("\n") for r in rows] == [
        ["support@acme.example", "soporte+x@acme.example"]]
    assert counts(served.url) == (1, 1)


def test_a_retried_mail_is_one_a_reused_message_id_is_two(
        serve: Callable[..., Served], eml: Callable[[str], bytes]) -> None:
    """A client retrying after a lost 250 sends the same mail again: a duplicate. A
    different mail with the same Message-ID is stored and becomes a ticket."""
    served = serve()
    with served.client() as client:
        for name in ("01-original.eml", "01-original.eml", "03-different-mail-same-id.eml"):
            assert client.sendmail("lena.brandt@customer-corp.example",
                                   ["support@acme.example"], eml(f"reused/{name}")) == {}
    assert counts(served.url) == (2, 2)


def test_lmtp_delivery_per_recipient_is_one_mail(
        serve: Callable[..., Served], eml: Callable[[str], bytes]) -> None:
    """An MTA delivering one LMTP transaction per recipient adds a Delivered-To each time."""
    served = serve('protocol = "lmtp"\n')
    client = smtplib.LMTP("127.0.0.1", served.port, timeout=10)
    try:
        for rcpt in ("support@acme.example", "soporte@acme.example"):
            data = f"Delivered-To: {rcpt}\r\n".encode() + eml("reused/01-original.eml")
            assert client.sendmail("lena.brandt@customer-corp.example", [rcpt], data) == {}
    finally:
        client.close()
    assert counts(served.url) == (1, 1)


MIB = 256 * 1024  # the largest mail here; the budget holds two
BUDGET = f"max_size = {MIB}\nmax_bytes_in_flight = {2 * MIB}\n"


def big_mail(n: int, size: int) -> bytes:
    """A customer mail of about `size` bytes (a long body of 76-character lines)."""
    line = b"x" * 74 + b"\r\n"
    return mail(n, "big") + line * (size // len(line))


def send_until_stored(served: Served, n: int, data: bytes, refusals: list[int]) -> None:
    """What an MTA does: send, and on a 4xx or a dropped connection, retry."""
    for _ in range(50):
        try:
            with smtplib.SMTP("127.0.0.1", served.port, timeout=120) as client:
                assert client.sendmail(f"c{n}@customer.example", ["support@acme.example"],
                                       data) == {}
                return
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            assert 400 <= exc.smtp_code < 500, exc
            refusals.append(exc.smtp_code)
        except (smtplib.SMTPServerDisconnected, OSError):
            refusals.append(421)  # cut off mid-DATA (or a slow machine): send again
        time.sleep(0.05)  # a (much shorter) retry interval, as an MTA's queue has
    raise AssertionError(f"mail {n} never accepted")


def hold(served: Served, n: int, size: int | None) -> smtplib.SMTP:
    """A session that has announced a mail (MAIL FROM with SIZE=, RCPT) and waits."""
    client = smtplib.SMTP("127.0.0.1", served.port, timeout=120)
    client.ehlo()
    options = [f"SIZE={size}"] if size else []
    code, reply = client.mail(f"c{n}@customer.example", options)
    assert code == 250, reply
    assert client.rcpt("support@acme.example")[0] == 250
    return client


def test_bytes_in_flight_are_bounded_and_refused_mail_comes_back(
        serve: Callable[..., Served]) -> None:
    """Large mail beyond max_bytes_in_flight gets 452 at MAIL (SIZE=) or DATA, or 421
    mid-DATA without SIZE=; the budget is never passed, and every mail is stored once
    its sender retries."""
    served = serve(BUDGET)
    budget = served.listener.budget
    first, second = hold(served, 1, MIB - 4096), hold(served, 2, MIB // 2)
    with served.client() as third:  # SIZE= that does not fit the budget left: 452 at MAIL
        third.ehlo()
        assert third.mail("c3@customer.example", [f"SIZE={MIB // 2 + 8192}"])[0] == 452
    late = hold(served, 4, None)  # no SIZE=: cut off once it sends more than is left
    try:
        assert late.data(big_mail(4, MIB * 3 // 4))[0] == 421
    except (smtplib.SMTPServerDisconnected, ConnectionError):
        pass  # the 421 came while the client was still writing
    late.close()
    assert counts(served.url) == (0, 0)
    assert budget.total <= 2 * MIB and budget.peak <= 2 * MIB
    assert first.data(big_mail(1, MIB - 8192))[0] == 250
    assert second.data(big_mail(2, MIB // 2 - 8192))[0] == 250
    first.quit()
    second.quit()
    refusals: list[int] = []
    for n, size in ((3, MIB // 2), (4, MIB * 3 // 4)):
        send_until_stored(served, n, big_mail(n, size), refusals)
    assert counts(served.url) == (4, 4)
    with served.desk.sessions() as session:
        sizes = sorted(len(d) for d in session.execute(select(RawMessage.data)).scalars())
    assert sizes[0] > MIB // 3 and refusals == []
    assert budget.peak <= 2 * MIB and budget.refused >= 2
    wait_until(lambda: budget.total == 0 and not budget.held)


def test_many_large_mails_at_once_all_arrive(serve: Callable[..., Served]) -> None:
    """Six senders of large mail against a budget for two: the listener refuses some
    (4xx), each retries, and all six are stored once."""
    served = serve(BUDGET)
    refusals: list[int] = []
    with ThreadPoolExecutor(6) as pool:
        sent = [pool.submit(send_until_stored, served, n, big_mail(n, MIB * 3 // 4), refusals)
                for n in range(1, 7)]
        for future in sent:
            future.result()  # a sender's failure fails the test
    assert counts(served.url) == (6, 6)
    budget = served.listener.budget
    assert budget.peak <= 2 * MIB
    assert all(400 <= code < 500 for code in refusals)
    wait_until(lambda: budget.total == 0)


def test_connections_beyond_the_cap_get_421(serve: Callable[..., Served]) -> None:
    served = serve("max_connections = 2\n")
    first, second = served.client(), served.client()
    try:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            served.client()
        assert refused.value.smtp_code == 421
    finally:
        first.close()
        second.close()


def test_starttls_with_the_configured_certificate(serve: Callable[..., Served],
                                                   tmp_path: Path) -> None:
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    served = serve(f'tls_cert = "{cert}"\ntls_key = "{key}"\n')
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    with served.client() as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=context)
        client.ehlo()
        assert client.sock.version() is not None  # the session is now encrypted
        client.sendmail("c1@customer.example", ["support@acme.example"], mail(1, "tls"))
    assert counts(served.url)[0] == 1


def test_metrics_endpoint_counts_what_was_received(serve: Callable[..., Served]) -> None:
    import urllib.request

    metrics = Metrics()
    http = metrics.serve(MetricsConfig(listen="127.0.0.1:0"))
    try:
        served = serve()
        receiver = Receiver(served.desk, metrics)
        receiver.accept_sync(RawMail(mail(1, "metrics"), Source.SMTP))
        port = http.server_port
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    finally:
        http.shutdown()
    text = body.decode()
    assert 'maildesk_received_total{source="smtp"} 1.0' in text
    assert "maildesk_new_tickets_total 1.0" in text


def _trickle(sock: socket.socket, command: bytes, rounds: int) -> bytes:
    """Send `command` a byte at a time, every 0.2 s, until the server hangs up."""
    sock.settimeout(0.2)
    received = b""
    for index in range(rounds):
        try:
            sock.sendall(command[index % len(command):index % len(command) + 1])
            chunk = sock.recv(4096)
            if not chunk:
                return received
            received += chunk
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return received
    return received


def _open_session(port: int, *, data: bool) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    reader = sock.makefile("rb")
    assert reader.readline().startswith(b"220")
    steps = [b"EHLO slow.example\r\n", b"MAIL FROM:<c@customer.example>\r\n",
             b"RCPT TO:<support@acme.example>\r\n"] + ([b"DATA\r\n"] if data else [])
    for step in steps:
        sock.sendall(step)
        line = reader.readline()
        while line[3:4] == b"-":  # multi-line EHLO answer
            line = reader.readline()
        assert line[:1] in (b"2", b"3"), line
    return sock


def test_slow_data_is_cut_off_by_the_data_limit(serve: Callable[..., Served]) -> None:
    served = serve("timeout = 30\nsession_limit = 60\ndata_limit = 1\n")
    sock = _open_session(served.port, data=True)
    try:
        received = _trickle(sock, b"Subject: slow\r\n\r\nbyte by byte\r\n", 100)
    finally:
        sock.close()
    assert received.startswith(b"421 4.4.2"), received
    assert counts(served.url) == (0, 0)
    with served.client() as client:  # the listener still serves others
        assert client.sendmail("c1@customer.example", ["support@acme.example"], mail(1)) == {}


def test_busy_session_is_cut_off_by_the_session_limit(serve: Callable[..., Served]) -> None:
    served = serve("timeout = 30\nsession_limit = 2\ndata_limit = 60\n")
    sock = _open_session(served.port, data=False)
    try:
        received = _trickle(sock, b"NOOP\r\n", 150)  # never idle, one byte at a time
    finally:
        sock.close()
    assert b"421 4.4.2 Session time limit" in received, received


def test_connections_per_client_address_are_capped(serve: Callable[..., Served]) -> None:
    served = serve("max_connections = 10\nmax_connections_per_client = 2\n")
    first, second = served.client(), served.client()
    try:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            served.client()
        assert refused.value.smtp_code == 421
        assert b"from your address" in refused.value.smtp_error
        other = smtplib.SMTP("127.0.0.1", served.port, timeout=10,
                             source_address=("127.0.0.2", 0))
        with other:  # another client address still gets in
            assert other.sendmail("c@customer.example", ["support@acme.example"], mail(1)) == {}
    finally:
        first.close()
        second.close()
    again = served.client()  # slots are given back when sessions end
    again.close()


def test_banner_names_no_software_version(serve: Callable[..., Served]) -> None:
    import aiosmtpd

    served = serve()
    client = smtplib.SMTP(timeout=10)
    try:
        code, banner = client.connect("127.0.0.1", served.port)
    finally:
        client.close()
    assert code == 220
    assert aiosmtpd.__version__.encode() not in banner and b"Python" not in banner
    assert b"maildesk" not in banner.lower()
