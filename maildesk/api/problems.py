"""Errors as RFC 9457 problem details: `application/problem+json` with type, title,
status and detail, raised anywhere in a handler as `Problem` and answered once by the
middleware in routes.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://maildesk.invalid/problems/"  # stable identifiers, not fetched

TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Request too large",
          415: "Unsupported media type", 422: "Unprocessable content",
          429: "Too many requests", 500: "Internal error", 501: "Not implemented",
          503: "Service unavailable"}


class Problem(Exception):
    """A problem to answer with: status, a short kind, what went wrong, extra members."""

    def __init__(self, status: int, kind: str, detail: str = "", *,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail or kind)
        self.status, self.kind, self.detail = status, kind, detail
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str) -> dict[str, Any]:
        return {"type": TYPE_BASE + self.kind, "title": TITLES.get(self.status, "Error"),
                "status": self.status, "detail": self.detail or TITLES.get(self.status, ""),
                "instance": instance, **self.extra}


def respond(problem: Problem, instance: str) -> web.Response:
    return web.Response(status=problem.status, headers=problem.headers,
                        text=json.dumps(problem.body(instance), ensure_ascii=False),
                        content_type=MEDIA_TYPE, charset="utf-8")
