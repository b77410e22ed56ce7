"""The daemon's small HTTP endpoint: survey answers and customer status pages.

Served with aiohttp, because a maintained HTTP/1.1 server (request parsing, limits,
keep-alive, form decoding) is safer than a hand-written parser facing the internet,
and it runs on the daemon's own asyncio loop. Database work runs in a thread, like
every other worker's.

Every URL carries a signed, expiring token (links.py, tokens.verify_link): it is the
capability, so there is no login, and the answer form needs no CSRF token, since a
forged request would have to know the token already. A forged token gets 403, an
authentic but expired one 410, and neither records anything. Pages are sent with
`Referrer-Policy: no-referrer` so the token does not leak to other sites.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import and_, or_, select

from maildesk.agents.tokens import verify_link
from maildesk.api.routes import mount_api
from maildesk.config.model import WebConfig
from maildesk.runtime.desk import Desk, DeskHolder, holder_of
from maildesk.sla.wording import format_local
from maildesk.store.db import transaction
from maildesk.store.models import Contact, Message, Ticket
from maildesk.tickets import satisfaction
from maildesk.tickets.links import STATUS, SURVEY, link_keys
from maildesk.tickets.operations import find_ticket_by_ref
from maildesk.tickets.views import Author, public_author
from maildesk.types import AuthorKind, Direction
from maildesk.web.form_page import HOLDER, form_routes
from maildesk.web.pages import render, texts

log = logging.getLogger(__name__)

DESK = web.AppKey("desk", Desk)
WEB_RELOAD_CHECK = 1.0  # seconds between looks for a reloaded [web]
MAX_BODY = 64 * 1024
HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                      "form-action 'self'; frame-ancestors 'none'"}


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a token was refused: 403 forged, 410 expired."""

    status: int
    language: str | None = None


def check_token(desk: Desk, purpose: str, token: str) -> str | Refused:
    """The signed value, or why not. An expired token's value is authentic, so its page
    can still speak the ticket's language."""
    now = desk.clock().timestamp()
    keys = link_keys(desk, now)
    value = verify_link(keys, purpose, token, now)
    if value is not None:
        return value
    stale = verify_link(keys, purpose, token, 0)
    if stale is None:
        return Refused(403)
    return Refused(410, _language(desk, stale.partition(":")[0]))


def _language(desk: Desk, ref: str) -> str | None:
    with desk.sessions() as session:
        ticket = find_ticket_by_ref(session, ref)
        return ticket.language if ticket else desk.config.desk.language


def page(desk: Desk, name: str, language: str | None, status: int = 200,
         **context: object) -> web.Response:
    html = render(name, language, desk_name=desk.config.desk.name, **context)
    return web.Response(text=html, status=status, content_type="text/html",
                        charset="utf-8", headers=HEADERS)


def refused(desk: Desk, why: Refused) -> web.Response:
    t = texts(why.language or desk.config.desk.language)
    key = "expired" if why.status == 410 else "invalid"
    return page(desk, "message", why.language or desk.config.desk.language, why.status,
                title=t[f"{key}_title"], message=t[key])


# -- survey -------------------------------------------------------------------------------
#
# Opening a survey link records nothing: mail security scanners (Safe Links and the like)
# open every link in a mail, GET and HEAD, and would answer "1" for the customer. GET shows
# the chosen score pre-selected with a comment box; only the form's POST records.

def _survey_value(value: str) -> tuple[str, int] | None:
    ref, _, score = value.rpartition(":")
    return (ref, int(score)) if ref and score in SCORES else None


SCORES = ("1", "2", "3", "4", "5")


def survey_target(desk: Desk, token: str) -> tuple[str, int] | Refused:
    """(ticket ref, score) signed in a survey link, or why the link is refused."""
    value = check_token(desk, SURVEY, token)
    if isinstance(value, Refused):
        return value
    return _survey_value(value) or Refused(403)


