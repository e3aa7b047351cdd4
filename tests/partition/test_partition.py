"""partition() end to end on hand-built inputs with known answers, and its clear errors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, box

from gridgis.crs import local_metric_crs
from gridgis.errors import PartitionError, SchemaError
from gridgis.partition import Partitioner, partition
from gridgis.quality import check_plan
from tests.partition.partition_cases import CELL, X0, Y0, lattice


def assert_hard_rules(result, layers, n_grids=None):
    q = check_plan(result.grids, result.buildings, layers["communities"], n_grids=n_grids)
    assert q.ok, q.failures()
    assert result.report["quality"]["ok"]


def test_4x4_equal_buildings_into_4_grids_gives_4_squares(block4):
    result = partition(block4, n_grids=4)
    assert_hard_rules(result, block4, 4)
    g = result.grids
    assert g["households"].tolist() == [40, 40, 40, 40]
    assert g["deviation"].abs().max() == 0
    half = 2 * CELL
    # numbered west to east, north to south: NW, NE, SW, SE
    quadrants = [
        box(X0, Y0 + half, X0 + half, Y0 + 2 * half),
        box(X0 + half, Y0 + half, X0 + 2 * half, Y0 + 2 * half),
        box(X0, Y0, X0 + half, Y0 + half),
        box(X0 + half, Y0, X0 + 2 * half, Y0 + half),
    ]
    for geom, quad in zip(g.geometry, quadrants, strict=True):
        assert geom.symmetric_difference(quad).area < 1e-5 * quad.area  # vertices snapped to 1 mm
    assert [c[-3:] for c in g["grid_code"]] == ["001", "002", "003", "004"]
    # quadrants of a degree box are rectangles in metres: compare with their own Polsby-Popper
    metric = gpd.GeoSeries(quadrants, crs="EPSG:4326").to_crs(local_metric_crs(block4["communities"]))
    expected = 4 * np.pi * metric.area / metric.length**2
    assert g["polsby_popper"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-4)
    assert result.report["footprints_inside_grid"]["share_inside"] == 1.0


def test_toy_city_every_hard_rule_and_exact_balance(toy_city):
    result = partition(toy_city, n_grids=8)
    assert_hard_rules(result, toy_city, 8)
    # 4 equal communities of 144 households: 2 grids of 72 each
    assert result.grids.groupby("community_id").size().tolist() == [2, 2, 2, 2]
    assert (result.grids["households"] == 72).all()
    assert result.buildings["grid_id"].notna().all()
    assert set(result.buildings["grid_id"]) == set(result.grids["grid_id"])
    assert (result.grids["grid_code"].str[:12] == result.grids["community_id"]).all()


def test_grids_are_apportioned_by_load(toy_city):
    b = toy_city["buildings"]
    b.loc[b["community_id"] == "440784101001", "households"] = 12  # 3x the load of the others
    result = partition(toy_city, n_grids=12)
    assert result.grids.groupby("community_id").size().to_dict() == {
        "440784101001": 6, "440784101002": 2, "440784106001": 2, "440784106002": 2,
    }  # fmt: skip


def test_road_becomes_the_grid_edge(toy_city):
    result = partition(toy_city, n_grids=8, barriers=("roads",))
    assert_hard_rules(result, toy_city, 8)
    assert result.report["barriers"]["share_on_barriers"] > 0.95


def test_dedicated_grid_for_the_school(toy_city):
    result = partition(toy_city, n_grids=9, dedicated="facilities")
    assert_hard_rules(result, toy_city, 9)
    ded = result.grids[result.grids["kind"] == "dedicated"]
    assert len(ded) == 1 and ded["community_id"].iloc[0] == "440784101001"
    school = toy_city["facilities"].geometry.iloc[0]
    assert ded.geometry.iloc[0].symmetric_difference(school).area < 1e-5 * school.area
    inside = toy_city["buildings"].geometry.representative_point().within(school)
    assert (result.buildings.loc[inside, "grid_id"] == ded["grid_id"].iloc[0]).all()


def test_household_range_sets_the_count(toy_city):
    result = partition(toy_city, households=(60, 80))  # 144 per community -> 2 grids of 72
    assert len(result.grids) == 8
    assert result.grids["households"].between(60, 80).all()


def test_household_range_that_cannot_fit_is_reported(toy_city):
    # 144 households: 2 grids give 72 (above 65), 3 give 48 (below 60)
    result = partition(toy_city, households=(60, 65))
    rng = result.report["range"]
    assert len(rng["grids_outside"]) == len(result.grids) == 8
    assert {r["community_id"] for r in rng["infeasible"]} == set(toy_city["communities"]["community_id"])
    assert "no grid count splits load 144" in rng["infeasible"][0]["reason"]


def test_shops_weight_counts_in_the_load(toy_city):
    result = partition(toy_city, n_grids=4, weights={"households": 1, "shops": 10})
    # one grid per community: 144 households + 2 shops x 10
    assert result.grids["load"].tolist() == [164.0] * 4
    assert result.grids["shops"].tolist() == [2, 2, 2, 2]


def test_community_without_buildings_gets_one_flagged_grid(toy_city):
    b = toy_city["buildings"]
    toy_city["buildings"] = b[b["community_id"] != "440784106002"]
    result = partition(toy_city, n_grids=7)
    assert_hard_rules(result, toy_city, 7)
    empty = result.grids[result.grids["community_id"] == "440784106002"]
    assert len(empty) == 1 and empty["buildings"].iloc[0] == 0
    assert result.report["communities_without_buildings"] == ["440784106002"]


def test_community_in_two_islands_gets_a_grid_per_island():
    left = lattice(2)
    right = lattice(2, x0=X0 + 0.01)
    com = left["communities"].copy()
    com.geometry = [MultiPolygon([left["communities"].geometry.iloc[0], right["communities"].geometry.iloc[0]])]
    b = pd.concat(
        [left["buildings"], right["buildings"].assign(building_id=lambda d: d["building_id"] + 4)], ignore_index=True
    )
    b.loc[b.index[:4], "households"] = 30  # the west island is 3x heavier
    layers = {"communities": com, "buildings": gpd.GeoDataFrame(b, crs="EPSG:4326")}
    result = partition(layers, n_grids=4)
    assert_hard_rules(result, layers, 4)
    assert (result.grids.geometry.geom_type == "Polygon").all()  # no grid spans the water
    west = result.grids.geometry.representative_point().x < X0 + 0.005
    assert west.sum() == 3  # 4 grids apportioned 3:1 by load


def test_island_without_buildings_joins_the_nearest_grid_and_is_flagged(block4):
    com = block4["communities"].copy()
    islet = box(X0 + 0.01, Y0, X0 + 0.011, Y0 + 0.001)
    com.geometry = [MultiPolygon([com.geometry.iloc[0], islet])]
    layers = {"communities": com, "buildings": block4["buildings"]}
    result = partition(layers, n_grids=4)
    assert_hard_rules(result, layers, 4)
    assert len(result.report["island_grids"]) == 1
    holder = result.grids.set_index("grid_id").loc[result.report["island_grids"][0]]
    assert holder.geometry.geom_type == "MultiPolygon" and holder.geometry.covers(islet.buffer(-1e-9))


def test_buildings_outside_every_community_are_listed(block4):
    b = block4["buildings"]
    stray = gpd.GeoDataFrame(
        {"building_id": [100], "households": [5], "population": [9]}, geometry=[box(113.5, 22.0, 113.501, 22.001)],
        crs="EPSG:4326",
    )  # fmt: skip
    layers = {"communities": block4["communities"], "buildings": pd.concat([b, stray], ignore_index=True)}
    result = partition(layers, n_grids=2)
    assert_hard_rules(result, layers, 2)
    assert result.report["unassigned_buildings"]["count"] == 1
    assert result.report["unassigned_buildings"]["building_ids"] == [100]
    assert pd.isna(result.buildings["grid_id"].iloc[-1])


def test_more_grids_than_buildings_is_a_clear_error(block4):
    with pytest.raises(PartitionError, match="17 grids are more than the 16"):
        partition(block4, n_grids=17)


def test_fewer_grids_than_communities_is_a_clear_error(toy_city):
    with pytest.raises(PartitionError, match="3 grids are fewer than the 4 needed"):
        partition(toy_city, n_grids=3)


def test_dedicated_grids_count_in_the_minimum(toy_city):
    with pytest.raises(PartitionError, match="plus 1 dedicated"):
        partition(toy_city, n_grids=4, dedicated="facilities")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, PartitionError, "exactly one of"),
        ({"n_grids": 4, "households": (1, 2)}, PartitionError, "exactly one of"),
        ({"households": (500, 300)}, PartitionError, "low <= high"),
        ({"n_grids": 8, "weights": {"floors": 1}}, SchemaError, r"Unknown load column\(s\) \['floors'\]"),
        ({"n_grids": 8, "barriers": ("railways",)}, SchemaError, "'railways' is not in the input"),
        ({"n_grids": 8, "dedicated": "schools"}, SchemaError, "'schools' is not in the input"),
    ],
)
def test_bad_requests_name_the_bad_value(toy_city, kwargs, error, match):
    with pytest.raises(error, match=match):
        partition(toy_city, **kwargs)


def test_bad_community_id_is_rejected(block4):
    block4["communities"]["community_id"] = ["4407841010"]
    block4["communities"]["town_id"] = ["440784101"]
    with pytest.raises(SchemaError, match="'4407841010' is not a 12-digit code"):
        partition(block4, n_grids=2)


def test_same_seed_same_plan(toy_city, rng):
    # uneven loads so that the cuts are not forced by symmetry
    toy_city["buildings"]["households"] = rng.integers(1, 30, len(toy_city["buildings"]))
    a = partition(toy_city, n_grids=12, seed=7)
    b = partition(toy_city, n_grids=12, seed=7)
    assert a.buildings["grid_id"].equals(b.buildings["grid_id"])
    assert all(shapely.equals(x, y) for x, y in zip(a.grids.geometry, b.grids.geometry, strict=True))


def test_uneven_loads_are_balanced_within_one_percent(rng):
    layers = lattice(12)  # 144 buildings of 1..30 households into 4 grids of about 36 buildings
    layers["buildings"]["households"] = rng.integers(1, 31, 144)
    result = partition(layers, n_grids=4)
    assert_hard_rules(result, layers, 4)
    bal = result.report["balance"]
    assert bal["max_deviation"] <= 0.01
    assert bal["max_deviation"] >= bal["bound"]  # the bound is a lower bound
    target = layers["buildings"]["households"].sum() / 4
    assert (result.grids["households"] - target).abs().max() <= 0.01 * target


def test_keep_a_balanced_old_plan_moves_nothing(toy_city, toy_plan):
    result = partition(toy_city, n_grids=8, keep=toy_plan)
    assert_hard_rules(result, toy_city, 8)
    assert result.report["keep"]["moved"] == 0
    # each grid says which old grid it continues: here the same one
    assert result.grids["previous_grid_id"].tolist() == result.grids["grid_id"].tolist()
    new = result.grids.geometry.values
    old = toy_plan.geometry.values
    assert all(min(n.symmetric_difference(o).area for o in old) < 1e-5 * n.area for n in new)


def test_keep_with_one_more_grid_moves_only_one_community(toy_city, toy_plan):
    b = toy_city["buildings"]
    b.loc[b["community_id"] == "440784101001", "households"] = 6  # 216 households: gets the extra grid
    result = partition(toy_city, n_grids=9, keep=toy_plan)
    assert_hard_rules(result, toy_city, 9)
    moved = result.report["keep"]["moved"]
    assert 0 < moved <= 36  # only buildings of the re-divided community move
    previous = result.grids["previous_grid_id"]
    assert previous.isna().sum() == 1 and previous.dropna().is_unique  # one new grid; old ones continue once each
    assert set(previous.dropna()) == set(toy_plan["grid_id"])
    grown = result.grids[result.grids["community_id"] == "440784101001"]
    assert grown["previous_grid_id"].isna().sum() == 1


def test_partitioner_sets_labels(toy_city):
    model = Partitioner(toy_city, n_grids=8).solve()
    assert len(model.labels_) == len(toy_city["buildings"])
    assert set(model.labels_) == set(model.result_.grids["grid_id"])


def test_edges_on_roads_are_also_given_without_the_dedicated_grids_outlines(toy_city):
    result = partition(toy_city, n_grids=9, barriers=("roads",), dedicated="facilities")
    assert_hard_rules(result, toy_city, 9)
    barriers = result.report["barriers"]
    # the school's outline is an inner edge off the road; between basic grids the edges follow the road
    assert barriers["basic_inner_edge_m"] < barriers["inner_edge_m"]
    assert barriers["basic_share_on_barriers"] > barriers["share_on_barriers"]  # measured 1.0 and 0.83
