"""The /api/v1 sub-application: authentication, rate limit, problem details, handlers.

Mounted on the daemon's web endpoint by web/app.py. Every request but the OpenAPI
document needs `Authorization: Bearer TOKEN` (api/tokens.py); the token's bucket is then
charged (api/ratelimit.py). Database work runs in a thread, as everywhere in the daemon,
on the current desk snapshot, so a rule reload that deactivates an agent stops their
tokens at the next request. Writes run in one transaction marked "via api", so every
event they log says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web

from maildesk.api import openapi, queries, tokens
from maildesk.api.actions import ACTIONS, Action, specs
from maildesk.api.problems import Problem, respond
from maildesk.api.ratelimit import Limiter
from maildesk.errors import TemporaryFailure
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.store.db import transaction
from maildesk.store.models import Contact
from maildesk.tickets.views import ticket_summary

log = logging.getLogger(__name__)

HOLDER = web.AppKey("holder", DeskHolder)
LIMITER = web.AppKey("limiter", Limiter)
# A typed request key where aiohttp has them (3.13+), a plain string before.
CALLER: Any = (web.RequestKey("caller", tokens.Caller) if hasattr(web, "RequestKey")
               else "maildesk.caller")
DOCUMENT = "/openapi.json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
dumps = partial(json.dumps, ensure_ascii=False, default=str)
SLUGS = {400: "bad-request", 404: "not-found", 405: "method-not-allowed",
         413: "too-large", 415: "unsupported-media-type"}


@web.middleware
async def problem_details(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error of the API as application/problem+json (RFC 9457)."""
    try:
        response = await handler(request)
    except Problem as problem:
        return respond(problem, request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return respond(Problem(exc.status, SLUGS.get(exc.status, "error"), exc.text or ""),
                       request.path)
    except TemporaryFailure as exc:
        return respond(Problem(503, "unavailable", str(exc), headers={"Retry-After": "30"}),
                       request.path)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == openapi.PREFIX + DOCUMENT:
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "send Authorization: Bearer TOKEN "
                      "(maildesk api token create --agent EMAIL)",
                      headers={"WWW-Authenticate": 'Bearer realm="maildesk"'})
    desk = request.app[HOLDER].current
    caller = await asyncio.to_thread(_caller, desk, token.strip())
    if caller is None:
        raise Problem(401, "invalid-token", "the token is unknown, expired or revoked, or "
                      "its agent is inactive", headers={
                          "WWW-Authenticate": 'Bearer realm="maildesk", error="invalid_token"'})
    limits = desk.config.api
    wait = request.app[LIMITER].check(caller.token_id, time.monotonic(), limits.rate_limit,
                                      limits.rate_window)
    if wait:
        raise Problem(429, "rate-limited", f"at most {limits.rate_limit} requests per "
                      f"{limits.rate_window} s per token; try again in {wait} s",
                      headers={"Retry-After": str(wait)})
    request[CALLER] = caller
    return await handler(request)


def _caller(desk: Desk, token: str) -> tokens.Caller | None:
    with transaction(desk.sessions) as session:
        return tokens.authenticate(session, token, desk.ruleset, desk.clock())


def reply(data: Any) -> web.Response:
    return web.json_response(data, dumps=dumps)


# -- reading -------------------------------------------------------------------------------

