"""The package's shape, checked: imports point one way, engines stay pure, files stay small.

Read from the source with ``ast`` (nothing is imported), so a violation is named by file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "plugin_ai_analytics"
NAME = "plugin_ai_analytics"
# The pure engines: arrays and frames in, records out (DESIGN.md).
ENGINES = ("anomaly", "forecast", "advise")
# What an engine must never reach for: the database, the faces, settings, the service layer.
NOT_FOR_ENGINES = ("store", "api", "config", "service", "jobs", "ops", "web", "cli", "python_api", "schemas", "demo")
MAX_LINES = 500
SOURCE_SUFFIXES = {".py", ".js", ".css", ".html"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """The internal modules an import statement loads (``from x import name`` counts ``x.name``
    when that is a module, else ``x``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == NAME]
    if node.level:
        base = module.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != NAME:
        return []
    found = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        found.append(sub if sub in MODULES else target)
    return found


def _visit(module: str, is_package: bool, node: ast.AST, in_function: bool, type_checking: bool, edges: list) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            for target in _resolve(module, child, is_package):
                edges.append((module, target, child.lineno, in_function, type_checking))
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            _visit(module, is_package, child, in_function, True, edges)
        else:
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            _visit(module, is_package, child, inner, type_checking, edges)


def _imports() -> list[tuple[str, str, int, bool, bool]]:
    """(importer, imported, line, inside a function, under TYPE_CHECKING) for every internal import."""
    edges: list[tuple[str, str, int, bool, bool]] = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        _visit(module, path.name == "__init__.py", tree, False, False, edges)
    return edges


EDGES = _imports()


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_no_import_cycle() -> None:
    """Every import counts, at any depth and under TYPE_CHECKING too: a cycle hidden in a function
    is still a cycle. A package importing its own submodules (its face) is not one."""
    graph: dict[str, set[str]] = {}
    for importer, imported, *_ in EDGES:
        if imported == importer or importer.startswith(imported + "."):
            continue  # a module loading its own package: Python initialises the package first
        graph.setdefault(importer, set()).add(imported)
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_the_finder_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_stay_pure(engine: str) -> None:
    prefix = f"{NAME}.{engine}"
    bad = [
        f"{MODULES[importer].relative_to(ROOT)}:{line} imports {imported}"
        for importer, imported, line, *_ in EDGES
        if (importer == prefix or importer.startswith(prefix + "."))
        and imported.split(".")[1:2]
        and imported.split(".")[1] in NOT_FOR_ENGINES
    ]
    assert not bad, "\n".join(bad)


def test_an_import_inside_a_function_says_why() -> None:
    """Heavy or optional dependencies may load where they are used, with a comment on the import
    or just above it naming the reason; an import placed there to dodge a cycle may not."""
    bad = []
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                # a run of imports shares one comment: on any of its lines, or on the line above it
                first = last = node.lineno - 1
                while first > 0 and lines[first - 1].strip().startswith(("import ", "from ")):
                    first -= 1
                while last + 1 < len(lines) and lines[last + 1].strip().startswith(("import ", "from ")):
                    last += 1
                commented = any("#" in lines[i] for i in range(first, last + 1))
                if not commented and not (first > 0 and lines[first - 1].strip().startswith("#")):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not bad, "imports inside functions without a comment naming why:\n" + "\n".join(bad)


def test_no_source_file_is_over_500_lines() -> None:
    long = []
    for path in PACKAGE.rglob("*"):
        if path.suffix not in SOURCE_SUFFIXES or "vendor" in path.parts or "migrations" in path.parts:
            continue
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            long.append(f"{path.relative_to(ROOT)}: {count} lines")
    assert not long, "\n".join(long)


def test_faces_reach_the_store_only_through_the_service() -> None:
    faces = ("api", "web", "cli", "python_api", "demo")
    bad = [
        f"{MODULES[importer].relative_to(ROOT)}:{line} imports {imported}"
        for importer, imported, line, *_ in EDGES
        if importer.split(".")[1:2] and importer.split(".")[1] in faces and imported.split(".")[1:2] == ["store"]
    ]
    assert not bad, "\n".join(bad)
