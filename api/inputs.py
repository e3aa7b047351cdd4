"""The one check every request goes through before its route: unknown query parameters, and values no store
can hold.

:func:`check_request` is an app-wide dependency (``FastAPI(dependencies=...)``). From the matched route's
declared parameters (its dependencies' included, and any documented in ``openapi_extra``) it refuses with
422 ``unknown_parameter`` a query parameter the route does not take (naming the ones it does; a route whose
``openapi_extra`` has ``x-property-filters`` checks its extra parameters itself), and with 422
``invalid_value``:

- an integer path or query parameter beyond the signed 64-bit range (SQLite and PostgreSQL ``bigint``);
- a date-time parameter whose instant falls outside years 1-9999 once in UTC
  (``0001-01-01T00:00:00+14:00``);
- text holding a NUL character or a lone UTF-16 surrogate (neither can be stored nor sent as UTF-8), in
  the query, the path or a JSON body;
- in a JSON body, ``NaN``/``Infinity`` (not JSON, RFC 8259 section 6) or an integer beyond 64 bits.

A route on the hottest path may read its JSON body itself (FastAPI's per-parameter machinery costs more
than such a route's work): :func:`model_body` then gives the same answers FastAPI and this check give to a
declared body parameter.
"""

from __future__ import annotations

import json
import math
import types
import typing
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from api.errors import APIError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
M = TypeVar("M", bound=BaseModel)
_DATETIME = TypeAdapter(datetime)


def bad_text(value: str) -> str | None:
    """Why ``value`` cannot be stored (a NUL or a lone surrogate), or None.

    >>> bad_text("ok"), bad_text("a" + chr(0)), bad_text("a" + chr(0xD800))
    (None, 'holds a NUL character', 'holds a lone UTF-16 surrogate')
    """
    if "\x00" in value:
        return "holds a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone UTF-16 surrogate"
    return None


