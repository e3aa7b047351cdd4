"""The workbench page in the system Chromium: a planner opens a draft (a real partition of the toy city with its
road as a barrier, 3 grids per community, 2 street blocks each), moves a building, lassoes two buildings and moves
them, moves a whole street block, sees a refused move's reason, locks a grid, rebalances the community (the locked
grid unchanged), renames a grid and names grids from a CSV table, undoes and redoes, compares with the published
plan, saves a new draft and publishes it after the re-plan dry-run table. Every figure the page shows is checked
against the library applying the same edit list. No request leaves 127.0.0.1, no console error. Screenshots go to
GRIDGIS_SCREENSHOT_DIR (default: the test's temporary directory)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import shapely

from api.main import create_app
from gridgis.errors import EditRefused
from gridgis.planedit import EditResult, Plan, apply_edits
from tests.conftest import SIZE
from tests.console.conftest import live  # noqa: F401 - the app on 127.0.0.1
from tests.console.test_console_browser import signed_in
from tests.workbench.conftest import COMMUNITY, workbench_store

pytestmark = pytest.mark.browser
PLANNER = "ggk_workbench-planner-key"
READER = "ggk_workbench-reader-key"


@pytest.fixture(scope="module")
def roads_plan() -> Plan:
    """The toy city partitioned into 12 grids with its road as a barrier: the plan with its street blocks."""
    from gridgis.partition import partition
    from tests.conftest import _toy_city

    city = _toy_city()
    result = partition(city, n_grids=12, barriers=["roads"])
    return Plan({"grids": result.grids, "buildings": result.buildings, "blocks": result.blocks,
                 "communities": city["communities"], "towns": city["towns"]})  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory, roads_plan):
    with workbench_store(tmp_path_factory, roads_plan, f"{PLANNER}:planner,{READER}:reader") as world:
        yield world


@pytest.fixture(scope="module")
def app(world):
    store, settings = world
    return create_app(settings, store=store)


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("GRIDGIS_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _accepted(plan: Plan, edits: list[dict], candidates) -> tuple[dict, EditResult]:
    """The first candidate operation the library accepts after ``edits``, and the result."""
    for op in candidates:
        try:
            return op, apply_edits(plan, [*edits, op])
        except EditRefused:
            continue
    raise AssertionError("no candidate move is allowed")


def _households(result: EditResult, gid: str) -> str:
    return str(int(result.grids.set_index("grid_id").loc[gid, "households"]))


def _lasso(page, ids) -> None:
    """Draw a freehand loop with the mouse around the buildings ``ids`` (their boxes on the screen)."""
    boxes = [page.locator(f"path[data-building='{b}']").bounding_box() for b in ids]
    x0, y0 = min(b["x"] for b in boxes) - 4, min(b["y"] for b in boxes) - 4
    x1 = max(b["x"] + b["width"] for b in boxes) + 4
    y1 = max(b["y"] + b["height"] for b in boxes) + 4
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)):
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def test_workbench_in_the_browser(browser, live, world, roads_plan, shots):  # noqa: F811
    from gridgis.store.replan import publish

    store, _ = world
    plan = roads_plan
    grids = plan.grids.set_index("grid_id")
    xy = shapely.get_coordinates(shapely.centroid(plan.buildings.geometry.values))
    b = plan.buildings.assign(x=xy[:, 0], y=xy[:, 1])
    g1, g2, g3 = sorted(grids.index[grids["community_id"] == COMMUNITY])
    third = b[b["grid_id"] == g3]
    near = third.iloc[int(np.argmin(shapely.distance(third.geometry.values, grids.loc[g2].geometry)))]["building_id"]
    others = b[(b["community_id"] == COMMUNITY) & (b["grid_id"] != g1)]
    far = others.iloc[int(np.argmax(shapely.distance(others.geometry.values, grids.loc[g1].geometry)))]["building_id"]
    # an open case in the published plan's first grid, so that the publish moves something besides grids
    case = {"category": "urban_management", "description": "垃圾堆放", "lon": 112.905, "lat": 22.705}

    context, page, watch = signed_in(browser, live, PLANNER)
    r = context.request.post(f"{live}/v1/cases", data=json.dumps(case),
                             headers={"X-API-Key": READER, "Content-Type": "application/json"})  # fmt: skip
    assert r.status == 201, r.text()
    page.goto(f"{live}/console/plans?lang=en")
    page.click("#wb-plans a:text-is('draft')")
    page.wait_for_function("document.body.getAttribute('data-wb-ready') === '1'")
    assert page.locator("path[data-grid]").count() == 12 and page.locator("path[data-building]").count() == 144
    assert "72" in page.locator("#wb-compare").inner_text()  # the published plan's mean, beside the draft's
    page.screenshot(path=str(shots / "workbench-open.png"))

    def edits(n: int) -> None:
        page.wait_for_function(f"document.body.getAttribute('data-wb-edits') === '{n}'")

    def households(gid: str) -> str:
        page.locator(f"path[data-grid='{gid}']").dispatch_event("click")
        return page.locator("#wb-hh").inner_text()

    # move a building of g3 touching g2 into g2
    page.locator(f"path[data-building='{near}']").dispatch_event("click")
    assert page.locator("#wb-nsel").inner_text() == "1"
    page.select_option("#wb-move-to", g2)
    page.click("#wb-move")
    edits(1)
    done = [{"op": "move", "buildings": [int(near)], "to": g2}]
    assert households(g2) == _households(apply_edits(plan, done), g2) == "52"
    # a building that does not touch g1: refused, with the reason, and nothing changes
    page.locator(f"path[data-building='{far}']").dispatch_event("click")
    page.select_option("#wb-move-to", g1)
    page.click("#wb-move")
    page.wait_for_function("document.body.getAttribute('data-wb-refused') === '1'")
    msg = page.locator("#wb-msg").inner_text()
    assert msg.startswith("Refused: operation 1 (move)") and f"do not touch grid {g1}" in msg
    page.screenshot(path=str(shots / "workbench-refused.png"))
    edits(1)
    page.click("#wb-clear")
    # lasso two neighbouring buildings of g3 (one step apart, a move the library allows) and move them to g2
    step = SIZE / 6
    pairs = [[int(p.building_id), int(q.building_id)] for p in third.itertuples() for q in third.itertuples()
             if p.building_id < q.building_id and np.isclose(np.hypot(p.x - q.x, p.y - q.y), step)
             and near not in (p.building_id, q.building_id)]  # fmt: skip
    op, result = _accepted(plan, done, ({"op": "move", "buildings": pair, "to": g2} for pair in pairs))
    page.click("#wb-mode-lasso")
    _lasso(page, op["buildings"])
    assert page.locator("#wb-nsel").inner_text() == "2"
    page.screenshot(path=str(shots / "workbench-lasso.png"))
    page.select_option("#wb-move-to", g2)
    page.click("#wb-move")
    edits(2)
    done.append(op)
    page.click("#wb-mode-click")
    assert households(g2) == _households(result, g2) == "60"
    # a whole street block to a grid of its community: the first such move the library allows
    blocks = plan.layers["blocks"]
    mine = sorted(blocks.loc[blocks["community_id"] == COMMUNITY, "block_id"])
    op, result = _accepted(plan, done, ({"op": "move", "block": k, "to": g} for k in mine for g in (g2, g3, g1)))
    page.click("#wb-mode-block")
    page.locator(f"path[data-block='{op['block']}']").dispatch_event("click")
    assert page.locator("#wb-block").inner_text().startswith(f"Block {op['block']} · 18 Buildings · 72 Households")
    assert page.locator("#wb-nsel").inner_text() == "0"
    page.screenshot(path=str(shots / "workbench-block.png"))
    page.select_option("#wb-move-to", op["to"])
    page.click("#wb-move")
    edits(3)
    done.append(op)
    page.click("#wb-mode-click")
    for gid in (g1, g2, g3):
        assert households(gid) == _households(result, gid)
    # lock g1, rebalance the community: g2 and g3 as the library balances them, g1 unchanged
    locked_hh = households(g1)
    page.click("#wb-lock")
    edits(4)
    assert page.locator("#wb-lock").inner_text() == "Unlock"
    page.click("#wb-rebalance")
    edits(5)
    done += [{"op": "lock", "grids": [g1]}, {"op": "rebalance", "community": COMMUNITY}]
    result = apply_edits(plan, done)
    assert households(g1) == locked_hh
    assert households(g2) == _households(result, g2) and households(g3) == _households(result, g3)
    # rename g2; undo and redo it
    page.locator(f"path[data-grid='{g2}']").dispatch_event("click")
    page.fill("#wb-name", "沙坪一网格")
    page.click("#wb-rename")
    edits(6)
    page.click("#wb-undo")
    edits(5)
    assert page.locator("#wb-grid b").inner_text() != "沙坪一网格"
    page.click("#wb-redo")
    edits(6)
    assert page.locator("#wb-grid b").inner_text() == "沙坪一网格"
    # names and notes from a table: one rename and one note, appended as two edits
    table = f"grid_id,name,note\n{g3},沙坪三网格,\n{g1},,菜市场旁\n".encode()
    page.set_input_files("#wb-names-file", files=[{"name": "names.csv", "mimeType": "text/csv", "buffer": table}])
    page.click("#wb-names")
    edits(8)
    page.locator(f"path[data-grid='{g3}']").dispatch_event("click")
    assert page.locator("#wb-grid b").inner_text() == "沙坪三网格"
    page.locator(f"path[data-grid='{g1}']").dispatch_event("click")
    assert page.locator("#wb-note").input_value() == "菜市场旁"
    page.screenshot(path=str(shots / "workbench-edited.png"))
    # compare the stored draft with the published plan: the per-community table of the diff
    page.click("#wb-compare-btn")
    page.wait_for_function("document.body.getAttribute('data-wb-compared') === '1'")
    diff = publish(store, "draft", against="now", actor="test")
    for col in ("kept", "new", "retired"):
        assert page.locator(f"#wb-diff [data-total='{col}']").inner_text() == str(diff.totals[col])
    assert diff.totals["new"] == 4  # 3 grids per community where the published plan has 2
    assert "8 unsaved edits" in page.locator("#wb-diff").inner_text()
    # save as a new draft: the store holds it, the locked grid identical to the draft's
    page.fill("#wb-save-name", "draft-v2")
    page.click("#wb-save")
    page.wait_for_function("document.body.getAttribute('data-wb-saved') === 'draft-v2'")
    saved = store.load_layer(store.get_plan("draft-v2").plan_id, "grids").set_index("grid_id")
    assert saved.loc[g2, "name"] == "沙坪一网格" and saved.loc[g3, "name"] == "沙坪三网格"
    assert bool(saved.loc[g1, "locked"]) and saved.loc[g1, "note"] == "菜市场旁"
    assert saved.loc[[g1, g2, g3], "households"].tolist() == result.grids.set_index("grid_id").loc[
        [g1, g2, g3], "households"].tolist()  # fmt: skip
    locked = apply_edits(plan, done[:-1]).grids.set_index("grid_id").loc[g1].geometry  # as it was locked
    assert shapely.equals_exact(saved.loc[g1].geometry, locked, 1e-9)
    assert store.get_plan("draft-v2").counts["blocks"] == len(blocks)  # the blocks go with the saved draft
    # the saved draft opens in the workbench; publishing shows the re-plan dry run first, then publishes
    page.goto(f"{live}/console/plans/draft-v2?lang=zh")
    page.wait_for_function("document.body.getAttribute('data-wb-ready') === '1'")
    page.click("#wb-publish")
    page.wait_for_function("document.body.getAttribute('data-wb-dry-run') === '1'")
    dry = publish(store, "draft-v2", dry_run=True, actor="test")
    assert store.get_plan().name == "now"  # nothing published yet
    box = page.locator("#wb-publish-box")
    assert "迁移预演" in box.inner_text() and "案件改派" in box.inner_text()
    for col in ("buildings_moved", "cases_rerouted", "staff_moved", "keys_moved"):
        assert box.locator(f"[data-total='{col}']").inner_text() == str(dry.totals[col])
    assert dry.totals["cases_rerouted"] + dry.totals["buildings_moved"] > 0
    page.screenshot(path=str(shots / "workbench-publish-dry-run.png"))
    page.click("#wb-publish-yes")
    page.wait_for_function("document.getElementById('wb-msg').textContent.includes('draft-v2')")
    assert store.get_plan().name == "draft-v2" and page.locator(".wb-status").inner_text() == "published"
    page.screenshot(path=str(shots / "workbench-published.png"))
    # the one error Chromium logs is the refused move's answer (409)
    assert [e for e in watch.errors if "status of 409" not in e] == [] and not watch.outside
