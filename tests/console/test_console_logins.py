"""Password sign-in for people, the back-off on failed sign-ins, and community/town handlers working their
escalated cases through the console's session (both stores)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from gridgis.cases.people import RosterRow, person_id_of
from gridgis.console import logins as L

from .conftest import DISPATCHER, GRID, OTHER_GRID, submit

PASSWORD = "correct horse battery staple"
COMMUNITY, TOWN = GRID[:12], GRID[:9]
SECRETARY = ("李书记", "138-0000-0001")
TOWN_LEADER = ("陈镇长", "13800000002")
LOCKED = ("周委员", "13800000003")  # the account the back-off test locks


@pytest.fixture(scope="module")
def admin(world):
    return world[0].create_key("admin", "管理员")


@pytest.fixture(scope="module")
def people(app, api, admin):
    """Person ids of a community secretary, a town leader and a third community person, each with PASSWORD."""
    rows = [
        RosterRow(1, "community", COMMUNITY, *SECRETARY[:1], "leader", SECRETARY[1], "", ""),
        RosterRow(2, "town", TOWN, TOWN_LEADER[0], "leader", TOWN_LEADER[1], "", ""),
        RosterRow(3, "community", COMMUNITY, LOCKED[0], "worker", LOCKED[1], "", ""),
    ]
    app.state.gridgis.cases.people.apply(rows)
    ids = {}
    for row in rows:
        pid = person_id_of(row.name, row.phone, f"{row.level}:{row.unit_id}")
        r = api.put(f"/v1/people/{pid}/password", json={"password": PASSWORD}, headers={"X-API-Key": admin})
        assert r.status_code == 204, r.text
        ids[row.name] = pid
    return ids


def password_client(app, phone: str, password: str = PASSWORD, host: str = "testclient") -> TestClient:
    client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False, client=(host, 50000))
    client.__enter__()
    r = client.post("/console/sign-in", data={"account": phone, "secret": password}, follow_redirects=True)
    assert r.status_code == 200, r.text[:300]
    client.csrf = re.search(r'"csrf": "([^"]+)"', r.text).group(1)
    return client


def test_an_admin_sets_a_password_and_the_person_signs_in_with_it(app, api, world, admin, people):
    pid = people[SECRETARY[0]]
    # only an admin sets passwords; a short one and an unknown person are refused
    r = api.put(f"/v1/people/{pid}/password", json={"password": PASSWORD}, headers={"X-API-Key": DISPATCHER})
    assert r.status_code == 403
    r = api.put(f"/v1/people/{pid}/password", json={"password": "short"}, headers={"X-API-Key": admin})
    assert r.status_code == 422 and "10 to 200" in r.json()["error"]["message"]
    r = api.put("/v1/people/p-nobody/password", json={"password": PASSWORD}, headers={"X-API-Key": admin})
    assert r.status_code == 404
    # only an Argon2id hash is stored
    with world[0].cursor(readonly=True) as cur:
        cur.execute(world[0].dialect.q("SELECT hash FROM person_passwords WHERE person_id = ?"), (pid,))
        digest = cur.fetchone()[0]
    assert digest.startswith("$argon2id$") and PASSWORD not in digest

    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.1", 1)) as c:
        # the phone as people write it (dashes, spaces) or the person id; a handler lands on the case list
        for account in ("138-0000-0001", "138 0000 0001", pid):
            r = c.post("/console/sign-in", data={"account": account, "secret": PASSWORD}, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/console/cases?lang=zh", account
            assert "httponly" in r.headers["set-cookie"].lower()
        bad = c.post("/console/sign-in", data={"account": SECRETARY[1], "secret": PASSWORD + "x", "lang": "en"})
        assert bad.status_code == 401 and "Wrong account or password" in bad.text
        assert c.post("/console/sign-in", data={"account": "13999999999", "secret": PASSWORD}).status_code == 401

    # the session stands for the person: their name in the page; a new password ends it
    client = password_client(app, SECRETARY[1])
    page = client.get("/console/cases")
    assert page.status_code == 200 and SECRETARY[0] in page.text
    assert client.get("/console/api/cases").status_code == 200
    new = PASSWORD + " again"
    assert (
        api.put(f"/v1/people/{pid}/password", json={"password": new}, headers={"X-API-Key": admin}).status_code == 204
    )
    assert client.get("/console/api/cases").status_code == 401
    client.__exit__(None, None, None)
    # cleared: no sign-in with it any more
    assert api.delete(f"/v1/people/{pid}/password", headers={"X-API-Key": admin}).status_code == 204
    assert api.delete(f"/v1/people/{pid}/password", headers={"X-API-Key": admin}).status_code == 404
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.2", 1)) as c:
        assert c.post("/console/sign-in", data={"account": SECRETARY[1], "secret": new}).status_code == 401
    assert (
        api.put(f"/v1/people/{pid}/password", json={"password": PASSWORD}, headers={"X-API-Key": admin}).status_code
        == 204
    )


def test_failed_sign_ins_back_off_per_account(app, people):
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.7", 1)) as c:
        for i in range(L.ACCOUNT_LIMIT):  # the phone or the person id: one account
            account = LOCKED[1] if i % 2 else people[LOCKED[0]]
            r = c.post("/console/sign-in", data={"account": account, "secret": "wrong password"})
            assert r.status_code == 401
        # now even the right password waits, unchecked, with Retry-After
        r = c.post("/console/sign-in", data={"account": LOCKED[1], "secret": PASSWORD}, follow_redirects=False)
        assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 30 and "秒后再试" in r.text
        assert "gridgis_session" not in r.headers.get("set-cookie", "")
        # another account from the same client is not held up
        r = c.post("/console/sign-in", data={"account": TOWN_LEADER[1], "secret": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303


def test_the_back_off_doubles_is_capped_and_counts_clients_too(world):
    logins = L.Logins(world[0])
    t0 = datetime(2030, 1, 1, 8, tzinfo=UTC)
    account, client = "13700000000", "10.9.9.9"
    for i in range(L.ACCOUNT_LIMIT - 1):
        logins.failed(account, client, now=t0 + timedelta(seconds=i))
    assert logins.wait(account, client, now=t0 + timedelta(seconds=5)) == 0
    last = t0 + timedelta(seconds=10)
    logins.failed(account, client, now=last)  # the limit: 30 s after the last failure
    assert logins.wait(account, "10.1.1.1", now=last) == 30
    assert logins.wait(account, client, now=last + timedelta(seconds=31)) == 0
    logins.failed(account, client, now=last + timedelta(seconds=31))  # one more: 60 s
    assert logins.wait(account, client, now=last + timedelta(seconds=31)) == 60
    for i in range(10):
        logins.failed(account, client, now=last + timedelta(seconds=40 + i))
    assert logins.wait(account, client, now=last + timedelta(seconds=49)) == L.MAX_WAIT.total_seconds()
    for i in range(60):  # 2 ** 60 back-offs overflowed timedelta: every sign-in of the account was a 500
        logins.failed(account, client, now=last + timedelta(seconds=50, milliseconds=i))
    assert logins.wait(account, client, now=last + timedelta(seconds=50, milliseconds=59)) == L.MAX_WAIT.total_seconds()
    # failures older than the window no longer count; a success clears the account's
    assert logins.wait(account, client, now=last + L.WINDOW + timedelta(minutes=1)) == 0
    logins.succeeded(account)
    assert logins.wait(account, "10.1.1.1", now=last + timedelta(seconds=50)) == 0
    # per client: failures of many accounts (and of keys, which have no account) add up
    client = "10.8.8.8"
    for i in range(L.CLIENT_LIMIT):
        logins.failed(None if i % 2 else f"1360000{i:04d}", client, now=t0 + timedelta(seconds=i))
    assert logins.wait("13500000000", client, now=t0 + timedelta(seconds=L.CLIENT_LIMIT)) > 0
    assert logins.wait(None, client, now=t0 + timedelta(seconds=L.CLIENT_LIMIT)) > 0
    assert logins.wait("13500000000", "10.8.8.9", now=t0 + timedelta(seconds=L.CLIENT_LIMIT)) == 0


def _move(client, case_id, to, **body):
    return client.post(
        f"/v1/cases/{case_id}/transitions", json={"to": to, **body}, headers={"X-CSRF-Token": client.csrf}
    )


def test_community_and_town_handlers_see_and_act_on_their_escalated_cases(app, api, people):
    desk = {"X-API-Key": DISPATCHER}
    case = submit(api, description="井盖缺失 missing manhole cover")
    far = submit(api, lon=112.97, lat=22.71)  # in the other town (共和镇)
    assert far["town_id"] == OTHER_GRID[:9]
    for c in (case, far):
        assert api.post(f"/v1/cases/{c['id']}/transitions", json={"to": "escalated"}, headers=desk).status_code == 200
    held = api.get(f"/v1/cases/{case['id']}", headers=desk).json()
    assert held["level"] == "community" and held["assignee"] == f"person:{people[SECRETARY[0]]}"

    secretary = password_client(app, SECRETARY[1])
    mine = secretary.get("/console/api/cases", params={"mine": True}).json()
    assert [c["id"] for c in mine["cases"]] == [case["id"]]
    assert secretary.get(f"/console/api/cases/{far['id']}").status_code == 403  # another community's case
    assert secretary.get(f"/v1/cases/{far['id']}").status_code == 403
    everything = secretary.get("/console/api/cases").json()
    assert everything["total"] >= 1 and all(c["community_id"] == COMMUNITY for c in everything["cases"])
    detail = secretary.get(f"/console/api/cases/{case['id']}").json()
    assert "accepted" in detail["moves"] and "assigned" not in detail["moves"]  # assigning stays the dispatcher's
    r = _move(secretary, case["id"], "accepted")
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    events = api.get(f"/v1/cases/{case['id']}", headers=desk).json()["events"]
    assert events[-1]["actor"].startswith(SECRETARY[0])

    # up to the town: its leader sees it as theirs; the secretary still sees it, not as theirs
    assert api.post(f"/v1/cases/{case['id']}/transitions", json={"to": "escalated"}, headers=desk).status_code == 200
    leader = password_client(app, TOWN_LEADER[1])
    assert case["id"] in [c["id"] for c in leader.get("/console/api/cases", params={"mine": True}).json()["cases"]]
    assert secretary.get("/console/api/cases", params={"mine": True}).json()["total"] == 0
    r = _move(leader, case["id"], "resolved", note="已补装井盖")
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    # the community checks it (核查) and closes it: not the town leader who resolved it
    assert "verified" not in leader.get(f"/console/api/cases/{case['id']}").json()["moves"]
    # waiting for the community's check, it is among the secretary's own again (the default view)
    assert [c["id"] for c in secretary.get("/console/api/cases", params={"mine": True}).json()["cases"]] == [case["id"]]
    assert _move(secretary, case["id"], "verified").status_code == 200
    assert _move(secretary, case["id"], "closed").status_code == 200
    # the review is limited to the handler's units too
    assert "440784106" not in secretary.get("/console/review", params={"unit": "town"}).text
    for client in (secretary, leader):
        client.__exit__(None, None, None)


def test_the_cli_sets_a_password(world, app, people):
    from gridgis.cli import main

    url = world[1].database_url
    r = CliRunner().invoke(main, ["roster", "password", SECRETARY[1], "--db", url, "--password-stdin"], input="tiny\n")
    assert r.exit_code == 1 and "10 to 200" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["roster", "password", "139", "--db", url, "--password-stdin"], input=PASSWORD + "\n")
    assert r.exit_code == 1 and "Fix:" in r.output
    new = "a new passphrase for the cli"
    r = CliRunner().invoke(
        main, ["roster", "password", SECRETARY[1], "--db", url, "--password-stdin"], input=new + "\n"
    )
    assert r.exit_code == 0 and SECRETARY[0] in r.output
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.3", 1)) as c:
        r = c.post("/console/sign-in", data={"account": SECRETARY[1], "secret": new}, follow_redirects=False)
        assert r.status_code == 303
        r = CliRunner().invoke(main, ["roster", "password", SECRETARY[1], "--db", url, "--clear"])
        assert r.exit_code == 0 and "removed" in r.output
        assert c.post("/console/sign-in", data={"account": SECRETARY[1], "secret": new}).status_code == 401


def test_a_case_held_by_a_unit_desk_is_handled_by_the_people_posted_there(app, api):
    """No leader named in 共和镇: an escalated case waits at the town's desk (town:ID); a person posted to the
    town sees it as theirs and may work it; a grid worker key of another grid may not read it."""
    town = OTHER_GRID[:9]
    row = RosterRow(1, "town", town, "何干事", "worker", "13800000009", "", "")
    app.state.gridgis.cases.people.apply([row])
    pid = person_id_of(row.name, row.phone, f"town:{town}")
    app.state.console.logins.set_password(pid, PASSWORD, by="test")
    desk = {"X-API-Key": DISPATCHER}
    case = submit(api, lon=112.97, lat=22.71)
    url = f"/v1/cases/{case['id']}"
    for _ in range(2):
        assert api.post(f"{url}/transitions", json={"to": "escalated"}, headers=desk).status_code == 200
    assert api.get(url, headers=desk).json()["assignee"] == f"town:{town}"
    officer = password_client(app, row.phone)
    mine = officer.get("/console/api/cases", params={"mine": True}).json()["cases"]
    assert case["id"] in [c["id"] for c in mine]
    held = next(c for c in mine if c["id"] == case["id"])
    assert held["assignee_name"] == "共和镇" and "accepted" in held["allowed_moves"]
    assert _move(officer, case["id"], "accepted").status_code == 200
    officer.__exit__(None, None, None)


def test_the_sweep_of_old_failures_reads_an_index(world):
    """Every failed sign-in deletes the failures older than the window: by the index on ``at``, not a table scan."""
    store = world[0]
    L.Logins(store)
    with store.cursor(readonly=True) as cur:
        if store.dialect.kind == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN DELETE FROM sign_in_failures WHERE at <= '2026-01-01'")
            plan = " ".join(str(r) for r in cur.fetchall())
        else:
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("EXPLAIN DELETE FROM sign_in_failures WHERE at <= '2026-01-01'")
            plan = " ".join(r[0] for r in cur.fetchall())
    assert "sign_in_failures_at" in plan, plan