def _when(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Problem(400, "bad-parameter", f"updated_since: not an ISO 8601 time: {value!r}",
                      errors=["updated_since"]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def filters(request: web.Request) -> queries.Filters:
    query = request.query
    statuses = tuple(s.strip() for v in query.getall("status", []) for s in v.split(",")
                     if s.strip())
    unknown = [s for s in statuses if s not in openapi.STATES]
    if unknown:
        raise Problem(400, "bad-parameter", f"status: unknown state {unknown[0]!r} "
                      f"(use {', '.join(openapi.STATES)})", errors=["status"])
    since = query.get("updated_since")
    return queries.Filters(statuses=statuses, queue=query.get("queue") or None,
                           assignee=query.get("assignee") or None,
                           customer=query.get("customer") or None,
                           updated_since=_when(since) if since else None,
                           q=query.get("q") or None)


def paging(request: web.Request, desk: Desk) -> tuple[int, int | None]:
    limits, raw = desk.config.api, request.query.get("limit")
    if raw is not None and not (raw.isdigit() and int(raw) >= 1):
        raise Problem(400, "bad-parameter", "limit: a whole number from 1", errors=["limit"])
    limit = min(int(raw) if raw else limits.page_size, limits.max_page_size)
    cursor = request.query.get("cursor")
    after = queries.decode_cursor(cursor) if cursor else None
    if cursor and after is None:
        raise Problem(400, "bad-parameter", "cursor: not a cursor this API gave",
                      errors=["cursor"])
    return limit, after


async def list_tickets(request: web.Request) -> web.Response:
    desk = request.app[HOLDER].current
    wanted, (limit, after) = filters(request), paging(request, desk)
    rows, cursor = await asyncio.to_thread(_page, desk, wanted, limit, after)
    return reply({"tickets": rows, "next_cursor": cursor})


async def search(request: web.Request) -> web.Response:
    if not request.query.get("q", "").strip():
        raise Problem(400, "bad-parameter", "q: the words to look for", errors=["q"])
    return await list_tickets(request)


def _page(desk: Desk, wanted: queries.Filters, limit: int, after: int | None
          ) -> tuple[list[dict[str, Any]], str | None]:
    with desk.sessions() as session:
        return queries.page(session, wanted, limit, after)


async def show(request: web.Request) -> web.Response:
    desk = request.app[HOLDER].current
    view = await asyncio.to_thread(_detail, desk, request.match_info["ref"])
    if view is None:
        raise Problem(404, "no-ticket", f"no ticket {request.match_info['ref']}")
    return reply(view)


def _detail(desk: Desk, ref: str) -> dict[str, Any] | None:
    with desk.sessions() as session:
        return queries.detail(session, ref)


async def me(request: web.Request) -> web.Response:
    caller: tokens.Caller = request[CALLER]
    return reply({"agent": caller.agent.email, "name": caller.agent.name,
                  "read_only": caller.read_only})


async def document(request: web.Request) -> web.Response:
    return reply(openapi.document(specs()))


async def not_found(request: web.Request) -> web.Response:
    raise Problem(404, "not-found", f"no endpoint {request.method} {request.path}")


# -- actions -------------------------------------------------------------------------------

async def body_of(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Problem(400, "bad-json", f"the body is not JSON: {exc}") from None


async def act(request: web.Request) -> web.Response:
    name, ref = request.match_info["action"], request.match_info["ref"]
    action = ACTIONS.get(name)
    if action is None:
        raise Problem(404, "not-found", f"no action {name!r} (actions: {', '.join(ACTIONS)})")
    caller: tokens.Caller = request[CALLER]
    if caller.read_only:
        raise Problem(403, "read-only", "this token is read-only")
    if action.apply is None:
        raise Problem(501, "not-implemented", f"{name} is not available in this version")
    body = await body_of(request)
    wrong = openapi.errors(action.schema, body)
    if wrong:
        raise Problem(422, "invalid", "; ".join(wrong), errors=wrong)
    desk = request.app[HOLDER].current
    return reply(await asyncio.to_thread(apply, desk, ref, caller, action, body))


def apply(desk: Desk, ref: str, caller: tokens.Caller, action: Action,
          body: dict[str, Any]) -> dict[str, Any]:
    """One action in one transaction; a Problem raised here rolls it back."""
    assert action.apply is not None
    with transaction(desk.sessions) as session:
        session.info["via"] = "api"
        ticket = queries.find(session, ref)
        if ticket is None:
            raise Problem(404, "no-ticket", f"no ticket {ref}")
        applied = action.apply(desk, session, ticket, caller.agent, body)
        if applied.errors:
            raise Problem(422, "invalid", "; ".join(applied.errors), errors=list(applied.errors))
        if applied.conflicts:
            raise Problem(409, "conflict", "; ".join(applied.conflicts),
                          errors=list(applied.conflicts))
        summary = ticket_summary(ticket, session.get(Contact, ticket.customer_id))
    log.info("api: %s %s by %s: %s", ticket.ref, action.schema, caller.agent.email,
             "; ".join(applied.done) or "nothing to change")
    return {"ref": summary["ref"], "applied": list(applied.done), "ticket": summary}


def make_api(holder: DeskHolder) -> web.Application:
    api = web.Application(middlewares=[problem_details, authenticate])
    api[HOLDER], api[LIMITER] = holder, Limiter()
    api.add_routes([web.get(DOCUMENT, document), web.get("/me", me),
                    web.get("/tickets", list_tickets), web.get("/search", search),
                    web.get("/tickets/search", search),
                    web.get("/tickets/{ref}", show),
                    web.post("/tickets/{ref}/{action}", act),
                    web.route("*", "/{tail:.*}", not_found)])
    return api


def mount_api(app: web.Application, holder: DeskHolder) -> None:
    """Serve /api/v1 on the daemon's web endpoint."""
    app.add_subapp(openapi.PREFIX, make_api(holder))
