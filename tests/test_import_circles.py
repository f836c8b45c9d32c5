"""No import circle anywhere in the project: the modules (top-level scripts and every package but tests/) with
every import they make, function-level ones too (a deferred import still ties two modules together), form a
graph without cycles."""
from __future__ import annotations

import ast
from pathlib import Path

from core_fixtures import REPO_ROOT

PACKAGES = ("model", "dataset", "feature_extraction", "pipeline", "utils")


def project_modules(root: Path) -> dict[str, Path]:
    """Every module of the project by dotted name: the top-level scripts and the packages' files."""
    modules = {path.stem: path for path in root.glob("*.py")}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` (module ``name``) imports anywhere in it: ``from a.b import c`` is ``a.b.c``
    when that is a module, else ``a.b``; relative imports are resolved against ``name``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # import a.b.c where only a.b is ours: a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: imported(path, name, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_finder_sees_a_circle_through_a_deferred_import(tmp_path):
    (tmp_path / "utils").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "utils" / "a.py").write_text("from utils import b\n")
    (tmp_path / "utils" / "b.py").write_text("def f():\n    from utils.c import g\n")
    (tmp_path / "utils" / "c.py").write_text("import utils.a\n")
    (tmp_path / "model" / "d.py").write_text("from utils.a import x\nfrom . import e\n")
    (tmp_path / "model" / "e.py").write_text("from .d import y\n")
    (tmp_path / "script.py").write_text("import model.d\n")
    assert circles(import_graph(tmp_path)) == [["model.d", "model.e"], ["utils.a", "utils.b", "utils.c"]]


def test_the_project_has_no_import_circle():
    assert circles(import_graph(REPO_ROOT)) == []
