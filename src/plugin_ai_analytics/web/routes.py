"""Serves the dashboard page at ``/plugin-ai-analytics``, the API documentation at ``/docs`` and
their static files (the page's own modules and style, the vendored chart library and Swagger UI)
from the package: nothing comes from a CDN, so both work offline."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from .._version import __version__

__all__ = ["router", "PAGE_PATH", "DOCS_PATH"]

PAGE_PATH = "/plugin-ai-analytics"
DOCS_PATH = "/docs"
STATIC = Path(__file__).resolve().parent / "static"
# Only files that ship with the package can be served: no path from the URL reaches the disk.
_FILES = {p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.is_file()}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".md": "text/markdown", ".json": "application/json"}

router = APIRouter(include_in_schema=False)


@router.get(PAGE_PATH, response_class=HTMLResponse)
@router.get(PAGE_PATH + "/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    # Asset URLs carry the version, so browsers may cache them for good.
    html = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{version}}", __version__)
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get(DOCS_PATH, response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over the app's OpenAPI schema, drawn by the vendored swagger-ui-dist."""
    root = request.scope.get("root_path", "").rstrip("/")
    vendor = f"{root}{PAGE_PATH}/static/vendor"
    page = get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title=f"{request.app.title} — API",
        swagger_js_url=f"{vendor}/swagger-ui-bundle.js?v={__version__}",
        swagger_css_url=f"{vendor}/swagger-ui.css?v={__version__}",
        swagger_favicon_url="data:,",
        # The online validator badge would send the schema's URL to swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    # Swagger UI starts from one inline script: the page's CSP allows exactly that script, by hash.
    body = bytes(page.body)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode("ascii") + "'"
        for script in re.findall(rb"<script>(.*?)</script>", body, flags=re.S)
    )
    csp = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(body, headers={"Content-Security-Policy": csp})


@router.get(PAGE_PATH + "/static/{name:path}")
async def static_file(name: str, request: Request, v: str | None = None) -> Response:
    path = _FILES.get(name)
    if path is None:
        raise HTTPException(status_code=404, detail="no such file")
    # A URL with the version (what index.html links) may be cached for good. One without — the
    # dashboard's modules importing each other by relative specifier — is revalidated on every
    # use, so an upgrade is seen at once, and costs a 304 without the body while unchanged.
    cache = "public, max-age=31536000, immutable" if v == __version__ else "no-cache"
    body, etag = _content(path)
    headers = {"Cache-Control": cache, "ETag": etag}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=_media_type(path), headers=headers)


def _media_type(path: Path) -> str:
    return _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


_CONTENT: dict[Path, tuple[int, int, bytes, str]] = {}


def _content(path: Path) -> tuple[bytes, str]:
    """The file's bytes and its tag (a hash of them), held in memory: the page asks for a dozen
    small files at once, beside its first API request, and each is answered without a thread
    or a disk read. Read again when the file changes (a checkout being edited). Unlike a tag made
    of mtime and size, the hash changes with any change of content (a reproducible build stamps
    every file with one mtime)."""
    stat = path.stat()
    held = _CONTENT.get(path)
    if held is None or held[:2] != (stat.st_mtime_ns, stat.st_size):
        body = path.read_bytes()
        held = (stat.st_mtime_ns, stat.st_size, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        _CONTENT[path] = held
    return held[2], held[3]


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
