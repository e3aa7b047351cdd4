"""The console's HTTP side on both stores: sessions in the caller chain, CSRF, photos, the selection, bulk
assignment, patrol reports, the review and its XLSX, offline /docs and /redoc."""

from __future__ import annotations

import io
import re
from datetime import datetime

import openpyxl

from gridgis.times import shown

from .conftest import DISPATCHER, GRID, IN_GRID, OTHER_DISPATCHER, READER, png, sign_in, submit


def test_session_cookie_identifies_the_caller(app, api, world):
    client = sign_in(app, DISPATCHER)
    cookie = client.cookies.get("gridgis_session")
    assert cookie and len(cookie) > 30
    # the cookie works on the JSON API too: the same dependency chain as a key
    case = submit(api)
    assert client.get(f"/v1/cases/{case['id']}").json()["id"] == case["id"]
    assert client.get("/console/api/cases").json()["total"] >= 1
    client.__exit__(None, None, None)


def test_sign_in_sets_a_strict_httponly_expiring_cookie(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.post("/console/sign-in", data={"secret": DISPATCHER}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/console/cases?lang=zh"
        flags = r.headers["set-cookie"].lower()
        assert "httponly" in flags and "samesite=strict" in flags and "max-age=43200" in flags
        # a bad key, or a reader (an app) key, gets the form again with a message
        for key in ("ggk_nobody", READER):
            bad = c.post("/console/sign-in", data={"secret": key, "lang": "en"}, follow_redirects=False)
            assert bad.status_code == 401 and "unknown or revoked" in bad.text
        # from another site: refused
        r = c.post("/console/sign-in", data={"secret": DISPATCHER}, headers={"Origin": "http://evil.example"})
        assert "gridgis_session" not in r.headers.get("set-cookie", "")


def test_changes_need_the_csrf_token_and_this_origin(app, api):
    client = sign_in(app, DISPATCHER)
    case = submit(api)
    url = f"/v1/cases/{case['id']}/transitions"
    r = client.post(url, json={"to": "accepted"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = client.post(url, json={"to": "accepted"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = client.post(
        url, json={"to": "accepted"}, headers={"X-CSRF-Token": client.csrf, "Origin": "http://evil.example"}
    )
    assert r.status_code == 403 and "not this site" in r.json()["error"]["message"]
    assert api.get(f"/v1/cases/{case['id']}", headers={"X-API-Key": DISPATCHER}).json()["status"] == "assigned"
    r = client.post(url, json={"to": "accepted"}, headers={"X-CSRF-Token": client.csrf, "Origin": "http://127.0.0.1"})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    events = api.get(f"/v1/cases/{case['id']}", headers={"X-API-Key": DISPATCHER}).json()["events"]
    assert events[-1]["actor"] == "dispatcher:ggk_consol"
    client.__exit__(None, None, None)


def test_sign_out_and_revocation_end_the_session(app, world):
    store, _, _, _ = world
    worker_key = store.create_key("worker", "临时", grids=[GRID])
    client = sign_in(app, worker_key)
    assert client.get("/console/api/cases").status_code == 200
    store.revoke_key(worker_key[:10])
    assert client.get("/console/api/cases").status_code == 401
    client.__exit__(None, None, None)

    client = sign_in(app, DISPATCHER)
    assert client.post("/console/sign-out", data={"csrf": "wrong"}).status_code == 403
    r = client.post("/console/sign-out", data={"csrf": client.csrf}, follow_redirects=False)
    assert r.status_code == 303 and 'gridgis_session=""' in r.headers["set-cookie"]
    assert client.get("/console/cases", follow_redirects=False).status_code == 303  # back to sign-in
    client.__exit__(None, None, None)


def test_pages_redirect_without_a_session_and_send_workers_to_their_view(app, api, world):
    r = api.get("/console/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console?lang=zh"
    worker = sign_in(app, world[2])
    r = worker.get("/console/cases?lang=en", follow_redirects=False)
    assert r.headers["location"] == "/console/worker?lang=en"
    page = worker.get("/console/worker?lang=en")
    assert (
        page.status_code == 200
        and "My cases" in page.text
        and "default-src 'self'" in page.headers["content-security-policy"]
    )
    assert "我的案件" in worker.get("/console/worker").text
    worker.__exit__(None, None, None)


def test_selection_filters_sort_and_page(app, api, world):
    client = sign_in(app, DISPATCHER)
    mine = [submit(api, description=f"filter probe {i}") for i in range(3)]
    far = submit(api, lon=112.97, lat=22.71, description="filter probe far")
    r = client.get("/console/api/cases", params={"q": "filter probe", "sort": "oldest", "limit": 2})
    body = r.json()
    assert body["total"] == 4 and [c["id"] for c in body["cases"]] == [mine[0]["id"], mine[1]["id"]]
    assert len(body["points"]) == 4 and all(len(p) == 5 for p in body["points"])
    body = client.get("/console/api/cases", params={"q": "filter probe", "grid_id": GRID}).json()
    assert body["total"] == 3 and far["id"] not in [c["id"] for c in body["cases"]]
    assert client.get("/console/api/cases", params={"q": str(far["id"])}).json()["cases"][0]["id"] == far["id"]
    assert client.get("/console/api/cases", params={"q": "filter probe", "level": "town"}).json()["total"] == 0
    assert client.get("/console/api/cases", params={"q": "filter probe", "overdue": True}).json()["total"] == 0
    r = client.get("/console/api/cases", params={"status": "nonsense"})
    assert r.status_code == 422 and "nonsense" in r.json()["error"]["message"]
    assert client.get("/console/api/cases", params={"sort": "x"}).status_code == 422
    assert client.get("/console/api/cases", params={"since": "2026-01-01T00:00"}).status_code == 422
    # a worker sees only its grid's cases
    worker = sign_in(app, world[3])
    assert worker.get("/console/api/cases", params={"q": "filter probe"}).json()["total"] == 0
    assert worker.get(f"/console/api/cases/{far['id']}").status_code == 403
    # a case's navigate link is in GCJ-02 (Amap): shifted some hundred metres from WGS 84
    nav = body["cases"][0]["nav_url"]
    lon, lat = map(float, re.search(r"position=([\d.]+),([\d.]+)", nav).groups())
    assert 0.003 < abs(lon - IN_GRID[0]) + abs(lat - IN_GRID[1]) < 0.01
    client.__exit__(None, None, None)
    worker.__exit__(None, None, None)


def test_bulk_assign_reports_each_case(app, api):
    client = sign_in(app, DISPATCHER)
    a, b = submit(api), submit(api)
    h = {"X-CSRF-Token": client.csrf}
    client.post(f"/v1/cases/{a['id']}/transitions", json={"to": "escalated"}, headers=h)
    r = client.post("/console/api/assign", json={"ids": [a["id"], b["id"], 99999], "assignee": "王五"}, headers=h)
    body = r.json()
    # issue 15: the dispatcher may reassign an assigned case; a name is the one person of that name
    assert body["assigned"] == [a["id"], b["id"]]
    assert {f["id"]: f["code"] for f in body["failed"]} == {99999: "not_found"}
    assert client.get(f"/v1/cases/{a['id']}").json()["assignee_name"] == "王五"
    r = client.post("/console/api/assign", json={"ids": [a["id"]], "assignee": "无名氏"}, headers=h)
    assert r.json()["failed"][0]["code"] == "invalid_input"
    assert client.post("/console/api/assign", json={"ids": [], "assignee": "x"}, headers=h).status_code == 422
    client.__exit__(None, None, None)


def test_photos_are_checked_kept_and_served_to_who_may_read(app, api, world):
    _, settings, worker_key, other_key = world
    case = submit(api)
    worker = sign_in(app, worker_key)
    h = {"X-CSRF-Token": worker.csrf}
    url = f"/console/api/cases/{case['id']}/photos"
    r = worker.post(url, files={"photo": ("../../etc/x.png", png(), "image/png")}, headers=h)
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["name"] == "x.png"
    r = worker.post(url, files={"photo": ("fake.jpg", b"<script>alert(1)</script>", "image/jpeg")}, headers=h)
    assert r.status_code == 422 and "not a JPEG, PNG or WebP" in r.json()["error"]["message"]
    big = png() + bytes(9 * 1024 * 1024)
    r = worker.post(url, files={"photo": ("big.png", big, "image/png")}, headers=h)
    assert r.status_code == 422 and "at most" in r.json()["error"]["message"]
    assert worker.get(photo["url"]).content == png()
    detail = worker.get(f"/console/api/cases/{case['id']}").json()
    assert [p["id"] for p in detail["photos"]] == [photo["id"]]
    added = [e for e in detail["events"] if e["photos"]]  # the refused uploads left no trace
    assert [(e["photos"], e["from_status"] == e["to_status"]) for e in added] == [([photo["url"]], True)]
    assert added[0]["actor"].startswith("worker:")
    from pathlib import Path

    files = [p.name for p in Path(settings.upload_dir).iterdir()]
    assert f"{case['id']}-" in " ".join(files) and not any("x.png" in f for f in files)
    other = sign_in(app, other_key)
    assert other.get(photo["url"]).status_code == 403
    r = other.post(url, files={"photo": ("y.png", png(), "image/png")}, headers={"X-CSRF-Token": other.csrf})
    assert r.status_code == 403
    assert api.get(photo["url"]).status_code == 401
    worker.__exit__(None, None, None)
    other.__exit__(None, None, None)


def test_patrol_report_is_routed_to_the_grid(app, world):
    worker = sign_in(app, world[2])
    body = {"category": "fire", "description": "消防通道堵塞", "lon": IN_GRID[0], "lat": IN_GRID[1]}
    r = worker.post("/console/api/patrol", json=body, headers={"X-CSRF-Token": worker.csrf})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["channel"] == "patrol" and case["grid_id"] == GRID
    r = worker.post("/console/api/patrol", json={**body, "lat": 95}, headers={"X-CSRF-Token": worker.csrf})
    assert r.status_code == 422
    worker.__exit__(None, None, None)


def test_review_counts_and_xlsx(app, api):
    client = sign_in(app, DISPATCHER)
    h = {"X-CSRF-Token": client.csrf}
    case = submit(api)
    for to in ("accepted", "in_progress", "resolved"):  # issue 15: accepted first; someone else checks
        r = client.post(f"/v1/cases/{case['id']}/transitions", json={"to": to, "note": "ok"}, headers=h)
        assert r.status_code == 200, r.text
    for to in ("verified", "closed"):
        r = api.post(f"/v1/cases/{case['id']}/transitions", json={"to": to}, headers={"X-API-Key": OTHER_DISPATCHER})
        assert r.status_code == 200, r.text
    month = shown(datetime.fromisoformat(case["created_at"])).strftime("%Y-%m")  # the review's months are Beijing's
    page = client.get(f"/console/review?month={month}&unit=grid&lang=en")
    assert page.status_code == 200 and GRID in page.text and "On-time rate" in page.text
    r = client.get(f"/console/review.xlsx?month={month}&unit=community")
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("编码", "社区") and rows[0][7] == "按时办结率"
    row = next(r for r in rows[1:] if r[0] == GRID[:12])
    assert row[1] == "雅瑶东社区" and row[2] >= 1 and row[3] >= 1 and 0 < row[7] <= 1
    assert sheet["H2"].number_format == "0.0%"
    # the page names the units (the code beside the name)
    page = client.get(f"/console/review?month={month}&unit=community")
    assert "<td>雅瑶东社区</td>" in page.text and GRID[:12] in page.text
    assert client.get("/console/review.xlsx?month=2026-13").status_code == 422
    assert api.get(f"/console/review.xlsx?month={month}").status_code == 401
    client.__exit__(None, None, None)


def test_docs_and_redoc_are_offline(api):
    for url in ("/docs", "/redoc"):
        html = api.get(url).text
        assert not re.search(r"(src|href)=[\"']https?://", html), url
        assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert api.get(f"/docs-assets/{name}").status_code == 200
    assert api.get("/docs-assets/../settings.py").status_code == 404
