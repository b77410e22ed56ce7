"""The package has no import cycles between modules, and no module sits loose at the top.

Every import counts, also one inside a function or under `if TYPE_CHECKING:` (hiding a
cycle there only moves it), except in cli/, whose command modules import lazily so that
`maildesk ingest` loads only what storing a mail needs.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "maildesk"
TOP_LEVEL = {"__init__.py", "__main__.py", "errors.py", "types.py", "text.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def load_time_imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of maildesk that `path` imports."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if "cli" not in path.relative_to(PACKAGE).parts else tree.body
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    modules = set(files)
    return {name: load_time_imports(path, modules) - {name} for name, path in files.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle() -> None:
    edges = graph()
    # A package's __init__ importing its own modules is its face, not a cycle.
    for name in edges:
        edges[name] = {m for m in edges[name] if not (name.startswith(m + ".") and
                                                      (PACKAGE.parent / m.replace(".", "/")).is_dir())}
    assert find_cycle(edges) is None


def test_modules_live_in_domain_packages() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")} - TOP_LEVEL
    assert loose == set()
