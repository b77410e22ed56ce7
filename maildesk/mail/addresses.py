"""E-mail addresses as the desk compares them: one normal form, one "is this the desk?".

Every address the desk compares (envelope recipients, From/To/Cc, agents, contacts,
the desk's own) goes through `normalise_address`: surrounding space and angle brackets
dropped, lower-cased. RFC 5321 2.4 allows a host to treat local parts case-sensitively,
but no mail system in use does, and people type addresses in any case.

A desk address also stands for its sub-addresses (RFC 5233 `local+detail@domain`): the
desk hands out support+MD-1042@acme.example, and signed support+MD-1042.TOKEN@ reply
addresses to agents, and all of them must reach the desk and be known as the desk.
The desk's addresses are normalised once, when maildesk.toml is read
(config.model.DeskConfig); `is_desk_address` normalises both sides anyway, so a value
built elsewhere (a test, a default) can never make the comparison case-sensitive again.
"""

from __future__ import annotations

from collections.abc import Iterable


def normalise_address(address: str) -> str:
    """"<Support@Acme.Example> " -> "support@acme.example"."""
    return address.strip().strip("<>").strip().lower()


def split_detail(address: str) -> tuple[str, str]:
    """(base address, detail) of `address`, normalised: support+MD-7@x -> ("support@x", "md-7").

    The detail is "" when there is none; an address without "@" is its own base.
    """
    local, at, domain = normalise_address(address).rpartition("@")
    if not at:
        return domain, ""
    base, _, detail = local.partition("+")
    return f"{base}@{domain}", detail


def base_address(address: str) -> str:
    """support+MD-1042@Acme.example -> support@acme.example."""
    return split_detail(address)[0]


def is_desk_address(address: str, desk_addresses: Iterable[str]) -> bool:
    """True for one of the desk's addresses or a +detail form of one, in any case."""
    return base_address(address) in {base_address(a) for a in desk_addresses}


def desk_detail(address: str, desk_addresses: Iterable[str]) -> str:
    """The +detail of a desk address (support+MD-7.tok@ -> "md-7.tok"); "" for any other."""
    base, detail = split_detail(address)
    return detail if base in {base_address(a) for a in desk_addresses} else ""
