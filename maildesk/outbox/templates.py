"""Sandboxed Jinja2 templates for the mail the desk sends; keeps the last good version.

Layout: `templates/<lang>/<name>.txt.j2` (required) and `templates/<lang>/<name>.html.j2`
(optional) for lang in `maildesk.config.LANGUAGES`. The templates shipped with maildesk
are loaded first and a desk's own folder overrides them one (language, name) at a time,
so a desk only keeps the templates it changed; one that it lacks is the shipped one.

The subject lives in the text template, in `{% block subject %}...{% endblock %}`, and the
body in `{% block body %}...{% endblock %}`. Blocks, not a "Subject:" first line, because a
block is rendered on its own: a customer subject carrying a newline cannot push text from
the subject into the body or the other way round. CR, LF and other control characters are
removed from the rendered subject so that it can never inject a header. The HTML template is
rendered whole. Top-level `{% set %}` outside the blocks is not seen by the blocks; use
`{% macro %}` inside a block or pass values in the context.

Templates are admin-edited files, so they run in `ImmutableSandboxedEnvironment` (no access
to internals, no mutating the context), with `StrictUndefined` (a misspelt variable is an
error, not an empty string) and autoescape for `.html.j2` only.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from maildesk.config.examples import templates_dir
from maildesk.config.model import LANGUAGES
from maildesk.errors import PermanentFailure, Problem

log = logging.getLogger(__name__)

TEXT_SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


class TemplateRenderError(PermanentFailure):
    """A template failed while rendering (undefined variable, sandbox violation)."""


@dataclass(frozen=True, slots=True)
class _Pair:
    text: Template
    html: Template | None
    folder: Path  # the language folder it came from, for error positions


def clean_subject(value: str) -> str:
    """One line: control characters (CR, LF, TAB, ...) become a space, runs collapse."""
    return " ".join(CONTROL.sub(" ", value).split())


def context_dict(context: Any) -> dict[str, Any]:
    """A dataclass context becomes a dict of its fields (shallow); a Mapping is copied."""
    if dataclasses.is_dataclass(context) and not isinstance(context, type):
        return {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    if isinstance(context, Mapping):
        return dict(context)
    raise TypeError(f"template context must be a dataclass or a mapping, not {type(context)}")


def paragraphs(value: str) -> Markup:
    """Plain text -> escaped HTML paragraphs: blank lines split <p>, single newlines <br>."""
    blocks = [b for b in re.split(r"\n\s*\n", str(value).replace("\r\n", "\n")) if b.strip()]
    html = "".join(
        Markup("<p>{}</p>\n").format(Markup("<br>\n").join(escape(b.strip()).split("\n")))
        for b in blocks
    )
    return Markup(html)


def make_environment(root: Path, globals_: Mapping[str, Any] | None = None
                     ) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["paragraphs"] = paragraphs
    env.globals.update(globals_ or {})
    return env


class TemplateStore:
    """All templates, compiled once; `load()` again to pick up edits.

    A template that fails to compile on reload is reported and its previous compiled
    version keeps serving, so one typo in an edited file never stops the desk's mail.
    """

    def __init__(self, root: Path, default_language: str = "en",
                 globals_: Mapping[str, Any] | None = None, shipped: bool = True,
                 under: tuple[Path, ...] = ()) -> None:
        self.root = Path(root)
        self.default_language = default_language
        self.env = make_environment(self.root, globals_)
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self.folders = self._folders(shipped, under)

    def _folders(self, shipped: bool, under: tuple[Path, ...]) -> tuple[Path, ...]:
        """The shipped templates first (unless unwanted or the same folder), then `under`
        (a brand's store lays its folder over the desk's), then the root."""
        packaged = templates_dir()
        layers = tuple(f for f in under if f.resolve() != self.root.resolve())
        if not shipped or not packaged.is_dir() or packaged.resolve() == self.root.resolve():
            return (*layers, self.root)
        return (packaged, *layers, self.root)

    def load(self) -> list[Problem]:
        """(Re)compile every template; return the problems found (empty when all good)."""
        problems: list[Problem] = []
        fresh: dict[tuple[str, str], _Pair] = {}
        for folder in self.folders:
            for lang in LANGUAGES:
                for text_path in sorted((folder / lang).glob(f"*{TEXT_SUFFIX}")):
                    self._load_one(lang, text_path, fresh, problems)
        self._pairs = fresh
        return problems

    def _load_one(self, lang: str, text_path: Path, fresh: dict[tuple[str, str], _Pair],
                  problems: list[Problem]) -> None:
        """Compile one template into `fresh`; a broken one leaves the last good version."""
        name = text_path.name.removesuffix(TEXT_SUFFIX)
        pair = self._compile_pair(lang, name, text_path, problems)
        if pair is None and (lang, name) in self._pairs:
            pair = self._pairs[(lang, name)]
            log.warning("template %s/%s is broken; keeping the last good version", lang, name)
        if pair is not None:
            fresh[(lang, name)] = pair

    def _compile_pair(self, lang: str, name: str, text_path: Path,
                      problems: list[Problem]) -> _Pair | None:
        text = self._compile(text_path, name, problems)
        html_path = text_path.with_name(name + HTML_SUFFIX)
        html = self._compile(html_path, name, problems) if html_path.exists() else None
        if text is not None and "subject" not in text.blocks:
            problems.append(Problem(str(text_path), 1, name,
                                    "missing {% block subject %}...{% endblock %}"))
            return None
        if text is None or (html_path.exists() and html is None):
            return None
        return _Pair(text, html, text_path.parent)

    def _compile(self, path: Path, name: str, problems: list[Problem]) -> Template | None:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), None, name, f"cannot read: {exc}"))
            return None
        try:
            code = self.env.compile(source, name=f"{path.parent.name}/{path.name}",
                                    filename=str(path))
        except TemplateSyntaxError as exc:
            problems.append(Problem(str(path), exc.lineno, name, exc.message or str(exc)))
            return None
        return self.env.template_class.from_code(self.env, code, self.env.make_globals(None))

    def names(self) -> frozenset[str]:
        """Template names available in at least one language (for the rules validator)."""
        return frozenset(name for _, name in self._pairs)

    def languages(self, name: str) -> tuple[str, ...]:
        return tuple(lang for lang, n in self._pairs if n == name)

    def has(self, name: str) -> bool:
        return name in self.names()

    def _pick(self, name: str, lang: str | None) -> tuple[str, _Pair]:
        for candidate in (lang, self.default_language, "en"):
            if candidate and (candidate, name) in self._pairs:
                return candidate, self._pairs[(candidate, name)]
        raise TemplateRenderError(f"no template named {name!r} in any language")

    def render(self, name: str, lang: str | None, context: Any) -> tuple[str, str, str | None]:
        """(subject, text, html) for `name` in `lang`, else the desk language, else en."""
        used, pair = self._pick(name, lang)
        values = context_dict(context)
        try:
            try:
                subject, text, html = self._render_pair(pair, values)
            except Exception:
                self.env.handle_exception()  # rewrites the traceback to template lines
        except Exception as exc:
            raise TemplateRenderError(f"template {used}/{name}: {exc}") from exc
        return subject, text.strip() + "\n", html

    @staticmethod
    def _render_pair(pair: _Pair, values: dict[str, Any]) -> tuple[str, str, str | None]:
        text_template = pair.text
        subject = "".join(text_template.blocks["subject"](text_template.new_context(values)))
        if "body" in text_template.blocks:
            text = "".join(text_template.blocks["body"](text_template.new_context(values)))
        else:
            text = text_template.render(values)
        html = pair.html.render(values) if pair.html is not None else None
        return clean_subject(subject), text, html

    def check(self, samples: Mapping[str, Any]) -> list[Problem]:
        """Render every template that has a sample context; report failures with a line.

        StrictUndefined only fails at render time, so `maildesk check` renders each
        template once with a sample context to find misspelt variables before a customer
        would.
        """
        problems: list[Problem] = []
        for lang, name in sorted(self._pairs):
            if name not in samples:
                continue
            try:
                self.render(name, lang, samples[name])
            except TemplateRenderError as exc:
                folder = self._pairs[(lang, name)].folder
                path, line = _template_position(exc.__cause__, folder)
                problems.append(Problem(path or str(folder / (name + TEXT_SUFFIX)),
                                        line, name, str(exc.__cause__)))
        return problems


def _template_position(exc: BaseException | None, folder: Path) -> tuple[str | None, int | None]:
    """The innermost traceback frame inside a template file (Jinja rewrites frames so)."""
    found: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(str(folder)):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
