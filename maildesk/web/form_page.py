"""GET and POST /new: the web form that opens a ticket, in English and Spanish.

The page works without JavaScript: labelled fields in a fieldset, errors listed at the
top (each a link to its field) and tied to the field with aria-describedby. A valid
POST becomes a mail (web/form.py) that goes through pipeline.flow.accept like any
other, so the acknowledgement, which goes to the given address, is also the proof that
the address is real; it repeats the description only for a verified sender, which a
form never is (unless `[desk] quote_unverified`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from maildesk.config.brands import Brand
from maildesk.errors import TemporaryFailure
from maildesk.mail.mime import header_message_id, safe_filename
from maildesk.pipeline.flow import Accepted, accept
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.store.models import Message, RawMessage, Ticket
from maildesk.types import Attachment, RawMail, Source
from maildesk.web import form_guard as guard
from maildesk.web.form import FIELDS, HONEYPOT, Submission, build_mail, check, clean, pick_language
from maildesk.web.pages import render, texts

log = logging.getLogger(__name__)

HOLDER = web.AppKey("holder", DeskHolder)
HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                      "form-action 'self'; frame-ancestors 'none'"}


def _desk(request: web.Request) -> Desk:
    return request.app[HOLDER].current


def _language(request: web.Request, posted: Mapping[str, object] | None = None) -> str:
    chosen = posted.get("lang") if posted else None
    query = chosen if isinstance(chosen, str) else request.query.get("lang")
    return pick_language(query, request.headers.get("Accept-Language"),
                         _desk(request).config.desk.language)


def _brand(request: web.Request, posted: Mapping[str, object] | None = None) -> Brand | None:
    """The brand whose form this is: ?brand=NAME (kept in a hidden field), else the
    brand whose base_url names the host the page was asked for."""
    config = _desk(request).config
    chosen = posted.get("brand") if posted else request.query.get("brand")
    if isinstance(chosen, str) and config.brand(chosen):
        return config.brand(chosen)
    host = request.host.lower()
    return next((b for b in config.brands
                 if b.base_url and urlsplit(b.base_url).netloc.lower() == host), None)


def _page(desk: Desk, name: str, lang: str, status: int, brand: Brand | None = None,
          **context: object) -> web.Response:
    html = render(name, lang, desk_name=brand.display_name if brand else desk.config.desk.name,
                  **context)
    response = web.Response(text=html, status=status, content_type="text/html",
                            charset="utf-8", headers=HEADERS)
    response.headers["Content-Language"] = lang
    return response


def _form(request: web.Request, lang: str, status: int = 200,
          values: Mapping[str, str] | None = None, problems: Mapping[str, str] | None = None,
          notice: str = "") -> web.Response:
    """The form, with a fresh token tied to the browser's cookie (set when missing)."""
    desk = _desk(request)
    nonce = request.cookies.get(guard.COOKIE) or guard.new_nonce()
    t = texts(lang)
    brand = _brand(request, values)
    response = _page(desk, "new", lang, status, brand, brand_name=brand.name if brand else "",
                     title=t["form_title"], values=values or {},
                     problems=problems or {}, notice=notice,
                     token=guard.form_token(desk, nonce),
                     max_mb=max(1, desk.config.web.form_max_size // (1024 * 1024)))
    if request.cookies.get(guard.COOKIE) != nonce:
        response.set_cookie(guard.COOKIE, nonce, path="/new", httponly=True,
                            samesite="Strict", secure=request.secure)
    return response


async def form_get(request: web.Request) -> web.Response:
    if not _desk(request).config.web.form:
        raise web.HTTPNotFound()
    brand = _brand(request)
    return _form(request, _language(request, {"lang": brand.language} if brand and not
                                     request.query.get("lang") and brand.language else None),
                 values={"brand": brand.name} if brand else None)


def _submission(posted: MultiDictProxy[Any]) -> Submission:
    values = {key: clean(v, multiline=key == "description")
              for key in FIELDS if isinstance(v := posted.get(key, ""), str)}
    files = []
    for part in posted.getall("attachments", []):
        if isinstance(part, web.FileField):
            payload = part.file.read()
            if payload or part.filename:
                content_type = part.content_type or "application/octet-stream"
                files.append(Attachment(safe_filename(part.filename, content_type),
                                        content_type, payload))
    trap = posted.get(HONEYPOT, "")
    return Submission(values, tuple(f for f in files if f.payload), bool(trap))


async def form_post(request: web.Request) -> web.Response:
    desk = _desk(request)
    if not desk.config.web.form:
        raise web.HTTPNotFound()
    try:
        posted = await request.post()
    except web.HTTPRequestEntityTooLarge:
        lang = _language(request)
        return _form(request, lang, 413, notice=texts(lang)["too_large"].format(
            mb=max(1, desk.config.web.form_max_size // (1024 * 1024))))
    except (ValueError, LookupError) as exc:
        log.info("web form: unreadable submission: %s", exc)
        lang = _language(request)
        return _form(request, lang, 400, notice=texts(lang)["bad_request"])
    lang = _language(request, posted)
    submission = _submission(posted)
    return await _handle(request, desk, lang, submission, str(posted.get("csrf", "")),
                         _brand(request, posted))


async def _handle(request: web.Request, desk: Desk, lang: str, submission: Submission,
                  token: str, brand: Brand | None) -> web.Response:
    t = texts(lang)
    values = dict(submission.values) | ({"brand": brand.name} if brand else {})
    to = brand.address if brand else desk.config.desk.address
    if not guard.token_ok(desk, token, request.cookies.get(guard.COOKIE)):
        return _form(request, lang, 403, values, notice=t["form_expired"])
    if submission.honeypot:  # a bot: it sees success, nothing is kept
        log.info("web form: honeypot filled from %s; dropped", request.remote)
        return _page(desk, "message", lang, 200, brand, title=t["received_title"],
                     message=t["received_plain"])
    problems = check(submission)
    if problems:
        return _form(request, lang, 400, values, problems.fields)
    ip = request.remote or "unknown"
    limited = await asyncio.to_thread(_limited, desk, submission.email, ip)
    if limited:
        log.warning("web form: %s limit reached for %s from %s", limited,
                    submission.email, ip)
        return _page(desk, "message", lang, 429, brand, title=t["limited_title"],
                     message=t["limited"])
    raw = RawMail(data=build_mail(submission, to=to, token=token, now=desk.clock(),
                                  language=lang),
                  source=Source.WEB, envelope_from=submission.email,
                  envelope_to=(to,), source_ref=guard.client_ref(ip),
                  received_at=desk.clock())
    try:
        earlier = await asyncio.to_thread(_posted_before, desk, raw)
        result = earlier if earlier is not None else await asyncio.to_thread(accept, desk, raw)
    except TemporaryFailure as exc:
        log.error("web form: not stored (%s); the customer is asked to try again", exc)
        return _page(desk, "message", lang, 503, brand, title=t["unavailable_title"],
                     message=t["unavailable"])
    ref = await asyncio.to_thread(_ref_of, desk, result)
    log.info("web form: raw=%s ref=%s from=<%s> ip=%s", result.raw_id, ref or "-",
             submission.email, ip)
    return _page(desk, "received", lang, 200, brand, title=t["received_title"], ref=ref or "",
                 email=submission.email)


def _limited(desk: Desk, email: str, ip: str) -> str | None:
    with desk.sessions() as session:
        return guard.over_limit(session, desk.config, email, ip, desk.clock())


def _posted_before(desk: Desk, raw: RawMail) -> Accepted | None:
    """The same page posted again (its Message-ID comes from the form's token): the mail
    stored the first time, so a second click never makes a second ticket. The Date of
    the two posts differs, so the content check for reused Message-IDs would not see it."""
    message_id = header_message_id(raw.data)
    try:
        with desk.sessions() as session:
            raw_id = session.execute(select(RawMessage.id).where(
                RawMessage.message_id == message_id, RawMessage.source == Source.WEB.value)
                .order_by(RawMessage.id).limit(1)).scalar_one_or_none()
    except (OperationalError, DBAPIError) as exc:
        raise TemporaryFailure(str(exc).splitlines()[0]) from exc
    return Accepted(raw_id, True, None) if raw_id is not None else None


def _ref_of(desk: Desk, result: Accepted) -> str | None:
    """The ticket the submission opened or joined (also for a repeated POST)."""
    if result.outcome is not None and result.outcome.ref:
        return result.outcome.ref
    with desk.sessions() as session:
        return session.execute(select(Ticket.ref).join(Message, Message.ticket_id == Ticket.id)
                               .where(Message.raw_id == result.raw_id).limit(1)
                               ).scalar_one_or_none()


def form_routes() -> list[web.RouteDef]:
    return [web.get("/new", form_get), web.post("/new", form_post)]
