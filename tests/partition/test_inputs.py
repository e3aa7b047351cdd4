"""Bad input and county-wide balance: repairs named by row, strict JSON, reconciled communities, range mode."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Polygon, box

from gridgis.errors import PartitionError, RepairWarning
from gridgis.partition import partition
from gridgis.partition.report import report_json, summary
from tests.partition.partition_cases import CELL, X0, Y0, lattice


def test_collapsed_ring_ahead_of_a_bow_tie_is_repaired_naming_rows(tmp_path):
    from gridgis.io import read_layers, write_layers

    layers = lattice(4)
    b = layers["buildings"]
    x, y = X0 + 0.5 * CELL, Y0 + 0.5 * CELL
    d = CELL / 6
    # row 1: a ring with two distinct points (its valid form is a line); row 2: a repairable bow-tie
    line = Polygon([(x, y), (x + d, y + d), (x, y), (x, y)])
    bow = Polygon([(x, y + CELL), (x + d, y + CELL + d), (x + d, y + CELL), (x, y + CELL + d)])
    geoms = b.geometry.to_numpy().copy()
    geoms[1], geoms[2] = line, bow
    layers["buildings"] = b.set_geometry(gpd.GeoSeries(geoms, crs=b.crs))
    path = tmp_path / "bad.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_layers(layers, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read = read_layers(path)
    repaired = [str(w.message) for w in caught if issubclass(w.category, RepairWarning)]
    assert any("row(s) 1, 2" in m and "became points" in m and "row(s) 1." in m for m in repaired), repaired
    buildings = read["buildings"]
    assert len(buildings) == 16 and buildings["households"].sum() == 160  # nothing lost
    assert buildings.geometry.iloc[1].geom_type == "Point"
    assert buildings.geometry.iloc[2].geom_type == "MultiPolygon"
    result = partition(read, n_grids=4)
    assert result.grids["households"].sum() == 160


def test_community_without_buildings_gives_strict_json_and_no_nan(toy_city):
    b = toy_city["buildings"]
    toy_city["buildings"] = b[b["community_id"] != "440784106002"]
    result = partition(toy_city, n_grids=7, barriers=("roads",))
    text = report_json(result.report)
    parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert parsed["balance"]["max_deviation"] == 0.0
    assert "nan" not in summary(result.report).lower()
    empty = result.grids[result.grids["community_id"] == "440784106002"]
    assert empty["deviation"].tolist() == [0.0]


def test_building_community_id_is_reconciled_with_a_warning():
    west = lattice(2, "440784101001")
    east = lattice(2, "440784101002", x0=X0 + 2 * CELL)
    com = gpd.GeoDataFrame(
        gpd.pd.concat([west["communities"], east["communities"]], ignore_index=True), crs="EPSG:4326"
    )
    b = gpd.GeoDataFrame(gpd.pd.concat([west["buildings"], east["buildings"]], ignore_index=True), crs="EPSG:4326")
    b["building_id"] = range(len(b))
    b["community_id"] = ["440784101001"] * 4 + ["440784101002"] * 4
    # building 0 stands 60 % in the east community (its point is there) but says west
    b.loc[0, "geometry"] = box(
        X0 + 2 * CELL - 0.4 * CELL / 3, Y0 + 0.2 * CELL, X0 + 2 * CELL + 0.6 * CELL / 3, Y0 + 0.4 * CELL
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = partition({"communities": com, "buildings": b}, n_grids=2)
    messages = [str(w.message) for w in caught if issubclass(w.category, RepairWarning)]
    assert any("building_id 0;" in m and "440784101001 -> 440784101002" in m for m in messages), messages
    out = result.buildings.set_index("building_id")
    assert out.loc[0, "community_id"] == "440784101002"
    assert out.loc[0, "grid_id"].startswith("440784101002")
    assert result.report["reconciled_buildings"]["building_ids"] == [0]


def test_range_mode_puts_the_tower_alone_and_names_the_community():
    # twenty 20-household houses and one 900-household tower, range 300-500: 900 + 400 is drawable
    layers = lattice(5, households=20)
    b = layers["buildings"]
    b.loc[12, "households"] = 900
    b = b.drop(index=[20, 21, 22, 23]).reset_index(drop=True)
    layers["buildings"] = b
    assert b["households"].sum() == 1300
    result = partition(layers, households=(300, 500))
    assert sorted(result.grids["households"].tolist()) == [400, 900]
    infeasible = result.report["range"]["infeasible"]
    assert [i["community_id"] for i in infeasible] == ["440784101001"]
    assert infeasible[0]["reason"] == "a building of 900 is above the range: a grid alone"
    assert "1 communities cannot fit the range" in summary(result.report)


def test_grid_counts_minimise_the_largest_community_mean_county_wide():
    small = lattice(4, "440784101001", households=10)  # 160 households
    big = lattice(6, "440784101002", x0=X0 + 0.01, households=30)  # 1080 households
    com = gpd.GeoDataFrame(gpd.pd.concat([small["communities"], big["communities"]], ignore_index=True), crs=4326)
    b = gpd.GeoDataFrame(gpd.pd.concat([small["buildings"], big["buildings"]], ignore_index=True), crs=4326)
    b["building_id"] = range(len(b))
    result = partition({"communities": com, "buildings": b}, n_grids=8)
    counts = result.grids.groupby("community_id").size().to_dict()
    # 1 + 7 gives means 160 and 154; 2 + 6 (largest remainders) would give 80 and 180
    assert counts == {"440784101001": 1, "440784101002": 7}
    a = result.report["apportionment"]
    assert a["largest_community_mean"] == a["bound"] == 160.0
    assert a["smallest_community_mean"] == pytest.approx(1080 / 7)
    county = result.report["county"]
    assert county["grids"] == 8 and county["mean"] == pytest.approx(1240 / 8)
    assert county["min"] <= 160 <= county["max"] and sum(county["histogram"]["counts"]) == 8
    assert county["std"] >= 0 and county["outside_range"] == int(
        (np.abs(result.grids["load"] - county["mean"]) > 0.1 * county["mean"]).sum()
    )
    assert "county" in summary(result.report)
    assert np.allclose(result.grids["county_deviation"], (result.grids["load"] - county["mean"]) / county["mean"])


def test_a_plan_breaking_a_hard_rule_raises_unless_check_is_false(block4, monkeypatch):
    from gridgis.partition import core

    real = core._assemble

    def broken(*args, **kwargs):
        result = real(*args, **kwargs)
        result.report["quality"]["ok"] = False
        result.report["quality"]["checks"]["tiling"] = {"ok": False, "detail": "community X: gap of 5 m²"}
        return result

    monkeypatch.setattr(core, "_assemble", broken)
    with pytest.raises(PartitionError, match="tiling: community X: gap of 5 m²"):
        partition(block4, n_grids=4)
    assert not partition(block4, n_grids=4, check=False).report["quality"]["ok"]


def test_bad_tolerance_is_refused(block4):
    with pytest.raises(PartitionError, match="Tolerance 1.5"):
        partition(block4, n_grids=4, tolerance=1.5)
