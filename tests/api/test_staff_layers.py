"""Staff per grid, extra layers reported by locate, API keys and roles."""

from __future__ import annotations

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from gridgis.cli import main as gridgis_cli
from gridgis.cli.key import cli as key_cli
from gridgis.io import write_layer, write_layers

GRID = "440784101001001"  # west half of the first toy community: lon 112.90-112.91


def test_staff_edit_shows_in_locate_and_grid(client, published, auth):
    staff = {
        "leader": {"name": "陈网格长", "phone": "13800000001"},
        "workers": [{"name": "李一", "phone": "13800000002"}, {"name": "王二", "on_duty": False}],
    }
    r = client.put(f"/v1/grids/{GRID}/staff", json=staff, headers=auth["dispatcher"])
    assert r.status_code == 200, r.text
    answer = client.get("/v1/locate", params={"lon": 112.905, "lat": 22.71}).json()
    assert answer["staff"]["leader"]["name"] == "陈网格长"
    assert [w["name"] for w in answer["staff"]["workers"]] == ["李一"]  # only workers on duty
    assert [w["name"] for w in client.get(f"/v1/grids/{GRID}/staff").json()["workers"]] == ["李一", "王二"]
    grid = client.get(f"/v1/grids/{GRID}").json()
    # issue 15: personal phones only to staff keys, never in public answers
    assert grid["type"] == "Feature" and "phone" not in grid["properties"]["staff"]["leader"]
    assert "13800000001" not in str(answer) and "13800000001" not in client.get(f"/v1/grids/{GRID}/staff").text
    staff_view = client.get(f"/v1/grids/{GRID}/staff", headers=auth["dispatcher"]).json()
    assert staff_view["leader"]["phone"] == "13800000001" and staff_view["workers"][1]["schedule"] == "off"
    # staff follow the grid: a neighbour grid does not get them
    other = client.get("/v1/locate", params={"lon": 112.915, "lat": 22.71}).json()
    assert other["grid"]["grid_id"] != GRID and other["staff"]["leader"] != staff["leader"]


