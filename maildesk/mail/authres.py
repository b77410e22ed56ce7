"""Pure: read Authentication-Results (RFC 8601) and decide whether a domain passed.

The header is parsed by the `authres` package, which implements the RFC 8601 grammar
(quoted strings, nested comments, ptype.property pairs): splitting on ";" by hand lets a
quoted `reason="x; dkim=pass header.d=..."` pass for a verdict. A header that does not
parse counts for nothing.

Only the topmost header stamped by a trusted authserv-id counts: the desk's MX adds its
header on top and must remove any header arriving with its own authserv-id (RFC 8601
section 5), so anything lower down, or from another id, may be forged by the sender.
The policy is deliberately small: a pass of DKIM (header.d or header.i), SPF
(smtp.mailfrom) or DMARC (header.from) for exactly the From domain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import authres

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One method's verdict: dkim=pass header.d=example.com -> ("dkim", "pass", {...})."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        return next((value for key, value in self.properties if key == name), None)


@dataclass(frozen=True, slots=True)
class AuthResults:
    authserv_id: str
    results: tuple[AuthResult, ...] = ()


def parse(value: str) -> AuthResults | None:
    """One header value; None when it does not follow RFC 8601."""
    text = " ".join(value.replace("\r\n", " ").replace("\n", " ").split())
    try:
        header = authres.AuthenticationResultsHeader.parse_value(text)
    except (authres.AuthResError, ValueError, IndexError) as exc:
        log.info("authentication-results: unreadable header ignored: %s", exc)
        return None
    return AuthResults(
        authserv_id=str(header.authserv_id).lower(),
        results=tuple(_result(r) for r in header.results))


def _result(result: authres.AuthenticationResult) -> AuthResult:
    props = tuple((f"{p.type}.{p.name}".lower(), str(p.value).strip('"').lower())
                  for p in result.properties)
    return AuthResult(str(result.method).lower(), str(result.result).lower(), props)


def trusted_results(headers: Iterable[str], trusted_ids: Iterable[str]) -> AuthResults | None:
    """The topmost header (headers in mail order) whose authserv-id is trusted."""
    trusted = {i.lower() for i in trusted_ids}
    for value in headers:
        parsed = parse(value)
        if parsed is not None and parsed.authserv_id in trusted:
            return parsed
    return None


def _domain_of(value: str | None) -> str:
    return (value or "").rpartition("@")[2].lower()


def passes_for(results: AuthResults, domain: str) -> bool:
    """A pass aligned with `domain`: DKIM header.d/header.i, SPF mailfrom, DMARC header.from."""
    domain = domain.lower()
    for result in results.results:
        if result.result != "pass":
            continue
        if result.method == "dkim" and domain in (result.prop("header.d"),
                                                 _domain_of(result.prop("header.i")) or None):
            return True
        if result.method == "spf" and _domain_of(result.prop("smtp.mailfrom")) == domain:
            return True
        if result.method == "dmarc" and _domain_of(result.prop("header.from")) == domain:
            return True
    return False


def authenticated(headers: Iterable[str], trusted_ids: Iterable[str], domain: str) -> bool:
    """Whether the desk's own MX vouched for mail from `domain`."""
    results = trusted_results(headers, trusted_ids)
    return results is not None and passes_for(results, domain)
