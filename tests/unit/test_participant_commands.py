"""Participants, the pure parts: #cc / #copia, their wording, the config section."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildesk.agents.commands import describe, interpret
from maildesk.agents.wording import translate
from maildesk.cli.tickets import delivery_lines, participant_lines
from maildesk.config.model import load_config
from maildesk.errors import ConfigError
from maildesk.rules import RuleSet
from maildesk.tickets.participants import of_mail
from maildesk.types import Address


@pytest.mark.parametrize("line", ["#cc add luis@x.example", "#copia añadir luis@x.example",
                                  "#CC Add Luis <Luis@X.example>", "#copia agregar luis@x.example"])
def test_cc_add_in_both_languages(line: str) -> None:
    block, plan = interpret(f"{line}\n\nHello", RuleSet())
    assert plan.errors == () and [a.email for a in plan.cc_add] == ["luis@x.example"]
    assert block.body == "Hello" and plan.changes_something


def test_cc_remove_several_and_describe() -> None:
    _block, plan = interpret("#copia quitar a@x.example, b@y.example\n#cc add c@z.example",
                             RuleSet())
    assert plan.cc_remove == ("a@x.example", "b@y.example")
    lines = describe(plan)
    assert "participant removed: b@y.example" in lines
    assert translate("participant added: c@z.example", "es") == \
        "participante añadido: c@z.example"


@pytest.mark.parametrize("text, error", [
    ("#cc luis@x.example", "#cc luis@x.example: use #cc add ADDRESS or #cc remove ADDRESS"),
    ("#cc add", "#cc add: use #cc add ADDRESS or #cc remove ADDRESS"),
    ("#cc add luis", "#cc add luis: not an e-mail address: luis"),
    ("#cc add a@x.example\n#cc remove a@x.example", "#cc a@x.example: both added and removed"),
])
def test_cc_errors_reject_the_mail(text: str, error: str) -> None:
    _block, plan = interpret(text, RuleSet())
    assert plan.errors == (error,)
    assert translate(error, "es") != error  # every error reads in Spanish too


def test_check_errors_read_in_spanish() -> None:
    assert translate("#cc remove a@x.example: a@x.example is not a participant", "es") == \
        "#cc remove a@x.example: a@x.example no participa en esta solicitud"
    assert "es un agente" in translate("#cc add ana@e.example: ana@e.example is an agent", "es")


def test_people_of_a_mail_once_each() -> None:
    people = of_mail((Address("a@x.example", "A"),), (Address("A@X.example"), Address("b@y.example")),
                     Address("c@z.example", "C"))
    assert [p.email for p in people] == ["c@z.example", "a@x.example", "b@y.example"]


def test_show_lines() -> None:
    people = [{"email": "a@x.example", "name": "Ana", "source": "mail", "active": True},
              {"email": "b@x.example", "name": "", "source": "agent", "active": False,
               "removed_by": "ana@example.com"}]
    assert participant_lines(people) == [
        "participant       Ana <a@x.example>  [mail]",
        "participant       b@x.example  [agent]  (removed by ana@example.com)"]
    assert delivery_lines([{"role": "cc", "address": "b@x.example", "state": "bounced",
                            "error": "5.1.1 unknown"}]) == ["cc b@x.example: bounced (5.1.1 unknown)"]


def test_config_section(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    path = tmp_path / "maildesk.toml"
    path.write_text('[participants]\ncc_on_answers = false\nmax_participants = 3\n'
                    'excluded_domains = ["Lists.Example"]\n')
    settings = load_config(path).participants
    assert (settings.cc_on_answers, settings.max_participants, settings.excluded_domains) == \
        (False, 3, ("lists.example",))
    path.write_text('[participants]\nmax_participants = -1\nexcluded_domains = ["a@b.c"]\n'
                    'copy = true\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    assert "max_participants" in text and "excluded_domains" in text and "copy" in text
