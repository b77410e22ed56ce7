"""Pure: read Authentication-Results (RFC 8601) and decide whether a domain passed.

Only the topmost header stamped by a trusted authserv-id counts: the desk's MX adds its
header on top and must remove any header arriving with its own authserv-id (RFC 8601
section 5), so anything lower down, or from another id, may be forged by the sender.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_COMMENT = re.compile(r"\([^()]*\)")
_EQUALS = re.compile(r"\s*=\s*")


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


def _uncomment(value: str) -> str:
    """CFWS comments may nest; strip innermost ones until none is left."""
    previous = None
    while previous != value:
        previous, value = value, _COMMENT.sub("", value)
    return _EQUALS.sub("=", value)


def parse(value: str) -> AuthResults | None:
    """One header value; None when it has no authserv-id."""
    parts = [p.strip() for p in _uncomment(value.replace("\r\n", " ")).split(";")]
    head = parts[0].split()
    if not head:
        return None
    results = tuple(filter(None, (_result(p) for p in parts[1:])))
    return AuthResults(authserv_id=head[0].lower(), results=results)


def _result(text: str) -> AuthResult | None:
    tokens = text.split()
    if not tokens or "=" not in tokens[0]:
        return None  # "none", or junk
    method, _, result = tokens[0].partition("=")
    props = []
    for token in tokens[1:]:
        key, eq, val = token.partition("=")
        if eq and "." in key:
            props.append((key.lower(), val.strip('"').lower()))
    return AuthResult(method.split("/")[0].lower(), result.lower(), tuple(props))


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
    """dkim=pass signed by `domain` (header.d or header.i), or spf=pass for its mailfrom."""
    domain = domain.lower()
    for result in results.results:
        if result.result != "pass":
            continue
        if result.method == "dkim" and domain in (result.prop("header.d"),
                                                 _domain_of(result.prop("header.i")) or None):
            return True
        if result.method == "spf" and _domain_of(result.prop("smtp.mailfrom")) == domain:
            return True
    return False


def authenticated(headers: Iterable[str], trusted_ids: Iterable[str], domain: str) -> bool:
    """Whether the desk's own MX vouched for mail from `domain`."""
    results = trusted_results(headers, trusted_ids)
    return results is not None and passes_for(results, domain)
