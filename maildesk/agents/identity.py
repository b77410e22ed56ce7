"""Pure: who wrote a mail that comes from an agent's address, and how sure the desk is.

A From header is trivial to forge, so an agent's address alone proves nothing. A mail
acts as the agent's only when
(a) it was sent to the signed reply address of a notification, support+MD-7.TOKEN@...,
    and the token verifies for that ticket and that agent (tokens.verify_agent_token), or
(b) the desk trusts Authentication-Results and the desk's own MX vouched for the agent's
    domain (authres.authenticated).
Otherwise it is "unverified": kept for review, never acted on. An agent marked
`active: false` in rules/team.yaml proves nothing, whatever the proof: deactivation
revokes at once, without waiting for the tokens to expire.

A token for the ref NEW (tokens.agent_intake_address) proves the agent but names no
ticket: it lets an agent open a ticket on a customer's behalf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from maildesk.agents.tokens import NEW_TICKET, address_token
from maildesk.mail.addresses import is_desk_address, normalise_address
from maildesk.rules.schema import Agent

Verify = Callable[[str, str, str], bool]  # (ref, agent e-mail, token) -> valid


class Proof(StrEnum):
    TOKEN = "token"
    AUTHENTICATION_RESULTS = "authentication-results"
    NONE = ""


@dataclass(frozen=True, slots=True)
class Identity:
    """An agent's mail: which agent, how it was proven, and the ticket a token named."""

    agent: Agent
    proof: Proof
    ref: str | None = None  # from a verified token: the ticket the mail acts on
    reason: str = ""  # why it was not proven, for the review flag

    @property
    def verified(self) -> bool:
        return self.proof is not Proof.NONE


def desk_tokens(recipients: Iterable[str],
                desk_addresses: Iterable[str]) -> list[tuple[str, str]]:
    """(ref, token) of every recipient that is local+REF.TOKEN@ on one of the desk's addresses."""
    desks = tuple(desk_addresses)
    found = []
    for address in recipients:
        parsed = address_token(address) if is_desk_address(address, desks) else None
        if parsed is not None:
            found.append(parsed)
    return list(dict.fromkeys(found))


def identify(agent: Agent, sender: str, recipients: Iterable[str],
             desk_addresses: Iterable[str], verify: Verify,
             authenticated: bool) -> Identity:
    """Decide how far mail from `sender` (one of `agent`'s addresses) may be trusted."""
    if not agent.active:
        return Identity(agent, Proof.NONE, reason="from a deactivated agent")
    tokens = desk_tokens(recipients, desk_addresses)
    candidates = dict.fromkeys([agent.email, normalise_address(sender)])
    for ref, token in tokens:
        if any(verify(ref, who, token) for who in candidates):
            return Identity(agent, Proof.TOKEN, ref=None if ref == NEW_TICKET else ref)
    if authenticated:
        return Identity(agent, Proof.AUTHENTICATION_RESULTS)
    reason = ("the reply-address token does not match this ticket and agent" if tokens
              else "from an agent's address without the signed reply address")
    return Identity(agent, Proof.NONE, reason=reason)
