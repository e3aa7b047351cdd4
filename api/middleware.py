"""Pure ASGI middleware (no per-request task overhead): body size limit and Prometheus metrics."""

from __future__ import annotations

import json
import time

from prometheus_client import Counter, Histogram

REQUESTS = Counter("gridgis_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "gridgis_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)


async def _reply(send, status: int, code: str, message: str, details: dict) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Answer 413 to bodies larger than ``max_bytes`` (declared or streamed) before the app reads them.

    Starlette's own RequestBodyLimitMiddleware answers in plain text, breaking the one error shape.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _reply(send, 413, "too_large", self._message(int(declared)), {"limit": self.max_bytes})
        if declared is not None:
            return await self.app(scope, receive, send)
        # no length declared (chunked): read it up to the limit, then replay it
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await _reply(send, 413, "too_large", self._message(size), {"limit": self.max_bytes})
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    def _message(self, size: int) -> str:
        return f"Request body of {size:,} bytes exceeds the limit of {self.max_bytes:,} bytes."


class Metrics:
    """Count requests and time them per route template (not per raw path, to bound label cardinality)."""

    def __init__(self, app):
        self.app = app
        self._children: dict[tuple[str, str, int], tuple] = {}

    def _metrics(self, method: str, path: str, status: int) -> tuple:
        key = (method, path, status)
        pair = self._children.get(key)
        if pair is None:  # labels() is a locked dict lookup: do it once per (method, route, status)
            pair = self._children[key] = (REQUESTS.labels(method, path, str(status)), LATENCY.labels(path))
        return pair

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            count, latency = self._metrics(scope["method"], path, status)
            count.inc()
            latency.observe(time.perf_counter() - start)
