"""The workbench page in the system Chromium: a planner opens a draft (a real partition of the toy city, 3 grids
per community), moves a building, sees a refused move's reason, locks a grid, rebalances the community (the locked
grid unchanged), renames a grid, undoes and redoes, saves a new draft and publishes. No request leaves 127.0.0.1,
no console error. Screenshots go to GRIDGIS_SCREENSHOT_DIR (default: the test's temporary directory)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import shapely

from api.main import create_app
from api.settings import Settings
from gridgis.store import open_store
from tests.console.conftest import live  # noqa: F401 - the app on 127.0.0.1
from tests.console.test_console_browser import signed_in
from tests.workbench.conftest import COMMUNITY

pytestmark = pytest.mark.browser
PLANNER = "ggk_workbench-planner-key"


@pytest.fixture(scope="module")
def world(tmp_path_factory, partitioned):
    from tests.conftest import _toy_city, _toy_plan

    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('workbench')}/gridgis.db")
    city = _toy_city()
    store.import_plan("now", {"grids": _toy_plan(city), "communities": city["communities"]})
    store.publish_plan("now")
    store.import_plan("draft", dict(partitioned.layers))
    settings = Settings(database_url=store.url, api_keys=f"{PLANNER}:planner", poll_seconds=0.2,
                        upload_dir=str(tmp_path_factory.mktemp("uploads")))  # fmt: skip
    yield store, settings
    store.close()


@pytest.fixture(scope="module")
def app(world):
    store, settings = world
    return create_app(settings, store=store)


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("GRIDGIS_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_workbench_in_the_browser(browser, live, world, partitioned, shots):  # noqa: F811
    store, _ = world
    grids = partitioned.grids.set_index("grid_id")
    b = partitioned.buildings
    g1, g2, g3 = sorted(grids.index[grids["community_id"] == COMMUNITY])
    third = b[b["grid_id"] == g3]
    near = third.iloc[int(np.argmin(shapely.distance(third.geometry.values, grids.loc[g2].geometry)))]["building_id"]
    others = b[(b["community_id"] == COMMUNITY) & (b["grid_id"] != g1)]
    far = others.iloc[int(np.argmax(shapely.distance(others.geometry.values, grids.loc[g1].geometry)))]["building_id"]

    _, page, watch = signed_in(browser, live, PLANNER)
    page.goto(f"{live}/console/plans?lang=en")
    page.click("#wb-plans a:text-is('draft')")
    page.wait_for_function("document.body.getAttribute('data-wb-ready') === '1'")
    assert page.locator("path[data-grid]").count() == 12 and page.locator("path[data-building]").count() == 144
    assert "72" in page.locator("#wb-compare").inner_text()  # the published plan's mean, beside the draft's
    page.screenshot(path=str(shots / "workbench-open.png"))

    def edits(n: int) -> None:
        page.wait_for_function(f"document.body.getAttribute('data-wb-edits') === '{n}'")

    # move a building of g3 touching g2 into g2
    page.locator(f"path[data-building='{near}']").dispatch_event("click")
    assert page.locator("#wb-nsel").inner_text() == "1"
    page.select_option("#wb-move-to", g2)
    page.click("#wb-move")
    edits(1)
    page.locator(f"path[data-grid='{g2}']").dispatch_event("click")
    assert page.locator("#wb-hh").inner_text() == "52"
    # a building that does not touch g1: refused, with the reason, and nothing changes
    page.locator(f"path[data-building='{far}']").dispatch_event("click")
    page.select_option("#wb-move-to", g1)
    page.click("#wb-move")
    page.wait_for_function("document.body.getAttribute('data-wb-refused') === '1'")
    msg = page.locator("#wb-msg").inner_text()
    assert msg.startswith("Refused: operation 1 (move)") and f"do not touch grid {g1}" in msg
    page.screenshot(path=str(shots / "workbench-refused.png"))
    edits(1)
    # lock g1, rebalance the community: g2 and g3 back to 48 households each
    page.locator(f"path[data-grid='{g1}']").dispatch_event("click")
    page.click("#wb-lock")
    edits(2)
    assert page.locator("#wb-lock").inner_text() == "Unlock"
    page.click("#wb-rebalance")
    edits(3)
    page.locator(f"path[data-grid='{g3}']").dispatch_event("click")
    assert page.locator("#wb-hh").inner_text() == "48"
    # rename g2; undo and redo it
    page.locator(f"path[data-grid='{g2}']").dispatch_event("click")
    page.fill("#wb-name", "沙坪一网格")
    page.click("#wb-rename")
    edits(4)
    page.click("#wb-undo")
    edits(3)
    assert page.locator("#wb-grid b").inner_text() != "沙坪一网格"
    page.click("#wb-redo")
    edits(4)
    assert page.locator("#wb-grid b").inner_text() == "沙坪一网格"
    page.screenshot(path=str(shots / "workbench-edited.png"))
    # save as a new draft: the store holds it, the locked grid identical to the draft's
    page.fill("#wb-save-name", "draft-v2")
    page.click("#wb-save")
    page.wait_for_function("document.body.getAttribute('data-wb-saved') === 'draft-v2'")
    saved = store.load_layer(store.get_plan("draft-v2").plan_id, "grids").set_index("grid_id")
    assert saved.loc[g2, "name"] == "沙坪一网格" and bool(saved.loc[g1, "locked"])
    assert saved.loc[[g1, g2, g3], "households"].tolist() == [48, 48, 48]
    assert shapely.equals_exact(saved.loc[g1].geometry, grids.loc[g1].geometry, 1e-9)
    # the saved draft opens in the workbench and is published from it
    page.goto(f"{live}/console/plans/draft-v2?lang=zh")
    page.wait_for_function("document.body.getAttribute('data-wb-ready') === '1'")
    page.once("dialog", lambda d: d.accept())
    page.click("#wb-publish")
    page.wait_for_function("document.getElementById('wb-msg').textContent.includes('draft-v2')")
    assert store.get_plan().name == "draft-v2" and page.locator(".wb-status").inner_text() == "published"
    page.screenshot(path=str(shots / "workbench-published.png"))
    # the one error Chromium logs is the refused move's answer (409)
    assert [e for e in watch.errors if "status of 409" not in e] == [] and not watch.outside
