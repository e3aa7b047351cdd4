"""Every status code each operation can return, in the OpenAPI document, found in one place.

:func:`install` replaces ``app.openapi``: the generated document, then for each operation the error answers
it can give, each with the one error shape (:data:`ERROR_SCHEMA`; Open311's own list under ``/open311``):

- 401 (no key, or an unknown or revoked one) when the route identifies its caller, 403 when it requires a role;
- 404 when it has path parameters or serves a plan's snapshot (no plan published, or an unknown ``plan``);
- 413 when it takes a body (``GRIDGIS_MAX_BODY_BYTES``);
- 422 always: :func:`api.inputs.check_request` refuses unknown query parameters and unstorable values;
- and every code its docstring names (``"409: move not allowed"``), with that text as the description.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. not_found, unknown_parameter."},
                "message": {"type": "string", "description": "One line naming the field, value or row."},
                "details": {
                    "type": "object",
                    "description": "fix, allowed values, limits...",
                    "additionalProperties": True,
                },
            },
        }
    },
}
OPEN311_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
DEFAULTS = {
    400: "Bad request.",
    401: "No API key (X-API-Key or Authorization: Bearer), or an unknown or revoked one.",
    403: "The key's role or grids do not allow this.",
    404: "Not found (an unknown id or name; no plan published, or an unknown plan).",
    409: "Conflicts with the current state.",
    413: "The body is larger than the limit (GRIDGIS_MAX_BODY_BYTES).",
    422: "Invalid input: an unknown query parameter (the allowed ones listed), a value out of range, a bad field.",
}
#: "401/403: not staff; 404: no such case" -> codes and their text
_DOC_CODES = re.compile(r"((?:[1-5]\d\d/)*[1-5]\d\d)(?: \([^)]*\))?: (.+?)(?=; |\.\s*(?:[1-5]\d\d\b|$)|$)", re.S)


def _calls(dependant: Dependant) -> list[Any]:
    out, todo = [], [dependant]
    while todo:
        d = todo.pop()
        out.append(d.call)
        todo += d.dependencies
    return out


def route_statuses(route: APIRoute) -> dict[int, str]:
    """The error statuses ``route`` can answer, with their descriptions."""
    from api.deps import get_caller, get_snapshot

    calls = _calls(route.dependant)
    names = {getattr(c, "__qualname__", "") for c in calls}
    out: dict[int, str] = {422: DEFAULTS[422]}
    if get_caller in calls:
        out[401] = DEFAULTS[401]
    if any(n.startswith("require.") for n in names):
        out[401], out[403] = DEFAULTS[401], DEFAULTS[403]
    if route.dependant.path_params or get_snapshot in calls:
        out[404] = DEFAULTS[404]
    if route.body_field is not None or (route.openapi_extra or {}).get("requestBody") or "POST" in route.methods:
        out[413] = DEFAULTS[413]
    for codes, text in _DOC_CODES.findall(" ".join((route.description or "").split())):
        for code in map(int, codes.split("/")):
            if code >= 400:
                out[code] = text.strip().rstrip(".") + "."
                if code == 422:
                    out[code] += " Or an unknown query parameter (the allowed ones listed), or a value out of range."
    for code, spec in (route.responses or {}).items():
        if str(code).isdigit() and int(code) >= 400 and isinstance(spec, dict) and spec.get("description"):
            out[int(code)] = spec["description"]
    return out


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every error status of every operation (see the module docstring)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = FastAPI.openapi(app)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        schema["components"]["schemas"]["Open311Errors"] = OPEN311_ERRORS
        for context in iter_route_contexts(app.routes):  # through included routers
            route = context.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            path = context.path_format or route.path_format
            open311 = path.startswith("/open311")
            ref = {"$ref": "#/components/schemas/" + ("Open311Errors" if open311 else "Error")}
            for method in context.methods or route.methods:
                op = schema["paths"].get(path, {}).get(method.lower())
                if op is None:
                    continue
                responses = op.setdefault("responses", {})
                statuses = route_statuses(route)
                if open311:  # Open311 answers 400 for bad input and 403 for a key problem
                    responses.pop("422", None)
                    for old, new in ((401, 403), (422, 400)):
                        text = statuses.pop(old, None)
                        if text is not None:
                            statuses.setdefault(new, text)
                for code, text in sorted(statuses.items()):
                    responses[str(code)] = {
                        "description": text,
                        "content": {"application/json": {"schema": ref}},
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
