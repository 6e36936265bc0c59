"""Serves the dashboard page at ``/plugin-ai-analytics`` and its static files (the page's own
script and style, and the vendored chart library) from the package: nothing comes from a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from .._version import __version__

__all__ = ["router", "PAGE_PATH"]

PAGE_PATH = "/plugin-ai-analytics"
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


@router.get(PAGE_PATH + "/static/{name:path}")
def static_file(name: str, v: str | None = None) -> FileResponse:
    path = _FILES.get(name)
    if path is None:
        raise HTTPException(status_code=404, detail="no such file")
    # A URL with the version may be cached for good; one without (a module's own import) is
    # revalidated, so an upgrade is seen at once.
    cache = "public, max-age=31536000, immutable" if v == __version__ else "no-cache"
    return FileResponse(path, media_type=_TYPES.get(path.suffix) or None, headers={"Cache-Control": cache})
