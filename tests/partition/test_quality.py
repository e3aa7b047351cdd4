"""The hard-rule checker: a valid plan passes, and each kind of broken plan is caught by its rule."""

from __future__ import annotations

import pytest
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, box

from gridgis.quality import check_plan


@pytest.fixture
def plan(toy_city, toy_plan):
    buildings = toy_city["buildings"].copy()
    pts = buildings.geometry.representative_point()
    buildings["grid_id"] = None
    for g in toy_plan.itertuples():
        buildings.loc[pts.within(g.geometry), "grid_id"] = g.grid_id
    return toy_plan.copy(), buildings, toy_city["communities"]


def failed(report) -> set[str]:
    return {name for name, c in report.checks.items() if not c["ok"]}


def test_the_toy_plan_passes_every_rule(plan):
    grids, buildings, communities = plan
    report = check_plan(grids, buildings, communities, n_grids=8)
    assert report.ok, report.failures()
    assert set(report.checks) == {"schema", "codes", "tiling", "buildings", "contiguity", "count"}
    assert "plan OK" in report.summary()


def test_gap_is_caught(plan):
    grids, buildings, communities = plan
    g = grids.geometry.iloc[0]
    x0, y0, x1, y1 = g.bounds
    grids.loc[0, "geometry"] = box(x0, y0, x1 - 0.001, y1)  # a 100 m strip left uncovered
    assert "tiling" in failed(check_plan(grids, None, communities))


def test_overlap_and_overflow_are_caught(plan):
    grids, buildings, communities = plan
    grids.loc[0, "geometry"] = translate(grids.geometry.iloc[0], xoff=0.001)
    report = check_plan(grids, None, communities)
    assert "tiling" in failed(report)
    detail = " ".join(report.checks["tiling"]["items"])
    assert "overlap" in detail and "gap" in detail


def test_grid_in_two_pieces_is_caught(plan):
    grids, buildings, communities = plan
    a = grids.geometry.iloc[0]
    x0, y0, x1, y1 = a.bounds
    grids.loc[0, "geometry"] = MultiPolygon([box(x0, y0, x1, (y0 + y1) / 2 - 0.001), box(x0, (y0 + y1) / 2, x1, y1)])
    report = check_plan(grids, buildings, communities)
    assert "contiguity" in failed(report)
    assert report.checks["contiguity"]["items"] == [grids["grid_id"].iloc[0]]


def test_duplicate_and_short_codes_are_caught(plan):
    grids, _, _ = plan
    dup = grids.copy()
    dup.loc[1, "grid_code"] = dup.loc[0, "grid_code"]
    assert "codes" in failed(check_plan(dup))
    short = grids.copy()
    short.loc[0, "grid_code"] = "44078410100101"
    assert "not 15 digits" in check_plan(short).checks["codes"]["detail"]


def test_codes_out_of_reading_order_are_caught(plan):
    grids, _, _ = plan
    swapped = grids.copy()
    swapped.loc[[0, 1], "grid_code"] = swapped.loc[[1, 0], "grid_code"].to_numpy()  # east half numbered 001
    assert "codes" in failed(check_plan(swapped))


def test_wrong_building_grid_id_is_caught(plan):
    grids, buildings, communities = plan
    buildings.loc[0, "grid_id"] = grids["grid_id"].iloc[-1]
    report = check_plan(grids, buildings, communities)
    assert "buildings" in failed(report)
    assert "ids [0]" in report.checks["buildings"]["detail"]


def test_count_is_checked(plan):
    grids, _, _ = plan
    assert failed(check_plan(grids, n_grids=9)) == {"count"}


def test_quality_and_plan_map_show_the_county_wide_distribution(toy_city):
    from gridgis.maps import plan_map, render_page
    from gridgis.maps.layers import relative_deviation
    from gridgis.partition import partition

    b = toy_city["buildings"]
    heavy = b["community_id"] == b["community_id"].iloc[0]
    b.loc[heavy, "households"] *= 3  # one community three times as loaded: its grids stand out county-wide
    result = partition(toy_city, n_grids=8)
    grids = result.grids
    report = check_plan(grids, result.buildings, toy_city["communities"], n_grids=8)
    county = report.metrics["county"]
    assert county["max"] == grids["load"].max() and county["min"] == grids["load"].min()
    assert county["outside_range"] == int((grids["county_deviation"].abs() > 0.1).sum()) > 0
    # in-community balance is against each community's own mean
    assert report.metrics["max_deviation"] == pytest.approx(grids["deviation"].abs().max())
    assert "county      grids hold" in report.summary()
    dev = relative_deviation(grids, "county")
    assert dev == pytest.approx(grids["load"] / grids["load"].mean() - 1)
    html = render_page(plan_map({"grids": grids, "buildings": result.buildings}, lang="en"))
    assert "the county mean per grid" in html and f"{county['outside_range']} grids over 10% off" in html
