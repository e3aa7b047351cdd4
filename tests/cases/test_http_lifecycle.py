"""The whole lifecycle over HTTP, on SQLite and on PostGIS."""

from __future__ import annotations

from tests.cases.conftest import APP, DISPATCHER, G1, G2, IN_G2, OUTSIDE


def test_intake_routes_to_the_worker_on_duty_and_the_lifecycle_runs_to_closed(service):
    r = service.post_case(photo_urls=["https://img.example.cn/a.jpg"], contact={"phone": "13800000000"})
    assert r.status_code == 201, r.text
    case = r.json()
    assert r.headers["location"] == f"/v1/cases/{case['id']}"
    assert (case["status"], case["grid_id"], case["community_id"], case["town_id"]) == (
        "assigned",
        G1,
        "440784101001",
        "440784101",
    )
    assert case["assignee"].startswith("person:") and case["level"] == "grid" and not case["outside_coverage"]
    assert service.get(f"/v1/cases/{case['id']}").json()["assignee_name"] == "王五"
    cid = case["id"]
    for to in ("accepted", "in_progress", "resolved"):
        r = service.move(cid, to, key=service.worker, note=f"-> {to}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == to
    # issue 15: the worker who resolved it may no longer close it; someone else checks first
    r = service.move(cid, "closed", key=service.worker)
    assert r.status_code == 409 and r.json()["error"]["details"]["allowed"] == ["verified", "reopened"]
    for to in ("verified", "closed"):
        assert service.move(cid, to, key=DISPATCHER, note=f"-> {to}").json()["status"] == to
    detail = service.get(f"/v1/cases/{cid}").json()
    assert detail["closed_at"] is not None and detail["allowed_transitions"] == [] and detail["allowed_moves"] == []
    trail = [(e["from_status"], e["to_status"]) for e in detail["events"]]
    assert trail == [
        (None, "reported"),
        ("reported", "assigned"),
        ("assigned", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "verified"),
        ("verified", "closed"),
    ]
    assert detail["events"][2]["actor"] == f"worker:{service.worker[:10]}"  # a key no person holds
    assert detail["events"][-1]["note"] == "-> closed"


def test_grid_without_a_worker_on_duty_goes_to_its_leader(service):
    r = service.post_case(lon=IN_G2[0], lat=IN_G2[1])
    assert r.status_code == 201, r.text
    assert r.json()["grid_id"] == G2
    assert service.get(f"/v1/cases/{r.json()['id']}").json()["assignee_name"] == "陈长"


def test_illegal_transition_is_409_listing_the_allowed_ones(service):
    cid = service.post_case().json()["id"]
    r = service.move(cid, "closed")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["details"]["allowed"] == ["assigned", "accepted", "returned", "rejected", "escalated"]
    assert err["details"]["allowed_for_you"] == ["assigned", "accepted", "rejected", "escalated"]
    assert "'assigned'" in err["message"] and "'closed'" in err["message"]
    assert service.move(cid, "rejected").status_code == 422  # a rejection needs its reason
    assert service.move(cid, "rejected", note="duplicate").json()["status"] == "rejected"
    r = service.move(cid, "in_progress")
    assert r.status_code == 409 and r.json()["error"]["details"]["allowed"] == []


def test_reopen_after_a_failed_check(service):
    cid = service.post_case().json()["id"]
    for to in ("accepted", "in_progress", "resolved"):
        service.move(cid, to, key=service.worker, note="done")
    # issue 15: a failed check reopens the case (no longer resolved -> in_progress)
    assert service.move(cid, "in_progress").status_code == 409
    case = service.move(cid, "reopened", note="reporter: still there").json()
    assert case["status"] == "reopened" and case["resolved_at"] is None
    assert service.move(cid, "in_progress", key=service.worker).json()["status"] == "in_progress"


def test_outside_coverage_is_accepted_and_flagged_for_the_county_desk(service):
    r = service.post_case(lon=OUTSIDE[0], lat=OUTSIDE[1])
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["outside_coverage"] is True
    # issue 15: the county's desk, not the nearest town
    assert (case["grid_id"], case["town_id"], case["assignee"], case["level"]) == (
        None,
        None,
        "county:440784",
        "county",
    )


def test_gcj02_location_is_converted_before_locating(service):
    from gridgis.crs import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02([IN_G2[0]], [IN_G2[1]])
    case = service.post_case(lon=float(lon[0]), lat=float(lat[0]), crs="gcj02").json()
    assert case["grid_id"] == G2 and case["source_crs"] == "gcj02"
    assert abs(case["lon"] - IN_G2[0]) < 1e-5 and abs(case["lat"] - IN_G2[1]) < 1e-5


def test_queries_filter_and_page(service):
    ids = [service.post_case(category=c).json()["id"] for c in ("fire", "fire", "other")]
    service.post_case(lon=IN_G2[0], lat=IN_G2[1])
    service.move(ids[0], "accepted")
    page = service.get("/v1/cases", category="fire", limit=1).json()
    assert page["total"] == 2 and [c["id"] for c in page["cases"]] == [ids[1]] and page["next_offset"] == 1
    page2 = service.get("/v1/cases", category="fire", limit=1, offset=1).json()
    assert [c["id"] for c in page2["cases"]] == [ids[0]] and page2["next_offset"] is None
    assert service.get("/v1/cases", status="accepted").json()["total"] == 1
    assert service.get("/v1/cases", status="assigned,accepted", grid_id=G1).json()["total"] == 3
    assert service.get("/v1/cases", town_id="440784101").json()["total"] == 4
    assert service.get("/v1/cases", community_id="440784106001").json()["total"] == 0
    created = service.get(f"/v1/cases/{ids[0]}").json()["created_at"]
    assert service.get("/v1/cases", since=created).json()["total"] == 4
    assert service.get("/v1/cases", until=created).json()["total"] == 0
    r = service.get("/v1/cases", since="2026-01-01T00:00:00")
    assert r.status_code == 422 and "time zone" in r.json()["error"]["message"]
    r = service.get("/v1/cases", status="lost")
    assert r.status_code == 422 and "reported" in r.json()["error"]["details"]["fix"]


def test_ledger_csv_and_stats(service):
    import csv
    import io

    a = service.post_case().json()["id"]
    b = service.post_case().json()["id"]
    service.post_case(lon=IN_G2[0], lat=IN_G2[1])
    for to in ("accepted", "in_progress", "resolved"):
        service.move(a, to, key=service.worker, note="ok")
    for to in ("verified", "closed"):
        service.move(a, to)
    service.move(b, "rejected", note="duplicate")
    r = service.get("/v1/cases.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    # issue 15: Chinese headers and status names
    assert [int(x["编号"]) for x in rows] == [a, b, b + 1]
    assert rows[0]["状态"] == "已办结" and rows[0]["类别"] == "城市管理" and rows[0]["办结用时(小时)"] != ""
    stats = {g["grid_id"]: g for g in service.get("/v1/cases/stats").json()["grids"]}
    assert (stats[G1]["cases"], stats[G1]["closed"], stats[G1]["rejected"], stats[G1]["open"]) == (2, 1, 1, 0)
    assert stats[G1]["median_hours_to_close"] is not None and stats[G1]["median_hours_to_close"] >= 0
    assert (stats[G2]["cases"], stats[G2]["open"], stats[G2]["median_hours_to_close"]) == (1, 1, None)


def test_roles_are_enforced(service):
    cid = service.post_case().json()["id"]  # in G1
    # anonymous: cannot write, cannot read
    r = service.post_case(key=None)
    assert r.status_code == 401 and "X-API-Key" in r.json()["error"]["details"]["fix"]
    assert service.get(f"/v1/cases/{cid}", key=None).status_code == 401
    assert service.get("/v1/cases", key=None).status_code == 401
    # an unknown key is refused, not treated as anonymous
    assert service.post_case(key="ggk_nobody000000000").status_code == 401
    # the app reads back its own case but lists nothing and moves nothing
    assert service.get(f"/v1/cases/{cid}", key=APP).status_code == 200
    assert service.get("/v1/cases", key=APP).status_code == 403
    assert service.move(cid, "in_progress", key=APP).status_code == 403
    # the G2 worker can neither read nor move a G1 case, and lists only G2's; the error has the usual shape
    r = service.get(f"/v1/cases/{cid}", key=service.other_worker)
    assert r.status_code == 403 and G1 in r.json()["error"]["message"]
    assert r.json()["error"]["code"] == "forbidden" and r.json()["error"]["details"]["grid_id"] == G1
    r = service.move(cid, "in_progress", key=service.other_worker)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert service.get(f"/v1/cases/{cid}", key=DISPATCHER).json()["status"] == "assigned"  # not moved
    assert service.get("/v1/cases", key=service.other_worker).json()["total"] == 0
    # a case id that does not exist is 404, for a worker too
    r = service.get(f"/v1/cases/{cid + 1000}", key=service.other_worker)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    # the G1 worker and the dispatcher can
    assert service.get("/v1/cases", key=service.worker).json()["total"] == 1
    assert service.get(f"/v1/cases/{cid}", key=service.worker).status_code == 200
    # a worker's own report from the patrol elsewhere is still visible to the dispatcher only
    other = service.post_case(key=service.worker, lon=IN_G2[0], lat=IN_G2[1], channel="patrol").json()["id"]
    assert service.get(f"/v1/cases/{other}", key=service.worker).status_code == 403
    assert service.get("/v1/cases", key=DISPATCHER).json()["total"] == 2
    # only dispatchers edit the routing table and run escalations
    rule = {"layer": "river_sections", "department": "河长办"}
    r = service.client.put("/v1/cases/routes/river_chief", json=rule, headers={"X-API-Key": service.worker})
    assert r.status_code == 403 and r.json()["error"]["details"]["required_role"] == "dispatcher"
    assert service.client.post("/v1/cases/escalations", headers={"X-API-Key": service.worker}).status_code == 403


def test_a_worker_ledger_and_stats_keep_its_grids(service):
    import csv
    import io

    in_g1 = [service.post_case().json()["id"] for _ in range(2)]
    in_g2 = service.post_case(lon=IN_G2[0], lat=IN_G2[1]).json()["id"]
    r = service.get("/v1/cases.csv", key=service.worker)
    assert r.status_code == 200
    assert [int(x["编号"]) for x in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))] == in_g1
    r = service.get("/v1/cases.csv", key=service.other_worker)
    assert [int(x["编号"]) for x in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))] == [in_g2]
    assert [g["grid_id"] for g in service.get("/v1/cases/stats", key=service.worker).json()["grids"]] == [G1]
    # asking for another grid explicitly gives nothing, not that grid's cases
    assert service.get("/v1/cases", key=service.worker, grid_id=G2).json()["total"] == 0
    assert service.get("/v1/cases", key=DISPATCHER, grid_id=G2).json()["total"] == 1
    # a revoked worker key is refused
    assert service.store.revoke_key(service.worker[:10]) == 1
    r = service.get("/v1/cases", key=service.worker)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_key"


