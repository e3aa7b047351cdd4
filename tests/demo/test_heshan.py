"""The synthetic Heshan demo: real names and outline, tiling divisions, plausible totals, determinism.

The expected figures come from the brief and DESIGN.md (published numbers for
Heshan), not from the builder's output: 10 town-level divisions with their
division codes, about 22 urban communities and 137 villages, about 540,000
residents in about 180,000 households (+-5%), about 10,000 shops, about 60
facilities; 雅瑶 has 1 community + 15 villages and 44,823 residents, 共和 2 + 9.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

from gridgis.cli import main
from gridgis.crs import local_metric_crs
from gridgis.demo import build_heshan
from gridgis.io import list_layers, read_layers
from gridgis.model import FACILITY_KINDS, validate_layer
from gridgis.paths import HESHAN_OUTLINE

# Building the city takes ~8 CPU seconds; it is built once per module (3 more builds check determinism and the CLI).
pytestmark = pytest.mark.slow

LAYERS = ("towns", "communities", "buildings", "shops", "roads", "rivers", "facilities")
TOWNS = {
    "440784001": "沙坪街道",
    "440784101": "雅瑶镇",
    "440784102": "古劳镇",
    "440784103": "龙口镇",
    "440784104": "桃源镇",
    "440784105": "鹤城镇",
    "440784106": "共和镇",
    "440784107": "址山镇",
    "440784108": "宅梧镇",
    "440784109": "双合镇",
}
METRIC = "EPSG:32649"  # UTM 49N covers Heshan


@pytest.fixture(scope="module")
def heshan() -> dict[str, gpd.GeoDataFrame]:
    return build_heshan(seed=0)


@pytest.fixture(scope="module")
def metric(heshan) -> dict[str, gpd.GeoDataFrame]:
    return {name: frame.to_crs(METRIC) for name, frame in heshan.items()}


@pytest.fixture(scope="module")
def outline() -> shapely.Geometry:
    return shapely.union_all(gpd.read_file(HESHAN_OUTLINE).to_crs(METRIC).geometry.values)


def _overlap_area(geoms: np.ndarray) -> float:
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    return float(shapely.area(shapely.intersection(geoms[left[pair]], geoms[right[pair]])).sum())


def test_every_layer_is_there_and_valid(heshan):
    assert tuple(heshan) == LAYERS
    for name, frame in heshan.items():
        assert len(frame) > 0, name
        assert frame.crs == "EPSG:4326", name
        validate_layer(frame, name)


def test_town_names_and_codes_are_the_real_ones(heshan):
    towns = heshan["towns"]
    assert dict(zip(towns["town_id"], towns["name"], strict=True)) == TOWNS
    assert towns.loc[towns["town_id"] == "440784001", "kind"].item() == "subdistrict"
    assert (towns.loc[towns["town_id"] != "440784001", "kind"] == "town").all()


def test_towns_tile_the_outline(metric, outline):
    towns = metric["towns"].geometry.to_numpy()
    union = shapely.union_all(towns)
    assert shapely.area(union) == pytest.approx(outline.area, rel=1e-3)
    assert shapely.area(shapely.symmetric_difference(union, outline)) < 1e-4 * outline.area
    assert _overlap_area(towns) < 1.0  # square metres, over all pairs


def test_communities_tile_their_towns(metric):
    towns, communities = metric["towns"], metric["communities"]
    assert _overlap_area(communities.geometry.to_numpy()) < 1.0
    for town in towns.itertuples():
        mine = communities[communities["town_id"] == town.town_id]
        union = shapely.union_all(mine.geometry.to_numpy())
        assert shapely.area(shapely.symmetric_difference(union, town.geometry)) < 1e-4 * town.geometry.area
        assert mine["community_id"].str.startswith(town.town_id).all()


def test_community_counts_and_ids(heshan):
    com = heshan["communities"]
    counts = com["kind"].value_counts()
    assert counts["urban"] == pytest.approx(22, abs=2)
    assert counts["village"] == pytest.approx(137, abs=5)
    assert com["community_id"].str.fullmatch(r"\d{12}").all()
    per_town = com.groupby(["town_id", "kind"]).size()
    assert (per_town["440784101", "urban"], per_town["440784101", "village"]) == (1, 15)  # 雅瑶
    assert (per_town["440784106", "urban"], per_town["440784106", "village"]) == (2, 9)  # 共和
    # urban communities are numbered 001.. before the villages in each town
    seq = com["community_id"].str[-3:].astype(int)
    for _, group in com.assign(seq=seq).groupby("town_id"):
        urban = group.loc[group["kind"] == "urban", "seq"]
        assert sorted(urban) == list(range(1, len(urban) + 1))
    assert com["name"].is_unique
    assert (com.loc[com["kind"] == "urban", "name"].str.endswith("社区")).all()
    assert (com.loc[com["kind"] == "village", "name"].str.endswith("村")).all()


def test_totals_are_realistic(heshan, metric):
    b = heshan["buildings"]
    assert b["population"].sum() == pytest.approx(540_000, rel=0.05)
    assert b["households"].sum() == pytest.approx(180_000, rel=0.05)
    assert len(heshan["shops"]) == pytest.approx(10_000, rel=0.05)
    assert len(heshan["facilities"]) == pytest.approx(60, abs=6)
    assert set(heshan["facilities"]["kind"]) == set(FACILITY_KINDS)
    # the layer totals agree with the buildings
    for layer in ("towns", "communities"):
        assert heshan[layer]["households"].sum() == b["households"].sum()
        assert heshan[layer]["population"].sum() == b["population"].sum()
    towns = metric["towns"].set_index("town_id")
    assert towns.loc["440784101", "population"] == pytest.approx(44_823, rel=0.05)  # 雅瑶, 2020 census
    assert towns.loc["440784101"].geometry.area / 1e6 == pytest.approx(58.07, rel=0.05)
    assert towns.loc["440784106"].geometry.area / 1e6 == pytest.approx(89.93, rel=0.05)
    density = towns["population"] / towns.geometry.area
    assert density.idxmax() == "440784001"  # 沙坪 is the densest


def test_buildings_households_by_kind(heshan):
    b = heshan["buildings"]
    big = b[b["kind"].isin(["high_rise", "residential_block"])]
    assert len(big) > 0 and big["households"].between(50, 400).all()
    village = b[b["kind"] == "village_house"]
    assert len(village) > 0 and village["households"].between(1, 3).all()
    assert (b["population"] >= b["households"]).all()
    assert (b["floors"] >= 1).all()
    assert (b.loc[b["kind"] == "high_rise", "floors"] >= 18).all()


def test_every_building_inside_its_community_and_none_overlap(metric):
    b, com = metric["buildings"], metric["communities"].set_index("community_id")
    own = com.geometry.reindex(b["community_id"]).to_numpy()
    assert shapely.within(b.geometry.to_numpy(), own).all()
    left, right = shapely.STRtree(b.geometry.to_numpy()).query(b.geometry.to_numpy(), predicate="intersects")
    assert (left == right).all()


def test_facilities_inside_one_community(metric):
    f, com = metric["facilities"], metric["communities"].set_index("community_id")
    assert shapely.within(f.geometry.to_numpy(), com.geometry.reindex(f["community_id"]).to_numpy()).all()
    assert _overlap_area(f.geometry.to_numpy()) == 0


def test_shops_mostly_along_main_roads(metric):
    shops, roads = metric["shops"], metric["roads"]
    assert set(roads["class"]) == {"expressway", "main", "local"}
    main = shapely.union_all(roads.loc[roads["class"] == "main"].geometry.to_numpy())
    near = shapely.dwithin(shops.geometry.to_numpy(), main, 35.0)
    assert near.mean() > 0.5
    com = metric["communities"].set_index("community_id")
    assert shapely.within(shops.geometry.to_numpy(), com.geometry.reindex(shops["community_id"]).to_numpy()).all()


def test_xijiang_follows_the_north_east_edge(metric, outline):
    rivers = metric["rivers"].set_index("name")
    assert len(rivers) >= 3
    xijiang = rivers.loc["西江"].geometry
    assert xijiang.length > 10_000
    # the county border runs down the river: every vertex lies on the outline's boundary
    vertices = shapely.points(shapely.get_coordinates(xijiang))
    assert shapely.distance(vertices, outline.boundary).max() < 1.0
    x0, y0, x1, y1 = outline.bounds
    centre = xijiang.centroid
    assert centre.x > (x0 + x1) / 2 and centre.y > (y0 + y1) / 2


def test_same_seed_same_layers_other_seed_differs(heshan):
    again = build_heshan(seed=0)
    for name in LAYERS:
        assert_geodataframe_equal(again[name], heshan[name], check_less_precise=False)
    other = build_heshan(seed=1)
    assert dict(zip(other["towns"]["town_id"], other["towns"]["name"], strict=True)) == TOWNS
    assert len(other["buildings"]) != len(heshan["buildings"]) or not other["buildings"].geometry.equals(
        heshan["buildings"].geometry
    )
    assert not other["communities"].geometry.geom_equals(heshan["communities"].geometry).all()


def test_cli_refuses_a_single_layer_format(tmp_path):
    out = tmp_path / "heshan.geojson"
    result = CliRunner().invoke(main, ["demo", "heshan", "-o", str(out)])
    assert result.exit_code == 1
    assert "not a GeoPackage" in result.output and ".gpkg" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_every_layer(tmp_path, heshan):
    out = tmp_path / "data" / "heshan.gpkg"  # the folder does not exist yet
    result = CliRunner().invoke(main, ["demo", "heshan", "-o", str(out), "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "159 communities" in result.output
    assert sorted(list_layers(out)) == sorted(LAYERS)
    back = read_layers(out)
    for name in LAYERS:
        assert len(back[name]) == len(heshan[name]), name
    assert back["buildings"]["households"].sum() == heshan["buildings"]["households"].sum()
    assert list(out.parent.iterdir()) == [out]  # no temporary files left


def test_metric_crs_is_utm_49n():
    # the tests measure areas in UTM 49N; the builder works in gridgis.crs.local_metric_crs
    assert local_metric_crs(gpd.read_file(HESHAN_OUTLINE)).to_epsg() == 32649
