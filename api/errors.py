"""The one place where errors become HTTP responses.

Every error, ours or the framework's (404, 405, 413, 422, 500), is JSON of one
shape: ``{"error": {"code": ..., "message": ..., "details": {...}}}``; a
gridgis error's ``fix`` goes into ``details.fix``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridgis.errors import (
    ConflictError,
    ForbiddenError,
    GridgisError,
    InputError,
    NotFoundError,
    StoreError,
    UnauthenticatedError,
)

log = logging.getLogger("gridgis.api")

#: gridgis error class -> HTTP status (the first matching class wins)
STATUS = [
    (UnauthenticatedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InputError, 422),
    (StoreError, 503),
]


class APIError(GridgisError):
    """An HTTP-level error raised by the API itself (auth, limits): carries its status and code."""

    def __init__(self, status: int, code: str, message: str, *, fix: str | None = None, details: dict | None = None):
        super().__init__(message, fix=fix, details=details)
        self.status = status
        self.code = code


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON error answer every route gives: ``{"error": {"code", "message", "details"}}``.

    Whatever the details echo (NaN, Infinity, a lone surrogate) is made JSON first: an error never fails to render.
    """
    return JSONResponse(
        json_safe({"error": {"code": code, "message": message, "details": details or {}}}),
        status_code=status,
        headers=headers,
    )


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as text and lone surrogates escaped, so it renders as strict UTF-8 JSON.

    >>> json_safe({"v": float("nan"), "t": "a" + chr(0xD800), "n": [1, 2.5]})
    {'v': 'nan', 't': 'a\\\\ud800', 'n': [1, 2.5]}
    """
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    return json_safe(str(value))


def open311_error(request: Request, status: int, message: str) -> Response:
    """An error on an Open311 path as GeoReport v2 wants it: a list of {code, description} (XML for ``.xml``),
    400 for bad input, 403 for a key problem, 404 not found."""
    from gridgis.cases.open311 import errors, to_xml

    status = {401: 403, 422: 400}.get(status, status)
    body = errors(status, json_safe(message))
    if request.url.path.endswith(".xml"):
        return Response(to_xml("errors", body), status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse(body, status_code=status)


def _open311(request: Request) -> bool:
    return request.url.path.startswith("/open311/")


def _gridgis(request: Request, exc: GridgisError) -> Response:
    status = getattr(exc, "status", None) or next((s for cls, s in STATUS if isinstance(exc, cls)), 400)
    if _open311(request):
        return open311_error(request, status, str(exc))
    details = dict(exc.details)
    if exc.fix:
        details["fix"] = exc.fix
    return error_response(status, exc.code, exc.message, details)


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def _http(request: Request, exc: StarletteHTTPException) -> Response:
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route {request.url.path!r}."
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path!r}."
    if _open311(request):
        return open311_error(request, exc.status_code, message)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


def _validation(request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        item = {"field": where, "message": err.get("msg", "")}
        if "input" in err and isinstance(err["input"], str | int | float | bool | type(None)):
            item["value"] = err["input"][:200] if isinstance(err["input"], str) else err["input"]
        problems.append(item)
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    if _open311(request):
        return open311_error(request, 422, f"Invalid request: {summary}.")
    return error_response(422, "invalid_request", f"Invalid request: {summary}.", {"problems": problems[:50]})


class CatchAll:
    """Pure ASGI middleware: an unexpected exception becomes the JSON 500 and is logged, not re-raised.

    Starlette's own last-resort handler re-raises after answering, and the server then may drop the
    connection, failing the client's next request on it; here the connection stays usable.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # part of an answer is out: only closing the connection can tell the client
            response = error_response(500, "internal", "Internal error; it was logged.", {})
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` (and :class:`CatchAll`, which must be the outermost middleware)."""
    app.add_exception_handler(GridgisError, _gridgis)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
