"""The README and docs/ as a newcomer follows them: every link leads somewhere, every file they
name exists, the Python example runs as a script, and the declared dependencies are used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MD_NAME = re.compile(r"`([\w./-]+\.md)`")


def _prose(text: str) -> str:
    """The text outside fenced code blocks (a link inside a shell example is not a link)."""
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if not match:
            continue
        slug = _slug(match.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _links(path: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(_prose(path.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves_to_a_file_and_heading(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto: — not checked offline
            continue
        file_part, _, anchor = target.partition("#")
        file = (doc.parent / file_part).resolve() if file_part else doc
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(REPO) if file.is_relative_to(REPO) else file}")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert broken == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_markdown_file_named_in_the_text_exists(doc: Path) -> None:
    # `BENCHMARKS-collect.md` in running text sends a reader looking for that file too.
    missing = [
        name
        for name in MD_NAME.findall(_prose(doc.read_text(encoding="utf-8")))
        if not (doc.parent / name).exists() and not (REPO / name).exists()
    ]
    assert missing == []


def test_the_anchor_rule_matches_githubs() -> None:
    assert _slug("Dashboard (issue 6)") == "dashboard-issue-6"
    assert _slug("The instrumentation client in detail (`benchmarks/client_overhead.py`)") == (
        "the-instrumentation-client-in-detail-benchmarksclient_overheadpy"
    )
    assert _slug("Time to interactive, 100 plugins × 14 days") == "time-to-interactive-100-plugins--14-days"


def test_readme_python_example_runs_as_a_script(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [code for lang, code in FENCE.findall(readme) if lang == "python"]
    assert blocks, "README has a Python example"
    script = tmp_path / "example.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = {
        **os.environ,
        "AI_ANALYTICS_DATA_DIR": str(tmp_path / "data"),
        "AI_ANALYTICS_LOG_DIR": str(tmp_path / "logs"),
        "AI_ANALYTICS_SCHEDULER": "false",
    }
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr


# Distribution name → module, where they differ.
IMPORT_NAMES = {
    "pyyaml": "yaml",
    "scikit-learn": "sklearn",
    "prometheus-client": "prometheus_client",
    "pydantic-settings": "pydantic_settings",
    "pyjwt": "jwt",
}
# Used without an import statement of ours.
LOADED_BY_OTHERS = {
    "psycopg": "SQLAlchemy loads it for postgresql+psycopg:// URLs",
    "python-multipart": "FastAPI needs it to parse form bodies",
}


def test_every_declared_dependency_is_imported_somewhere() -> None:
    # A dependency nobody imports costs every install its download and its security notices.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "src").rglob("*.py"))
    unused = []
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower()
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        imported = re.search(rf"^\s*(?:import|from)\s+{re.escape(module)}\b", sources, re.M)
        if not imported and name not in LOADED_BY_OTHERS:
            unused.append(name)
    assert unused == []


def test_what_the_service_writes_by_default_is_not_offered_for_commit() -> None:
    # The default data and log directories are relative to the working directory (the checkout).
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("data/ai_analytics/analytics.db", "logs/plugin_ai_analytics.log"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
        assert result.returncode == 0, f"{path} is not ignored by .gitignore"
