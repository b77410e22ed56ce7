"""The error hierarchy, translated once at each edge.

TemporaryFailure becomes SMTP 451, exit 75 (EX_TEMPFAIL) or a later retry;
PermanentFailure becomes SMTP 550 or quarantine; ConfigError names the file,
line and key an admin has to fix.
"""

from __future__ import annotations

from dataclasses import dataclass


class MaildeskError(Exception):
    """Base class of every error maildesk raises on purpose."""


class TemporaryFailure(MaildeskError):
    """Something outside maildesk is down (storage, relay); try again later."""


class PermanentFailure(MaildeskError):
    """This input will never succeed as it is (malformed mail, refused address)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file an admin edits, located for them."""

    path: str
    line: int | None
    key: str
    message: str
    column: int | None = None
    rule: str | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        who = f" rule '{self.rule}':" if self.rule else ""
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{who}{key} {self.message}"


class ConfigError(MaildeskError):
    """One or more problems in maildesk.toml, rules/ or templates/."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class TokenUnavailable(TemporaryFailure):
    """No OAuth2 access token for an account right now (its identity provider is
    unreachable, or refuses); that account waits, the others go on."""


class ReauthorizationNeeded(TokenUnavailable):
    """An OAuth2 account's refresh token was revoked or expired: an admin must run
    `maildesk auth login NAME` again. Mail waits meanwhile; nothing is dropped."""