def _kinds(annotation: Any) -> set[type]:
    """The plain types an annotation admits: ``int | None`` -> {int, NoneType}; ``list[int]`` -> {int}."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set):
        return set().union(*(_kinds(a) for a in typing.get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


class RouteParams(typing.NamedTuple):
    query: tuple[str, ...]
    ints: frozenset[str]
    datetimes: frozenset[str]
    json_body: bool
    #: the route takes more query parameters than it declares and checks them itself (OGC property filters)
    open_query: bool


#: id(route) -> (route, its parameters): routes are unhashable, and live as long as their app
_PARAMS: dict[int, tuple[APIRoute, RouteParams]] = {}


def route_params(route: APIRoute) -> RouteParams:
    """What ``route`` takes: its query parameter names, the integer and date-time ones, whether a JSON body."""
    known = _PARAMS.get(id(route))
    if known is not None and known[0] is route:
        return known[1]
    queries, paths, bodies = [], [], []
    todo: list[Dependant] = [route.dependant]
    while todo:
        d = todo.pop()
        queries += d.query_params
        paths += d.path_params
        bodies += d.body_params
        todo += d.dependencies
    query = [f.alias for f in queries]
    ints, datetimes = set(), set()
    for f in [*queries, *paths]:
        kinds = _kinds(f.field_info.annotation)
        if int in kinds and bool not in kinds:
            ints.add(f.alias)
        if datetime in kinds:
            datetimes.add(f.alias)
    for p in (route.openapi_extra or {}).get("parameters", []):
        if p.get("in") == "query":
            query.append(p["name"])
            if p.get("schema", {}).get("type") == "integer":
                ints.add(p["name"])
    open_query = bool((route.openapi_extra or {}).get("x-property-filters"))
    params = RouteParams(tuple(dict.fromkeys(query)), frozenset(ints), frozenset(datetimes), bool(bodies), open_query)
    _PARAMS[id(route)] = (route, params)
    return params


def _refuse(where: str, name: str, why: str, fix: str) -> APIError:
    return APIError(422, "invalid_value", f"{where} {name!r} {why}.", fix=fix, details={"field": f"{where}.{name}"})


def _check_value(where: str, name: str, value: str, params: RouteParams) -> None:
    why = bad_text(value)
    if why:
        raise _refuse(where, name, why, "remove the character.")
    if name in params.ints:
        text = value.strip()
        if text.lstrip("+-").isdigit() and not INT64_MIN <= int(text) <= INT64_MAX:
            raise _refuse(where, name, f"= {text[:30]} is beyond 64-bit integers", f"use a number up to {INT64_MAX}.")
    if name in params.datetimes:
        try:
            when = _DATETIME.validate_python(value)
        except ValidationError:
            return  # the route's own validation names the problem
        try:
            if when.tzinfo is not None:
                when.astimezone(UTC)
        except OverflowError:
            raise _refuse(
                where, name, f"= {value[:40]} is outside years 1-9999 in UTC", "use a date-time between 0002 and 9998."
            ) from None


def _walk_json(value: Any, path: str) -> None:
    if isinstance(value, str):
        why = bad_text(value)
        if why:
            raise _refuse("body", path, why, "remove the character.")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _refuse("body", path, f"is {value}, which JSON does not have", "send a finite number.")
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _refuse("body", path, "is beyond 64-bit integers", f"use a number up to {INT64_MAX}.")
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk_json(k, path)
            _walk_json(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk_json(v, f"{path}[{i}]")


async def check_request(request: Request) -> None:
    """The app-wide request check (see the module docstring). 422 ``unknown_parameter`` / ``invalid_value``."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    params = route_params(route)
    query = request.query_params
    if query:
        unknown = [] if params.open_query else [k for k in query if k not in params.query]
        if unknown:
            allowed = list(params.query)
            raise APIError(
                422,
                "unknown_parameter",
                f"Unknown query parameter(s) {unknown[:10]} on {request.method} {route.path}; "
                f"it takes {allowed or 'none'}.",
                fix=f"use only {allowed}." if allowed else "send no query parameters.",
                details={"unknown": unknown[:10], "allowed": allowed},
            )
        for name, value in query.multi_items():
            _check_value("query", name, value, params)
    for name, value in request.path_params.items():
        if isinstance(value, str):
            _check_value("path", name, value, params)
    if params.json_body and "json" in request.headers.get("content-type", ""):
        try:
            body = await request.json()  # parsed once: FastAPI has already read it into the same cache
        except ValueError:
            return  # FastAPI answers 422 json_invalid
        _walk_json(body, "")


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json``, parameters and case aside (as FastAPI tells a JSON body)."""
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


#: what :func:`json_body` gives for a request without a body
NO_BODY: Any = object()


async def json_body(request: Request) -> Any:
    """The body of a route that reads its own (see the module docstring): parsed when its content type is JSON,
    the bytes as they are otherwise, :data:`NO_BODY` when empty; checked as :func:`check_request` checks every
    JSON body. Validate it with :func:`body_model`.

    Raises :class:`RequestValidationError` (422 ``invalid_request``, ``json_invalid`` at ``body.POSITION``)
    for a body that is not JSON, :class:`HTTPException` (400) for one that cannot be decoded, and
    :class:`APIError` (422 ``invalid_value``: NaN, NUL, an integer beyond 64 bits), as FastAPI and
    :func:`check_request` answer a declared body parameter."""
    raw = await request.body()
    if not raw:
        return NO_BODY
    if not _is_json(request.headers.get("content-type")):
        return raw  # validated as it is, and so refused as not an object
    try:
        data = await request.json()
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}], body=exc.doc) from None
    except ValueError:
        raise HTTPException(400, "There was an error parsing the body") from None
    _walk_json(data, "")
    return data


def body_model(data: Any, model: type[M], problems: list[dict[str, Any]] | None = None) -> M:
    """``data`` from :func:`json_body` as ``model``; else :class:`RequestValidationError` (422 ``invalid_request``)
    listing the route's other ``problems`` (pydantic error dicts, e.g. of a header) and then the body's, each at
    ``body.FIELD``, as FastAPI lists them for a declared body parameter."""
    problems = list(problems or ())
    value = None
    if data is NO_BODY:
        problems.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
    else:
        try:
            value = model.model_validate(data, from_attributes=True)  # FastAPI's mode: the same messages
        except ValidationError as exc:
            problems += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    if problems:
        raise RequestValidationError(problems)
    return value
