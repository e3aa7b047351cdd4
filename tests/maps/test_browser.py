"""Each map page in headless Chromium without network: drawn, legend, no console error, all requests to 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from gridgis.maps import cases_map, compare_map, plan_map, render_page, write_page

from .helpers import assign_buildings, north_south_plan, toy_cases

pytestmark = pytest.mark.browser

FIND_MAP = "Object.values(window).find(v => v instanceof L.Map)"
DISPATCHER = "ggk_dsp3333333333333333"


def set_zoom(page, zoom: int) -> None:
    page.evaluate(f"() => {{ {FIND_MAP}.setZoom({zoom}, {{animate: false}}); }}")


def check_page(page, report, *, grids: int, screenshot) -> None:
    assert report.console_errors == []
    assert report.outside == []
    assert page.locator("path.gridgis-grid").count() == grids
    assert page.locator(".gridgis-legend").count() == 1
    assert screenshot.stat().st_size > 10_000


def test_plan_page(plan_layers, served_dir, open_page, tmp_path):
    root, base = served_dir
    grid0 = plan_layers["grids"]["grid_id"][0]
    write_page(render_page(plan_map(plan_layers, leaders={grid0: "张三"})), root / "plan.html")
    page, report = open_page(f"{base}/plan.html", screenshot="plan.png")
    check_page(page, report, grids=8, screenshot=tmp_path / "plan.png")
    assert report.requests == [f"{base}/plan.html"]
    assert page.locator("path.gridgis-dedicated").count() == 1
    assert page.locator("path.gridgis-dedicated-outline").count() == 1  # redrawn above the borders
    assert page.locator(".gridgis-label").count() == 0  # codes only from zoom 15

    page.locator("path.gridgis-grid").first.hover()
    tooltip = page.locator(".leaflet-tooltip").inner_text()
    assert grid0 in tooltip and "张三" in tooltip and "+25%" in tooltip

    page.get_by_text("楼栋").click()  # switch the buildings on: drawn into canvas tiles
    page.wait_for_function("document.querySelectorAll('canvas.gridgis-dots').length > 0")
    assert page.evaluate("Object.values(window).find(v => v instanceof gridgisMaps.DotLayer && v._map).count") == 144
    set_zoom(page, 15)
    page.wait_for_function("document.querySelectorAll('.gridgis-label').length > 0")
    labels = page.locator(".gridgis-label").all_inner_texts()
    assert set(labels) <= set(plan_layers["grids"]["grid_code"]) and grid0 in labels
    assert report.console_errors == [] and report.outside == []


def test_compare_page(toy_city, plan_layers, served_dir, open_page, tmp_path):
    root, base = served_dir
    new = dict(plan_layers, grids=north_south_plan(toy_city))
    new["buildings"] = assign_buildings(toy_city["buildings"], new["grids"])
    write_page(render_page(compare_map(plan_layers, new, lang="en")), root / "compare.html")
    page, report = open_page(f"{base}/compare.html", screenshot="compare.png")
    check_page(page, report, grids=8, screenshot=tmp_path / "compare.png")
    assert page.locator("path.gridgis-old-grid").count() == 8
    page.get_by_text("Per-community comparison").click()  # the table opens on demand
    rows = page.locator(".gridgis-table tbody tr").all_inner_texts()
    assert len(rows) == 5 and rows[-1].split("\t") == ["Total", "8", "8", "25%", "0%", "72"]
    assert "Buildings changing grid: 72" in page.locator(".gridgis-legend").inner_text()


def test_cases_page_filters(plan_layers, served_dir, open_page, tmp_path):
    root, base = served_dir
    cases = toy_cases(6)  # fire, river_chief, fire, fire, river_chief, fire: one a day, 2 to 7 Nov (Beijing)
    write_page(render_page(cases_map(cases, plan_layers["grids"])), root / "cases.html")
    page, report = open_page(f"{base}/cases.html", screenshot="cases.png")
    check_page(page, report, grids=8, screenshot=tmp_path / "cases.png")
    shown = page.locator(".gridgis-shown")
    assert shown.inner_text() == "6"
    page.locator("select[name=category]").select_option("fire")
    assert shown.inner_text() == "4"
    page.locator("input[name=from]").fill("2026-11-04")
    page.locator("input[name=from]").dispatch_event("change")
    assert shown.inner_text() == "3"  # fire cases of 4, 5 and 7 Nov
    page.get_by_text("热力图").click()
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
    page.locator("select[name=category]").select_option("")
    assert shown.inner_text() == "4"  # 4 to 7 Nov
    # the heat layer follows the filters: 4 points now
    assert page.evaluate("Object.values(window).find(v => v instanceof L.HeatLayer)._latlngs.length") == 4
    set_zoom(page, 19)  # unclustered: popups show the case
    assert report.console_errors == []
    assert "</script><script>" not in page.content()


@pytest.fixture
def service(tmp_path, toy_city, plan_layers):
    """The service over a SQLite store holding the toy plan (published) and three cases."""
    from api.main import create_app
    from api.settings import Settings
    from gridgis.store import open_store

    url = f"sqlite:///{tmp_path / 'gridgis.db'}"
    store = open_store(url)
    store.import_plan("toy", {k: plan_layers[k] for k in ("towns", "communities", "grids", "buildings")})
    store.publish_plan("toy")
    store.set_staff(plan_layers["grids"]["grid_id"][0], {"leader": {"name": "李长"}, "workers": []})
    store.close()
    app = create_app(Settings(database_url=url, api_keys=f"{DISPATCHER}:dispatcher", poll_seconds=0.2))
    with TestClient(app) as client:
        for i, (lon, category) in enumerate(((112.905, "fire"), (112.915, "fire"), (112.945, "river_chief"))):
            body = {"category": category, "description": f"事件{i}", "lon": lon, "lat": 22.705}
            assert client.post("/v1/cases", json=body, headers={"X-API-Key": DISPATCHER}).status_code == 201
        yield client


def served_by(client: TestClient, headers: dict | None = None):
    """A responder answering the browser's 127.0.0.1 requests from the app (no server process needed)."""

    def respond(path: str):
        r = client.get(path, headers=headers or {})
        return r.status_code, r.headers.get("content-type", ""), r.content

    return respond


