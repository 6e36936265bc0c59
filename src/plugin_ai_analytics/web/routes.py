"""Serves the dashboard page at ``/plugin-ai-analytics``, the API documentation at ``/docs`` and
their static files (the page's own script and style, the vendored chart library and Swagger UI)
from the package: nothing comes from a CDN, so both work offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

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
    return get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title=f"{request.app.title} — API",
        swagger_js_url=f"{vendor}/swagger-ui-bundle.js?v={__version__}",
        swagger_css_url=f"{vendor}/swagger-ui.css?v={__version__}",
        swagger_favicon_url="data:,",
        # The online validator badge would send the schema's URL to swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(PAGE_PATH + "/static/{name:path}")
def static_file(name: str, v: str | None = None) -> FileResponse:
    path = _FILES.get(name)
    if path is None:
        raise HTTPException(status_code=404, detail="no such file")
    # A URL with the version may be cached for good; one without (a module's own import) is
    # revalidated, so an upgrade is seen at once.
    cache = "public, max-age=31536000, immutable" if v == __version__ else "no-cache"
    return FileResponse(path, media_type=_TYPES.get(path.suffix) or None, headers={"Cache-Control": cache})
