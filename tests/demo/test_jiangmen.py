"""The synthetic Jiangmen demo, on a fraction: real county outlines and codes, divisions tiling them, totals.

The full prefecture (about 500,000 buildings) is a benchmark (benchmarks/scale.py); here
Jianghai (江海区, the smallest county, about 107 km² officially) at a fifth of its residents.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from gridgis.cli import main
from gridgis.demo.jiangmen import COUNTIES, build_jiangmen, county_outlines
from gridgis.io import read_layers

pytestmark = pytest.mark.slow  # ~4 CPU seconds

METRIC = "EPSG:32649"
CODES = {"440703", "440704", "440705", "440781", "440783", "440784", "440785"}


@pytest.fixture(scope="module")
def jianghai() -> dict[str, gpd.GeoDataFrame]:
    return build_jiangmen(seed=0, counties=("440704",), scale=0.2)


def test_outlines_are_the_seven_counties_disjoint_and_valid():
    outlines = county_outlines()
    assert set(outlines["division_code"]) == CODES == set(COUNTIES)
    assert outlines.loc[outlines["division_code"] == "440784", "name"].item() == "鹤山市"
    geoms = outlines.to_crs(METRIC).geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    assert len(left[pair]) >= 6  # neighbours touch...
    assert shapely.area(shapely.intersection(geoms[left[pair]], geoms[right[pair]])).sum() < 1.0  # ... never overlap
    km2 = shapely.area(geoms).sum() / 1e6
    assert 9000 < km2 < 10000  # Jiangmen: 9,507 km² officially (Taishan's islands included here)


def test_a_county_tiles_its_outline_with_towns_and_communities(jianghai):
    outline = county_outlines().set_index("division_code").to_crs(METRIC).geometry["440704"]
    towns = jianghai["towns"].to_crs(METRIC)
    communities = jianghai["communities"].to_crs(METRIC)
    assert towns["town_id"].str.startswith("440704").all() and len(towns) == COUNTIES["440704"].subdistricts
    assert communities["community_id"].str[:9].isin(towns["town_id"]).all()
    assert shapely.union_all(communities.geometry.to_numpy()).symmetric_difference(outline).area < 1e-4 * outline.area
    left, right = shapely.STRtree(communities.geometry.to_numpy()).query(
        communities.geometry.to_numpy(), predicate="overlaps"
    )
    assert len(left) == 0


def test_buildings_lie_in_their_community_and_residents_follow_scale(jianghai):
    buildings = jianghai["buildings"].to_crs(METRIC)
    communities = jianghai["communities"].to_crs(METRIC).set_index("community_id")
    holder = communities.geometry.reindex(buildings["community_id"]).to_numpy()
    assert shapely.covers(holder, buildings.geometry.to_numpy()).mean() > 0.99
    residents = buildings["population"].sum()
    target = 0.2 * COUNTIES["440704"].population
    assert 0.9 * target < residents < 1.1 * target
    assert (buildings["building_id"].to_numpy() == np.arange(1, len(buildings) + 1)).all()
    assert set(buildings["kind"]) >= {"high_rise", "residential_block", "village_house"}
    assert len(jianghai["roads"]) > 0 and len(jianghai["rivers"]) > 0 and len(jianghai["shops"]) > 0


def test_cli_writes_the_asked_counties_and_refuses_an_unknown_one(tmp_path, jianghai):
    out = tmp_path / "jiangmen.gpkg"
    result = CliRunner().invoke(main, ["demo", "jiangmen", "-o", str(out), "--counties", "440704", "--scale", "0.2"])
    assert result.exit_code == 0, result.output
    back = read_layers(out)
    assert len(back["buildings"]) == len(jianghai["buildings"])  # same seed, same data
    assert back["buildings"]["households"].sum() == jianghai["buildings"]["households"].sum()

    bad = CliRunner().invoke(main, ["demo", "jiangmen", "-o", str(tmp_path / "x.gpkg"), "--counties", "440799"])
    assert bad.exit_code == 1
    assert "440799" in bad.output and "Fix:" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x.gpkg").exists()
