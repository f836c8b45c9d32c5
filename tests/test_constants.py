"""Constants have one home: the micro/macro type codes (utils/annotations.py), the count of facial regions
(utils/indexing.py), and each shape constant under a name no other module gives a different shape. Checked on
the source of every module, so a restated copy is found where it is written."""
from __future__ import annotations

import ast
from pathlib import Path

from core_fixtures import REPO_ROOT

SHAPE_CALLS = {"eye", "zeros", "ones", "full", "empty", "reshape"}


def _modules() -> dict[str, ast.Module]:
    return {str(path.relative_to(REPO_ROOT)): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(REPO_ROOT.rglob("*.py")) if path.relative_to(REPO_ROOT).parts[0] != "tests"}


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _int(node: ast.AST) -> int | None:
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def _constant_names(node: ast.AST) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]


def test_the_expression_type_codes_are_never_bare_dict_keys_or_values():
    """A dict keyed by 2 and 1, or mapping 'micro' / 'macro' to them, restates utils.annotations.MICRO and MACRO."""
    found = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict) or not node.keys or None in node.keys:
                continue
            keys = [k.value if isinstance(k, ast.Constant) else k for k in node.keys]
            values = {_int(v) for v in node.values}
            if set(keys) <= {1, 2} or (set(keys) <= {"micro", "macro"} and values <= {1, 2}):
                found.append(f"{name}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert found == []


def test_the_region_count_is_written_once():
    """12 as a shape (beside another size in a tuple, an argument of eye/zeros/reshape...) or as a named
    constant appears in utils/indexing.py alone."""
    found = []
    for name, tree in _modules().items():
        parents = _parents(tree)
        for node in ast.walk(tree):
            if _int(node) != 12 or name == "utils/indexing.py":
                continue
            parent = parents[node]
            in_shape = isinstance(parent, ast.Tuple) and all(not isinstance(e, ast.Constant) or _int(e) is not None
                                                             for e in parent.elts)
            in_call = isinstance(parent, ast.Call) and getattr(parent.func, "attr", getattr(parent.func, "id", None)) \
                in SHAPE_CALLS
            named = isinstance(parent, (ast.Assign, ast.AnnAssign)) and bool(_constant_names(parent))
            if in_shape or in_call or named:
                found.append(f"{name}:{node.lineno}: {ast.unparse(parent)[:60]}")
    assert found == []


def test_no_two_modules_define_a_shape_under_the_same_name():
    defined: dict[str, list[str]] = {}
    for name, tree in _modules().items():
        for node in tree.body:
            for constant in _constant_names(node):
                if constant.endswith("_SHAPE"):
                    defined.setdefault(constant, []).append(name)
    assert {c: where for c, where in defined.items() if len(where) > 1} == {}
