"""Evaluation: every condition, every action, ordering across files and `stop`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from maildesk.rules import RuleContext, RuleSet, evaluate, fold, load_ruleset
from maildesk.types import Address, Assignment, Attachment, Decision, ParsedMail, TicketType

MONDAY_NOON = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # 12:00 in Madrid
SATURDAY_NIGHT = datetime(2024, 5, 11, 22, 30, tzinfo=UTC)  # 00:30 Sunday, Madrid
TEAM = """\
agents:
  - {name: Ana García, email: ana@example.com, language: es, tier: 1, teams: [l1]}
  - {name: Bruno Díaz, email: bruno@example.com, language: es, tier: 2, teams: [l2]}
teams:
  - {name: l1, tier: 1}
  - {name: l2, tier: 2}
"""


def mail(subject: str = "Hello", text: str = "", sender: str = "cliente@acme.es",
         **kw: object) -> ParsedMail:
    return ParsedMail(message_id="m@x", subject=subject, from_addr=Address(sender), text=text,
                      to=(Address("soporte@desk.example"),), **kw)  # type: ignore[arg-type]


def ctx(**kw: object) -> RuleContext:
    values: dict[str, object] = {"now": MONDAY_NOON, "timezone": "Europe/Madrid",
                                 "desk_addresses": ("soporte@desk.example",)}
    return RuleContext(**{**values, **kw})  # type: ignore[arg-type]


def rules(tmp_path: Path, files: dict[str, str]) -> RuleSet:
    directory = tmp_path / "rules"
    directory.mkdir(exist_ok=True)
    for name, text in {"team.yaml": TEAM, **files}.items():
        (directory / name).write_text(text, encoding="utf-8")
    return load_ruleset(directory)


def when(tmp_path: Path, condition: str) -> RuleSet:
    """A one-rule set: `condition` (YAML flow mapping) tags the mail 'hit'."""
    return rules(tmp_path, {"r.yaml": f"- name: r\n  when: {condition}\n  then: {{tags: [hit]}}\n"})


def hits(ruleset: RuleSet, message: ParsedMail, context: RuleContext | None = None) -> bool:
    return evaluate(ruleset, message, context or ctx()).tags == ("hit",)


# --- text ---------------------------------------------------------------------------------

def test_fold_removes_accents_and_case() -> None:
    assert fold("CAÍDO Ñandú ÉTÉ") == "caido nandu ete"
    assert fold("plain") == "plain"


@pytest.mark.parametrize(("needle", "subject"), [
    ("caído", "El servidor está CAIDO"), ("caido", "servidor caído"),
    ("no funciona", "El correo NO FUNCIONA"), ("petición", "Peticion de alta"),
])
def test_contains_is_case_and_accent_insensitive(tmp_path: Path, needle: str,
                                                 subject: str) -> None:
    assert hits(when(tmp_path, f'{{subject: {{contains: ["{needle}"]}}}}'), mail(subject))


def test_subject_shorthand_and_regex(tmp_path: Path) -> None:
    assert hits(when(tmp_path, "{subject: outage}"), mail("Major OUTAGE"))
    ruleset = when(tmp_path, '{subject: {regex: "^\\\\[ALERT\\\\]"}}')
    assert hits(ruleset, mail("[ALERT] disk"))
    assert not hits(ruleset, mail("Re: [ALERT] disk"))


def test_contains_and_regex_together_both_must_hold(tmp_path: Path) -> None:
    ruleset = when(tmp_path, '{body: {contains: [factura], regex: "\\\\d{6}"}}')
    assert hits(ruleset, mail(text="La factura 123456 no llega"))
    assert not hits(ruleset, mail(text="La factura no llega"))


def test_body_regex_sees_original_text(tmp_path: Path) -> None:
    ruleset = when(tmp_path, '{body: {regex: "(?i)servidor .* (ca[ií]do|down)"}}')
    assert hits(ruleset, mail(text="El Servidor de correo está caído"))
    assert not hits(ruleset, mail(text="el servidor funciona"))


# --- addresses ------------------------------------------------------------------------------

def test_from_address_domain_subdomain_and_list(tmp_path: Path) -> None:
    ruleset = when(tmp_path, "{from: [boss@big.example, acme.es]}")
    assert hits(ruleset, mail(sender="boss@big.example"))
    assert hits(ruleset, mail(sender="x@mail.acme.es"))
    assert not hits(ruleset, mail(sender="x@notacme.es"))
    assert not hits(ruleset, ParsedMail(message_id=None, subject="", from_addr=None))


def test_from_list_file(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "vip.txt").write_text("# vips\nceo@acme.example  # the boss\n@big.example\n")
    ruleset = when(tmp_path, "{from: {file: vip.txt}}")
    assert hits(ruleset, mail(sender="ceo@acme.example"))
    assert hits(ruleset, mail(sender="anyone@big.example"))
    assert not hits(ruleset, mail(sender="cto@acme.example"))
    assert str(tmp_path / "rules" / "vip.txt") in ruleset.files


def test_to_and_cc_desk_address(tmp_path: Path) -> None:
    ruleset = when(tmp_path, "{to: soporte@desk.example}")
    assert hits(ruleset, mail())
    cc = when(tmp_path, "{cc: facturas@desk.example}")
    assert not hits(cc, mail())
    assert hits(cc, mail(cc=(Address("FACTURAS@desk.example".lower()),)))


# --- headers, attachments -------------------------------------------------------------------

def test_header_exists_contains_regex(tmp_path: Path) -> None:
    message = mail(headers=(("x-priority", "1 (Highest)"), ("list-id", "<news.example>")))
    assert hits(when(tmp_path, "{header: {name: List-Id, exists: true}}"), message)
    assert not hits(when(tmp_path, "{header: {name: List-Id, exists: false}}"), message)
    assert hits(when(tmp_path, "{header: {name: X-Priority, contains: highest}}"), message)
    assert hits(when(tmp_path, '{header: {name: X-Priority, regex: "^1"}}'), message)
    assert not hits(when(tmp_path, "{header: {name: X-Mailer, contains: a}}"), message)


def test_attachments_by_type_name_and_presence(tmp_path: Path) -> None:
    pdf = Attachment("Factura-2024.PDF", "application/pdf", b"%PDF")
    png = Attachment("screen.png", "image/png", b"\x89PNG")
    assert hits(when(tmp_path, "{attachments: true}"), mail(attachments=(png,)))
    assert hits(when(tmp_path, "{attachments: false}"), mail())
    assert hits(when(tmp_path, '{attachments: {type: "image/*"}}'), mail(attachments=(pdf, png)))
    ruleset = when(tmp_path, '{attachments: {name: "*factura*.pdf", type: application/pdf}}')
    assert hits(ruleset, mail(attachments=(pdf,)))
    assert not hits(ruleset, mail(attachments=(png,)))


# --- customer, time, ticket -----------------------------------------------------------------

def test_customer_organisation_and_vip(tmp_path: Path) -> None:
    ruleset = when(tmp_path, "{customer: {organisation: [Compañía Acme, Globex]}}")
    assert hits(ruleset, mail(), ctx(customer_organisation="compania acme"))
    assert not hits(ruleset, mail(), ctx(customer_organisation=None))
    vip = when(tmp_path, "{customer: {vip: true}}")
    assert hits(vip, mail(), ctx(customer_vip=True))
    assert not hits(vip, mail())


def test_vip_list_from_customers_yaml(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, {"customers.yaml": "vip: [ceo@acme.es, big.example]\n",
                               "r.yaml": "- {name: r, when: {customer: {vip: true}}, "
                                         "then: {tags: [hit]}}\n"})
    assert hits(ruleset, mail(sender="ceo@acme.es"))
    assert hits(ruleset, mail(sender="x@big.example"))
    assert not hits(ruleset, mail(sender="x@acme.es"))


def test_time_business_hours_default_and_calendar(tmp_path: Path) -> None:
    office = when(tmp_path, "{time: {business_hours: true}}")
    assert hits(office, mail(), ctx(now=MONDAY_NOON))
    assert not hits(office, mail(), ctx(now=SATURDAY_NIGHT))
    seen = []

    def calendar(moment: datetime) -> bool:
        seen.append(moment)
        return True

    assert hits(office, mail(), ctx(now=SATURDAY_NIGHT, in_business_hours=calendar))
    assert seen == [SATURDAY_NIGHT]


def test_time_weekdays_and_hours_in_desk_timezone(tmp_path: Path) -> None:
    sunday = when(tmp_path, "{time: {weekdays: [sun]}}")
    assert hits(sunday, mail(), ctx(now=SATURDAY_NIGHT))  # Sunday 00:30 in Madrid
    assert not hits(sunday, mail(), ctx(now=SATURDAY_NIGHT, timezone="UTC"))
    night = when(tmp_path, '{time: {hours: "22:00-06:00"}}')
    assert hits(night, mail(), ctx(now=SATURDAY_NIGHT))
    assert not hits(night, mail(), ctx(now=MONDAY_NOON))


def test_ticket_new_or_follow_up(tmp_path: Path) -> None:
    follow = when(tmp_path, "{ticket: follow-up}")
    assert hits(follow, mail(), ctx(is_follow_up=True))
    assert not hits(follow, mail())
    assert hits(when(tmp_path, "{ticket: new}"), mail())


# --- combinators -----------------------------------------------------------------------------

def test_all_any_not_and_implicit_all(tmp_path: Path) -> None:
    ruleset = when(tmp_path, "{all: [{subject: a}, {any: [{body: x}, {body: y}]}], "
                             "not: {from: spam.example}}")
    assert hits(ruleset, mail("a", "y"))
    assert not hits(ruleset, mail("a", "z"))
    assert not hits(ruleset, mail("a", "x", sender="s@spam.example"))
    assert hits(when(tmp_path, "{}"), mail())


def test_hit_lists_matched_conditions(tmp_path: Path) -> None:
    ruleset = when(tmp_path, "{any: [{subject: caído}, {body: servidor}], not: {ticket: follow-up}}")
    (hit,) = evaluate(ruleset, mail("Web CAIDO", "el servidor"), ctx()).hits
    assert hit.matched == ('subject contains "caído"', 'body contains "servidor"',
                           "not (ticket: follow-up)")
    assert (hit.rule, hit.file, hit.line) == ("r", "r.yaml", 1)
    assert hit.actions == ("tag+=hit",)


# --- actions, ordering, stop ----------------------------------------------------------------

ALL_ACTIONS = """\
- name: everything
  when: {}
  then:
    type: request
    impact: low
    queue: q1
    tags: [a, b]
    assign: {agent: ana@example.com}
    watchers: [bruno@example.com, boss@acme.es]
    ack_template: ack-es
    language: es
    escalate: true
    sla: gold
