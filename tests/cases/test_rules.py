"""The pure parts: the lifecycle table, report checks, routing on a hand-built territory."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from gridgis.cases import Territory, check_report, check_transition, route_case
from gridgis.cases.lifecycle import STATUSES
from gridgis.cases.routing import DepartmentAreas, RouteRule
from gridgis.errors import ConflictError, CRSError, InputError

#: the chain as issue 15 states it, written out by hand: (from, to) -> the chain roles that may make the move
#: (d dispatcher, h handler: the grid worker holding it, c the community, s the escalation job)
LEGAL = {
    ("reported", "assigned"): "ds",
    ("reported", "rejected"): "d",
    ("reported", "escalated"): "ds",
    ("assigned", "assigned"): "d",  # the dispatcher reassigns
    ("assigned", "accepted"): "hd",
    ("assigned", "returned"): "h",  # back to the dispatcher with a reason
    ("assigned", "rejected"): "d",
    ("assigned", "escalated"): "ds",
    ("accepted", "in_progress"): "hd",
    ("accepted", "assigned"): "d",
    ("accepted", "returned"): "h",
    ("accepted", "escalated"): "ds",
    ("in_progress", "resolved"): "hd",
    ("in_progress", "assigned"): "d",
    ("in_progress", "escalated"): "ds",
    ("resolved", "verified"): "dc",  # the check (核查), never by the resolver
    ("resolved", "reopened"): "dc",
    ("verified", "closed"): "dc",
    ("reopened", "accepted"): "hd",
    ("reopened", "in_progress"): "hd",
    ("reopened", "assigned"): "d",
    ("reopened", "escalated"): "ds",
    ("returned", "assigned"): "d",
    ("returned", "rejected"): "d",
    ("returned", "escalated"): "ds",
    ("escalated", "assigned"): "d",
    ("escalated", "accepted"): "hd",
    ("escalated", "in_progress"): "hd",
    ("escalated", "resolved"): "hd",
    ("escalated", "rejected"): "d",
    ("escalated", "escalated"): "ds",
}
ROLE = {"d": "dispatcher", "h": "handler", "c": "community", "s": "system"}


@pytest.mark.parametrize("current", STATUSES)
def test_transition_table(current):
    from gridgis.cases.lifecycle import MOVES

    for target in STATUSES:
        if (current, target) in LEGAL:
            check_transition(current, target)
            assert set(MOVES[current][target]) == {ROLE[r] for r in LEGAL[current, target]}
        else:
            with pytest.raises(ConflictError) as err:
                check_transition(current, target)
            assert sorted(err.value.details["allowed"]) == sorted(t for s, t in LEGAL if s == current)


def test_allowed_moves_depend_on_the_role_and_the_resolver():
    from gridgis.cases.lifecycle import Actor, allowed_moves, chain_roles

    case = {"status": "assigned", "grid_id": "g1", "community_id": "c1", "resolved_by": None}
    worker = Actor("王五", chain_roles(case, key_role="worker", key_grids=["g1"]), "p1")
    other = Actor("赵六", chain_roles(case, key_role="worker", key_grids=["g2"]), "p2")
    dispatcher = Actor("陈调", chain_roles(case, key_role="dispatcher"), "p3")
    community = Actor("张三", chain_roles(case, key_role="worker", key_grids=["g9"], posts=[("community", "c1")]), "p4")
    assert allowed_moves(case, worker) == ["accepted", "returned"]
    assert allowed_moves(case, other) == []
    assert allowed_moves(case, dispatcher) == ["assigned", "accepted", "rejected", "escalated"]
    resolved = {**case, "status": "resolved", "resolved_by": "p3"}
    assert allowed_moves(resolved, worker) == []
    assert allowed_moves(resolved, dispatcher) == ["reopened"]  # it resolved the case itself
    assert allowed_moves(resolved, community) == ["verified", "reopened"]


def test_report_checks_name_the_field():
    ok = check_report(category="fire", description="  exit blocked ", lon="112.95", lat="22.71", channel="hotline")
    assert (ok.description, ok.lon, ok.channel, ok.photo_urls) == ("exit blocked", 112.95, "hotline", ())
    with pytest.raises(InputError, match="needs a description"):
        check_report(category="fire", description="   ", lon=112.95, lat=22.71)
    with pytest.raises(InputError, match="must be numbers"):
        check_report(category="fire", description="x", lon="east", lat=22.71)
    with pytest.raises(CRSError, match="outside China"):
        check_report(category="fire", description="x", lon=2.35, lat=48.85)
    with pytest.raises(InputError, match="11 photo URLs"):
        check_report(category="fire", description="x", lon=112.95, lat=22.71, photo_urls=["https://a.cn/p.jpg"] * 11)
    with pytest.raises(InputError, match="Unknown contact"):
        check_report(category="fire", description="x", lon=112.95, lat=22.71, contact={"wechat": "abc"})


def test_bd09_point_is_converted():
    from gridgis.crs import wgs84_to_bd09

    lon, lat = wgs84_to_bd09([112.95], [22.71])
    r = check_report(category="fire", description="x", lon=float(lon[0]), lat=float(lat[0]), crs="bd09")
    assert abs(r.lon - 112.95) < 1e-5 and abs(r.lat - 22.71) < 1e-5 and r.source_crs == "bd09"


@pytest.fixture
def territory():
    """Two towns, one grid each, 0.01 deg apart: g1 (town t1) spans lon 112.00-112.01, g2 (t2) 112.02-112.03."""
    grids = gpd.GeoDataFrame(
        {"grid_id": ["g1", "g2"], "community_id": ["c1", "c2"], "town_id": ["t1", "t2"]},
        geometry=[box(112.0, 22.0, 112.01, 22.01), box(112.02, 22.0, 112.03, 22.01)],
        crs=4326,
    )
    return Territory(grids)


def test_routing_on_a_hand_built_territory(territory):
    staff = {"g1": {"leader": {"name": "L1"}, "workers": [{"name": "W1", "on_duty": False}, {"name": "W2"}]}}
    route = route_case(territory, 112.005, 22.005, "fire", staff_of=staff.get)
    assert (route.grid_id, route.assignee, route.level, route.outside_coverage) == ("g1", "worker:W2", 0, False)
    assert route_case(territory, 112.025, 22.005, "fire", staff_of=staff.get).assignee == "grid:g2"
    # between the towns, 0.004 deg from t1's edge and 0.006 from t2's: t1's desk
    route = route_case(territory, 112.014, 22.005, "fire", county="440784")
    # outside every grid: the county's desk, not the nearest town
    assert (route.grid_id, route.town_id, route.assignee, route.level, route.outside_coverage) == (
        None, None, "county:440784", 3, True)  # fmt: skip
    assert route_case(territory, 112.016, 22.005, "fire").assignee == "county:desk"
    _, dist = territory.nearest_town(112.014, 22.005)
    assert dist == pytest.approx(0.004 * 111_320 * 0.927, rel=0.02)  # cos(22 deg) ~ 0.927


def test_department_rule_applies_inside_its_areas_only(territory):
    areas = gpd.GeoDataFrame({"name": ["沙坪河段"]}, geometry=[box(112.0, 22.0, 112.005, 22.01)], crs=4326)
    rule = RouteRule("river_chief", "rivers", "河长办", max_distance_m=0)
    kw = {"rules": {"river_chief": rule}, "departments": {"rivers": DepartmentAreas(areas, ["沙坪河段"])}}
    inside = route_case(territory, 112.002, 22.005, "river_chief", **kw)
    assert (inside.assignee, inside.grid_id, inside.department) == ("dept:河长办:沙坪河段", "g1", "河长办")
    assert route_case(territory, 112.008, 22.005, "river_chief", **kw).assignee == "grid:g1"
    assert route_case(territory, 112.002, 22.005, "fire", **kw).assignee == "grid:g1"
    with pytest.raises(InputError, match="max_distance_m"):
        RouteRule("river_chief", "rivers", "河长办", max_distance_m=-1)


def test_one_point_locate_agrees_with_the_array_locate(territory):
    """Routing locates one point with the locator's locate_point: the same grid as locate(), edges included."""
    import numpy as np

    rng = np.random.default_rng(0)
    lon = np.concatenate([rng.uniform(111.995, 112.035, 2000), [112.0, 112.01, 112.02, 112.03, 112.015]])
    lat = np.concatenate([rng.uniform(21.995, 22.015, 2000), [22.0, 22.01, 22.005, 22.0, 22.005]])
    expected = territory.locate(lon, lat)
    assert {-1, 0, 1} <= set(expected.tolist())
    assert [territory.locate_one(x, y) for x, y in zip(lon, lat, strict=True)] == expected.tolist()

    class ArraysOnly:  # a locator without locate_point: the array path answers
        def __init__(self, inner):
            self.inner = inner

        def locate(self, lon, lat):
            return self.inner.locate(lon, lat)

    plain = Territory(territory.grids, locator=ArraysOnly(territory._locator))
    assert [plain.locate_one(x, y) for x, y in zip(lon[:50], lat[:50], strict=True)] == expected[:50].tolist()

    # grids sharing an edge: a point on it goes to the lower grid either way
    shared = gpd.GeoDataFrame(
        {"grid_id": ["a", "b"], "community_id": ["c", "c"], "town_id": ["t", "t"]},
        geometry=[box(112.0, 22.0, 112.01, 22.01), box(112.01, 22.0, 112.02, 22.01)],
        crs=4326,
    )
    both = Territory(shared)
    lon, lat = np.full(50, 112.01), np.linspace(22.0, 22.01, 50)
    assert [both.locate_one(x, y) for x, y in zip(lon, lat, strict=True)] == both.locate(lon, lat).tolist() == [0] * 50


