"""`maildesk kb list|show|publish|edit|search`: review and publish knowledge-base articles."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from sqlalchemy.orm import Session

from maildesk.cli.common import desk_from, print_json, print_table
from maildesk.kb import articles as kb
from maildesk.store.models import Article

SEPARATOR = "\n\n# ---- solution (everything below this line) ----\n"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("kb", help="knowledge base: list, show, publish, edit, search")
    actions = parser.add_subparsers(dest="kb_command", required=True)
    ls = actions.add_parser("list", help="list articles")
    ls.add_argument("--state", choices=kb.STATES)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="show one article")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    publish = actions.add_parser("publish", help="publish a draft so it can be suggested")
    publish.add_argument("id", type=int)
    publish.set_defaults(handler=run_publish)
    edit = actions.add_parser("edit", help="edit an article (no options: open $EDITOR)")
    edit.add_argument("id", type=int)
    edit.add_argument("--title")
    edit.add_argument("--solution-file", type=Path, help="new solution text ('-' for stdin)")
    edit.add_argument("--tags", help="comma-separated tags, replacing the old ones")
    edit.set_defaults(handler=run_edit)
    search = actions.add_parser("search", help="full-text search")
    search.add_argument("query", nargs="+")
    search.add_argument("--language", choices=("en", "es"))
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--all", action="store_true", help="include drafts")
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=run_search)


def _view(article: Article) -> dict[str, object]:
    return {"id": article.id, "state": article.state, "language": article.language,
            "title": article.title, "tags": article.tags, "problem": article.problem,
            "solution": article.solution, "source_ticket_id": article.source_ticket_id,
            "created_at": article.created_at, "updated_at": article.updated_at}


def _get(session: Session, article_id: int) -> Article | None:
    article = session.get(Article, article_id)
    if article is None:
        print(f"no article {article_id}", file=sys.stderr)
    return article


def run_list(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        rows = [_view(a) for a in kb.list_articles(session, args.state)]
    if args.json:
        print_json(rows)
    else:
        print_table(["id", "state", "lang", "title", "tags"],
                    [[r["id"], r["state"], r["language"], r["title"],
                      ", ".join(r["tags"] or [])] for r in rows])  # type: ignore[arg-type]
    return 0


def run_show(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        article = _get(session, args.id)
        if article is None:
            return 1
        view = _view(article)
    if args.json:
        print_json(view)
        return 0
    print(f"#{view['id']}  {view['title']}\n  state {view['state']}, language "
          f"{view['language']}, tags {', '.join(view['tags'] or []) or '-'}")  # type: ignore[arg-type]
    print(f"\nProblem:\n{view['problem']}\n\nSolution:\n{view['solution']}")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions.begin() as session:
        article = _get(session, args.id)
        if article is None:
            return 1
        kb.publish(session, article, desk.clock())
    print(f"article {args.id} published")
    return 0


def run_edit(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions.begin() as session:
        article = _get(session, args.id)
        if article is None:
            return 1
        if args.title is None and args.solution_file is None and args.tags is None:
            changes = _edit_in_editor(article)
        else:
            changes = _edit_from_options(args)
        if changes is None:
            print("no changes", file=sys.stderr)
            return 1
        kb.edit(session, article, desk.clock(), **changes)  # type: ignore[arg-type]
    print(f"article {args.id} updated")
    return 0


def _edit_from_options(args: argparse.Namespace) -> dict[str, object]:
    changes: dict[str, object] = {}
    if args.title is not None:
        changes["title"] = args.title
    if args.solution_file is not None:
        path = args.solution_file
        changes["solution"] = sys.stdin.read() if str(path) == "-" else path.read_text("utf-8")
    if args.tags is not None:
        changes["tags"] = args.tags.split(",")
    return changes


def editor_text(article: Article) -> str:
    """The temp-file layout: title, tags, then the solution below a marker line."""
    return (f"Title: {article.title}\nTags: {', '.join(article.tags or [])}\n"
            f"{SEPARATOR}{article.solution}\n")


def parse_editor_text(value: str) -> dict[str, object]:
    head, _, solution = value.partition(SEPARATOR.strip("\n"))
    changes: dict[str, object] = {"solution": solution.strip("\n")}
    for line in head.splitlines():
        key, _, rest = line.partition(":")
        if key.strip().lower() == "title":
            changes["title"] = rest.strip()
        elif key.strip().lower() == "tags":
            changes["tags"] = rest.split(",")
    return changes


def _edit_in_editor(article: Article) -> dict[str, object] | None:
    """Open $VISUAL/$EDITOR on a temp file; None when the file comes back unchanged."""
    before = editor_text(article)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix=f"kb-{article.id}-",
                                     delete=False, encoding="utf-8") as handle:
        handle.write(before)
    path = Path(handle.name)
    try:
        subprocess.run([*shlex.split(editor), str(path)], check=True)
        after = path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)
    return None if after == before else parse_editor_text(after)


def run_search(args: argparse.Namespace) -> int:
    desk = desk_from(args, lenient=True)
    with desk.sessions() as session:
        hits = kb.search(session, " ".join(args.query), language=args.language,
                         limit=args.limit, published_only=not args.all)
    if args.json:
        print_json([asdict(h) for h in hits])
    else:
        print_table(["id", "state", "lang", "score", "title"],
                    [[h.id, h.state, h.language, f"{h.score:.3f}", h.title] for h in hits])
    return 0
