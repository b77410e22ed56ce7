"""The HTTP API over a real HTTP client against the real aiohttp server, on both engines.

Every JSON answer is validated against the schemas of the served OpenAPI document, so the
document cannot drift from what the handlers return; request bodies are checked by the
handlers against the same document.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from maildesk.api import tokens
from maildesk.api.openapi import SCHEMAS
from maildesk.cli.main import main
from maildesk.pipeline.flow import accept
from maildesk.runtime.desk import Desk, DeskHolder
from maildesk.store.db import transaction
from maildesk.store.models import ApiToken, Event, Outbox, Ticket
from maildesk.tickets.views import ticket_detail
from maildesk.types import RawMail, Source
from tests.conftest import eml
from tests.integration.test_survey import WEB, serving
from tests.integration.test_tick import make_desk

API = WEB + '[api]\nrate_limit = 1000\nrate_window = "1m"\n'


@pytest.fixture
def holder(tmp_path: Path, db_url: str) -> Iterator[DeskHolder]:
    desk = make_desk(tmp_path / "desk", db_url, API)
    yield DeskHolder(desk)
    desk.close()


@pytest.fixture
def base(holder: DeskHolder) -> Iterator[str]:
    with serving(holder) as url:  # type: ignore[arg-type]
        yield url + "/api/v1"


def opened(desk: Desk, name: str) -> str:
    ref = accept(desk, RawMail(eml(f"api/{name}.eml"), Source.PIPE)).outcome.ref
    assert ref
    return ref


def token(desk: Desk, agent: str = "ana@example.com", **kwargs: Any) -> str:
    with transaction(desk.sessions) as session:
        return tokens.create(session, desk.ruleset.agent_for(agent), desk.clock(), **kwargs)[1]


def call(url: str, secret: str | None = None, body: Any = None, *, raw: bytes | None = None,
         method: str | None = None) -> tuple[int, dict[str, str], Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if secret:
        request.add_header("Authorization", f"Bearer {secret}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, headers, payload = exc.code, dict(exc.headers), exc.read()
    return status, headers, json.loads(payload) if payload else None


def valid(schema: str, value: Any) -> Any:
    """Validate against the served document's schema; return the value."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": {"schemas": SCHEMAS}}
    Draft202012Validator(root).validate(value)
    return value


def problem(answer: tuple[int, dict[str, str], Any], status: int) -> dict[str, Any]:
    code, headers, body = answer
    assert code == status, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["status"] == status
    return valid("Problem", body)