def survey_view(desk: Desk, ref: str) -> tuple[str, str] | None:
    """The ticket's language and stored comment (to edit), or None if it is gone."""
    with desk.sessions() as session:
        ticket = find_ticket_by_ref(session, ref)
        if ticket is None:
            return None
        return ticket.language or desk.config.desk.language, ticket.satisfaction_comment or ""


def record_score(desk: Desk, ref: str, score: int, comment: str | None) -> Ticket | None:
    """Record a link answer. Sending the same answer again (a double click, a reload that
    posts again) changes nothing; another score or comment replaces the answer. No
    comment (None) keeps the stored one."""
    now = desk.clock()
    with transaction(desk.sessions) as session:
        ticket = find_ticket_by_ref(session, ref)
        if ticket is None:
            return None
        if ticket.satisfaction_score != score or (
                comment is not None and comment != ticket.satisfaction_comment):
            satisfaction.record(desk, session, ticket, score, comment, actor="customer",
                                now=now, channel="link")
        return ticket


async def survey_form(request: web.Request) -> web.Response:
    """GET (and HEAD): the answer form, with the link's score chosen. Records nothing."""
    desk = request.app[DESK]
    target = survey_target(desk, request.match_info["token"])
    if isinstance(target, Refused):
        return refused(desk, target)
    ref, score = target
    view = await asyncio.to_thread(survey_view, desk, ref)
    if view is None:
        return refused(desk, Refused(410))
    language, comment = view
    t = texts(language)
    return page(desk, "survey", language, title=t["survey_title"].format(ref=ref),
                message=t["survey_intro"].format(score=score), score=score, comment=comment)


def form_answer(form: Mapping[str, object], default: int) -> tuple[int, str | None] | None:
    """(score, comment or None) from the posted form, or None when the score is not 1-5.
    A missing score is the link's; a blank comment keeps the stored one. An uploaded
    file in place of a field is not an answer."""
    raw, comment = form.get("score", str(default)), form.get("comment", "")
    if not isinstance(raw, str) or raw not in SCORES or not isinstance(comment, str):
        return None
    return int(raw), comment.strip()[:4000] or None


async def survey_submit(request: web.Request) -> web.Response:
    """POST: record the score (the link's, or the one chosen on the form) and comment."""
    desk = request.app[DESK]
    target = survey_target(desk, request.match_info["token"])
    if isinstance(target, Refused):
        return refused(desk, target)
    ref, score = target
    try:
        form = await request.post()
    except (ValueError, LookupError) as exc:  # malformed multipart, unknown charset
        log.info("survey %s: unreadable form: %s", ref, exc)
        form = None
    answer = form_answer(form, score) if form is not None else None
    if answer is None:
        language = await asyncio.to_thread(_language, desk, ref)
        t = texts(language)
        return page(desk, "message", language, 400, title=t["bad_request_title"],
                    message=t["bad_request"])
    ticket = await asyncio.to_thread(record_score, desk, ref, *answer)
    if ticket is None:
        return refused(desk, Refused(410))
    t = texts(ticket.language)
    return page(desk, "message", ticket.language, title=t["thanks_title"],
                message=t["thanks"].format(score=answer[0], ref=ref))


# -- status -------------------------------------------------------------------------------

PUBLIC = or_(and_(Message.direction == Direction.IN.value,
                  Message.kind == AuthorKind.CUSTOMER.value),
             Message.direction == Direction.OUT.value)


