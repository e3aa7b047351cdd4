"""``/v1/plans/{name}/workbench`` and ``POST /v1/plans/{name}/edits`` on both stores."""

from __future__ import annotations

import itertools

import pytest

from tests.workbench.conftest import EAST, WEST, toy_layers

_n = itertools.count(1)


@pytest.fixture
def plan_name(store, toy_city, toy_plan) -> str:
    name = f"wb-{next(_n)}"
    layers = toy_layers(toy_city, toy_plan)
    store.import_plan(name, {k: v for k, v in layers.items() if k != "shops"})
    return name


def test_workbench_needs_a_planner(client, auth, plan_name):
    assert client.get(f"/v1/plans/{plan_name}/workbench").status_code == 401
    r = client.post(f"/v1/plans/{plan_name}/edits", json={"edits": []}, headers=auth["dispatcher"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_workbench_grids_and_distribution(client, auth, plan_name):
    r = client.get(f"/v1/plans/{plan_name}/workbench", headers=auth["planner"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["features"]) == 8 and body["plan"]["name"] == plan_name
    assert body["distribution"]["mean"] == 72.0 and body["features"][0]["properties"]["locked"] is False
    r = client.get(f"/v1/plans/{plan_name}/workbench/buildings", params={"bbox": "112.90,22.70,112.92,22.72"},
                   headers=auth["planner"])  # fmt: skip
    assert len(r.json()["features"]) == 36
    assert client.get("/v1/plans/nope/workbench", headers=auth["planner"]).status_code == 404


def test_edits_answer_figures_and_save_as_a_draft(client, auth, plan_name):
    edits = [{"op": "move", "buildings": [18, 19, 20, 21, 22, 23], "to": WEST}, {"op": "lock", "grids": [WEST]}]
    r = client.post(f"/v1/plans/{plan_name}/edits", json={"edits": edits}, headers=auth["planner"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] == [WEST, EAST] and body["moved"] == {str(b): WEST for b in range(18, 24)}
    assert (body["distribution"]["min"], body["distribution"]["max"]) == (48.0, 96.0)
    assert {f["id"] for f in body["grids"]["features"]} == {WEST, EAST}
    figs = {f["grid_id"]: f for f in body["figures"]}
    assert figs[WEST]["households"] == 96 and figs[WEST]["locked"] is True and len(figs) == 8
    # nothing was stored
    assert client.get(f"/v1/plans/{plan_name}/workbench", headers=auth["planner"]).json()["distribution"]["max"] == 72
    r = client.post(f"/v1/plans/{plan_name}/edits", json={"edits": edits, "save_as": f"{plan_name}-v2"},
                    headers=auth["planner"])  # fmt: skip
    assert r.status_code == 201, r.text
    saved = r.json()["saved"]
    assert saved["status"] == "draft" and saved["counts"]["grids"] == 8
    again = client.get(f"/v1/plans/{plan_name}-v2/workbench", headers=auth["planner"]).json()
    west = next(f for f in again["features"] if f["id"] == WEST)["properties"]
    assert west["households"] == 96 and west["locked"] is True
    r = client.post(f"/v1/plans/{plan_name}/edits", json={"edits": [], "save_as": f"{plan_name}-v2"},
                    headers=auth["planner"])  # fmt: skip
    assert r.status_code == 422 and "exists already" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("edits", "status", "code", "words"),
    [
        ([{"op": "move", "buildings": [30], "to": WEST}], 409, "edit_refused", "do not touch grid"),
        ([{"op": "lock", "grids": [EAST]}, {"op": "move", "buildings": [18], "to": WEST}], 409, "edit_refused",
         "operation 1 (move): grid(s) ['440784101001002'] are locked"),
        ([{"op": "fly"}], 422, "invalid_input", "operation 0: unknown op 'fly'"),
        ([{"op": "move", "buildings": [9999], "to": WEST}], 422, "invalid_input", "no building(s) [9999]"),
    ],
)  # fmt: skip
def test_refused_and_bad_edits(client, auth, plan_name, edits, status, code, words):
    r = client.post(f"/v1/plans/{plan_name}/edits", json={"edits": edits}, headers=auth["planner"])
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and words in err["message"]
    if status == 409:
        assert err["details"]["op"] == len(edits) - 1


def test_body_shape_is_checked(client, auth, plan_name):
    r = client.post(f"/v1/plans/{plan_name}/edits", json={"edits": [], "colour": 1}, headers=auth["planner"])
    assert r.status_code == 422
    r = client.post("/v1/plans/nope/edits", json={"edits": []}, headers=auth["planner"])
    assert r.status_code == 404


def test_pages_are_for_planners(client, auth, plan_name):
    for url in ("/console/plans", f"/console/plans/{plan_name}"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console?lang=zh"
        assert client.get(url, headers=auth["dispatcher"]).status_code == 403
        r = client.get(url, params={"lang": "en"}, headers=auth["planner"])
        assert r.status_code == 200 and plan_name in r.text and "Planner workbench" in r.text
    assert client.get("/console/plans/nope", headers=auth["planner"]).status_code == 404
    assert client.get("/console/workbench/workbench.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/console/workbench/other.js").status_code == 404


def test_blocks_are_served_and_moved_whole(client, auth, store, toy_city, toy_plan):
    import geopandas as gpd
    from shapely.geometry import box

    name = f"wb-{next(_n)}"
    layers = toy_layers(toy_city, toy_plan)
    # the fourth column of buildings of the first community: a block the east grid gives the west one
    step = 0.02 / 6
    layers["blocks"] = gpd.GeoDataFrame(
        {"block_id": ["B4"], "community_id": ["440784101001"], "buildings": [6], "households": [24]},
        geometry=[box(112.90 + 3 * step, 22.70, 112.90 + 4 * step, 22.72)], crs="EPSG:4326")  # fmt: skip
    store.import_plan(name, {k: v for k, v in layers.items() if k != "shops"})
    r = client.get(f"/v1/plans/{name}/workbench/blocks", headers=auth["planner"])
    assert r.status_code == 200 and [f["id"] for f in r.json()["features"]] == ["B4"]
    assert r.json()["features"][0]["properties"] == {"block_id": "B4", "community_id": "440784101001",
                                                     "buildings": 6, "households": 24}  # fmt: skip
    r = client.post(f"/v1/plans/{name}/edits", json={"edits": [{"op": "move", "block": "B4", "to": WEST}]},
                    headers=auth["planner"])  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["moved"] == {str(b): WEST for b in range(18, 24)}
    assert client.get(f"/v1/plans/{name}/workbench/blocks", headers=auth["dispatcher"]).status_code == 403


def test_names_table_becomes_rename_and_note_operations(client, auth, plan_name):
    table = f"grid_id,name,note\n{WEST},沙坪西网格,\n{EAST},,菜市场旁\n".encode()
    r = client.post(f"/v1/plans/{plan_name}/edits/names", files={"file": ("names.csv", table, "text/csv")},
                    headers=auth["planner"])  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["edits"] == [{"op": "rename", "grid": WEST, "name": "沙坪西网格"},
                                 {"op": "note", "grid": EAST, "text": "菜市场旁"}]  # fmt: skip
    bad = b"grid_id,name\n440784101001999,x\n"
    r = client.post(f"/v1/plans/{plan_name}/edits/names", files={"file": ("names.csv", bad, "text/csv")},
                    headers=auth["planner"])  # fmt: skip
    assert r.status_code == 422 and "['440784101001999']" in r.json()["error"]["message"]
    r = client.post(f"/v1/plans/{plan_name}/edits/names", files={"file": ("names.txt", table, "text/plain")},
                    headers=auth["planner"])  # fmt: skip
    err = r.json()["error"]
    assert r.status_code == 422 and "uploaded file 'names.txt'" in err["message"] and ".csv or .xlsx" in err["message"]


def test_the_workbench_draws_tiles_past_the_buildings_it_would_load_and_planners_find_it(client, auth, plan_name,
                                                                                       monkeypatch):  # fmt: skip
    """Heshan's 54,000 buildings are more than one GeoJSON request may carry (MAX_BUILDINGS): its workbench
    opened on a blank map until its buildings came as tiles."""
    from api.routes import workbench

    page = client.get(f"/console/plans/{plan_name}", params={"lang": "en"}, headers=auth["planner"]).text
    assert '"tiles": null' in page and 'href="/console/plans?lang=en"' in page  # 144 buildings: GeoJSON
    monkeypatch.setattr(workbench, "MAX_BUILDINGS", 100)
    page = client.get(f"/console/plans/{plan_name}", params={"lang": "en"}, headers=auth["planner"]).text
    assert '"tiles": {' in page and '"editZoom"' in page
    assert 'href="/console/plans' not in client.get("/console/review", headers=auth["dispatcher"]).text