def test_bad_input_gets_a_clear_answer(service):
    r = service.post_case(lon=None, lat=None)
    assert r.status_code == 422 and "needs a location" in r.json()["error"]["message"]
    r = service.post_case(category="dogs")
    assert r.status_code == 422
    assert "dogs" in r.json()["error"]["message"] and "river_chief" in r.json()["error"]["details"]["fix"]
    r = service.post_case(description="x" * 4001)
    assert r.status_code == 422 and "4,001 characters" in r.json()["error"]["message"]
    assert service.post_case(description="x" * 4000).status_code == 201
    r = service.post_case(photo_urls=["file:///etc/passwd"])
    assert r.status_code == 422 and "file:///etc/passwd" in r.json()["error"]["message"]
    r = service.post_case(photo_urls=["not a url"])
    assert r.status_code == 422 and "photo URL" in r.json()["error"]["message"]
    r = service.post_case(lon=22.705, lat=112.905)
    assert r.status_code == 422 and "swapped" in r.json()["error"]["message"]
    r = service.post_case(crs="EPSG:3857")
    assert r.status_code == 422 and "gcj02" in r.json()["error"]["details"]["fix"]
    r = service.post_case(channel="fax")
    assert r.status_code == 422 and "hotline" in r.json()["error"]["details"]["fix"]
    # nothing of the above was stored
    assert service.get("/v1/cases").json()["total"] == 1


