"""The template store: shipped templates, sandbox, escaping, reload and error positions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maildesk.outbox.context import BUILTIN_TEMPLATES, AckContext, UpdateContext, samples
from maildesk.outbox.templates import TemplateRenderError, TemplateStore

ROOT = Path(__file__).resolve().parents[2]
GLOBALS = {"desk_name": "Acme Support", "desk_address": "support@acme.example"}


def store_for(root: Path, default: str = "en", shipped: bool = False) -> TemplateStore:
    """A store over `root` alone unless `shipped`: most tests look at one folder."""
    return TemplateStore(root, default, GLOBALS, shipped=shipped)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", root)
    return root


def test_shipped_templates_compile_and_render() -> None:
    store = store_for(ROOT / "templates")
    assert store.load() == []
    assert BUILTIN_TEMPLATES <= store.names()  # admins and rules may add more
    for name in BUILTIN_TEMPLATES:
        assert set(store.languages(name)) == {"en", "es"}
    assert store.check(samples()) == []


def test_spanish_uses_usted_and_update_is_signed() -> None:
    store = store_for(ROOT / "templates")
    store.load()
    context = UpdateContext("MD-1042", "Impresora", "Reinicie la impresora.", "Ana", "María",
                            "resolved")
    subject, text, html = store.render("update", "es", context)
    assert subject == "Re: Impresora"
    assert "Ana — Acme Support" in text and html and "Ana — Acme Support" in html
    assert "responda a este mensaje" in flat(text) and "reabriremos" in text
    assert "un número del 1 al 5" in flat(store.render("closure", "es", samples()["closure"])[1])
    english = flat(store.render("closure", "en", samples()["closure"])[1])
    assert "reply to this message with a number from 1 to 5" in english


def test_language_falls_back_to_desk_default_then_english(copy: Path) -> None:
    shutil.rmtree(copy / "es")
    (copy / "es").mkdir()
    store = store_for(copy, default="es")
    store.load()
    subject, _, _ = store.render("ack", "es", samples()["ack"])
    assert subject.startswith("We received your request")


@pytest.mark.parametrize("evil", [
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "Hello\r\nBcc: victim@example.com",
    "{% raw %}x{% endraw %}",
])
def test_customer_input_never_injects(evil: str) -> None:
    store = store_for(ROOT / "templates")
    store.load()
    context = AckContext("MD-1042", evil, "María", summary=evil)
    subject, text, html = store.render("ack", "en", context)
    assert "\r" not in subject and "\n" not in subject
    assert "<script>" not in (html or "")
    assert "49" not in subject and "49" not in text
    if "{{" in evil:
        assert "{{ 7*7 }}" in subject  # shown literally, never evaluated
    if "<script>" in evil:
        assert "&lt;script&gt;" in (html or "") and "<script>" in text  # text stays text


def test_sandbox_blocks_internals(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "evil.txt.j2").write_text(
        "{% block subject %}x{% endblock %}{% block body %}"
        "{{ ''.__class__.__mro__[1].__subclasses__() }}{% endblock %}")
    store = store_for(tmp_path)
    assert store.load() == []
    with pytest.raises(TemplateRenderError):
        store.render("evil", "en", {})


def test_undefined_variable_is_an_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "ack.txt.j2").write_text(
        "{% block subject %}Hi{% endblock %}\n{% block body %}\nline 3\n{{ ticket_reff }}\n"
        "{% endblock %}\n")
    store = store_for(tmp_path)
    assert store.load() == []
    with pytest.raises(TemplateRenderError, match="ticket_reff"):
        store.render("ack", "en", samples()["ack"])
    [problem] = store.check(samples())
    assert problem.key == "ack" and problem.line == 4 and "ticket_reff" in problem.message
    assert problem.path.endswith("en/ack.txt.j2")


def test_syntax_error_gives_file_and_line_and_keeps_last_good(copy: Path) -> None:
    store = store_for(copy)
    assert store.load() == []
    good = store.render("ack", "en", samples()["ack"])
    path = copy / "en" / "ack.txt.j2"
    lines = path.read_text().splitlines()
    lines[4] = "{% if broken %}"  # never closed
    path.write_text("\n".join(lines) + "\n")
    problems = store.load()
    assert len(problems) == 1
    problem = problems[0]
    assert problem.path == str(path) and problem.key == "ack" and problem.line is not None
    assert f"{path}:{problem.line}: ack:" in str(problem)
    assert store.render("ack", "en", samples()["ack"]) == good  # last good keeps serving
    assert store.render("update", "en", samples()["update"])[0].startswith("Re:")


def test_broken_template_on_first_load_is_missing_not_fatal(copy: Path) -> None:
    (copy / "en" / "ack.html.j2").write_text("<p>{{ subject </p>\n")
    store = store_for(copy, default="es")
    [problem] = store.load()
    assert problem.path.endswith("ack.html.j2") and problem.line == 1
    assert "ack" in store.names()  # Spanish still there
    assert store.render("ack", "en", samples()["ack"])[0].startswith("Hemos recibido")


def test_a_desk_overrides_shipped_templates_one_by_one(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "ack.txt.j2").write_text(
        "{% block subject %}Got it: {{ subject }}{% endblock %}{% block body %}Ours."
        "{% endblock %}")
    store = store_for(tmp_path, shipped=True)
    assert store.load() == []
    assert BUILTIN_TEMPLATES <= store.names()
    subject, text, html = store.render("ack", "en", samples()["ack"])
    assert subject.startswith("Got it:") and text == "Ours.\n" and html is None
    assert store.render("ack", "es", samples()["ack"])[0].startswith("Hemos recibido")
    assert store.render("closure", "en", samples()["closure"])[0]  # shipped, not overridden
    assert store.check(samples()) == []


def test_a_broken_override_reports_and_the_shipped_one_serves(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "ack.txt.j2").write_text("{% block subject %}{{ x {% endblock %}\n")
    store = store_for(tmp_path, shipped=True)
    [problem] = store.load()
    assert problem.path == str(tmp_path / "en" / "ack.txt.j2")
    assert store.render("ack", "en", samples()["ack"])[0].startswith("We received")


def test_missing_subject_block_is_reported(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "x.txt.j2").write_text("Hello\n")
    [problem] = store_for(tmp_path).load()
    assert "block subject" in problem.message and problem.key == "x"


def test_unknown_template_raises() -> None:
    store = store_for(ROOT / "templates")
    store.load()
    with pytest.raises(TemplateRenderError):
        store.render("nope", "en", {})


@pytest.mark.parametrize(("language", "warning", "said"), [
    ("en", "WARNING: Eve <eve@x.example> is not a party", "Eve <eve@x.example> replied"),
    ("es", "AVISO: Eve <eve@x.example> no es parte", "Eve <eve@x.example> ha respondido")])
def test_notification_names_an_outsider_and_warns(language: str, warning: str,
                                                  said: str) -> None:
    from dataclasses import replace

    store = store_for(ROOT / "templates")
    assert store.load() == []
    sample = samples()["notify_agent"]
    _, text, html = store.render("notify_agent", language, replace(
        sample, event="reply", author="Eve <eve@x.example>", outsider=True))
    assert warning in flat(text) and said in flat(text)
    assert "&lt;eve@x.example&gt;" in html
    _, plain, _ = store.render("notify_agent", language, replace(sample, event="reply"))
    assert "eve@x.example" not in plain


@pytest.mark.parametrize("language", ["en", "es"])
def test_ack_without_quote_says_what_was_received(language: str) -> None:
    store = store_for(ROOT / "templates")
    assert store.load() == []
    context = AckContext("MD-7", "Order 12", received_at="Monday 4 March, 09:12")
    _, text, html = store.render("ack", language, context)
    label = "Received:" if language == "en" else "Recibida:"
    assert f"{label} Monday 4 March, 09:12" in text and label in html
    assert "MD-7" in text and "Order 12" in text
