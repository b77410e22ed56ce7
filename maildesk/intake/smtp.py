"""SMTP and LMTP listener (aiosmtpd): check the recipient at RCPT, commit at DATA.

The protocol decisions (which reply for which recipient, size and outcome) are pure
functions at the top; the aiosmtpd handler and the listener below only carry them out.
A 250 is sent only after accept() has committed the raw bytes (RFC 5321 4.1.1.4: the
server takes responsibility for the mail with its 250), a storage outage is a 451 so the
client keeps the mail and retries, and only the desk's own addresses are accepted, so
the listener can never be an open relay. LMTP (RFC 2033) answers DATA once per accepted
recipient; the mail is stored once, with every envelope recipient.

A session is bounded by time as well as by silence: aiosmtpd's timeout counts idle time
only, so a client trickling a byte every half second would hold its connection for
ever. Each session has a deadline ([smtp] session_limit) and the DATA phase another
(data_limit); connections are capped in all and per client address, so one address
cannot take every slot. The banner names no software or version.

Memory is bounded by bytes as well as by connections ([smtp] max_bytes_in_flight): every
session holds a share of one budget, from MAIL FROM's SIZE= (RFC 1870) or from the bytes
of DATA as they arrive, until its mail is stored. A MAIL whose declared size does not
fit, or a DATA with the budget spent, gets 452 4.3.1 (RFC 1870 6.1, RFC 3463: the client
keeps the mail and retries); a transfer that outgrows the budget mid-DATA, when the
client declared no size, gets 421 4.3.1 and the connection is closed, since SMTP has no
reply before the final dot. Nothing is stored in either case, so nothing is lost.
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
TOO_MANY_FROM_CLIENT = "421 4.7.0 Too many connections from your address, try again later"
SESSION_TOO_LONG = "421 4.4.2 Session time limit exceeded, closing connection"
DATA_TOO_SLOW = "421 4.4.2 Message transfer time limit exceeded, closing connection"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
INSUFFICIENT_STORAGE = "452 4.3.1 Insufficient system storage, try again later"
TOO_MUCH_IN_FLIGHT = "421 4.3.1 Too much mail in transit, try again later"
BANNER_IDENT = "ESMTP"  # after the host name in the 220 greeting: no software, no version
BUSY_RETRY = 1.0  # seconds: a session past its deadline while storing is closed after it
DATA_FLOOR = 64 * 1024  # bytes a DATA without SIZE= must find free in the budget


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


def declared_size(mail_options: Sequence[str]) -> int:
    """The SIZE= of MAIL FROM (RFC 1870), 0 when absent or not a number."""
    for option in mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


@dataclass
class ByteBudget:
    """Bytes of mail held at once by all sessions, each session's share kept apart.

    A share only grows while its mail comes in, and is given back when the mail is
    stored, refused or abandoned (RSET, end of DATA, connection closed).
    """

    limit: int
    held: dict[object, int] = field(default_factory=dict)
    total: int = 0
    peak: int = 0  # the most ever held at once (for metrics and tests)
    refused: int = 0  # reservations refused

    def reserve(self, owner: object, amount: int) -> bool:
        """Raise `owner`'s share to `amount`; False, and no change, if it does not fit."""
        current = self.held.get(owner, 0)
        if amount <= current:
            return True
        if self.total - current + amount > self.limit:
            self.refused += 1
            return False
        self.held[owner] = amount
        self.total += amount - current
        self.peak = max(self.peak, self.total)
        return True

    def release(self, owner: object) -> None:
        self.total -= self.held.pop(owner, 0)


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


def _host(peer: object) -> str:
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


