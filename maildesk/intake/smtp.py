"""SMTP and LMTP listener (aiosmtpd): check the recipient at RCPT, commit at DATA.

The protocol decisions (which reply for which recipient, size and outcome) are pure
functions at the top; the aiosmtpd handler and the listener below only carry them out.
A 250 is sent only after accept() has committed the raw bytes (RFC 5321 4.1.1.4: the
server takes responsibility for the mail with its 250), a storage outage is a 451 so the
client keeps the mail and retries, and only the desk's own addresses are accepted, so
the listener can never be an open relay. LMTP (RFC 2033) answers DATA once per accepted
recipient; the mail is stored once, with every envelope recipient.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from maildesk.config.model import SmtpConfig
from maildesk.errors import TemporaryFailure
from maildesk.intake.receiver import Receiver
from maildesk.mail.addresses import is_desk_address, normalise_address
from maildesk.types import RawMail, Source

log = logging.getLogger(__name__)

# Replies (RFC 5321 4.2, enhanced status codes RFC 3463).
QUEUED = "250 2.0.0 OK: stored"
RECIPIENT_OK = "250 2.1.5 OK"
NO_SUCH_RECIPIENT = "550 5.1.1 Recipient address rejected: not an address of this desk"
TOO_BIG = "552 5.3.4 Message exceeds the maximum size of this desk"
STORAGE_DOWN = "451 4.3.0 Storage temporarily unavailable, try again later"
LOCAL_ERROR = "451 4.3.0 Local error in processing, try again later"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"


class Stored(StrEnum):
    """What became of a mail at DATA, as far as the client needs to know."""

    YES = "stored"
    STORAGE_DOWN = "storage-down"
    ERROR = "error"


def recipient_reply(address: str, desk_addresses: Sequence[str]) -> str:
    return RECIPIENT_OK if is_desk_address(address, desk_addresses) else NO_SUCH_RECIPIENT


def size_reply(size: int, max_size: int) -> str | None:
    """TOO_BIG beyond the limit (the SIZE extension, RFC 1870), else None."""
    return TOO_BIG if size > max_size else None


def data_replies(stored: Stored, protocol: str, recipients: int) -> list[str]:
    """One reply for SMTP; one per accepted recipient for LMTP, all the same.

    The mail is stored once for all recipients, so there is no case where one recipient
    succeeds and another fails.
    """
    reply = {Stored.YES: QUEUED, Stored.STORAGE_DOWN: STORAGE_DOWN,
             Stored.ERROR: LOCAL_ERROR}[stored]
    return [reply] * (max(recipients, 1) if protocol == "lmtp" else 1)


class DeskHandler:
    """aiosmtpd hooks (see aiosmtpd docs/handlers.rst) that apply the functions above."""

    def __init__(self, receiver: Receiver, config: SmtpConfig) -> None:
        self.receiver, self.config = receiver, config
        self.source = Source.LMTP if config.protocol == "lmtp" else Source.SMTP

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        # Read each time so that a SIGHUP reload of [desk] addresses applies at once.
        reply = recipient_reply(address, self.receiver.holder.current.config.desk.addresses)
        if reply == RECIPIENT_OK:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        too_big = size_reply(len(data), self.config.max_size)
        if too_big:
            return too_big
        raw = RawMail(data=data, source=self.source, envelope_from=envelope.mail_from,
                      envelope_to=tuple(normalise_address(a) for a in envelope.rcpt_tos),
                      source_ref=f"{self.source}:{_peer(session)}")
        stored = await self._store(raw)
        return "\r\n".join(data_replies(stored, self.config.protocol, len(envelope.rcpt_tos)))

    async def _store(self, raw: RawMail) -> Stored:
        try:
            await self.receiver.accept(raw)
        except TemporaryFailure as exc:
            log.warning("smtp: answered 451, storage down: %s", exc)
            return Stored.STORAGE_DOWN
        except Exception:  # noqa: BLE001 - the client keeps the mail and retries
            log.exception("smtp: answered 451 after an unexpected error")
            return Stored.ERROR
        return Stored.YES


def _peer(session: Session) -> str:
    peer = session.peer
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


@dataclass
class Connections:
    """The open sessions: capped, and closed politely at shutdown."""

    limit: int
    open: set[SMTP] = field(default_factory=set)

    def admit(self, protocol: SMTP) -> bool:
        if len(self.open) >= self.limit:
            return False
        self.open.add(protocol)
        return True

    def release(self, protocol: SMTP) -> None:
        self.open.discard(protocol)


def _guarded(base: type[SMTP]) -> type[SMTP]:
    """An SMTP or LMTP protocol class that refuses connections beyond the cap with 421."""

    class Guarded(base):  # type: ignore[valid-type, misc]
        def __init__(self, handler: Any, *, connections: Connections, **kwargs: Any) -> None:
            super().__init__(handler, **kwargs)
            self._connections, self._refused = connections, False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            new = self.transport is None and self._original_transport is None  # not STARTTLS
            if new and not self._connections.admit(self):
                self._refused = True
                log.warning("smtp: refused a connection, %d open", len(self._connections.open))
                transport.write(TOO_MANY_CONNECTIONS.encode() + b"\r\n")  # type: ignore[attr-defined]
                transport.close()
                return
            super().connection_made(transport)

        def connection_lost(self, error: Exception | None) -> None:
            if self._refused:
                return
            self._connections.release(self)
            super().connection_lost(error)

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    """The STARTTLS context, when a certificate is configured."""
    if not (config.tls_cert and config.tls_key):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


@dataclass
class Listener:
    """A listening SMTP/LMTP server and its sessions."""

    server: asyncio.Server
    connections: Connections
    port: int  # the bound port (kept: the sockets are gone once the server closes)

    def stop_accepting(self) -> None:
        self.server.close()

    async def close_sessions(self) -> None:
        """Say 421 to every open session and close it (RFC 5321 3.8)."""
        for protocol in list(self.connections.open):
            transport = protocol.transport
            if transport is not None and not transport.is_closing():
                transport.write(SHUTTING_DOWN.encode() + b"\r\n")
                transport.close()
        await self.server.wait_closed()


async def listen(config: SmtpConfig, receiver: Receiver) -> Listener:
    """Bind the listener on the running loop; returns once it accepts connections."""
    host, port = config.address
    connections = Connections(config.max_connections)
    factory = _factory(config, DeskHandler(receiver, config), connections)
    server = await asyncio.get_running_loop().create_server(factory, host, port)
    listener = Listener(server, connections, int(server.sockets[0].getsockname()[1]))
    log.info("%s listening on %s:%d", config.protocol, host, listener.port)
    return listener


def _factory(config: SmtpConfig, handler: DeskHandler,
             connections: Connections) -> Callable[[], SMTP]:
    cls = _guarded(LMTP if config.protocol == "lmtp" else SMTP)
    context, hostname = tls_context(config), socket.gethostname()

    def make() -> SMTP:
        return cls(handler, connections=connections, data_size_limit=config.max_size,
                   hostname=hostname, tls_context=context, timeout=config.timeout,
                   loop=asyncio.get_running_loop())

    return make
