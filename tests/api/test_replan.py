"""Re-plans keep grid identity (issue 12), on both stores: a toy city partitioned, published, staffed, with open
cases; a few buildings' households raised and re-partitioned with --keep; diff, dry run, refused publish,
publish with a map; staff, worker keys and open cases follow; a publish racing case intake loses no case."""

from __future__ import annotations

import json
import threading

import pytest
import shapely
from click.testing import CliRunner

from gridgis.cli import main as gridgis_cli
from gridgis.io import write_layers
from gridgis.partition import partition
from gridgis.store.replan import register_codes

RUNS = {}


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """Plan 1 of the toy city (10 grids) and plan 2: 6 buildings of community 001 raised, --keep plan 1."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent.parent))
    from conftest import _toy_city

    city = _toy_city()
    one = partition(city, n_grids=10)
    buildings = city["buildings"].copy()
    raised = buildings.index[:6]
    buildings.loc[raised, "households"] = 40
    # --recount: the counts are apportioned afresh, so an untouched community loses a grid (a retired grid)
    two = partition({**city, "buildings": buildings}, n_grids=10, keep=one.grids, recount=True)
    folder = tmp_path_factory.mktemp("replan")
    paths = {}
    for name, result in (("one", one), ("two", two)):
        layers = {"grids": result.grids, "buildings": result.buildings, "towns": city["towns"]}
        layers["communities"] = city["communities"]
        paths[name] = folder / f"{name}.gpkg"
        write_layers(layers, paths[name])
    return {"one": one, "two": two, "paths": paths, "city": city}


def test_keep_keeps_ids_and_numbers_new_grids_after_the_highest(plans):
    one, two = plans["one"].grids, plans["two"].grids
    kept = two[two["previous_grid_id"].notna()]
    assert (kept["grid_id"] == kept["previous_grid_id"]).all()  # a continuing grid keeps its id and code
    assert (kept["grid_code"] == kept["grid_id"]).all()
    new = two[two["previous_grid_id"].isna()]
    assert len(new) >= 1
    for row in new.itertuples():
        used = one.loc[one["community_id"] == row.community_id, "grid_code"].str[-3:].astype(int)
        assert int(row.grid_code[-3:]) > used.max()  # next unused number, never an old one
        assert row.grid_code not in set(one["grid_code"])
    per = {r["community_id"]: r for r in plans["two"].report["keep"]["per_community"]}
    assert sum(r["buildings_moved"] for r in per.values()) == plans["two"].report["keep"]["moved"]
    assert sum(r["new"] for r in per.values()) == len(new)


def test_map_compare_counts_moves_through_the_lineage(plans):
    from gridgis.maps.compare import moved_buildings

    moves = moved_buildings(plans["one"].buildings, plans["two"].buildings, plans["two"].grids)
    assert int(moves["moved"].sum()) == plans["two"].report["keep"]["moved"]


def _point_in(grid_geom) -> tuple[float, float]:
    p = shapely.point_on_surface(grid_geom)
    return p.x, p.y


def _report(client, auth, lon: float, lat: float, text: str):
    body = {"category": "urban_management", "description": text, "lon": lon, "lat": lat}
    return client.post("/v1/cases", json=body, headers=auth["reader"])


def test_replan_end_to_end(plans, store, store_url, client, auth):
    runner = CliRunner()
    one, two = plans["one"].grids, plans["two"].grids
    for name in ("one", "two"):
        r = runner.invoke(gridgis_cli, ["plan", "import", str(plans["paths"][name]), "--name", f"rp-{name}",
                                        "--db", store_url])  # fmt: skip
        assert r.exit_code == 0, r.output
    r = client.post("/v1/plans/rp-one/publish", headers=auth["planner"])
    assert r.status_code == 200, r.text
    assert set(register_codes(store)["grid_code"]) >= set(one["grid_code"])
    # a leader on every grid, a worker key on every grid, an open case in every grid, one closed case
    for gid in one["grid_id"]:
        store.set_staff(gid, {"leader": {"name": f"L{gid[-6:]}"}, "workers": []})
    tokens = {gid: store.create_key("worker", f"w{gid[-6:]}", grids=[gid]) for gid in one["grid_id"]}
    client.app.state.gridgis.refresh()
    cases = {}
    for row in one.itertuples():
        lon, lat = _point_in(row.geometry)
        r = _report(client, auth, lon, lat, "垃圾")
        assert r.status_code == 201, r.text
        cases[row.grid_id] = r.json()
    # cases at the raised buildings (their grids change most)
    b = plans["two"].buildings
    for geom in b.geometry.iloc[:6]:
        p = shapely.point_on_surface(geom)
        r = _report(client, auth, p.x, p.y, "楼道")
        assert r.status_code == 201
        cases[f"b{len(cases)}"] = r.json()
    closed = next(iter(cases.values()))
    r = client.post(f"/v1/cases/{closed['id']}/transitions", json={"to": "rejected", "note": "not ours"},
                    headers=auth["admin"])  # fmt: skip
    assert r.status_code == 200, r.text

    # diff and dry run: the per-community table; nothing changes
    r = runner.invoke(gridgis_cli, ["plan", "diff", "rp-one", "rp-two", "--json", "--db", store_url])
    assert r.exit_code == 0, r.output
    diff = json.loads(r.output)
    kept = int(two["previous_grid_id"].notna().sum())
    assert diff["totals"]["kept"] == kept and diff["totals"]["new"] == len(two) - kept
    assert diff["totals"]["retired"] == len(one) - kept
    assert diff["totals"]["buildings_moved"] == plans["two"].report["keep"]["moved"]
    retired = sorted(set(one["grid_id"]) - set(two["previous_grid_id"].dropna()))
    assert diff["totals"]["staff_unattached"] == len(retired)
    assert client.get("/v1/plans/rp-two/diff").status_code == 401
    r = client.get("/v1/plans/rp-two/diff?against=rp-one", headers=auth["reader"])
    assert r.status_code == 200 and r.json()["totals"] == diff["totals"]
    r = runner.invoke(gridgis_cli, ["plan", "publish", "rp-two", "--dry-run", "--db", store_url])
    assert r.exit_code == 0 and "Dry run: nothing changed" in r.output and "would be refused" in r.output
    r = client.post("/v1/plans/rp-two/publish?dry_run=true", headers=auth["planner"])
    assert r.status_code == 200 and r.json()["migration"]["refused"] and r.json()["status"] == "draft"
    assert store.get_plan().name == "rp-one"

    # refused: staff on retired grids without a mapping (CLI exit 1 with a Fix:, HTTP 409 with the table)
    r = runner.invoke(gridgis_cli, ["plan", "publish", "rp-two", "--db", store_url])
    assert r.exit_code == 1 and "Fix:" in r.output and "--map" in r.output and "--force" in r.output
    r = client.post("/v1/plans/rp-two/publish", headers=auth["planner"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "publish_refused"
    assert r.json()["error"]["details"]["totals"]["staff_unattached"] == len(retired)
    assert store.get_plan().name == "rp-one"
    r = client.post("/v1/plans/rp-two/publish", json={"map": {"nope": two["grid_id"][0]}}, headers=auth["planner"])
    assert r.status_code == 422

    # publish with a map: each retired grid's staff go to a grid of its community
    mapping = {}
    for gid in retired:
        same = two[two["community_id"] == gid[:12]]["grid_id"].tolist()
        mapping[gid] = same[0]
    r = client.post("/v1/plans/rp-two/publish", json={"map": mapping}, headers=auth["planner"])
    assert r.status_code == 200, r.text
    report = r.json()["migration"]
    assert report["published"] and report["totals"]["staff_moved"] == len(retired)
    assert store.get_plan().name == "rp-two"
    staff = store.all_staff()
    for gid in two["grid_id"]:
        if gid in set(one["grid_id"]):
            assert staff[gid]["leader"]["name"] == f"L{gid[-6:]}"  # a kept grid keeps its leader
        elif gid not in mapping.values():
            assert gid not in staff  # a brand-new grid inherits nobody
    for old, new in mapping.items():
        assert store.lookup_key(tokens[old])["grids"] == (new,)  # worker keys follow the map
    for gid in set(one["grid_id"]) - set(retired):
        assert store.lookup_key(tokens[gid])["grids"] == (gid,)
    # every open case lies in a grid of the new plan that holds its point; closed cases keep their grid
    client.app.state.gridgis.refresh()
    snap = client.app.state.gridgis.snapshot
    rerouted = 0
    for case in cases.values():
        now = client.get(f"/v1/cases/{case['id']}", headers=auth["admin"]).json()
        if case["id"] == closed["id"]:
            assert now["grid_id"] == case["grid_id"]
            continue
        pos = int(snap.locate([case["lon"]], [case["lat"]])[0])
        assert now["grid_id"] == snap.grid_ids[pos]
        assert client.get(f"/v1/grids/{now['grid_id']}").status_code == 200
        if now["grid_id"] != case["grid_id"]:
            rerouted += 1
            notes = [e["note"] for e in now.get("events", [])]
            assert any(case["grid_id"] in n and now["grid_id"] in n for n in notes), notes
    assert rerouted == report["totals"]["cases_rerouted"]
    assert set(register_codes(store)["grid_code"]) >= set(one["grid_code"]) | set(two["grid_code"])
    assert client.get("/v1/plans/unattached", headers=auth["admin"]).json() == []


def test_force_leaves_staff_unattached_and_plan_map_attaches_them(plans, store, store_url, client, auth):
    runner = CliRunner()
    one, two = plans["one"].grids, plans["two"].grids
    for name in ("one", "two"):
        store.import_plan(f"rf-{name}", {"grids": plans[name].grids, "buildings": plans[name].buildings})
    store.publish_plan("rf-one", force=True)
    retired = sorted(set(one["grid_id"]) - set(two["previous_grid_id"].dropna()))
    for gid in retired:
        store.set_staff(gid, {"leader": {"name": "留"}, "workers": []})
    r = runner.invoke(gridgis_cli, ["plan", "publish", "rf-two", "--force", "--db", store_url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(gridgis_cli, ["plan", "unattached", "--json", "--db", store_url])
    left = json.loads(r.output)
    assert sorted(i["grid_id"] for i in left if i["kind"] == "staff") == retired
    target = two["grid_id"].iloc[-1]
    csv = plans["paths"]["one"].parent / "map.csv"
    csv.write_text("old,new\n" + "".join(f"{g},{target}\n" for g in retired), encoding="utf-8")
    r = runner.invoke(gridgis_cli, ["plan", "map", "--map-file", str(csv), "--db", store_url])
    assert r.exit_code == 0, r.output
    assert store.get_staff(target)["leader"] is not None
    assert [i for i in json.loads(runner.invoke(gridgis_cli, ["plan", "unattached", "--json", "--db", store_url])
                                  .output) if i["kind"] == "staff"] == []  # fmt: skip
    r = runner.invoke(gridgis_cli, ["plan", "publish", "rf-two", "--map", "bad", "--db", store_url])
    assert r.exit_code != 0 and "OLD=NEW" in r.output


def test_publish_racing_case_intake_loses_no_case(plans, store, client, auth):
    one = plans["one"].grids
    for name in ("one", "two"):
        store.import_plan(f"race-{name}", {"grids": plans[name].grids, "buildings": plans[name].buildings})
    store.publish_plan("race-one", force=True)
    client.app.state.gridgis.refresh()
    points = [_point_in(g) for g in one.geometry] * 6
    created: list[int] = []
    errors: list[str] = []

    def intake(chunk):
        for lon, lat in chunk:
            r = _report(client, auth, lon, lat, "race")
            if r.status_code == 201:
                created.append(r.json()["id"])
            else:
                errors.append(r.text)

    threads = [threading.Thread(target=intake, args=(points[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    r = client.post("/v1/plans/race-two/publish?force=true", headers=auth["planner"])
    for t in threads:
        t.join()
    assert r.status_code == 200, r.text
    assert not errors and len(created) == len(points)
    client.app.state.gridgis.refresh()
    snap = client.app.state.gridgis.snapshot
    assert snap.plan.name == "race-two"
    for case_id in created:
        case = client.get(f"/v1/cases/{case_id}", headers=auth["admin"]).json()
        pos = int(snap.locate([case["lon"]], [case["lat"]])[0])
        assert case["grid_id"] == snap.grid_ids[pos]  # exactly one grid, of the plan published under


def test_import_renumbers_a_new_grid_carrying_a_code_published_before(store, toy_layers):
    from gridgis.errors import GridgisWarning

    grids = toy_layers["grids"]
    store.import_plan("rc-one", toy_layers)
    store.publish_plan("rc-one", force=True)
    two = grids.copy()
    two["previous_grid_id"] = two["grid_id"]
    two.loc[0, "previous_grid_id"] = None  # a new grid that took a published code
    com = grids.loc[0, "community_id"]
    used = register_codes(store)["grid_code"]
    highest = max(int(c[-3:]) for c in [*used, *two["grid_code"]] if c.startswith(com))
    with pytest.warns(GridgisWarning, match="renumbered"):
        store.import_plan("rc-two", {**toy_layers, "grids": two})
    stored = store.load_layer(store.get_plan("rc-two").plan_id, "grids")
    code = stored.loc[stored["previous_grid_id"].isna(), "grid_code"].item()
    assert code not in set(register_codes(store)["grid_code"]) and code.startswith(grids.loc[0, "community_id"])
    assert code == f"{com}{highest + 1:03d}"  # the next unused number of its community


def test_people_posted_on_a_retired_grid_follow_the_map(plans, store, store_url, client, auth):
    from gridgis.cases.people import PeopleStore

    one, two = plans["one"].grids, plans["two"].grids
    for name in ("one", "two"):
        r = CliRunner().invoke(gridgis_cli, ["plan", "import", str(plans["paths"][name]), "--name", f"pp-{name}",
                                             "--db", store_url])  # fmt: skip
        assert r.exit_code == 0, r.output
    # forced: staff and cases the module's other tests left on this store are not this test's subject
    r = client.post("/v1/plans/pp-one/publish", params={"force": "true"}, headers=auth["planner"])
    assert r.status_code == 200, r.text
    retired = sorted(set(one["grid_id"]) - set(two["previous_grid_id"].dropna()))
    kept = sorted(set(one["grid_id"]) & set(two["grid_id"]))
    assert retired and kept
    posted = [(retired[0], "周退"), (kept[0], "吴留")]
    roster = "编码,姓名,角色,电话,值班,单位\n" + "".join(
        f"{gid},{name},网格员,1380000001{i},,社区\n" for i, (gid, name) in enumerate(posted)
    )
    files = {"file": ("roster.csv", roster.encode("utf-8-sig"), "text/csv")}
    r = client.post("/v1/roster", files=files, headers=auth["admin"])
    assert r.status_code == 200, r.text
    target = two[two["community_id"] == retired[0][:12]]["grid_id"].iloc[0]
    mapping = {gid: two[two["community_id"] == gid[:12]]["grid_id"].iloc[0] for gid in retired}
    r = client.post(
        "/v1/plans/pp-two/publish", params={"force": "true"}, json={"map": mapping}, headers=auth["planner"]
    )
    assert r.status_code == 200, r.text
    people = PeopleStore(store)
    directory = people.directory()
    names = {g: [directory.people[p.person_id].name for p in directory.posts_at("grid", g)] for g in (target, kept[0])}
    assert "周退" in names[target] and "吴留" in names[kept[0]]
    assert directory.posts_at("grid", retired[0]) == []
    people.sync_staff_docs()  # the public documents written again from the roster keep the moved worker
    assert "周退" in [w["name"] for w in store.all_staff()[target]["workers"]]
