"""Console fixtures: the service over both stores (SQLite, PostGIS) with the toy plan published, staff keys,
a signed-in HTTP client per role, a live server on 127.0.0.1 (the browser is tests/conftest.py's)."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
import zlib

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from gridgis.store import open_store
from tests.api.conftest import store_url  # noqa: F401 - both stores, as the API tests

DISPATCHER = "ggk_console-dispatcher-key"
#: a second dispatcher: the check (核查) is someone else's than the resolver's
OTHER_DISPATCHER = "ggk_console-dispatcher-two"
READER = "ggk_console-reader-key"
GRID = "440784101001001"  # west half of 雅瑶镇's first community: x 112.90-112.91, y 22.70-22.72
OTHER_GRID = "440784106002002"
IN_GRID = (112.905, 22.71)


def png(width: int = 8, height: int = 6, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A real PNG image (a flat colour), made without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def world(store_url, tmp_path_factory):  # noqa: F811 - the fixture imported above
    """(store, settings, worker key, other grid's worker key) with the toy plan published."""
    from tests.conftest import _toy_city, _toy_plan

    store = open_store(store_url)
    city = _toy_city()
    layers = {"grids": _toy_plan(city), "towns": city["towns"], "communities": city["communities"]}
    store.import_plan("toy", layers)
    store.publish_plan("toy")
    worker = store.create_key("worker", "王五", grids=[GRID])
    other = store.create_key("worker", "赵六", grids=[OTHER_GRID])
    store.set_staff(GRID, {"workers": [{"name": "王五"}]})  # the grid's worker, a person cases are assigned to
    settings = Settings(
        database_url=store_url,
        api_keys=f"{DISPATCHER}:dispatcher,{OTHER_DISPATCHER}:dispatcher,{READER}:reader",
        poll_seconds=0.2,
        upload_dir=str(tmp_path_factory.mktemp("uploads")),
        cases_escalate_seconds=0,
    )
    yield store, settings, worker, other
    store.close()


@pytest.fixture(scope="module")
def app(world):
    store, settings, _, _ = world
    return create_app(settings, store=store)


@pytest.fixture(scope="module")
def api(app):
    """A client without a session (API keys in headers)."""
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


def sign_in(app, key: str) -> TestClient:
    """A client signed in to the console with ``key``; its CSRF token in ``client.csrf``."""
    client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    client.__enter__()
    r = client.post("/console/sign-in", data={"secret": key}, follow_redirects=True)
    assert r.status_code == 200, r.text[:300]
    client.csrf = re.search(r'"csrf": "([^"]+)"', r.text).group(1)
    return client


def submit(api: TestClient, lon: float = IN_GRID[0], lat: float = IN_GRID[1], **extra) -> dict:
    body = {"category": "urban_management", "description": "垃圾堆放 rubbish", "lon": lon, "lat": lat, **extra}
    r = api.post("/v1/cases", json=body, headers={"X-API-Key": READER})
    assert r.status_code == 201, r.text
    return r.json()


# --- live server and browser ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(app):
    """The app served by uvicorn on 127.0.0.1 in a thread; its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
