"""Escalation on an injected clock (HTTP, the background job, the cron command) and the routing table."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from api.deps import get_clock
from gridgis.cases import check_report, run_escalation, submit
from gridgis.errors import InputError
from tests.cases.conftest import G1, IN_G1, IN_G2, T0

HOUR = timedelta(hours=1)


def at(service, when):
    service.client.app.dependency_overrides[get_clock] = lambda: lambda: when


def escalate(service):
    r = service.client.post("/v1/cases/escalations", headers={"X-API-Key": "ggk_dsp3333333333333333"})
    assert r.status_code == 200, r.text
    return r.json()["escalated"]


def test_overdue_case_escalates_grid_community_town_on_the_injected_clock(service):
    at(service, T0)
    cid = service.post_case(category="urban_management").json()["id"]  # deadline 72 h
    fire = service.post_case(category="fire").json()["id"]  # deadline 12 h
    for to in ("accepted", "in_progress"):
        service.move(fire, to)
    service.move(fire, "resolved", note="done")  # handled in time: never escalates
    at(service, T0 + 71 * HOUR)
    assert escalate(service) == []
    at(service, T0 + 73 * HOUR)
    assert escalate(service) == [cid]
    case = service.get(f"/v1/cases/{cid}").json()
    assert (case["status"], case["level"], case["assignee"]) == ("escalated", "community", "community:440784101001")
    assert case["due_at"] == (T0 + (73 + 72) * HOUR).isoformat()
    assert escalate(service) == []  # a second run at the same time changes nothing
    at(service, T0 + 146 * HOUR)
    assert escalate(service) == [cid]
    case = service.get(f"/v1/cases/{cid}").json()
    assert (case["level"], case["assignee"], case["overdue"]) == ("town", "town:440784101", False)
    # issue 15: the chain goes on to the county (its code from the town's), then alerts: never silence
    at(service, T0 + 219 * HOUR)
    assert escalate(service) == [cid]
    assert service.get(f"/v1/cases/{cid}").json()["assignee"] == "county:440784"
    at(service, T0 + 1000 * HOUR)
    assert escalate(service) == [cid]  # an alert at the top
    assert escalate(service) == []  # once per deadline
    case = service.get(f"/v1/cases/{cid}").json()
    assert (case["alerts"], case["level"], case["overdue"]) == (1, "county", False)
    events = case["events"]
    assert [(e["actor"], e["to_status"], e["assignee"]) for e in events[2:]] == [
        ("system:escalation", "escalated", "community:440784101001"),
        ("system:escalation", "escalated", "town:440784101"),
        ("system:escalation", "escalated", "county:440784"),
        ("system:escalation", "escalated", "county:440784"),
    ]
    assert events[-1]["note"].startswith("ALERT")
    # the county hands it back to a person (a free-text assignee is refused); the grid worker still sees it
    r = service.move(cid, "assigned", assignee="worker:王五", note="town: handle today")
    assert r.status_code == 422
    wang = next(p for p in service.get("/v1/people").json() if p["name"] == "王五")
    r = service.move(cid, "assigned", assignee=f"person:{wang['person_id']}", note="town: handle today")
    assert (r.json()["assignee_name"], r.json()["level"]) == ("王五", "grid")
    assert service.get(f"/v1/cases/{cid}", key=service.worker).status_code == 200


def test_background_job_escalates_with_its_clock(service):
    snap = service.client.app.state.gridgis.current(None)
    report = check_report(category="fire", description="blocked exit", lon=IN_G1[0], lat=IN_G1[1])
    case, _ = submit(service.cases, snap, report, client="test", now=T0)
    stop = threading.Event()
    thread = run_escalation(service.cases, clock=lambda: T0 + 13 * HOUR, interval_s=0.05, stop=stop)
    try:
        deadline = time.monotonic() + 10
        while service.cases.get(case["id"])["status"] != "escalated" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert service.cases.get(case["id"])["assignee"] == "community:440784101001"
    assert not thread.is_alive()


def test_cli_escalate_and_export(service, tmp_path):
    import csv

    from gridgis.cli import main

    at(service, T0)
    cid = service.post_case(category="fire").json()["id"]
    runner = CliRunner()
    r = runner.invoke(main, ["cases", "escalate", "--db", service.url, "--now", (T0 + 11 * HOUR).isoformat()])
    assert r.exit_code == 0, r.output
    assert "0 case(s)" in r.output
    r = runner.invoke(main, ["cases", "escalate", "--db", service.url, "--now", (T0 + 13 * HOUR).isoformat()])
    assert r.exit_code == 0 and f"1 case(s) escalated: {cid}" in r.output
    out = tmp_path / "ledger.csv"
    r = runner.invoke(main, ["cases", "export", "--db", service.url, "-o", str(out)])
    assert r.exit_code == 0, r.output
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(int(x["编号"]), x["状态"], x["当前层级"]) for x in rows] == [(cid, "已上报上级", "社区")]
    r = runner.invoke(main, ["cases", "export", "--db", service.url, "-o", str(tmp_path / "ledger.xlsx")])
    assert r.exit_code == 0 and (tmp_path / "ledger.xlsx").exists()  # issue 15: XLSX as well
    r = runner.invoke(main, ["cases", "export", "--db", service.url, "-o", str(tmp_path / "ledger.ods")])
    assert r.exit_code != 0 and ".xlsx" in r.output and not (tmp_path / "ledger.ods").exists()
    r = runner.invoke(main, ["cases", "escalate", "--db", service.url, "--now", "yesterday"])
    assert r.exit_code != 0 and "yesterday" in r.output


@pytest.fixture
def river_layer(service):
    """An extra layer with one river-chief section over the east half of community 440784101001 (grid G2)."""
    sections = gpd.GeoDataFrame({"name": ["西江鹤山段"]}, geometry=[box(112.91, 22.70, 112.92, 22.72)], crs=4326)
    service.store.import_layer("river_sections", sections, name_field="name")
    service.client.app.state.gridgis.refresh()
    return "river_sections"


def test_routing_table_sends_a_category_to_a_department_area(service, river_layer):
    dsp = {"X-API-Key": "ggk_dsp3333333333333333"}
    rule = {"layer": river_layer, "department": "河长办"}
    r = service.client.put("/v1/cases/routes/river_chief", json=rule, headers=dsp)
    assert r.status_code == 200, r.text
    assert service.get("/v1/cases/routes").json() == [{**rule, "category": "river_chief", "max_distance_m": 0.0}]
    river = service.post_case(category="river_chief", lon=IN_G2[0], lat=IN_G2[1]).json()
    assert (river["assignee"], river["department"], river["grid_id"]) == (
        "dept:河长办:西江鹤山段",
        "河长办",
        "440784101001002",
    )
    # same place, other category: the grid; same category, outside the section: the grid
    names = service.client.app.state.gridgis.cases.people.directory().name_of
    assert names(service.post_case(category="fire", lon=IN_G2[0], lat=IN_G2[1]).json()["assignee"]) == "陈长"
    assert names(service.post_case(category="river_chief").json()["assignee"]) == "王五"
    # 0.005 deg west of the section is about 500 m: taken with max_distance_m 1000
    service.client.put("/v1/cases/routes/river_chief", json={**rule, "max_distance_m": 1000}, headers=dsp)
    assert service.post_case(category="river_chief").json()["department"] == "河长办"
    assert service.client.delete("/v1/cases/routes/river_chief", headers=dsp).status_code == 204
    case = service.post_case(category="river_chief", lon=IN_G2[0], lat=IN_G2[1]).json()
    assert names(case["assignee"]) == "陈长" and case["department"] is None
    r = service.client.put("/v1/cases/routes/river_chief", json={**rule, "layer": "beats"}, headers=dsp)
    assert r.status_code == 404 and "river_sections" in str(r.json()["error"]["details"])
    r = service.client.put("/v1/cases/routes/dogs", json=rule, headers=dsp)
    assert r.status_code == 422 and "river_chief" in r.json()["error"]["details"]["fix"]
    assert service.client.delete("/v1/cases/routes/fire", headers=dsp).status_code == 404


def test_worker_keys_need_known_grids(service):
    with pytest.raises(InputError, match="nope") as err:
        service.store.create_key("worker", "新人", grids=[G1, "nope"])
    assert err.value.details["unknown"] == ["nope"]
    with pytest.raises(InputError, match="needs the grid ids"):
        service.store.create_key("worker", "新人")
    token = service.store.create_key("worker", "新人", grids=[G1])
    cid = service.post_case().json()["id"]
    assert service.get(f"/v1/cases/{cid}", key=token).status_code == 200


def test_the_escalation_job_stops_with_the_service(store_url, toy_city, toy_plan):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings
    from gridgis.store import open_store
    from tests.cases.conftest import load_toy

    store = open_store(store_url)
    load_toy(store, toy_city, toy_plan)
    store.close()
    app = create_app(Settings(database_url=store_url, cases_escalate_seconds=3600, poll_seconds=0.2))
    with TestClient(app):
        thread = app.state.gridgis.escalation_thread
        assert thread.is_alive()
    assert not thread.is_alive()  # Service.stop() stopped it, without waiting the hour