def test_report_location_fast_path_matches_the_checks():
    """A WGS84/CGCS2000 point inside China skips numpy; its answer is what the full checks give."""
    from gridgis.crs import check_lonlat, to_wgs84

    for crs in ("wgs84", "cgcs2000", "EPSG:4490"):
        r = check_report(category="fire", description="x", lon=112.95, lat=22.71, crs=crs)
        check_lonlat([112.95], [22.71], source="x", audience="api")
        lon, lat = to_wgs84([112.95], [22.71], r.source_crs)
        assert (r.lon, r.lat) == (float(lon[0]), float(lat[0])) and type(r.lon) is float
    with pytest.raises(CRSError, match="swapped"):
        check_report(category="fire", description="x", lon=22.71, lat=112.95)
    with pytest.raises(InputError, match="not finite"):
        check_report(category="fire", description="x", lon=float("nan"), lat=22.71)


def test_request_hash_is_the_json_of_the_whole_report():
    """Stored idempotency hashes stay valid: the hash is sha256 of the sorted JSON of every report field."""
    import hashlib
    import json
    from dataclasses import asdict

    from gridgis.cases.store import request_hash

    reports = [
        check_report(category="fire", description="x", lon=112.95, lat=22.71),
        check_report(
            category="other",
            description="河边有油",
            lon=112.95,
            lat=22.71,
            crs="gcj02",
            photo_urls=["https://a.cn/p.jpg"],
            contact={"name": "李", "phone": "123"},
        ),
    ]
    for r in reports:
        text = json.dumps(asdict(r), sort_keys=True, default=list)
        assert request_hash(r) == hashlib.sha256(text.encode()).hexdigest()
    assert request_hash(reports[0]) != request_hash(reports[1])