def test_idempotency_key_makes_retries_safe(service):
    h = {"Idempotency-Key": "req-42"}
    first = service.post_case(headers=h)
    again = service.post_case(headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    # another client may use the same key for its own report
    mine = service.post_case(key=service.worker, headers=h)
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]
    # the same key with a different report is a conflict, not a silent replay
    r = service.post_case(headers=h, description="something else")
    assert r.status_code == 409 and "req-42" in r.json()["error"]["message"]
    assert service.get("/v1/cases").json()["total"] == 2


def test_submitter_is_the_key_prefix_whichever_way_the_key_comes(service):
    # a GRIDGIS_API_KEYS key (resolved without the store), a store key, and a Bearer token of either kind
    assert service.post_case(key=APP).json()["submitted_by"] == APP[:10]
    assert service.post_case(key=service.worker).json()["submitted_by"] == service.worker[:10]
    body = {"category": "fire", "description": "blocked exit", "lon": IN_G2[0], "lat": IN_G2[1]}
    for token in (APP, service.worker):
        r = service.client.post("/v1/cases", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201 and r.json()["submitted_by"] == token[:10]
    # a revoked store key stops submitting at once
    assert service.store.revoke_key(service.worker[:10]) == 1
    r = service.post_case(key=service.worker)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_key"


def test_keys_sharing_a_prefix_are_two_callers(service):
    """A caller is its key, not the key's first characters: the second app neither reads the first's case
    (with the reporter's phone) nor replays its Idempotency-Key."""
    from tests.cases.conftest import HOTLINE_ONE, HOTLINE_TWO

    assert HOTLINE_ONE[:10] == HOTLINE_TWO[:10]
    retry = {"Idempotency-Key": "hotline-call-1"}
    first = service.post_case(key=HOTLINE_ONE, headers=retry, contact={"phone": "13800000001"})
    assert first.status_code == 201
    case_id = first.json()["id"]
    assert service.get(f"/v1/cases/{case_id}", key=HOTLINE_ONE).status_code == 200
    r = service.get(f"/v1/cases/{case_id}", key=HOTLINE_TWO)
    assert r.status_code == 403 and "13800000001" not in r.text
    second = service.post_case(key=HOTLINE_TWO, headers=retry, contact={"phone": "13800000002"})
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert second.json()["id"] != case_id and "13800000001" not in second.text
    again = service.post_case(key=HOTLINE_ONE, headers=retry, contact={"phone": "13800000001"})
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == case_id
