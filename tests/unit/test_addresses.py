"""One normal form for addresses and one test of "is this the desk?", used by every stage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from maildesk.agents.identity import desk_tokens
from maildesk.config.model import load_config
from maildesk.intake import smtp
from maildesk.mail import loops
from maildesk.mail.addresses import (
    base_address,
    desk_detail,
    is_desk_address,
    normalise_address,
    split_detail,
)
from maildesk.pipeline.stages.agent import cc_customer
from maildesk.tickets.threader import Policy, address_refs
from maildesk.types import Address, ParsedMail

# As an admin may write them in maildesk.toml, not normalised.
WRITTEN = ("Support@Acme.example", "soporte+desk@ACME.example")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_normal_form() -> None:
    assert normalise_address(" <Support@Acme.Example> ") == "support@acme.example"
    assert split_detail("Support+MD-7.Tok@Acme.example") == ("support@acme.example", "md-7.tok")
    assert split_detail("support@acme.example") == ("support@acme.example", "")
    assert split_detail("nobody") == ("nobody", "")
    assert base_address('"a@b"+x@acme.example') == '"a@b"@acme.example'  # the last @ splits


@pytest.mark.parametrize("address", [
    "support@acme.example", "SUPPORT@ACME.EXAMPLE", "<Support+MD-1042@acme.example>",
    "support+md-7.abc@acme.example", "soporte@acme.example", "Soporte+Desk@Acme.Example",
    "soporte+x+y@acme.example",
])
def test_desk_addresses_in_any_case_and_with_a_detail(address: str) -> None:
    assert is_desk_address(address, WRITTEN)
    assert smtp.recipient_reply(address, WRITTEN) == smtp.RECIPIENT_OK
    assert loops.may_send_automatic(address, None, NOW, loops.RecentCounts(),
                                    loops.LoopLimits(desk_addresses=WRITTEN)) is not None


@pytest.mark.parametrize("address", [
    "support@evil.example", "other@acme.example", "support@acme.example.evil", "@acme.example",
    "support", "+x@acme.example", "", "supports@acme.example",
])
def test_other_addresses(address: str) -> None:
    assert not is_desk_address(address, WRITTEN)
    assert smtp.recipient_reply(address, WRITTEN) == smtp.NO_SUCH_RECIPIENT


def test_desk_detail_only_on_desk_addresses() -> None:
    assert desk_detail("SUPPORT+MD-9@acme.example", WRITTEN) == "md-9"
    assert desk_detail("other+MD-9@acme.example", WRITTEN) == ""
    assert desk_detail("support@acme.example", WRITTEN) == ""


def test_every_stage_agrees_on_the_written_spelling() -> None:
    """The threader, agent identity and agent stage once compared desk addresses each in
    their own way (only some lower-cased, only some knew +details)."""
    policy = Policy(prefix="MD", desk_addresses=WRITTEN)
    assert address_refs(["support+MD-1042@acme.example", "other+MD-9@acme.example"],
                        policy) == ["MD-1042"]
    assert desk_tokens(["Support+MD-7.abcdef@ACME.example"], WRITTEN) == [("MD-7", "abcdef")]
    copied = ParsedMail(None, "", None, to=(Address("support@acme.example"), Address("support+x@acme.example"),
                            Address("maria@cliente.example")))
    assert cc_customer(copied, WRITTEN, set()) == Address("maria@cliente.example")
    own = ParsedMail(None, "", Address("soporte@acme.example"))
    assert loops.is_own_mail(own, WRITTEN)


def test_config_normalises_the_desk_addresses_once(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    (tmp_path / "maildesk.toml").write_text(
        '[desk]\naddresses = [" Support@Acme.example", "<Soporte@ACME.example>"]\n')
    config = load_config(tmp_path / "maildesk.toml")
    assert config.desk.addresses == ("support@acme.example", "soporte@acme.example")