def test_a_move_is_a_change_computed_from_the_case():
    """transition and escalation are pure: (case, request, actor, now) -> the columns to set and the event."""
    from datetime import UTC, datetime, timedelta

    from gridgis.cases.lifecycle import Actor, Assignment, Move, escalation, transition
    from gridgis.errors import ForbiddenError

    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    worker = Actor("王五 [worker:ggk_abc]", frozenset({"handler"}), "p1", "p1")
    dispatcher = Actor("dispatcher:x", frozenset({"dispatcher"}), "k1")
    case = {"id": 7, "status": "in_progress", "level": 0, "grid_id": "G1", "community_id": "C1",
            "town_id": "440784101", "category": "fire", "assignee": "person:p1", "due_at": t0}  # fmt: skip
    done = transition(case, Move("resolved", "fixed", photos=("upl_1",)), worker, t0)
    assert done.sets == {"status": "resolved", "updated_at": t0, "resolved_at": t0, "resolved_by": "p1",
                         "result": "fixed"}  # fmt: skip
    assert done.event == {"from_status": "in_progress", "to_status": "resolved", "assignee": None, "note": "fixed",
                          "actor": "王五 [worker:ggk_abc]", "person_id": "p1", "photos": ["upl_1"],
                          "at": t0}  # fmt: skip
    assert case["status"] == "in_progress"  # the case itself is left alone
    with pytest.raises(InputError, match="the result"):
        transition(case, Move("resolved"), worker, t0)
    resolved = {**case, "status": "resolved", "resolved_by": "p1"}
    with pytest.raises(ForbiddenError, match="someone else"):
        transition(resolved, Move("verified"), Actor("王五", frozenset({"dispatcher"}), "p1"), t0)
    with pytest.raises(ConflictError):
        transition(resolved, Move("closed"), dispatcher, t0)  # resolved -> closed is no move any more
    assert escalation(case, t0) is None  # due now, not yet overdue
    late = t0 + timedelta(minutes=1)
    up = escalation(case, late)
    assert (up.sets["level"], up.sets["assignee"], up.sets["assignee_kind"]) == (1, "community:C1", "community")
    assert up.sets["due_at"] == late + timedelta(hours=12)
    assert up.event["note"] == "overdue: escalated to community:C1 (community)"
    up = escalation(case, late, leader_of=lambda level, unit: "person:p9" if level == "town" else None)
    assert up.sets["assignee"] == "community:C1"
    top = {**case, "level": 3, "alerts": 0}
    alert = escalation(top, late)
    assert alert.sets["alerts"] == 1 and alert.event["note"].startswith("ALERT") and "status" not in alert.sets
    assigned = transition(
        {**case, "status": "escalated"}, Move("assigned", assignee=Assignment("person:p2", "person", 0)), dispatcher, t0
    )
    assert (assigned.sets["assignee"], assigned.sets["level"]) == ("person:p2", 0)
    with pytest.raises(InputError, match="exactly when assigning"):
        transition({**case, "status": "escalated"}, Move("assigned"), dispatcher, t0)
    with pytest.raises(ConflictError):
        transition(top, Move("escalated"), dispatcher, t0)
