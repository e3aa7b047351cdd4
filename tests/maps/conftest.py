"""Fixtures of the map tests: a toy plan with loads, a local web server (the browser is tests/conftest.py's)."""

from __future__ import annotations

import functools
import http.server
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import geopandas as gpd
import pytest

from .helpers import assign_buildings, with_loads

LOCAL_HOSTS = ("127.0.0.1",)


@pytest.fixture
def plan_layers(toy_city, toy_plan) -> dict[str, gpd.GeoDataFrame]:
    """The toy city and plan as a plan GeoPackage holds them; grid 0 is 25 % over target, grid 1 25 % under."""
    loads = [90.0, 54.0] + [72.0] * 6
    grids = with_loads(toy_plan, loads)
    grids.loc[grids.index[3], "kind"] = "dedicated"
    layers = {k: v for k, v in toy_city.items() if k != "facilities"}
    layers["grids"] = grids
    layers["buildings"] = assign_buildings(toy_city["buildings"], grids)
    return layers


@dataclass
class PageReport:
    """What happened while a page loaded in the browser."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith("data:") and urlsplit(u).hostname not in LOCAL_HOSTS]


@pytest.fixture(scope="session")
def served_dir(tmp_path_factory):
    """A directory served over http://127.0.0.1 (pages are opened as a user's browser would)."""
    root = tmp_path_factory.mktemp("pages")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture
def open_page(browser, tmp_path):
    """Open a URL with every request logged and any request off 127.0.0.1 aborted; wait until drawn."""
    contexts = []

    def _open(url: str, *, responder=None, screenshot: str | None = None):
        """``responder(path) -> (status, content type, body)`` answers 127.0.0.1 requests instead of a server."""
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        report = PageReport()
        page.on("console", lambda msg: msg.type == "error" and report.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: report.console_errors.append(str(exc)))

        def route(r):
            report.requests.append(r.request.url)
            parts = urlsplit(r.request.url)
            if parts.hostname in LOCAL_HOSTS and responder is not None:
                status, content_type, body = responder(parts.path + (f"?{parts.query}" if parts.query else ""))
                r.fulfill(status=status, content_type=content_type, body=body)
            elif parts.hostname in LOCAL_HOSTS:
                r.continue_()
            else:
                r.abort()

        page.route("**/*", route)
        page.goto(url)
        page.wait_for_function("() => window.L && document.body.getAttribute('data-gridgis-ready') === '1'")
        if screenshot:
            page.screenshot(path=str(tmp_path / screenshot))
        return page, report

    yield _open
    for context in contexts:
        context.close()
