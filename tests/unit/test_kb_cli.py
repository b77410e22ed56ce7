"""`maildesk kb` and `maildesk report` through the CLI entry point (in-process, SQLite)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from maildesk.cli.main import main
from maildesk.store.db import make_engine
from maildesk.store.models import Article
from tests.conftest import write_desk

NOW = datetime(2024, 3, 4, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_desk(tmp_path / "desk", f"sqlite:///{tmp_path / 'desk' / 'maildesk.db'}")
    assert _run(path, "report", "--format", "json")[0] == 0  # creates the schema
    engine = make_engine(f"sqlite:///{tmp_path / 'desk' / 'maildesk.db'}")
    with Session(engine) as session, session.begin():
        session.add(Article(title="Impresora sin tóner", problem="No imprime",
                            solution="Cambie el tóner.", tags=["impresora"], language="es",
                            state="draft", created_at=NOW, updated_at=NOW))
    engine.dispose()
    return path


def _run(config: Path, *args: str, capsys: pytest.CaptureFixture[str] | None = None,
         ) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(["--config", str(config), "--log-level", "WARNING", *args])
    return int(done.value.code or 0), capsys.readouterr().out if capsys else ""


def test_kb_list_publish_edit_search(config: Path, capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capsys.readouterr()
    code, out = _run(config, "kb", "search", "impresoras", "--json", capsys=capsys)
    assert code == 0 and json.loads(out) == []  # drafts are not found by default
    assert _run(config, "kb", "publish", "1", capsys=capsys)[0] == 0
    code, out = _run(config, "kb", "search", "impresoras", "--json", capsys=capsys)
    assert [h["title"] for h in json.loads(out)] == ["Impresora sin tóner"]
    (tmp_path / "sol.txt").write_text("Sustituya el cartucho.\n")
    assert _run(config, "kb", "edit", "1", "--title", "Cartucho agotado", "--solution-file",
                str(tmp_path / "sol.txt"), "--tags", "impresora, cartucho", capsys=capsys)[0] == 0
    code, out = _run(config, "kb", "show", "1", "--json", capsys=capsys)
    shown = json.loads(out)
    assert (shown["title"], shown["solution"], shown["tags"], shown["state"]) == (
        "Cartucho agotado", "Sustituya el cartucho.", ["cartucho", "impresora"], "published")
    # Without options, edit opens $EDITOR on a temp file: here a script that rewrites it.
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text().replace('Cartucho agotado', 'Sin tinta'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    assert _run(config, "kb", "edit", "1", capsys=capsys)[0] == 0
    code, out = _run(config, "kb", "list", capsys=capsys)
    assert "Sin tinta" in out and out.splitlines()[0].startswith("ID")
    assert _run(config, "kb", "show", "99", capsys=capsys)[0] == 1


def test_report_command_writes_a_file(config: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "r.html"
    code, _ = _run(config, "report", "--from", "2024-03-01", "--to", "2024-03-31",
                   "--format", "html", "-o", str(target), capsys=capsys)
    assert code == 0 and target.read_text().startswith("<!DOCTYPE html>")
    code, out = _run(config, "report", "--queue", "billing", capsys=capsys)
    assert code == 0 and "queue billing" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert _run(config, "report", "--from", "2024-03-05", "--to", "2024-03-01",
                capsys=capsys)[0] == 64
