"""The plan page drawn from vector tiles (a plan past GRIDGIS_TILES_ABOVE features) in headless Chromium."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .test_browser import FIND_MAP, served_by

pytestmark = pytest.mark.browser


def _service(tmp_path, plan_layers, **settings):
    from api.main import create_app
    from api.settings import Settings
    from gridgis.store import open_store

    url = f"sqlite:///{tmp_path / 'gridgis.db'}"
    store = open_store(url)
    store.import_plan("toy", {k: plan_layers[k] for k in ("towns", "communities", "grids", "buildings")})
    store.publish_plan("toy")
    store.close()
    return TestClient(create_app(Settings(database_url=url, poll_seconds=0.2, **settings)))


@pytest.fixture
def big_service(tmp_path, plan_layers):
    """The service over a SQLite store holding the toy plan, with the tiles threshold lowered to 10 features."""
    with _service(tmp_path, plan_layers, tiles_above=10) as client:
        yield client


def _pixel(page, lon: float, lat: float) -> list[int]:
    """The RGBA of the tile canvas pixel under a WGS84 point."""
    return page.evaluate(
        """([lon, lat]) => {
          const map = MAP;
          const p = map.latLngToContainerPoint([lat, lon]);
          for (const c of document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-tile-container canvas')) {
            const r = c.getBoundingClientRect(), m = map.getContainer().getBoundingClientRect();
            const x = p.x + m.left - r.left, y = p.y + m.top - r.top;
            if (x < 0 || y < 0 || x >= r.width || y >= r.height) continue;
            const d = c.getContext('2d').getImageData(x * c.width / r.width, y * c.height / r.height, 1, 1).data;
            if (d[3] > 0) return Array.from(d);
          }
          return [0, 0, 0, 0];
        }""".replace("MAP", FIND_MAP),
        [lon, lat],
    )


def test_big_plan_page_draws_from_tiles(big_service, open_page, tmp_path):
    html = big_service.get("/maps/plan").text
    assert "gridgisTiles.plan" in html and "440784101001001" not in html  # no grid in the page itself
    page, report = open_page("http://127.0.0.1/maps/plan", responder=served_by(big_service))
    page.wait_for_function("() => document.body.getAttribute('data-gridgis-tiles-drawn') === '1'", timeout=20_000)
    page.wait_for_timeout(300)  # the tiles' fade-in
    page.screenshot(path=str(tmp_path / "tiled-plan.png"))
    assert report.console_errors == [] and report.outside == []
    tiles = [u for u in report.requests if "/tiles/WebMercatorQuad/" in u]
    assert any("/collections/grids/" in u for u in tiles) and any("/collections/towns/" in u for u in tiles)
    assert "http://127.0.0.1/maps/assets/leaflet-vectorgrid.js" in report.requests
    assert page.locator(".gridgis-legend").count() == 1
    # grid 0 (雅瑶 west half of the first community) is 25 % over the county mean: drawn red; grid 1, 25 % under: blue
    over = _pixel(page, 112.905, 22.71)
    under = _pixel(page, 112.915, 22.71)
    assert over[0] > over[2] + 40, over
    assert under[2] > under[0] + 40, under
    # a click on a grid opens its figures
    point = page.evaluate(
        f"() => {{ const p = {FIND_MAP}.latLngToContainerPoint([22.71, 112.905]); return [p.x, p.y]; }}"
    )
    page.locator(".leaflet-container").click(position={"x": point[0], "y": point[1]})
    page.wait_for_selector(".leaflet-popup-content")
    assert "440784101001001" in page.locator(".leaflet-popup-content").inner_text()
    assert report.console_errors == []


def test_small_plan_page_stays_geojson(tmp_path, plan_layers):
    with _service(tmp_path, plan_layers) as client:  # the default threshold: 100,000 features
        html = client.get("/maps/plan").text
    assert "gridgisTiles" not in html and "440784101001001" in html
