"""Plans: import (file upload, CLI), publish (one at a time, validity kept), ?plan= for older plans."""

from __future__ import annotations

from click.testing import CliRunner

from gridgis.cli import main as gridgis_cli
from gridgis.io import write_layers


def test_upload_import_publish_and_query_older_plan(client, auth, toy_layers, toy_layers_b, toy_city, tmp_path):
    first = tmp_path / "first.gpkg"
    write_layers({**toy_layers, "roads": toy_city["roads"]}, first)
    with first.open("rb") as f:
        r = client.post(
            "/v1/plans", params={"name": "up-a"}, files={"file": ("first.gpkg", f)}, headers=auth["planner"]
        )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    assert r.json()["counts"] == {"grids": 8, "towns": 2, "communities": 4, "buildings": 144}

    second = tmp_path / "second.gpkg"
    write_layers(toy_layers_b, second)
    with second.open("rb") as f:
        assert (
            client.post(
                "/v1/plans", params={"name": "up-b"}, files={"file": ("b.gpkg", f)}, headers=auth["planner"]
            ).status_code
            == 201
        )

    assert client.post("/v1/plans/up-a/publish", headers=auth["planner"]).json()["status"] == "published"
    point = {"lon": 112.905, "lat": 22.71}
    assert client.get("/v1/locate", params=point).json()["grid"]["grid_id"] == "440784101001001"

    r = client.post("/v1/plans/up-b/publish", headers=auth["planner"])
    assert r.json()["status"] == "published" and r.json()["valid_to"] is None
    now = client.get("/v1/locate", params=point).json()
    assert now["plan"] == "up-b" and now["grid"]["grid_id"] == "440784101001901"
    old = client.get("/v1/locate", params={**point, "plan": "up-a"}).json()
    assert old["plan"] == "up-a" and old["grid"]["grid_id"] == "440784101001001"

    plans = {p["name"]: p for p in client.get("/v1/plans").json()}
    assert [p["name"] for p in plans.values() if p["status"] == "published"] == ["up-b"]
    a, b = plans["up-a"], plans["up-b"]
    assert a["status"] == "retired" and a["valid_from"] < a["valid_to"] == b["valid_from"]


def test_import_errors(client, auth, tmp_path, toy_city):
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"not a geopackage")
    with bad.open("rb") as f:
        r = client.post("/v1/plans", params={"name": "x1"}, files={"file": ("broken.gpkg", f)}, headers=auth["planner"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_file"
    nogrids = tmp_path / "nogrids.gpkg"
    write_layers({"towns": toy_city["towns"]}, nogrids)
    with nogrids.open("rb") as f:
        r = client.post("/v1/plans", params={"name": "x2"}, files={"file": ("n.gpkg", f)}, headers=auth["planner"])
    assert r.status_code == 422 and "no 'grids' layer" in r.json()["error"]["message"]
    geojson = tmp_path / "grids.geojson"
    write_layers({"towns": toy_city["towns"]}, geojson)
    with geojson.open("rb") as f:
        r = client.post("/v1/plans", params={"name": "x3"}, files={"file": ("g.geojson", f)}, headers=auth["planner"])
    assert r.status_code == 422 and "GeoPackage" in r.json()["error"]["message"]
    assert "no 'grids' layer" not in r.json()["error"]["message"]
    r = client.post("/v1/plans/does-not-exist/publish", headers=auth["planner"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    with nogrids.open("rb") as f:
        r = client.post(
            "/v1/plans", params={"name": "bad name!"}, files={"file": ("n.gpkg", f)}, headers=auth["planner"]
        )
    assert r.status_code == 422 and "Bad plan name" in r.json()["error"]["message"]


def test_cli_import_and_publish(store, store_url, toy_layers, tmp_path):
    path = tmp_path / "plan.gpkg"
    write_layers(toy_layers, path)
    runner = CliRunner()
    r = runner.invoke(gridgis_cli, ["plan", "import", str(path), "--name", "cli-plan", "--db", store_url])
    assert r.exit_code == 0, r.output
    assert "8 grids" in r.output and store.get_plan("cli-plan").status == "draft"
    r = runner.invoke(gridgis_cli, ["plan", "publish", "cli-plan", "--db", store_url])
    assert r.exit_code == 0 and store.get_plan().name == "cli-plan"
    r = runner.invoke(gridgis_cli, ["plan", "list", "--db", store_url])
    assert "cli-plan" in r.output and "published" in r.output