def test_service_pages(service, open_page, tmp_path):
    page, report = open_page("http://127.0.0.1/maps/plan", responder=served_by(service), screenshot="api-plan.png")
    check_page(page, report, grids=8, screenshot=tmp_path / "api-plan.png")
    assert "http://127.0.0.1/maps/assets/leaflet.js" in report.requests
    page.locator("path.gridgis-grid").first.hover()
    assert "李长" in page.locator(".leaflet-tooltip").inner_text()  # the grid leader, from the staff table

    page, report = open_page(
        "http://127.0.0.1/maps/cases?lang=en",
        responder=served_by(service, {"X-API-Key": DISPATCHER}),
        screenshot="api-cases.png",
    )
    check_page(page, report, grids=8, screenshot=tmp_path / "api-cases.png")
    assert page.locator(".gridgis-shown").inner_text() == "3"
    assert "http://127.0.0.1/maps/assets/leaflet.markercluster.js" in report.requests


def test_service_errors(service):
    assert service.get("/maps/cases").status_code == 401  # cases are for dispatchers
    r = service.get("/maps/plan", params={"basemap": "google"})
    assert r.status_code == 422 and "google" in r.text and "tianditu" in r.text
    r = service.get("/maps/plan", params={"basemap": "tianditu"})
    assert r.status_code == 422 and "key" in r.text
    assert "tianditu_key=" in r.json()["error"]["details"]["fix"]  # the page's own parameter, not the CLI option
    r = service.get("/maps/plan", params={"basemap": "tianditu", "tianditu_key": "k123"})
    assert r.status_code == 200 and "tk=k123" in r.text
    assert service.get("/maps/plan", params={"plan": "nope"}).status_code == 404
    assert service.get("/maps/assets/leaflet.js").headers["content-type"].startswith("text/javascript")
    assert service.get("/maps/assets/..%2Fpage.py").status_code == 404


def test_service_plan_page_follows_staff_edits(service, plan_layers):
    first = service.get("/maps/plan").text
    assert json.dumps("李长")[1:-1] in first
    assert service.get("/maps/plan").text == first  # cached
    service.app.state.gridgis.store.set_staff(plan_layers["grids"]["grid_id"][0], {"leader": {"name": "周新"}})
    again = service.get("/maps/plan").text
    assert json.dumps("周新")[1:-1] in again and json.dumps("李长")[1:-1] not in again
