"""The engines (anomaly, forecast) stay pure: they import nothing of the store, the API, the
settings, the service or the jobs, and an import inside a function says why on that line or in
a comment right above its block (an optional dependency, start-up cost of a heavy library).
"""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import pytest

import plugin_ai_analytics.anomaly as anomaly
import plugin_ai_analytics.forecast as forecast

FORBIDDEN = {"store", "api", "config", "service", "jobs"}
MODULES = [
    (package.__name__, Path(package.__path__[0]) / f"{info.name}.py")
    for package in (anomaly, forecast)
    for info in pkgutil.iter_modules(package.__path__)
] + [(package.__name__, Path(package.__file__)) for package in (anomaly, forecast)]


def imported_names(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
    return [".".join([*base, *([node.module] if node.module else [])])]


def explained(lines: list[str], node: ast.stmt) -> bool:
    """A comment on the import's lines, or on the line above its block of imports."""
    if any("#" in line for line in lines[node.lineno - 1 : node.end_lineno]):
        return True
    i = node.lineno - 2
    while i >= 0 and lines[i].strip().startswith(("from ", "import ")):
        i -= 1
    return i >= 0 and lines[i].strip().startswith("#")


@pytest.mark.parametrize(("package", "path"), MODULES, ids=[f"{p}:{f.name}" for p, f in MODULES])
def test_engine_imports(package: str, path: Path) -> None:
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    in_functions = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for name in imported_names(node, package):
            parts = name.split(".")
            assert not (parts[0] == "plugin_ai_analytics" and len(parts) > 1 and parts[1] in FORBIDDEN), (
                f"{path.name}:{node.lineno} imports {name}: engines are pure"
            )
        if id(node) in in_functions:
            assert explained(lines, node), f"{path.name}:{node.lineno}: an import inside a function must say why"
