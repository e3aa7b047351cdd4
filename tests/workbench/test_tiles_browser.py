"""The workbench on a plan past GRIDGIS_TILES_ABOVE features: buildings drawn from the vector tiles, and only those
in view loaded (as GeoJSON, to select and move) once zoomed in to the edit zoom; in the system Chromium."""

from __future__ import annotations

import pytest

from api.main import create_app
from tests.console.conftest import live  # noqa: F401 - the app on 127.0.0.1
from tests.console.test_console_browser import signed_in
from tests.workbench.conftest import workbench_store

pytestmark = pytest.mark.browser
PLANNER = "ggk_workbench-tiles-planner"


@pytest.fixture(scope="module")
def world(tmp_path_factory, partitioned):
    with workbench_store(tmp_path_factory, partitioned, f"{PLANNER}:planner", tiles_above=10) as world:
        yield world


@pytest.fixture(scope="module")
def app(world):
    store, settings = world
    return create_app(settings, store=store)


def test_workbench_loads_buildings_in_view_from_the_edit_zoom(browser, live, tmp_path):  # noqa: F811
    requests: list[str] = []
    _, page, watch = signed_in(browser, live, PLANNER)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live}/console/plans/draft?lang=en")
    page.wait_for_function("document.body.getAttribute('data-wb-ready') === '1'")
    assert page.locator("path[data-grid]").count() == 12
    assert page.locator("path[data-building]").count() == 0  # the whole plan in view: buildings from tiles only
    assert not any("/workbench/buildings" in u for u in requests)
    page.wait_for_function("document.querySelectorAll('#wb-map canvas').length > 0")
    assert any("/ogc/collections/buildings/tiles/WebMercatorQuad/" in u and "plan=draft" in u for u in requests)
    for _ in range(4):  # to the edit zoom (16) and past it
        page.locator(".leaflet-control-zoom-in").dispatch_event("click")
        page.wait_for_timeout(400)
    page.wait_for_function("document.querySelectorAll('path[data-building]').length > 0")
    shown = page.locator("path[data-building]").count()
    assert 0 < shown < 144  # only the buildings in view
    page.screenshot(path=str(tmp_path / "workbench-tiles.png"))
    page.locator("path[data-building]").first.dispatch_event("click")
    assert page.locator("#wb-nsel").inner_text() == "1"
    assert page.locator("#wb-move-to option").count() >= 1  # the selected building's community's grids
    assert watch.errors == [] and watch.outside == []
