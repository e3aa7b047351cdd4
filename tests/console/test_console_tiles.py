"""The dispatcher's map past GRIDGIS_TILES_ABOVE features: grid outlines drawn from the vector tiles, in Chromium."""

from __future__ import annotations

import pytest

from api.settings import Settings
from gridgis.store import open_store

from .conftest import DISPATCHER
from .test_console_browser import signed_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('console-tiles')}/gridgis.db"


@pytest.fixture(scope="module")
def world(store_url, tmp_path_factory):
    """The toy plan published, the tiles threshold lowered to 10 features (the toy plan has 14 polygons)."""
    from tests.conftest import _toy_city, _toy_plan

    store = open_store(store_url)
    city = _toy_city()
    store.import_plan("toy", {"grids": _toy_plan(city), "towns": city["towns"], "communities": city["communities"]})
    store.publish_plan("toy")
    settings = Settings(
        database_url=store_url,
        api_keys=f"{DISPATCHER}:dispatcher",
        poll_seconds=0.2,
        upload_dir=str(tmp_path_factory.mktemp("uploads")),
        cases_escalate_seconds=0,
        tiles_above=10,
    )
    yield store, settings, None, None
    store.close()


def test_dispatcher_map_draws_grid_tiles(browser, live, tmp_path):
    requests: list[str] = []
    context, page, watch = signed_in(browser, live, DISPATCHER)
    page.on("request", lambda r: requests.append(r.url))
    page.reload()
    page.wait_for_function("document.body.getAttribute('data-gridgis-tiles-drawn') === '1'", timeout=20_000)
    page.screenshot(path=str(tmp_path / "dispatcher-tiles.png"))
    assert watch.errors == [] and watch.outside == []
    assert any("/ogc/collections/grids/tiles/WebMercatorQuad/" in u for u in requests)
    assert not any(u.endswith("/console/api/grids.geojson") for u in requests)
    # the outlines are on the map's tile canvases: some pixel is the outline colour #5b6b7d
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('#gg-map canvas')).some(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.abs(d[i] - 0x5b) < 12
                && Math.abs(d[i + 1] - 0x6b) < 12 && Math.abs(d[i + 2] - 0x7d) < 12) return true;
            return false; })"""
    )
    assert drawn
    context.close()
