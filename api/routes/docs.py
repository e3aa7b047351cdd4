"""``/docs`` (Swagger UI) and ``/redoc`` served offline: their scripts and styles come from the
``fastapi-offline`` package's files, served here; no CDN, no font site.

ReDoc's bundle draws its sidebar logo from cdn.redoc.ly whatever its options say: the served copy
points that one image at the local favicon instead (the only change made to a package file)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from gridgis.errors import NotFoundError

router = APIRouter(include_in_schema=False)

ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    """Swagger UI over /openapi.json, with local assets."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="gridgis - Swagger UI",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon.png",
    )


@router.get("/redoc")
def redoc() -> HTMLResponse:
    """ReDoc over /openapi.json, with a local script and the system's fonts."""
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="gridgis - ReDoc",
        redoc_js_url="/docs-assets/redoc.standalone.js",
        redoc_favicon_url="/docs-assets/favicon.png",
        with_google_fonts=False,
    )


REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _redoc_js() -> bytes:
    return (ASSET_DIR / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"/docs-assets/favicon.png")


@router.get("/docs-assets/{name}")
def docs_asset(name: str) -> Response:
    """A file of the docs pages. 404: no such file."""
    if name not in ASSETS:
        raise NotFoundError(f"No docs asset {name!r}.", fix=f"use one of {list(ASSETS)}.")
    headers = {"Cache-Control": "public, max-age=86400"}
    if name == "redoc.standalone.js":
        return Response(_redoc_js(), media_type=ASSETS[name], headers=headers)
    return FileResponse(ASSET_DIR / name, media_type=ASSETS[name], headers=headers)
