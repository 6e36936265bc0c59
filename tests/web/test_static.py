"""The dashboard's own files as the service ships and serves them: small ES modules that each say
what they own, all preloaded by the page, and cached so that an upgrade is seen at once — the
versioned entry for good, the modules it imports (by relative specifier, without the version)
revalidated, an unchanged one answered with a 304."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx

from plugin_ai_analytics._version import __version__
from plugin_ai_analytics.web import routes

from ..conftest import REPO, LiveServer

STATIC = REPO / "src" / "plugin_ai_analytics" / "web" / "static"
# prefetch.js is a classic script (the page's first requests, started before any module loads)
MODULES = sorted(p.name for p in STATIC.glob("*.js") if p.name != "prefetch.js")
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


def test_the_entry_is_cached_for_good_and_its_imports_are_revalidated(server: LiveServer) -> None:
    with httpx.Client(base_url=f"{server.url}{routes.PAGE_PATH}/static", timeout=30) as client:
        entry = client.get(f"/{ENTRY}", params={"v": __version__})
        assert entry.status_code == 200
        assert entry.headers["cache-control"] == "public, max-age=31536000, immutable"
        for name in set(MODULES) - {ENTRY}:
            module = client.get(f"/{name}")
            assert module.status_code == 200, name
            assert module.headers["content-type"].startswith("text/javascript"), name
            assert module.headers["cache-control"] == "no-cache", name
            again = client.get(f"/{name}", headers={"if-none-match": f'W/"x", {module.headers["etag"]}'})
            assert (again.status_code, again.content) == (304, b""), name
            assert again.headers["etag"] == module.headers["etag"]
            assert again.headers["cache-control"] == "no-cache"
        assert client.get("/lang.js", headers={"if-none-match": '"stale"'}).status_code == 200
        assert client.get("/no-such-module.js").status_code == 404


def test_files_of_one_size_and_mtime_get_different_etags_when_their_content_differs(tmp_path: Path) -> None:
    # A reproducible build stamps every file with one mtime: the tag follows the content.
    one, two = tmp_path / "one.js", tmp_path / "two.js"
    one.write_text("export const a = 1;\n")
    two.write_text("export const a = 2;\n")
    stat = one.stat()
    os.utime(two, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert routes._content(one)[1] != routes._content(two)[1]
    # A file edited in place (a checkout being worked on) is read again.
    two.write_text("export const a = 3;\n")
    os.utime(two, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert routes._content(two)[0] == b"export const a = 3;\n"
