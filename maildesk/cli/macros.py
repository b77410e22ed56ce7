"""`maildesk macros list|show NAME`: the saved answers agents insert with `#macro NAME`."""

from __future__ import annotations

import argparse
import sys

from maildesk.agents.macros import SAMPLE, book_for, render
from maildesk.cli.common import config_from, print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("macros", help="list and show macros (templates/<lang>/macros/)")
    actions = parser.add_subparsers(dest="macros_command", required=True)
    ls = actions.add_parser("list", help="every macro, its languages and commands")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="a macro's commands and text, rendered with samples")
    show.add_argument("name")
    show.add_argument("--lang", help="en or es (default: every language it has)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)


def _commands(macro) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"#{c.name} {c.argument}".strip() for c in macro.commands]


def run_list(args: argparse.Namespace) -> int:
    book = book_for(config_from(args))
    rows = [{"name": name, "languages": book.languages(name),
             "commands": _commands(book.macros[(book.languages(name)[0], name)]),
             "path": str(book.macros[(book.languages(name)[0], name)].path)}
            for name in book.names()]
    for problem in book.problems:
        print(problem, file=sys.stderr)
    if args.json:
        print_json(rows)
    else:
        print_table(["name", "languages", "commands"],
                    [[r["name"], ", ".join(r["languages"]), "; ".join(r["commands"])]
                     for r in rows])
    return 1 if book.problems else 0


def run_show(args: argparse.Namespace) -> int:
    book = book_for(config_from(args))
    name = args.name.strip().lower().removeprefix("#macro ").strip()
    languages = [args.lang] if args.lang else book.languages(name)
    found = [book.macros[(lang, name)] for lang in languages if (lang, name) in book.macros]
    if not found:
        print(f"no macro {name!r} (macros: {', '.join(book.names()) or 'none'})",
              file=sys.stderr)
        return 1
    try:
        shown = [{"name": m.name, "language": m.language, "path": str(m.path),
                  "commands": _commands(m), "text": render(m, SAMPLE)} for m in found]
    except Exception as exc:  # a broken macro: say why, as `maildesk check` would
        print(f"macro {name}: cannot render: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(shown)
        return 0
    for item in shown:
        print(f"{item['name']} [{item['language']}]  {item['path']}")
        for line in item["commands"]:
            print(f"  {line}")
        print("\n" + str(item["text"]) + "\n")
    return 0