def test_staff_needs_a_dispatcher_key(client, published, auth):
    body = {"leader": {"name": "x"}}
    r = client.put(f"/v1/grids/{GRID}/staff", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "key_required"
    r = client.put(f"/v1/grids/{GRID}/staff", json=body, headers=auth["reader"])
    assert r.status_code == 403 and r.json()["error"]["details"]["required_role"] == "dispatcher"
    r = client.put(f"/v1/grids/{GRID}/staff", json=body, headers={"X-API-Key": "forged"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_key"
    r = client.put("/v1/grids/999/staff", json=body, headers=auth["dispatcher"])
    assert r.status_code == 404
    r = client.put(f"/v1/grids/{GRID}/staff", json={"leader": {"name": ""}}, headers=auth["dispatcher"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_keys_from_the_store(client, published, auth, store_url):
    r = client.post("/v1/keys", json={"role": "planner", "name": "ci"}, headers=auth["planner"])
    assert r.status_code == 403  # only admins create keys
    token = client.post("/v1/keys", json={"role": "dispatcher", "name": "hotline"}, headers=auth["admin"]).json()["key"]
    r = client.put(f"/v1/grids/{GRID}/staff", json={"leader": {"name": "新"}}, headers={"X-API-Key": token})
    assert r.status_code == 200
    r = client.put(
        f"/v1/grids/{GRID}/staff", json={"leader": {"name": "新"}}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    listed = client.get("/v1/keys", headers=auth["admin"]).json()
    assert any(k["name"] == "hotline" and k["role"] == "dispatcher" for k in listed)
    assert all(token not in str(k) for k in listed)  # the token is never shown again
    # CLI create and revoke
    runner = CliRunner()
    out = runner.invoke(key_cli, ["create", "--role", "planner", "--db", store_url])
    assert out.exit_code == 0
    cli_token = out.output.strip()
    assert client.post("/v1/plans/none/publish", headers={"X-API-Key": cli_token}).status_code == 404  # authorized
    assert runner.invoke(key_cli, ["revoke", cli_token[:10], "--db", store_url]).exit_code == 0
    assert client.post("/v1/plans/none/publish", headers={"X-API-Key": cli_token}).status_code == 401


@pytest.fixture
def beats() -> gpd.GeoDataFrame:
    # beat A covers the whole west town (lon 112.90-112.94) and a 0.001 degree strip of the next grid;
    # beat B covers the rest of the east town
    return gpd.GeoDataFrame(
        {"name": ["一中队", "二中队"], "code": ["A", "B"]},
        geometry=[box(112.899, 22.699, 112.941, 22.721), box(112.941, 22.699, 112.981, 22.721)],
        crs="EPSG:4326",
    )


def test_extra_layer_upload_reported_by_locate(client, published, auth, beats, tmp_path):
    path = tmp_path / "police_beats.geojson"
    write_layer(beats, path)
    with path.open("rb") as f:
        r = client.post(
            "/v1/layers", params={"name": "police_beats"}, files={"file": ("beats.geojson", f)}, headers=auth["planner"]
        )
    assert r.status_code == 201, r.text
    assert r.json()["n_features"] == 2 and r.json()["name_field"] == "name"

    def areas(lon):
        body = client.get("/v1/locate", params={"lon": lon, "lat": 22.71}).json()
        return body["grid"]["grid_id"], [(a["layer"], a["name"]) for a in body["layers"]]

    assert areas(112.905) == ("440784101001001", [("police_beats", "一中队")])  # grid wholly in beat A
    assert areas(112.9405) == ("440784106001001", [("police_beats", "一中队")])  # grid split by the beat edge
    assert areas(112.945) == ("440784106001001", [("police_beats", "二中队")])
    assert client.get("/v1/layers/police_beats").json()["numberMatched"] == 2
    assert client.delete("/v1/layers/police_beats", headers=auth["planner"]).status_code == 204
    assert areas(112.905)[1] == []
    assert client.get("/v1/layers/police_beats").status_code == 404


def test_extra_layer_cli_and_errors(client, published, auth, beats, store_url, tmp_path):
    path = tmp_path / "schools.gpkg"
    write_layer(beats.rename(columns={"name": "school"}), path, layer="schools")
    r = CliRunner().invoke(
        gridgis_cli,
        ["layer", "import", str(path), "--name", "school_districts", "--name-field", "school", "--db", store_url],
    )
    assert r.exit_code == 0, r.output
    client.app.state.gridgis.refresh()
    body = client.get("/v1/locate", params={"lon": 112.95, "lat": 22.71}).json()
    assert {"layer": "school_districts", "id": 2, "name": "二中队"} in body["layers"]
    r = CliRunner().invoke(
        gridgis_cli, ["layer", "import", str(path), "--name", "x", "--name-field", "nope", "--db", store_url]
    )
    assert r.exit_code != 0 and "no column 'nope'" in r.output
    lines = tmp_path / "lines.geojson"
    write_layer(gpd.GeoDataFrame(geometry=beats.boundary, crs=4326), lines)
    with lines.open("rb") as f:
        r = client.post(
            "/v1/layers", params={"name": "lines"}, files={"file": ("l.geojson", f)}, headers=auth["planner"]
        )
    assert r.status_code == 422 and "non-polygon" in r.json()["error"]["message"]


def test_extra_layer_upload_of_a_multi_layer_geopackage_takes_layer(client, published, auth, beats, tmp_path):
    path = tmp_path / "areas.gpkg"
    write_layers({"beats": beats, "schools": beats.iloc[:1]}, path)
    with path.open("rb") as f:
        r = client.post(
            "/v1/layers", params={"name": "areas"}, files={"file": ("areas.gpkg", f)}, headers=auth["planner"]
        )
    assert r.status_code == 422
    err = r.json()["error"]
    assert "uploaded file 'areas.gpkg' holds 2 layers" in err["message"]
    assert "layer=" in err["details"]["fix"] and "gridgis layer import" in err["details"]["fix"]
    with path.open("rb") as f:
        r = client.post(
            "/v1/layers",
            params={"name": "areas", "layer": "schools"},
            files={"file": ("areas.gpkg", f)},
            headers=auth["planner"],
        )
    assert r.status_code == 201, r.text
    assert r.json()["n_features"] == 1


def test_extra_layer_upload_never_replaces_with_less_unless_asked(client, published, auth, beats, tmp_path):
    both, one = tmp_path / "both.geojson", tmp_path / "one.geojson"
    write_layer(beats, both)
    write_layer(beats.iloc[:1], one)

    def upload(path, **params):
        with path.open("rb") as f:
            return client.post(
                "/v1/layers",
                params={"name": "police_beats", **params},
                files={"file": (path.name, f)},
                headers=auth["planner"],
            )

    assert upload(both).status_code == 201
    r = upload(one)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "conflict" and err["details"]["stored"] == 2 and err["details"]["imported"] == 1
    assert "replace=true" in err["details"]["fix"]
    assert client.get("/v1/layers/police_beats").json()["numberMatched"] == 2  # unchanged
    r = upload(one, replace="true")
    assert r.status_code == 201 and r.json()["n_features"] == 1