@dataclass
class Connections:
    """The open sessions: capped in all and per client address, closed politely at shutdown."""

    limit: int
    per_client: int | None = None
    open: dict[SMTP, str] = field(default_factory=dict)  # session -> client address

    def admit(self, protocol: SMTP, host: str) -> str | None:
        """None when admitted, else the 421 to answer."""
        if len(self.open) >= self.limit:
            return TOO_MANY_CONNECTIONS
        if self.per_client is not None and \
                sum(1 for h in self.open.values() if h == host) >= self.per_client:
            return TOO_MANY_FROM_CLIENT
        self.open[protocol] = host
        return None

    def release(self, protocol: SMTP) -> None:
        self.open.pop(protocol, None)


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a session and its DATA phase may last, in seconds."""

    session: float
    data: float


def _guarded(base: type[SMTP]) -> type[SMTP]:
    """An SMTP or LMTP protocol class with connection caps and session/DATA deadlines."""

    class Guarded(base):  # type: ignore[valid-type, misc]
        def __init__(self, handler: Any, *, connections: Connections, limits: Limits,
                     budget: ByteBudget, **kwargs: Any) -> None:
            self._budget = budget
            super().__init__(handler, **kwargs)
            self._connections, self._limits, self._refused = connections, limits, False
            self._deadlines: dict[str, asyncio.TimerHandle] = {}
            self._storing = False
            self._data_bytes, self._cut = 0, False  # DATA bytes read; closed for the budget

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            new = self.transport is None and self._original_transport is None  # not STARTTLS
            refusal = self._connections.admit(self, _host(transport.get_extra_info("peername"))) \
                if new else None
            if refusal is not None:
                self._refused = True
                log.warning("smtp: refused %s: %s", transport.get_extra_info("peername"), refusal)
                transport.write(refusal.encode() + b"\r\n")  # type: ignore[attr-defined]
                transport.close()
                return
            if new:
                self._arm("session", self._limits.session, SESSION_TOO_LONG)
            super().connection_made(transport)

        def connection_lost(self, error: Exception | None) -> None:
            if self._refused:
                return
            for handle in self._deadlines.values():
                handle.cancel()
            self._connections.release(self)
            self._budget.release(self)
            super().connection_lost(error)

        def _set_post_data_state(self) -> None:
            """After DATA, RSET, HELO/EHLO: the mail is stored or gone, so is its share."""
            self._budget.release(self)
            super()._set_post_data_state()

        def _arm(self, name: str, seconds: float, reply: str) -> None:
            self._disarm(name)
            self._deadlines[name] = self.loop.call_later(seconds, self._expire, name, reply)

        def _disarm(self, name: str) -> None:
            handle = self._deadlines.pop(name, None)
            if handle is not None:
                handle.cancel()

        def _expire(self, name: str, reply: str) -> None:
            """Past a deadline: 421 and close, unless the mail is being stored right now."""
            if self._storing:  # closing now would leave the client unsure: wait for the reply
                self._arm(name, BUSY_RETRY, reply)
                return
            transport = self.transport
            log.warning("smtp: %s deadline passed for %s, closing", name,
                        self.session.peer if self.session else "?")
            if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
                transport.write(reply.encode() + b"\r\n")
                transport.close()

        async def smtp_DATA(self, arg: str) -> None:
            envelope = self.envelope
            if envelope is not None and envelope.rcpt_tos and not arg and \
                    not self._budget.reserve(self, min(DATA_FLOOR, self._budget.limit)):
                log.warning("smtp: answered 452 to DATA from %s: %d bytes in flight",
                            self.session.peer if self.session else "?", self._budget.total)
                await self.push(INSUFFICIENT_STORAGE)
                return
            self._arm("data", self._limits.data, DATA_TOO_SLOW)
            reader: Any = self._reader  # type: ignore[has-type]
            self._reader = _Counted(reader, self._received)
            self._data_bytes = 0
            try:
                await super().smtp_DATA(arg)
            finally:
                self._reader = reader
                self._disarm("data")

        def _received(self, size: int) -> None:
            """Bytes of DATA read: the share grows with them (up to max_size, beyond
            which aiosmtpd keeps nothing)."""
            self._data_bytes += size
            held = min(self._data_bytes, self.data_size_limit or self._data_bytes)
            if self._budget.reserve(self, held):
                return
            self._cut = True
            transport = self.transport
            if transport is not None and not transport.is_closing():
                log.warning("smtp: closed %s mid-DATA: %d bytes in flight (limit %d)",
                            self.session.peer if self.session else "?", self._budget.total,
                            self._budget.limit)
                transport.write(TOO_MUCH_IN_FLIGHT.encode() + b"\r\n")
                transport.close()

        async def _call_handler_hook(self, command: str, *args: Any) -> Any:
            if command == "MAIL":
                size = min(declared_size(args[1]), self.data_size_limit or 0)
                if size and not self._budget.reserve(self, size):
                    log.warning("smtp: answered 452 to MAIL SIZE=%d from %s: %d bytes in "
                                "flight", size, self.session.peer if self.session else "?",
                                self._budget.total)
                    return INSUFFICIENT_STORAGE
            if command != "DATA":
                return await super()._call_handler_hook(command, *args)
            if self._cut:  # told 421 already: the client retries, so store nothing
                return TOO_MUCH_IN_FLIGHT
            self._disarm("data")  # the whole message is in: storing it is not the client's time
            self._storing = True
            try:
                return await super()._call_handler_hook(command, *args)
            finally:
                self._storing = False

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


class _Counted:
    """The session's stream reader, reporting the size of every read (DATA only)."""

    def __init__(self, reader: asyncio.StreamReader, count: Callable[[int], None]) -> None:
        self._reader, self._count = reader, count

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await self._reader.readuntil(separator)
        self._count(len(line))
        return line

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        self._count(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


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
    budget: ByteBudget

    def stop_accepting(self) -> None:
        self.server.close()

    async def close_sessions(self) -> None:
        """Say 421 to every open session and close it (RFC 5321 3.8)."""
        for protocol in list(self.connections.open):  # a copy: closing releases
            transport = protocol.transport
            if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
                transport.write(SHUTTING_DOWN.encode() + b"\r\n")
                transport.close()
        await self.server.wait_closed()


async def listen(config: SmtpConfig, receiver: Receiver) -> Listener:
    """Bind the listener on the running loop; returns once it accepts connections."""
    host, port = config.address
    connections = Connections(config.max_connections, config.max_connections_per_client)
    budget = ByteBudget(config.max_bytes_in_flight)
    factory = _factory(config, DeskHandler(receiver, config), connections, budget)
    server = await asyncio.get_running_loop().create_server(factory, host, port)
    listener = Listener(server, connections, int(server.sockets[0].getsockname()[1]), budget)
    log.info("%s listening on %s:%d", config.protocol, host, listener.port)
    return listener


def _factory(config: SmtpConfig, handler: DeskHandler, connections: Connections,
             budget: ByteBudget) -> Callable[[], SMTP]:
    cls: Any = _guarded(LMTP if config.protocol == "lmtp" else SMTP)
    context, hostname = tls_context(config), socket.gethostname()

    limits = Limits(session=config.session_limit, data=config.data_limit)

    def make() -> SMTP:
        return cls(handler, connections=connections, limits=limits, budget=budget,
                   data_size_limit=config.max_size, hostname=hostname, ident=BANNER_IDENT,
                   tls_context=context, timeout=config.timeout, loop=asyncio.get_running_loop())

    return make
