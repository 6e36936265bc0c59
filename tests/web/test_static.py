"""The dashboard's own files as the service ships them: small ES modules that each say what they
own, import each other by relative specifier and are all preloaded by the page."""

from __future__ import annotations

import re

from ..conftest import REPO

STATIC = REPO / "src" / "plugin_ai_analytics" / "web" / "static"
MODULES = sorted(p.name for p in STATIC.glob("*.js"))
ENTRY = "dashboard.js"  # the one module index.html loads, with ?v=<version>
IMPORT = re.compile(r'^import [^;]* from "([^"]+)";$', re.M)


def test_every_dashboard_file_is_short_and_modules_say_what_they_own() -> None:
    own = [p for p in STATIC.iterdir() if p.suffix in (".js", ".css", ".html")]
    assert {p.name for p in own} >= {ENTRY, "index.html", "dashboard.css"}
    assert {p.name: n for p in own if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400} == {}
    for name in MODULES:
        head = (STATIC / name).read_text(encoding="utf-8").splitlines()[:2]
        assert all(line.startswith("// ") for line in head), name


def test_modules_import_each_other_by_relative_specifier_and_all_are_preloaded() -> None:
    imported = set()
    for name in MODULES:
        for spec in IMPORT.findall((STATIC / name).read_text(encoding="utf-8")):
            # "./x.js" only: a query or another directory would give a module a second URL, and
            # the browser a second instance of it (with its own state, e.g. the language).
            assert re.fullmatch(r"\./[a-z0-9-]+\.js", spec), (name, spec)
            imported.add(spec.removeprefix("./"))
    assert imported == set(MODULES) - {ENTRY}  # every module is used; none imports the entry
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    preloaded = re.findall(r'<link rel="modulepreload" href="/plugin-ai-analytics/static/([^"]+)">', html)
    assert sorted(preloaded) == sorted(imported)  # the exact URLs the imports resolve to
    assert f'<script type="module" src="/plugin-ai-analytics/static/{ENTRY}?v={{{{version}}}}"></script>' in html
