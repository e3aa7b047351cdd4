"""Plan, compare and cases maps as data: checks, deviation, display geometry, moved buildings (no browser)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box

from gridgis.crs import wgs84_to_gcj02
from gridgis.errors import InputError, SchemaError
from gridgis.maps import cases_map, compare_map, plan_map, render_page
from gridgis.maps.compare import community_table, moved_buildings
from gridgis.maps.display import display_geometry
from gridgis.maps.labels import text
from gridgis.maps.layers import check_plan, deviation_scale, neighbour_colors, relative_deviation

from .helpers import assign_buildings, north_south_plan, toy_cases


def grid_data(m) -> dict:
    """The GeoJSON of the first GeoJson layer of a map (the grids)."""
    from folium import GeoJson

    return next(c for c in m._children.values() if isinstance(c, GeoJson)).data


# --- checks -------------------------------------------------------------------------------------


def test_plan_without_grids_is_refused(plan_layers):
    del plan_layers["grids"]
    with pytest.raises(InputError, match="no grids") as err:
        plan_map(plan_layers)
    assert "gridgis partition" in err.value.fix


def test_empty_plan_is_refused(plan_layers):
    plan_layers["grids"] = plan_layers["grids"].iloc[:0]
    with pytest.raises(InputError, match="no grids"):
        plan_map(plan_layers, source="empty.gpkg")


def test_plan_without_load_columns_names_them(plan_layers):
    plan_layers["grids"] = plan_layers["grids"].drop(columns=["load", "target", "deviation"])
    with pytest.raises(SchemaError) as err:
        check_plan(plan_layers, source="old.gpkg")
    assert "['load', 'target']" in err.value.message and "old.gpkg" in err.value.message
    assert err.value.details["missing"] == ["load", "target"]


def test_buildings_without_grid_id_are_refused(plan_layers):
    plan_layers["buildings"] = plan_layers["buildings"].drop(columns=["grid_id"])
    with pytest.raises(SchemaError, match="grid_id"):
        plan_map(plan_layers)


def test_grids_breaking_the_model_are_refused(plan_layers):
    plan_layers["grids"].loc[0, "kind"] = "special"
    with pytest.raises(SchemaError, match="special"):
        plan_map(plan_layers)


# --- colours ------------------------------------------------------------------------------------


def test_relative_deviation():
    grids = pd.DataFrame({"load": [90.0, 54.0, 72.0, 5.0], "target": [72.0, 72.0, 72.0, 0.0]})
    dev = relative_deviation(grids)
    np.testing.assert_allclose(dev[:3], [0.25, -0.25, 0.0])
    assert np.isnan(dev[3])


def test_deviation_scale_is_symmetric_and_diverging():
    scale = deviation_scale(np.array([0.25, -0.25, 0.0, np.nan]))
    assert (scale.vmin, scale.vmax) == (-0.25, 0.25)
    assert scale.rgb_hex_str(0.0) == "#f7f7f7"  # on target: white
    red, blue = scale.rgb_hex_str(0.25), scale.rgb_hex_str(-0.25)
    assert int(red[1:3], 16) > int(red[5:7], 16) and int(blue[5:7], 16) > int(blue[1:3], 16)
    assert (deviation_scale(np.array([0.01])).vmin, deviation_scale(np.array([0.01])).vmax) == (-0.1, 0.1)


def test_grids_are_filled_by_deviation_and_dedicated_marked(plan_layers):
    features = grid_data(plan_map(plan_layers))["features"]
    assert len(features) == 8
    props = [f["properties"] for f in features]
    assert [p["deviation"] for p in props[:3]] == ["+25%", "-25%", "+0%"]
    assert props[0]["_fill"] != props[1]["_fill"] and props[2]["_fill"] == "#f7f7f7"
    assert [p["_dedicated"] for p in props] == [False, False, False, True, False, False, False, False]
    assert props[3]["kind"] == "专属网格"


def test_tooltip_values_are_escaped_and_leaders_shown(plan_layers):
    grids = plan_layers["grids"]
    grids["name"] = ["<b>x</b>"] + list(grids["name"][1:])
    props = grid_data(plan_map(plan_layers, leaders={grids.grid_id[1]: "张三"}))["features"]
    assert props[0]["properties"]["name"] == "&lt;b&gt;x&lt;/b&gt;"
    assert props[1]["properties"]["leader"] == "张三" and props[0]["properties"]["leader"] == "—"


def test_english_labels(plan_layers):
    html = render_page(plan_map(plan_layers, lang="en"))
    assert "Load deviation from target" in html and json.dumps("负荷偏差")[1:-1] not in html
    assert json.dumps(text("zh")["deviation_legend"])[1:-1] in render_page(plan_map(plan_layers))


# --- display geometry ---------------------------------------------------------------------------


def test_amap_shifts_overlays_to_gcj02(plan_layers):
    plain = grid_data(plan_map(plan_layers))["features"][0]["geometry"]["coordinates"][0]
    shifted = grid_data(plan_map(plan_layers, basemap="amap"))["features"][0]["geometry"]["coordinates"][0]
    lon, lat = np.array(plain).T
    glon, glat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_allclose(np.array(shifted), np.column_stack([glon, glat]), atol=1.1e-6)
    # GCJ-02 moves points in Guangdong by hundreds of metres
    assert (
        100
        < abs(shifted[0][0] - plain[0][0]) * 111_000 * np.cos(np.radians(22.7))
        + abs(shifted[0][1] - plain[0][1]) * 111_000
        < 1500
    )


def test_simplification_drops_vertices_within_tolerance_only():
    # a 1 km square in UTM 49N whose south edge has a 1 m wiggle and, further east, a 20 m notch
    utm = Polygon([(500000, 2510000), (500300, 2509999), (500600, 2510000), (500800, 2509980), (501000, 2510000),
                   (501000, 2511000), (500000, 2511000)])  # fmt: skip
    square = gpd.GeoSeries([utm], crs=32649).to_crs(4326)
    out = display_geometry(square, tolerance_m=3.0)[0]
    back = gpd.GeoSeries([out], crs=4326).to_crs(32649)[0]
    ys = {round(y) for _, y in back.exterior.coords}
    assert 2509980 in ys  # the 20 m notch stays
    assert 2509999 not in ys  # the 1 m wiggle goes
    assert len(out.exterior.coords) == len(utm.exterior.coords) - 1


def test_coverage_simplification_keeps_neighbours_gap_free():
    # two grids sharing a wiggly edge (20 cm wiggles every 10 m): simplified, they still tile their union
    edge = [(500500 + (0.2 if i % 2 else 0), float(y)) for i, y in enumerate(np.arange(2510000, 2511001, 10))]
    west = Polygon([(500000, 2510000), *edge, (500000, 2511000)])
    east = Polygon([(501000, 2510000), (501000, 2511000), *edge[::-1]])
    grids = gpd.GeoSeries([west, east], crs=32649).to_crs(4326)
    out = gpd.GeoSeries(display_geometry(grids, tolerance_m=3.0, coverage=True), crs=4326).to_crs(32649)
    assert len(out[0].exterior.coords) < len(west.exterior.coords) / 3
    assert out[0].intersection(out[1]).area < 1.0  # m², no overlap
    assert abs(out.union_all().area - (out[0].area + out[1].area)) < 1.0
    assert out.union_all().geom_type == "Polygon"  # no gap splits them


def test_neighbouring_grids_get_different_building_colours():
    boxes = np.array([box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2), box(5, 5, 6, 6)])
    colors = neighbour_colors(boxes)
    tree = shapely.STRtree(boxes)
    a, b = tree.query(boxes, predicate="intersects")
    assert all(colors[i] != colors[j] for i, j in zip(a, b, strict=True) if i != j)


def test_buildings_are_dots_coloured_by_grid(plan_layers):
    from gridgis.maps.layers import BUILDING_COLORS, DotLayer

    m = plan_map(plan_layers)
    dots = {c.layer_name: c for c in m._children.values() if isinstance(c, DotLayer)}
    buildings = dots["楼栋"]
    assert len(buildings.group) == len(plan_layers["buildings"]) == len(buildings.xy) // 2
    assert buildings.colors == list(BUILDING_COLORS)
    # buildings of one grid share a colour; the two halves of a community (touching grids) differ
    grid_of = plan_layers["buildings"]["grid_id"].to_numpy()
    colour_of_grid = {}
    for g, c in zip(grid_of, buildings.group, strict=True):
        assert colour_of_grid.setdefault(g, c) == c
    assert colour_of_grid["440784101001001"] != colour_of_grid["440784101001002"]
    assert buildings.show is False and dots["商铺"].show is False and len(dots["商铺"].group) == 8


# --- compare ------------------------------------------------------------------------------------


def test_moved_buildings_between_west_east_and_south_north_halves(toy_city, plan_layers):
    new = north_south_plan(toy_city)
    moves = moved_buildings(plan_layers["buildings"], assign_buildings(toy_city["buildings"], new))
    # in each 6 x 6 community, the north-west and south-east quarters (9 + 9 buildings) change grid
    assert len(moves) == 144 and moves["moved"].sum() == 72
    assert (moves.groupby(moves["new_grid"].str[:12])["moved"].sum() == 18).all()


def test_community_table(toy_city, plan_layers):
    new = north_south_plan(toy_city)
    moves = moved_buildings(plan_layers["buildings"], assign_buildings(toy_city["buildings"], new))
    table = community_table(plan_layers["grids"], new, moves, toy_city["communities"], text("en"))
    assert list(table.index) == ["雅瑶东社区", "雅瑶西社区", "共和东社区", "共和西社区", "Total"]
    assert table.loc["Total", "Old grids"] == "8" and table.loc["Total", "New grids"] == "8"
    assert table.loc["雅瑶东社区", "Old worst deviation"] == "25%"  # grids 0 and 1 are 25 % off
    assert table.loc["雅瑶西社区", "Old worst deviation"] == "0%"
    assert table["Buildings moved"].tolist() == ["18", "18", "18", "18", "72"]


def test_compare_needs_load_columns_in_both_plans(toy_city, plan_layers):
    old = dict(plan_layers, grids=plan_layers["grids"].drop(columns=["target"]))
    new = dict(plan_layers, grids=north_south_plan(toy_city))
    with pytest.raises(SchemaError, match="target"):
        compare_map(old, new, sources=("old.gpkg", "new.gpkg"))


# --- cases --------------------------------------------------------------------------------------


def test_cases_need_their_columns():
    with pytest.raises(SchemaError, match="created_at"):
        cases_map(toy_cases().drop(columns=["created_at"]))


def test_cases_need_valid_coordinates():
    cases = toy_cases()
    cases.loc[2, "lon"] = np.nan
    with pytest.raises(SchemaError, match=r"\[3\]"):
        cases_map(cases)


def test_no_cases_and_no_grids_is_refused():
    with pytest.raises(InputError, match="no cases"):
        cases_map(toy_cases().iloc[:0])


def test_case_rows_use_beijing_days_grid_codes_and_cannot_inject_script(plan_layers):
    html = render_page(cases_map(toy_cases(), plan_layers["grids"]))
    assert "</script><script>alert(1)" not in html  # the description cannot close the page's script
    start = html.index("gridgisMaps.cases(")
    rows = json.loads(html[html.index("[[", start) : html.index("]]", start) + 2].replace("<\\/", "</"))
    assert len(rows) == 6
    # 20:00 UTC on 1 Nov is 04:00 on 2 Nov in Beijing: the day filter uses the dispatchers' day
    assert rows[0][5] == "2026-11-02T04:00" and rows[0][6] == "440784101001001"


def test_cases_page_without_grids_fits_the_cases():
    html = render_page(cases_map(toy_cases()))
    assert "gridgis-grid" not in html
    assert "[[22.705, 112.905], [22.705, 112.975]]" in html  # fitted to the cases
