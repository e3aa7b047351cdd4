"""The case chain as a grid centre runs it, over HTTP on SQLite and PostGIS, with a person of each role:
a reporting app, the grid worker, the grid leader, the community (who checks), the town and county
leaders (escalation), a dispatcher; the roster, the configuration, Open311 feedback, privacy."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from api.deps import get_clock
from tests.cases.conftest import ADMIN, APP, COMMUNITY, COUNTY, DISPATCHER, G1, G2, IN_G1, OUTSIDE, T0, TOWN

HOUR = timedelta(hours=1)
ROSTER = f"""编码,姓名,角色,电话,值班,单位
{G1},王五,网格员,13800000005,,沙坪街道
{G1},李长,网格长,13800000001,,沙坪街道
{G2},赵六,网格员,13800000006,off,沙坪街道
{COMMUNITY},张三,社区书记,13800000003,,越塘社区
{COMMUNITY},社区服务台,服务台,0750-8881234,,越塘社区
{TOWN},刘四,镇街领导,13800000004,,沙坪街道
{COUNTY},黄七,县领导,13800000007,,鹤山市
{COUNTY},陈调,调度员,13800000008,mon-sun 00:00-24:00,鹤山市综治中心
"""


@pytest.fixture
def centre(service):
    """The toy service with the roster imported over HTTP and a key for each person who acts."""
    files = {"file": ("roster.csv", ROSTER.encode("utf-8-sig"), "text/csv")}
    r = service.client.post("/v1/roster", files=files, headers={"X-API-Key": DISPATCHER})
    assert r.status_code == 200, r.text
    assert r.json() == {"people": 8, "posts": 8, "units": 5}
    people = {p["name"]: p for p in service.get("/v1/people").json()}
    keys = {}
    for name in ("王五", "李长", "张三", "陈调", "刘四"):
        r = service.client.post(f"/v1/people/{people[name]['person_id']}/keys", json={}, headers={"X-API-Key": ADMIN})
        assert r.status_code == 201, r.text
        keys[name] = r.json()["key"]
    assert r.json()["role"] == "dispatcher"  # a town leader's key
    service.client.app.state.gridgis.refresh()
    service.people, service.keys = people, keys
    return service


def pid(centre, name):
    return "person:" + centre.people[name]["person_id"]


def test_the_whole_chain_with_a_person_of_each_role(centre):
    s, k = centre, centre.keys
    case = s.post_case(key=APP, description="路灯不亮", photo_urls=["https://img.example.cn/a.jpg"]).json()
    cid = case["id"]
    assert (case["status"], case["assignee"], case["level"]) == ("assigned", pid(s, "王五"), "grid")
    detail = s.get(f"/v1/cases/{cid}", key=k["王五"]).json()
    assert detail["assignee_name"] == "王五" and detail["allowed_moves"] == ["accepted", "returned"]
    assert detail["status_name"] == "已派遣" and detail["category_name"] == "城市管理"
    # the worker returns it to the dispatcher: a reason is required
    r = s.move(cid, "returned", key=k["王五"])
    assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
    r = s.move(cid, "returned", key=k["王五"], note="不属于本网格")
    assert r.json()["status"] == "returned" and r.json()["return_reason"] == "不属于本网格"
    assert r.json()["allowed_moves"] == []  # the worker waits for the dispatcher
    # the dispatcher (a person) reassigns: a free-text assignee is refused, a person is checked
    r = s.move(cid, "assigned", key=k["陈调"], assignee="worker:网格员5")
    assert r.status_code == 422 and "person" in r.json()["error"]["details"]["fix"]
    r = s.move(cid, "assigned", key=k["陈调"], assignee="person:p-nobody")
    assert r.status_code == 422 and "p-nobody" in r.json()["error"]["message"]
    r = s.move(cid, "assigned", key=k["陈调"], assignee=pid(s, "李长"))
    assert (r.json()["assignee"], r.json()["assignee_name"]) == (pid(s, "李长"), "李长")
    r = s.move(cid, "assigned", key=k["陈调"], assignee=pid(s, "王五"), note="请今天处理")  # reassigned
    assert r.status_code == 200 and r.json()["assignee"] == pid(s, "王五")
    for to in ("accepted", "in_progress"):
        assert s.move(cid, to, key=k["王五"]).json()["status"] == to
    r = s.move(
        cid, "resolved", key=k["王五"], note="已修复路灯", photos=["upl_after_1", "https://img.example.cn/b.jpg"]
    )
    assert r.status_code == 200 and r.json()["result"] == "已修复路灯"
    # the resolver cannot close nor verify its own work
    r = s.move(cid, "closed", key=k["王五"])
    assert r.status_code == 409 and r.json()["error"]["details"]["allowed"] == ["verified", "reopened"]
    r = s.move(cid, "verified", key=k["王五"])
    assert r.status_code == 403 and "community" in r.json()["error"]["message"]
    # the community checks: not fixed -> reopened with a new deadline, the worker handles it again
    assert s.get(f"/v1/cases/{cid}", key=k["张三"]).json()["allowed_moves"] == ["verified", "reopened"]
    r = s.move(cid, "reopened", key=k["张三"], note="路灯仍不亮")
    assert r.json()["status"] == "reopened" and r.json()["resolved_at"] is None
    for to in ("accepted", "in_progress"):
        s.move(cid, to, key=k["王五"])
    s.move(cid, "resolved", key=k["王五"], note="已更换灯泡")
    r = s.move(cid, "verified", key=k["张三"], note="现场核查已亮")
    assert r.json()["status"] == "verified" and "张三" in r.json()["verified_by"]
    # the call-back and the rating, then the dispatcher closes
    r = s.client.post(
        f"/v1/cases/{cid}/feedback", json={"callback": "群众满意", "rating": 5}, headers={"X-API-Key": k["陈调"]}
    )
    assert r.status_code == 200 and (r.json()["callback_note"], r.json()["rating"]) == ("群众满意", 5)
    assert s.move(cid, "closed", key=k["陈调"]).json()["status"] == "closed"
    detail = s.get(f"/v1/cases/{cid}").json()
    trail = [(e["from_status"], e["to_status"]) for e in detail["events"]]
    assert trail == [
        (None, "reported"),
        ("reported", "assigned"),
        ("assigned", "returned"),
        ("returned", "assigned"),
        ("assigned", "assigned"),
        ("assigned", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "reopened"),
        ("reopened", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "verified"),
        ("verified", "verified"),
        ("verified", "closed"),
    ]
    # the audit log names the people
    actors = [e["actor"] for e in detail["events"]]
    assert actors[2].startswith("王五 [worker:") and actors[3].startswith("陈调 [dispatcher:")
    assert actors[12].startswith("张三 [worker:") and detail["events"][12]["person_id"] == s.people["张三"]["person_id"]
    # photos: the reporter's and the resolver's, for the console
    assert [(p["ref"], p["stage"]) for p in detail["photos"]] == [
        ("https://img.example.cn/a.jpg", "reported"),
        ("upl_after_1", "resolved"),
        ("https://img.example.cn/b.jpg", "resolved"),
    ]
    # the reporter reads the result in Open311, in Chinese
    req = s.client.get(f"/open311/v2/requests/{cid}.json").json()[0]
    assert req["status"] == "closed" and "已更换灯泡" in req["status_notes"] and req["service_name"] == "城市管理"
    assert "王五" not in str(req) and "13800000005" not in str(req)


def test_someone_other_than_the_resolver_checks(centre):
    k = centre.keys
    cid = centre.post_case().json()["id"]
    for to, note in (("accepted", ""), ("in_progress", ""), ("resolved", "处理完毕")):
        assert centre.move(cid, to, key=k["陈调"], note=note).status_code == 200  # the dispatcher handles it
    r = centre.move(cid, "verified", key=k["陈调"])
    assert r.status_code == 403 and "someone else" in r.json()["error"]["details"]["fix"] + r.json()["error"]["message"]
    assert centre.move(cid, "verified", key=k["刘四"]).status_code == 200  # another dispatcher-level person
    # the grid leader's key (a worker of G1) is not the community
    assert centre.move(cid, "closed", key=k["李长"]).status_code == 403


def test_rejection_reason_reaches_the_reporter(centre):
    cid = centre.post_case().json()["id"]
    assert centre.move(cid, "rejected", key=centre.keys["陈调"]).status_code == 422
    assert centre.move(cid, "rejected", key=centre.keys["王五"], note="x").status_code == 403
    assert centre.move(cid, "rejected", key=centre.keys["陈调"], note="重复上报").json()["status"] == "rejected"
    req = centre.client.get(f"/open311/v2/requests/{cid}.json").json()[0]
    assert req["status"] == "closed" and "重复上报" in req["status_notes"]


def test_escalation_goes_to_the_named_leader_of_each_level_then_alerts(centre):
    centre.client.app.dependency_overrides[get_clock] = lambda: lambda: T0
    cid = centre.post_case(category="fire").json()["id"]  # 12 h deadline, yellow 3 h before
    seen = []
    for hours in (8, 10, 13, 26, 39, 52, 65):
        centre.client.app.dependency_overrides[get_clock] = lambda h=hours: lambda: T0 + h * HOUR
        centre.client.post("/v1/cases/escalations", headers={"X-API-Key": DISPATCHER})
        case = centre.get(f"/v1/cases/{cid}").json()
        seen.append((case["warning"], case["level"], case["assignee"], case["alerts"]))
    assert seen == [
        ("green", "grid", pid(centre, "王五"), 0),
        ("yellow", "grid", pid(centre, "王五"), 0),
        ("green", "community", pid(centre, "张三"), 0),
        ("green", "town", pid(centre, "刘四"), 0),
        ("green", "county", pid(centre, "黄七"), 0),
        ("green", "county", pid(centre, "黄七"), 1),  # past the top: an alert, never silence
        ("green", "county", pid(centre, "黄七"), 2),
    ]
    events = centre.get(f"/v1/cases/{cid}").json()["events"]
    assert events[-1]["note"].startswith("ALERT") and events[-1]["actor"] == "system:escalation"
    # the leader holding it hands it back to the worker: the case is at the grid level again
    r = centre.move(cid, "assigned", key=centre.keys["刘四"], assignee=pid(centre, "王五"))
    assert (r.json()["level"], r.json()["assignee_name"]) == ("grid", "王五")


def test_outside_every_grid_goes_to_the_county_desk(centre):
    case = centre.post_case(lon=OUTSIDE[0], lat=OUTSIDE[1]).json()
    assert case["outside_coverage"] is True
    assert (case["grid_id"], case["town_id"], case["assignee"], case["level"]) == (
        None,
        None,
        f"county:{COUNTY}",
        "county",
    )
    req = centre.client.get(f"/open311/v2/requests/{case['id']}.json").json()[0]
    assert "县级指挥中心" in req["status_notes"]


def test_personal_phones_only_for_staff(centre):
    answer = centre.client.get("/v1/locate", params={"lon": IN_G1[0], "lat": IN_G1[1]}).json()
    assert answer["staff"]["workers"][0]["name"] == "王五" and answer["staff"]["desk_phone"] == "0750-8881234"
    assert "138000000" not in str(answer)
    public = centre.client.get(f"/v1/grids/{G1}/staff").json()
    assert public["leader"]["name"] == "李长" and "1380000000" not in str(public)
    assert public["desk_phone"] == "0750-8881234"
    assert "1380000000" not in centre.client.get(f"/v1/grids/{G1}").text
    assert "1380000000" not in centre.client.get(f"/v1/grids/{G1}/staff", headers={"X-API-Key": APP}).text
    staff = centre.client.get(f"/v1/grids/{G1}/staff", headers={"X-API-Key": centre.keys["王五"]}).json()
    assert staff["leader"]["phone"] == "13800000001" and staff["workers"][0]["phone"] == "13800000005"
    assert centre.client.get("/v1/people").status_code == 401
    assert centre.client.get("/v1/people", headers={"X-API-Key": APP}).status_code == 403


def test_a_worker_off_duty_is_passed_over(centre):
    # G2's only worker has the schedule "off": the case goes to the grid's desk (no leader there)
    assert centre.post_case(lon=0.5 * (112.91 + 112.92), lat=22.705).json()["assignee"] == f"grid:{G2}"


def test_roster_is_checked_whole_and_never_half_applied(centre, tmp_path):
    bad = ROSTER + f"999999,无名,网格员,13900000000,,\n{G1},钱八,保安,13900000001,,\n{G2},孙九,网格员,12ab,,\n"
    files = {"file": ("roster.csv", bad.encode(), "text/csv")}
    r = centre.client.post("/v1/roster", files=files, headers={"X-API-Key": DISPATCHER})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["details"]["unknown_codes"] == ["999999"] and "nothing was imported" in err["message"]
    assert any("保安" in p for p in err["details"]["problems"]) and any("12ab" in p for p in err["details"]["problems"])
    assert len(centre.get("/v1/people").json()) == 8
    # export (CSV and XLSX) and import back: the same people and posts
    xlsx = centre.client.get("/v1/roster.xlsx", headers={"X-API-Key": DISPATCHER})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    rows = list(csv.reader(io.StringIO(centre.get("/v1/roster.csv").content.decode("utf-8-sig"))))
    assert rows[0] == ["编码", "姓名", "角色", "电话", "值班", "单位"] and len(rows) == 9
    assert [f"\t{G1}", "李长", "网格长", "13800000001", "", "沙坪街道"] in rows
    files = {"file": ("roster.xlsx", xlsx.content, "application/octet-stream")}
    r = centre.client.post("/v1/roster", files=files, params={"replace": True}, headers={"X-API-Key": DISPATCHER})
    assert r.status_code == 200 and r.json() == {"people": 8, "posts": 8, "units": 5}
    assert {p["name"] for p in centre.get("/v1/people").json()} == set(centre.people)


def test_roster_cli_import_and_export(centre, tmp_path):
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from gridgis.cli import main

    out = tmp_path / "roster.xlsx"
    runner = CliRunner()
    r = runner.invoke(main, ["roster", "export", "--db", centre.url, "-o", str(out)])
    assert r.exit_code == 0 and "8 post(s)" in r.output, r.output
    sheet = load_workbook(out).worksheets[0]
    codes = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert G1 in codes and all(isinstance(c, str) for c in codes)
    more = tmp_path / "more.csv"
    more.write_text(
        f"code,name,role,phone,schedule\n{G2},孙九,worker,13900000009,周一至周五 08:00-18:00\n", encoding="utf-8"
    )
    r = runner.invoke(main, ["roster", "import", "--db", centre.url, str(more)])
    assert r.exit_code == 0 and "1 people, 1 posts" in r.output, r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,role\n123,x,worker\n", encoding="utf-8")
    r = runner.invoke(main, ["roster", "import", "--db", centre.url, str(bad)])
    assert r.exit_code != 0 and "['123']" in r.output and "bad.csv" in r.output and "Traceback" not in r.output


def test_configuration_file_and_api(centre, tmp_path):
    import json

    from click.testing import CliRunner

    from gridgis.cli import main

    doc = {
        "categories": [
            {
                "code": "street_lights",
                "name_zh": "路灯维修",
                "name_en": "Street lights",
                "deadline_hours": 24,
                "yellow_hours": 6,
            }
        ],
        "departments": ["城管局"],
        "county": {"code": COUNTY, "name": "鹤山市"},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(main, ["cases", "config", "--db", centre.url, str(path)])
    assert r.exit_code == 0 and "10 categories" in r.output, r.output
    import time

    time.sleep(1.1)  # the service reads the configuration again within a second
    cats = {c["code"]: c for c in centre.client.get("/v1/cases/categories").json()}
    assert cats["street_lights"]["name"] == "路灯维修" and cats["fire"]["name"] == "消防安全"
    assert {c["code"]: c["name"] for c in centre.client.get("/v1/cases/categories?lang=en").json()}[
        "street_lights"
    ] == "Street lights"
    services = centre.client.get("/open311/v2/services.json").json()
    assert {s["service_code"]: s["service_name"] for s in services}["street_lights"] == "路灯维修"
    # a configured category is a service Open311 clients can define, submit and query
    assert centre.client.get("/open311/v2/services/street_lights.json").status_code == 200
    form = {"api_key": APP, "service_code": "street_lights", "lat": str(IN_G1[1]), "long": str(IN_G1[0])}
    r = centre.client.post("/open311/v2/requests.json", data={**form, "description": "路灯不亮"})
    assert r.status_code == 201, r.text
    listed = centre.client.get("/open311/v2/requests.json", params={"service_code": "street_lights"}).json()
    assert [q["service_code"] for q in listed] == ["street_lights"]
    case = centre.post_case(category="street_lights").json()
    assert case["category_name"] == "路灯维修"
    assert case["due_at"] > case["created_at"]
    # assign to a configured department
    r = centre.move(case["id"], "assigned", key=centre.keys["陈调"], assignee="department:城管局")
    assert (r.json()["assignee"], r.json()["department"]) == ("department:城管局", "城管局")
    r = centre.move(case["id"], "assigned", key=centre.keys["陈调"], assignee="department:水务局")
    assert r.status_code == 422 and "城管局" in r.json()["error"]["details"]["fix"]
    # bad configuration: the field named, nothing stored
    r = centre.client.put(
        "/v1/cases/config",
        json={"categories": [{"code": "x", "name_zh": "X", "deadline_hours": -1}]},
        headers={"X-API-Key": DISPATCHER},
    )
    assert r.status_code == 422 and "categories[0].deadline_hours" in r.json()["error"]["message"]
    assert centre.client.put("/v1/cases/config", json={}, headers={"X-API-Key": centre.keys["王五"]}).status_code == 403
    r = centre.client.put(
        "/v1/cases/config", json={"escalation": {"levels": ["community", "town"]}}, headers={"X-API-Key": DISPATCHER}
    )
    assert r.status_code == 200 and r.json()["escalation"]["levels"] == ["community", "town"]
    assert "street_lights" not in {c["code"] for c in r.json()["categories"]}  # the whole document is replaced


def test_ledger_for_excel(centre):
    from openpyxl import load_workbook

    k = centre.keys
    centre.client.app.dependency_overrides[get_clock] = lambda: lambda: T0
    cid = centre.post_case().json()["id"]
    for to, note in (("accepted", ""), ("in_progress", ""), ("resolved", "已清理")):
        centre.move(cid, to, key=k["王五"], note=note)
    centre.move(cid, "verified", key=k["张三"], note="已核查")
    centre.client.post(
        f"/v1/cases/{cid}/feedback", json={"callback": "满意", "rating": 4}, headers={"X-API-Key": DISPATCHER}
    )
    centre.move(cid, "closed", key=DISPATCHER)
    rows = list(csv.DictReader(io.StringIO(centre.get("/v1/cases.csv").content.decode("utf-8-sig"))))
    row = rows[0]
    assert row["状态"] == "已办结" and row["类别"] == "城市管理" and row["网格编码"] == f"\t{G1}"
    assert row["上报时间"] == "2026-11-23 16:00:00"  # Beijing time, no microseconds
    assert row["处置人"] == "王五" and row["处置结果"] == "已清理" and row["核查意见"] == "已核查"
    assert row["回访情况"] == "满意" and row["满意度"] == "4" and row["社区编码"] == f"\t{COMMUNITY}"
    assert row["来源渠道"] == "APP"  # the channel's Chinese name, as the statuses
    en = list(csv.DictReader(io.StringIO(centre.get("/v1/cases.csv", lang="en").content.decode("utf-8-sig"))))
    assert en[0]["status"] == "closed" and en[0]["channel"] == "app"
    r = centre.get("/v1/cases.xlsx")
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    values = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert values["网格编码"] == G1 and isinstance(values["网格编码"], str) and values["状态"] == "已办结"


def test_notes_and_photos_without_a_move_and_the_chain_table(centre):
    k = centre.keys
    cid = centre.post_case().json()["id"]
    r = centre.client.post(
        f"/v1/cases/{cid}/notes", json={"note": "已到场", "photos": ["upl_scene_1"]}, headers={"X-API-Key": k["王五"]}
    )
    assert r.status_code == 201 and r.json()["status"] == "assigned"
    r = centre.client.post(
        f"/v1/cases/{cid}/notes", json={"photos": ["javascript:alert(1)"]}, headers={"X-API-Key": k["王五"]}
    )
    assert r.status_code == 422 and "photo" in r.json()["error"]["message"]
    assert centre.client.post(f"/v1/cases/{cid}/notes", json={}, headers={"X-API-Key": k["王五"]}).status_code == 422
    assert (
        centre.client.post(f"/v1/cases/{cid}/notes", json={"note": "x"}, headers={"X-API-Key": APP}).status_code == 403
    )
    detail = centre.get(f"/v1/cases/{cid}").json()
    assert detail["photos"] == [
        {
            "ref": "upl_scene_1",
            "stage": "assigned",
            "at": detail["events"][-1]["at"],
            "by": detail["events"][-1]["actor"],
        }
    ]
    chain = {s["status"]: s for s in centre.client.get("/v1/cases/chain").json()["statuses"]}
    assert chain["resolved"]["moves"] == {
        "verified": ["dispatcher", "community"],
        "reopened": ["dispatcher", "community"],
    }
    assert chain["closed"]["name"] == "已办结" and chain["closed"]["moves"] == {}


def test_emptying_a_grid_and_schedules(centre):
    from datetime import UTC, datetime

    from gridgis.cases.people import on_duty_at, parse_schedule
    from gridgis.errors import InputError

    r = centre.client.put(f"/v1/grids/{G1}/staff", json={}, headers={"X-API-Key": DISPATCHER})
    assert r.status_code == 200 and (r.json()["leader"], r.json()["workers"]) == (None, [])
    assert centre.post_case().json()["assignee"] == f"grid:{G1}"
    weekdays = parse_schedule("周一至周五 08:00-18:00")
    monday_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    assert on_duty_at(weekdays, monday_9) and not on_duty_at(weekdays, monday_9.replace(hour=11))  # 19:00
    night = parse_schedule("sat 22:00-06:00")
    assert on_duty_at(night, datetime(2026, 11, 28, 21, 0, tzinfo=UTC))  # Sunday 05:00 in Beijing
    with pytest.raises(InputError, match="Unknown days"):
        parse_schedule("someday 08:00-09:00")
