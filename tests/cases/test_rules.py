"""The pure parts: the lifecycle table, report checks, routing on a hand-built territory."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import box

from gridgis.cases import Territory, check_report, check_transition, route_case
from gridgis.cases.lifecycle import STATUSES
from gridgis.cases.routing import DepartmentAreas, RouteRule
from gridgis.errors import ConflictError, CRSError, InputError

#: the lifecycle as DESIGN.md and issue 6 state it, written out by hand
LEGAL = {
    ("reported", "assigned"),
    ("reported", "rejected"),
    ("reported", "escalated"),
    ("assigned", "in_progress"),
    ("assigned", "rejected"),
    ("assigned", "escalated"),
    ("in_progress", "resolved"),
    ("in_progress", "escalated"),
    ("resolved", "closed"),
    ("resolved", "in_progress"),
    ("escalated", "assigned"),
    ("escalated", "in_progress"),
    ("escalated", "resolved"),
    ("escalated", "rejected"),
    ("escalated", "escalated"),
}


@pytest.mark.parametrize("current", STATUSES)
def test_transition_table(current):
    for target in STATUSES:
        if (current, target) in LEGAL:
            check_transition(current, target)
        else:
            with pytest.raises(ConflictError) as err:
                check_transition(current, target)
            assert sorted(err.value.details["allowed"]) == sorted(t for s, t in LEGAL if s == current)


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
    route = route_case(territory, 112.014, 22.005, "fire")
    assert (route.grid_id, route.town_id, route.assignee, route.outside_coverage) == (None, "t1", "town:t1", True)
    assert route_case(territory, 112.016, 22.005, "fire").town_id == "t2"
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