"""


def test_every_action(tmp_path: Path) -> None:
    decision = evaluate(rules(tmp_path, {"a.yaml": ALL_ACTIONS}), mail(), ctx())
    assert decision == Decision(
        type=TicketType.REQUEST, impact="low", priority="P4", queue="q1", tags=("a", "b"),
        assign=Assignment(agent="ana@example.com"), watchers=("bruno@example.com",
                                                               "boss@acme.es"),
        ack_template="ack-es", language="es", escalate=True, sla="gold",
        hits=decision.hits)


def test_spam_means_no_acknowledgement(tmp_path: Path) -> None:
    decision = evaluate(rules(tmp_path, {"a.yaml": "- {name: s, when: {}, then: {spam: true}}\n"}),
                        mail(), ctx())
    assert decision.spam and decision.ack_template == "none"


def test_later_rules_override_tags_accumulate_stop_ends(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, {
        "10-a.yaml": "- {name: a1, when: {}, then: {queue: one, tags: [x], priority: P4}}\n"
                     "- {name: a2, when: {subject: nope}, then: {queue: never}}\n",
        "20-b.yaml": "- {name: b1, when: {}, then: {queue: two, tags: [y, x]}, stop: true}\n",
        "30-c.yaml": "- {name: c1, when: {}, then: {queue: three}}\n"})
    decision = evaluate(ruleset, mail(), ctx())
    assert [hit.rule for hit in decision.hits] == ["a1", "b1"]
    assert (decision.queue, decision.tags, decision.priority) == ("two", ("x", "y"), "P4")
    assert decision.hits[1].actions[-1] == "stop"


def test_stop_inside_then(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, {"a.yaml": "- {name: a, when: {}, then: {queue: a, stop: true}}\n"
                                         "- {name: b, when: {}, then: {queue: b}}\n"})
    assert evaluate(ruleset, mail(), ctx()).queue == "a"


def test_impact_urgency_matrix_with_defaults_and_custom_file(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, {
        "a.yaml": "- {name: a, when: {}, then: {impact: high}}\n"
                  "- {name: b, when: {subject: urgent}, then: {urgency: high}}\n"})
    assert evaluate(ruleset, mail(), ctx()).priority == "P2"  # high × default medium
    assert evaluate(ruleset, mail("urgent"), ctx()).priority == "P1"
    custom = rules(tmp_path, {"priority.yaml": "levels: [S1, S2]\ndefault: {impact: big, "
                              "urgency: now}\nmatrix:\n  big: {now: S1, later: S2}\n"
                              "  small: {now: S2, later: S2}\n",
                              "a.yaml": "- {name: a, when: {}, then: {impact: small}}\n"
                                        "- {name: b, when: {}, then: {urgency: later}}\n"})
    decision = evaluate(custom, mail(), ctx())
    assert (decision.impact, decision.urgency, decision.priority) == ("small", "later", "S2")


def test_no_match_gives_empty_decision(tmp_path: Path) -> None:
    assert evaluate(when(tmp_path, "{subject: zzz}"), mail(), ctx()) == Decision()


# --- the canonical outage rule --------------------------------------------------------------

OUTAGES = (Path(__file__).resolve().parents[2] / "rules/50-outages.yaml")


@pytest.mark.parametrize(("subject", "text"), [
    ("Servidor caido", ""), ("OUTAGE in eu-west", ""), ("el portal no funciona", ""),
    ("ayuda", "Hola, el servidor de ficheros está caído desde las 9"),
    ("help", "our Servidor principal is down"),
])
def test_outage_rule(tmp_path: Path, subject: str, text: str) -> None:
    ruleset = rules(tmp_path, {"50-outages.yaml": OUTAGES.read_text(encoding="utf-8"),
                               "90-late.yaml": "- {name: late, when: {}, then: {queue: x}}\n"})
    decision = evaluate(ruleset, mail(subject, text), ctx())
    assert (decision.type, decision.priority, decision.queue) == (
        TicketType.INCIDENT, "P1", "infrastructure")
    assert decision.tags == ("outage",)
    assert decision.assign == Assignment(team="l2", strategy="least-open")
    assert [hit.rule for hit in decision.hits] == ["outages are urgent incidents"]


def test_outage_rule_ignores_ordinary_mail(tmp_path: Path) -> None:
    ruleset = rules(tmp_path, {"50-outages.yaml": OUTAGES.read_text(encoding="utf-8")})
    assert evaluate(ruleset, mail("Pregunta", "¿Cómo cambio mi contraseña?"), ctx()).hits == ()
