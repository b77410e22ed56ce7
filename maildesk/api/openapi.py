"""The OpenAPI 3.1 document of /api/v1, and request validation against it.

The document is the contract in one place: the handlers validate every request body
against its schemas (so what it says is accepted is exactly what is), and the tests
validate every response against it. JSON Schema 2020-12, as OpenAPI 3.1 uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from maildesk import __version__

PREFIX = "/api/v1"
STATES = ["new", "open", "pending", "resolved", "closed", "merged"]
SETTABLE = ["open", "pending", "resolved", "closed"]


def _null(kind: str | list[str], **more: Any) -> dict[str, Any]:
    kinds = [kind] if isinstance(kind, str) else kind
    return {"type": [*kinds, "null"], **more}


def _object(props: Mapping[str, Any], required: list[str] | None = None, *,
            closed: bool = True) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props),
            "required": list(props) if required is None else required,
            "additionalProperties": not closed}


TIME = {"type": "string", "format": "date-time"}
SUMMARY = {
    "ref": {"type": "string", "examples": ["MD-1042"]}, "status": {"enum": STATES},
    "type": {"type": "string"}, "priority": {"type": "string"}, "queue": {"type": "string"},
    "team": _null("string"), "tier": {"type": "integer"}, "assignee": _null("string"),
    "customer": _null("string"), "organisation": _null("string"),
    "subject": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
    "channel": {"type": "string"}, "spam": {"type": "boolean"}, "created_at": TIME,
    "updated_at": TIME, "first_response_at": _null("string"), "resolved_at": _null("string"),
    "closed_at": _null("string"), "brand": _null("string"),
}
ATTACHMENT = _object({"filename": {"type": "string"}, "content_type": {"type": "string"},
                      "size": {"type": "integer"}, "sha256": {"type": "string"},
                      "inline": {"type": "boolean"}})
DELIVERY = _object({"address": {"type": "string"}, "role": {"enum": ["to", "cc"]},
                    "state": {"type": "string"}, "error": _null("string"),
                    "at": _null("string")})
PARTICIPANT = _object({"email": {"type": "string"}, "name": _null("string"),
                       "source": _null("string"), "added_by": _null("string"),
                       "added_at": _null("string"), "active": {"type": "boolean"},
                       "removed_at": _null("string"), "removed_by": _null("string")})
MESSAGE_FIELDS = {
    "message_id": _null("string"), "direction": {"enum": ["in", "out"]},
    "kind": {"type": "string"}, "from": {"type": "string"}, "from_name": {"type": "string"},
    "to": {"type": "array", "items": {"type": "string"}},
    "cc": {"type": "array", "items": {"type": "string"}}, "subject": {"type": "string"},
    "text": {"type": "string"}, "date": _null("string"), "threaded_by": {"type": "string"},
    "weak_match": {"type": "boolean"}, "flagged": {"type": "boolean"},
    "flag_reason": _null("string"), "internal": {"type": "boolean"},
    "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
    "evidence": {"type": "string"},
    "author_role": {"enum": ["customer", "participant", "agent", "desk", "other"]},
}
# Outgoing messages also say who each copy went to and what became of it.
MESSAGE = _object({**MESSAGE_FIELDS,
                   "deliveries": {"type": "array",
                                  "items": {"$ref": "#/components/schemas/Delivery"}},
                   "delivered_to": {"type": "array", "items": {"type": "string"}}},
                  list(MESSAGE_FIELDS))
EVENT = _object({"at": TIME, "actor": {"type": "string"}, "action": {"type": "string"},
                 "detail": {"type": "object"}, "reason": {"type": "string"}})
DETAIL = {
    **SUMMARY,
    "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
    "related": _null("string"), "merged_into": _null("string"),
    "sla": _object({"response_due_at": _null("string"), "resolution_due_at": _null("string"),
                    "response_breached_at": _null("string"),
                    "resolution_breached_at": _null("string"),
                    "escalation_level": {"type": "integer"}}),
    "satisfaction": _null("object", properties={
        "score": {"type": "integer"}, "comment": _null("string"), "at": _null("string")}),
    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
    "time_spent_minutes": {"type": "integer"},
    "participants": {"type": "array", "items": {"$ref": "#/components/schemas/Participant"}},
}
TAG = {"type": "string", "pattern": r"^[\w][\w.-]{0,63}$"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 50000, "pattern": r"\S"}

SCHEMAS: dict[str, Any] = {
    "Problem": _object({"type": {"type": "string"}, "title": {"type": "string"},
                        "status": {"type": "integer"}, "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "string"}}},
                       ["type", "title", "status", "detail"], closed=False),
    "Ticket": _object(SUMMARY),
    "TicketDetail": _object(DETAIL),
    "Attachment": ATTACHMENT, "Message": MESSAGE, "Event": EVENT, "Delivery": DELIVERY,
    "Participant": PARTICIPANT,
    "TicketPage": _object({"tickets": {"type": "array",
                                       "items": {"$ref": "#/components/schemas/Ticket"}},
                           "next_cursor": _null("string")}),
    "ActionResult": _object({"ref": {"type": "string"},
                             "applied": {"type": "array", "items": {"type": "string"}},
                             "ticket": {"$ref": "#/components/schemas/Ticket"}}),
    "Me": _object({"agent": {"type": "string"}, "name": {"type": "string"},
                   "read_only": {"type": "boolean"}}),
    # `body` is accepted for `text`, and `assignee` for `agent`, as other help desks name them.
    "ReplyRequest": {**_object({"text": TEXT, "body": TEXT, "status": {"enum": SETTABLE}}, []),
                     "oneOf": [{"required": ["text"]}, {"required": ["body"]}]},
    "NoteRequest": {**_object({"text": TEXT, "body": TEXT}, []),
                    "oneOf": [{"required": ["text"]}, {"required": ["body"]}]},
    "StatusRequest": _object({"status": {"enum": SETTABLE}}),
    "AssignRequest": {**_object({"agent": {"type": "string", "minLength": 1},
                                 "assignee": {"type": "string", "minLength": 1},
                                 "team": {"type": "string", "minLength": 1}}, []),
                      "oneOf": [{"required": ["agent"]}, {"required": ["assignee"]},
                                {"required": ["team"]}]},
    "PriorityRequest": _object({"priority": {"type": "string", "pattern": r"^\S+$"}}),
    "TagsRequest": {**_object({"add": {"type": "array", "items": TAG},
                               "remove": {"type": "array", "items": TAG}}, []),
                    "minProperties": 1},
    "CcRequest": {**_object({"add": {"type": "array", "items": {"type": "string",
                                                               "format": "email"}},
                             "remove": {"type": "array", "items": {"type": "string",
                                                                  "format": "email"}}}, []),
                  "minProperties": 1},
    "MergeRequest": _object({"into": {"type": "string", "minLength": 1}}),
}


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _problems(*codes: int) -> dict[str, Any]:
    body = {"content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}
    return {str(code): {"description": TITLE.get(code, "Error"), **body} for code in codes}


TITLE = {400: "Malformed request", 401: "Missing, unknown, expired or revoked token, or "
         "the agent is inactive", 403: "Read-only token", 404: "No such ticket",
         409: "The ticket's state does not allow it", 422: "Invalid values",
         429: "Rate limit reached (see Retry-After)", 501: "Not available in this version"}
REF = {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}}
PAGING: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"},
     "description": "next_cursor of the previous page"},
]
FILTERS: list[dict[str, Any]] = [
    {"name": "status", "in": "query", "schema": {"type": "string"}, "explode": True,
     "description": "a state; repeat or separate with commas for several"},
    {"name": "queue", "in": "query", "schema": {"type": "string"}},
    {"name": "assignee", "in": "query", "schema": {"type": "string"},
     "description": "agent e-mail; `none` for unassigned"},
    {"name": "customer", "in": "query", "schema": {"type": "string"},
     "description": "customer e-mail"},
    {"name": "updated_since", "in": "query", "schema": TIME},
    {"name": "q", "in": "query", "schema": {"type": "string"},
     "description": "words in the subject, reference, customer or any message"},
]


def _read(summary: str, schema: str, params: list[Any], *problems: int) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": {"200": {"description": "OK", **_json(schema)},
                                  **_problems(400, 401, 429, *problems)}}}


def _action(name: str, schema: str, summary: str) -> dict[str, Any]:
    return {"post": {"summary": summary, "operationId": f"ticket_{name}", "parameters": [REF],
                     "requestBody": {"required": True, **_json(schema)},
                     "responses": {"200": {"description": "Applied", **_json("ActionResult")},
                                   **_problems(400, 401, 403, 404, 409, 422, 429, 501)}}}


def document(actions: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The whole document; `actions` maps an action name to (request schema, summary)."""
    paths: dict[str, Any] = {
        f"{PREFIX}/me": _read("The agent the token speaks for", "Me", []),
        f"{PREFIX}/tickets": _read("List tickets, newest first", "TicketPage",
                                   FILTERS + PAGING),
        f"{PREFIX}/search": _read("Search tickets", "TicketPage",
                                  [{**FILTERS[-1], "required": True}, *PAGING]),
        f"{PREFIX}/tickets/search": _read("Search tickets (the same as /search)", "TicketPage",
                                          [{**FILTERS[-1], "required": True}, *PAGING]),
        f"{PREFIX}/tickets/{{ref}}": _read("One ticket, as `maildesk tickets show --json`",
                                           "TicketDetail", [REF], 404),
    }
    for name, (schema, summary) in actions.items():
        paths[f"{PREFIX}/tickets/{{ref}}/{name}"] = _action(name, schema, summary)
    return {"openapi": "3.1.0",
            "info": {"title": "maildesk API", "version": __version__,
                     "description": "Tickets and agents' actions; see docs/api.md."},
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "security": [{"bearer": []}], "paths": paths,
            "components": {"schemas": SCHEMAS, "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "`maildesk api token create --agent EMAIL`"}}}}


@cache
def validator(schema: str) -> Draft202012Validator:
    """A validator for one component schema, its $refs resolved inside the document."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": {"schemas": SCHEMAS}}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(schema: str, value: Any) -> list[str]:
    """What is wrong with `value`, one line per error ("" path for the top level)."""
    found = sorted(validator(schema).iter_errors(value), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path)) or 'body'}: {e.message}" for e in found]