def check_document(holder: DeskHolder, base: str) -> None:
    """The served document is valid 3.1, its schemas are the ones the handlers validate
    with, and every documented listing answers as the document says."""
    status, _headers, doc = call(base + "/openapi.json")  # public: no token needed
    assert status == 200 and doc["openapi"].startswith("3.1")
    Draft202012Validator.check_schema({"components": doc["components"]})
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert doc["components"]["schemas"] == json.loads(json.dumps(SCHEMAS))
    actions = {p.rsplit("/", 1)[1] for p in doc["paths"] if p.count("/") == 5}
    assert actions == {"reply", "note", "status", "assign", "priority", "tags", "cc", "merge"}
    secret = token(holder.current)
    for path, ops in doc["paths"].items():  # every documented GET answers as documented
        if "get" in ops and "{ref}" not in path:
            query = "?q=printer" if path.endswith("/search") else ""
            status, _h, body = call(base.removesuffix("/api/v1") + path + query, secret)
            ref = ops["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            assert status == 200, (path, body)
            valid(ref.rsplit("/", 1)[1], body)


def test_tokens_and_who_may_call(holder: DeskHolder, base: str, tmp_path: Path) -> None:
    desk = holder.current
    problem(call(base + "/me"), 401)
    assert call(base + "/me")[1]["WWW-Authenticate"].startswith("Bearer")
    problem(call(base + "/me", "mdk_not-a-token"), 401)
    secret = token(desk)
    status, _h, me = call(base + "/me", secret)
    assert status == 200 and valid("Me", me) == {"agent": "ana@example.com",
                                                 "name": "Ana García", "read_only": False}
    with desk.sessions() as session:  # stored hashed, never in clear
        row = session.execute(select(ApiToken)).scalar_one()
        assert row.token_hash == tokens.token_hash(secret) and secret not in row.token_hash
    expired = token(desk, expires_in=timedelta(seconds=-1))
    problem(call(base + "/me", expired), 401)
    reader = token(desk, "bruno@example.com", read_only=True)
    ref = opened(desk, "01-printer")
    assert call(base + f"/tickets/{ref}", reader)[0] == 200
    problem(call(base + f"/tickets/{ref}/note", reader, {"text": "hi"}), 403)
    # deactivating the agent in the rules stops their tokens at the next request
    team = desk.config.rules_dir / "team.yaml"
    team.write_text(team.read_text().replace("teams: [l2]}", "teams: [l2], active: false}"))
    holder.reload()
    problem(call(base + "/me", reader), 401)
    assert call(base + "/me", secret)[0] == 200


def test_list_filters_pages_search_and_show(holder: DeskHolder, base: str) -> None:
    desk = holder.current
    refs = [opened(desk, n) for n in ("01-printer", "02-vpn", "03-invoice")]
    secret = token(desk)
    status, _h, page = call(base + "/tickets?limit=2", secret)
    assert status == 200 and [t["ref"] for t in valid("TicketPage", page)["tickets"]] == refs[:0:-1]
    _s, _h, rest = call(base + f"/tickets?limit=2&cursor={page['next_cursor']}", secret)
    assert [t["ref"] for t in valid("TicketPage", rest)["tickets"]] == refs[:1]
    assert rest["next_cursor"] is None
    _s, _h, mine = call(base + "/tickets?customer=LUCIA@otra.example", secret)
    assert [t["ref"] for t in mine["tickets"]] == [refs[1]]
    _s, _h, both = call(base + "/tickets?status=new,open&queue=general", secret)
    assert {t["ref"] for t in valid("TicketPage", both)["tickets"]} <= set(refs)
    _s, _h, later = call(base + "/tickets?updated_since=2999-01-01T00:00:00Z", secret)
    assert later["tickets"] == []
    _s, _h, found = call(base + "/search?q=error%20809", secret)  # words from a message body
    assert [t["ref"] for t in valid("TicketPage", found)["tickets"]] == [refs[1]]
    status, _h, shown = call(base + f"/tickets/{refs[2].lower()}", secret)
    with desk.sessions() as session:
        expected = ticket_detail(session, session.execute(
            select(Ticket).where(Ticket.ref == refs[2])).scalar_one())
    assert status == 200 and valid("TicketDetail", shown) == json.loads(
        json.dumps(expected, default=str))
    problem(call(base + "/tickets/MD-999999", secret), 404)
    problem(call(base + "/tickets?status=sleeping", secret), 400)
    problem(call(base + "/tickets?cursor=zzz", secret), 400)
    problem(call(base + "/tickets?updated_since=yesterday", secret), 400)
    problem(call(base + "/search", secret), 400)
    problem(call(base + "/nothing-here", secret), 404)
    check_document(holder, base)


def events(desk: Desk, ref: str) -> list[Event]:
    with desk.sessions() as session:
        ticket = session.execute(select(Ticket).where(Ticket.ref == ref)).scalar_one()
        return list(session.execute(select(Event).where(Event.ticket_id == ticket.id)
                                    .order_by(Event.id)).scalars())


def test_actions_take_the_agents_path(holder: DeskHolder, base: str) -> None:
    desk = holder.current
    ref, secret = opened(desk, "03-invoice"), token(desk)
    before = len(events(desk, ref))

    def act(action: str, body: Any) -> dict[str, Any]:
        status, _h, result = call(base + f"/tickets/{ref}/{action}", secret, body)
        assert status == 200, result
        return valid("ActionResult", result)

    result = act("reply", {"text": "We refunded the second charge.", "status": "pending"})
    assert result["ticket"]["status"] == "pending" and result["ticket"]["first_response_at"]
    with desk.sessions() as session:
        mail = session.execute(select(Outbox).where(Outbox.to_addr == "maria@cliente.example",
                                                    Outbox.kind == "update")).scalar_one()
    assert b"We refunded the second charge." in mail.data
    act("note", {"text": "Checked with billing."})
    assert act("assign", {"agent": "Bruno Díaz"})["ticket"]["assignee"] == "bruno@example.com"
    assert act("assign", {"assignee": "ana@example.com"})["ticket"]["assignee"] == "ana@example.com"
    act("note", {"body": "Same as text."})
    assert act("assign", {"team": "l2"})["ticket"]["team"] == "l2"
    assert act("priority", {"priority": "p1"})["ticket"]["priority"] == "P1"
    act("tags", {"add": ["billing", "refund"]})
    tags = act("tags", {"remove": ["refund"]})["ticket"]["tags"]
    assert "billing" in tags and "refund" not in tags
    assert act("status", {"status": "resolved"})["ticket"]["status"] == "resolved"
    written = events(desk, ref)[before:]
    assert {e.action for e in written} >= {"agent-mail", "note", "assigned", "priority", "tags",
                                          "status"}
    assert all(e.detail.get("via") == "api" for e in written if e.actor == "ana@example.com")
    assert {e.actor for e in written if e.action in ("note", "assigned")} == {"ana@example.com"}
    with desk.sessions() as session:  # the note stays internal: no mail carries it
        assert not any(b"Checked with billing" in o.data
                       for o in session.execute(select(Outbox)).scalars())
    # what is refused changes nothing
    count = len(events(desk, ref))
    problem(call(base + f"/tickets/{ref}/status", secret, {"status": "resolved"}), 409)
    assert "unknown priority" in problem(call(base + f"/tickets/{ref}/priority", secret,
                                              {"priority": "P9"}), 422)["detail"]
    problem(call(base + f"/tickets/{ref}/assign", secret, {"agent": "nobody@x.example"}), 422)
    invalid = problem(call(base + f"/tickets/{ref}/reply", secret, {"txt": "typo"}), 422)
    assert invalid["errors"]
    problem(call(base + f"/tickets/{ref}/note", secret, {"text": "  "}), 422)
    problem(call(base + f"/tickets/{ref}/note", secret, raw=b"{not json"), 400)
    problem(call(base + f"/tickets/{ref}/frobnicate", secret, {}), 404)
    problem(call(base + "/tickets/MD-999999/note", secret, {"text": "x"}), 404)
    problem(call(base + f"/tickets/{ref}/merge", secret, {"into": ref}), 409)  # into itself
    problem(call(base + f"/tickets/{ref}/merge", secret, {"into": "MD-999999"}), 422)
    problem(call(base + f"/tickets/{ref}/cc", secret, {"remove": ["nobody@y.example"]}), 409)
    assert len(events(desk, ref)) == count
    assert act("cc", {"add": ["jorge@cliente.example"]})["applied"]
    shown = call(base + f"/tickets/{ref}", secret)
    assert [p["email"] for p in valid("TicketDetail", shown[2])["participants"]] \
        == ["jorge@cliente.example"]
    count = len(events(desk, ref))
    other = opened(desk, "02-vpn")
    merged = act_on = call(base + f"/tickets/{other}/merge", secret, {"into": ref})
    assert act_on[0] == 200 and valid("ActionResult", merged[2])["ticket"]["status"] == "merged"
    assert events(desk, other)[-1].detail["via"] == "api"


def test_rate_limit_per_token(tmp_path: Path, db_url: str) -> None:
    desk = make_desk(tmp_path / "desk", db_url, WEB + '[api]\nrate_limit = 2\nrate_window = "1h"\n')
    try:
        first, second = token(desk), token(desk, "carla@example.com")
        with serving(desk) as url:
            assert [call(url + "/api/v1/me", first)[0] for _ in range(2)] == [200, 200]
            limited = call(url + "/api/v1/me", first)
            assert int(problem(limited, 429) and limited[1]["Retry-After"]) > 0
            assert call(url + "/api/v1/me", second)[0] == 200  # another token, its own bucket
    finally:
        desk.close()


def test_token_commands(holder: DeskHolder, capsys: pytest.CaptureFixture[str]) -> None:
    desk = holder.current

    def cli(*argv: str) -> int:
        with pytest.raises(SystemExit) as exit_:
            main(["--config", str(desk.config.path), "api", "token", *argv])
        return int(exit_.value.code)

    assert cli("create", "--agent", "ana@example.com", "--read-only", "--expires", "90d",
               "--json") == 0
    made = json.loads(capsys.readouterr().out)
    assert made["token"].startswith("mdk_") and made["read_only"] is True
    with desk.sessions() as session:
        caller = tokens.authenticate(session, made["token"], desk.ruleset, desk.clock())
    assert caller is not None and caller.read_only
    assert cli("create", "--agent", "nobody@example.com") == 2
    assert cli("create", "--agent", "carla@example.com") == 0
    plain = capsys.readouterr().out.strip()  # only the token on standard output
    assert plain.startswith("mdk_") and "\n" not in plain
    assert cli("list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["id"], t["state"]) for t in listed] == [(made["id"], "active"),
                                                        (made["id"] + 1, "active")]
    assert made["token"] not in json.dumps(listed)
    assert cli("revoke", str(made["id"])) == 0
    with desk.sessions() as session:
        assert tokens.listing(session, desk.ruleset, desk.clock())[0]["state"] == "revoked"
        assert tokens.authenticate(session, made["token"], desk.ruleset, desk.clock()) is None