def status_view(desk: Desk, ref: str) -> dict[str, object] | None:
    """What the customer may see: state and the public conversation. Internal mail and
    notes never, nor agents' own mail to the desk (their public answer goes out as mail)."""
    with desk.sessions() as session:
        ticket = find_ticket_by_ref(session, ref)
        if ticket is None:
            return None
        rows = session.execute(select(Message).where(
            Message.ticket_id == ticket.id, Message.internal.is_(False),
            Message.kind != AuthorKind.NOTE.value, PUBLIC)
            .order_by(Message.created_at, Message.id)).scalars().all()
        lang = "es" if ticket.language == "es" else "en"
        customer = session.get(Contact, ticket.customer_id)
        email = customer.email if customer else ""
        return {"language": lang, "title": texts(lang)["status_title"].format(ref=ticket.ref),
                "subject": ticket.subject, "state": texts(lang)["states"].get(ticket.status,
                                                                               ticket.status),
                "opened": _when(desk, ticket.created_at, lang),
                "messages": [{"customer": public_author(m, email) is Author.CUSTOMER,
                              "author": _author_label(m, email, lang),
                              "iso": m.created_at.isoformat(),
                              "when": _when(desk, m.created_at, lang), "text": m.text.strip()}
                             for m in rows]}


def _author_label(message: Message, customer_email: str, language: str) -> str:
    """"You", "Support", or the other sender's address (never their display name)."""
    author, text = public_author(message, customer_email), texts(language)
    if author is Author.OTHER:
        return text["other"].format(who=message.from_addr)
    return text["you"] if author is Author.CUSTOMER else text["us"]


def _when(desk: Desk, at: datetime, language: str) -> str:
    return format_local(at, desk.sla.calendar, language)


async def status_page(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    value = check_token(desk, STATUS, request.match_info["token"])
    if isinstance(value, Refused):
        return refused(desk, value)
    view = await asyncio.to_thread(status_view, desk, value)
    if view is None:
        return refused(desk, Refused(410))
    language = str(view.pop("language"))
    return page(desk, "status", language, 200, **view)


# -- server -------------------------------------------------------------------------------

def make_app(desk: Desk | DeskHolder) -> web.Application:
    """The pages and the JSON API under /api/v1 (which follows the holder's reloads);
    bodies are capped at the form's size (links' forms check their token
    before reading a body, so only the form at /new reads large ones)."""
    holder = holder_of(desk)
    app = web.Application(client_max_size=max(MAX_BODY, holder.current.config.web.form_max_size))
    app[DESK] = holder.current
    app[HOLDER] = holder
    app.add_routes([web.get("/survey/{token}", survey_form),
                    web.post("/survey/{token}", survey_submit),
                    web.get("/status/{token}", status_page), *form_routes()])
    mount_api(app, holder)
    return app


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:8080' or '[::1]:8080' -> (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def start(desk: Desk | DeskHolder, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve on host:port (0 for any free port); returns the runner and the bound port."""
    runner = web.AppRunner(make_app(desk), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])  # the real port when 0 was asked


async def web_worker(holder: DeskHolder, stop: asyncio.Event) -> None:
    """The daemon's web endpoint (survey, status pages, API) on `[web] listen`, until the
    daemon stops.

    A reload that changes [web] is applied live: the site is closed and opened again on
    the new address (or not at all when `listen` became empty)."""
    served: WebConfig | None = None
    runner: web.AppRunner | None = None
    try:
        while True:
            config = holder.current.config.web
            if config != served:
                if runner is not None:
                    await runner.cleanup()
                    runner = None
                    log.info("web: [web] changed, closing %s", served.listen if served else "")
                served, runner = config, await _serve(holder, config)
            try:
                await asyncio.wait_for(stop.wait(), WEB_RELOAD_CHECK)
                return
            except TimeoutError:
                pass
    finally:
        if runner is not None:
            await runner.cleanup()


async def _serve(holder: DeskHolder, config: WebConfig) -> web.AppRunner | None:
    if not config.listen:
        return None
    host, port = split_listen(config.listen)
    try:
        runner, bound = await start(holder, host, port)
    except OSError as exc:  # kept off until [web] changes again
        log.error("web: cannot listen on %s: %s", config.listen, exc)
        return None
    log.info("web: survey and status pages, API%s on %s:%d",
             " and the form at /new" if config.form else "", host, bound)
    return runner
