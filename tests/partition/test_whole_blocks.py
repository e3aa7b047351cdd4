"""Street blocks as the units of the plan: whole blocks where the tolerance allows, and the share they allow.

Hand-built communities whose street blocks hold houses of unequal loads: when whole blocks can make grids
within the tolerance, every grid is a union of whole blocks and every inner grid edge lies on a street; when a
block alone is heavier than one grid may be, the report says how much of the edges had to lie inside it.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, box

from gridgis.partition import partition
from gridgis.partition.community import CommunityTask, partition_community

X0, Y0 = 112.90, 22.70
DEG = 0.001  # degrees per block side (about 100 m)


def _houses(blocks: list[tuple[int, int, list[int]]], jitter: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Corners (block units) and households of square houses: per block (column, row, households of each)."""
    rng = np.random.default_rng(jitter)
    xy, hh = [], []
    for col, row, loads in blocks:
        m = int(np.ceil(np.sqrt(len(loads))))
        for i, load in enumerate(loads):
            # a lattice inside the block, kept clear of the streets on its sides
            x = col + 0.2 + 0.6 * ((i % m) + 0.5) / m + rng.uniform(-0.02, 0.02)
            y = row + 0.2 + 0.6 * ((i // m) + 0.5) / m + rng.uniform(-0.02, 0.02)
            xy.append((x, y))
            hh.append(load)
    return np.array(xy), np.array(hh, dtype=float)


def _layers(cols: int, rows: int, blocks) -> dict[str, gpd.GeoDataFrame]:
    """A community of cols x rows street blocks (streets between them), houses as given to :func:`_houses`."""
    xy, hh = _houses(blocks)
    h = 0.04
    geoms = [box(X0 + (x - h) * DEG, Y0 + (y - h) * DEG, X0 + (x + h) * DEG, Y0 + (y + h) * DEG) for x, y in xy]
    com = gpd.GeoDataFrame(
        {"community_id": ["440784101001"], "town_id": ["440784101"], "name": ["街区社区"]},
        geometry=[box(X0, Y0, X0 + cols * DEG, Y0 + rows * DEG)],
        crs="EPSG:4326",
    )
    streets = [LineString([(X0 + c * DEG, Y0 - DEG), (X0 + c * DEG, Y0 + (rows + 1) * DEG)]) for c in range(1, cols)]
    streets += [LineString([(X0 - DEG, Y0 + r * DEG), (X0 + (cols + 1) * DEG, Y0 + r * DEG)]) for r in range(1, rows)]
    return {
        "communities": com,
        "buildings": gpd.GeoDataFrame(
            {"building_id": range(len(geoms)), "households": hh.astype(int), "population": 3 * hh.astype(int)},
            geometry=geoms,
            crs="EPSG:4326",
        ),
        "roads": gpd.GeoDataFrame({"road_id": range(len(streets))}, geometry=streets, crs="EPSG:4326"),
    }


#: 3 x 2 blocks of unequal loads (houses of 5 to 40 households); columns of two blocks hold 200 each, so
#: three grids of whole blocks are exact, while straight cuts through the houses would split blocks
UNEQUAL = [
    (0, 0, [40, 30, 20, 10, 10, 5, 5]),
    (0, 1, [10] * 8),
    (1, 0, [25, 25, 25, 25]),
    (1, 1, [20, 20, 20, 20, 20]),
    (2, 0, [5] * 6),
    (2, 1, [40, 40, 40, 30, 20]),
]


def test_grids_are_whole_street_blocks_when_the_tolerance_allows():
    layers = _layers(3, 2, UNEQUAL)
    result = partition(layers, n_grids=3, barriers=("roads",))
    blocks = result.report["street_blocks"]
    # every block's buildings lie in one grid, and every grid is a union of whole blocks
    assert blocks["blocks"] == 6 and blocks["split_blocks"] == 0
    assert blocks["whole_block_grids"] == 3
    assert result.report["balance"]["max_deviation"] <= 0.10
    # so every inner grid edge lies on a street (over the cells, and on the drawn polygons)
    assert blocks["share_on_barriers_cells"] == 1.0
    assert blocks["possible_share"] == 1.0
    assert result.report["barriers"]["share_on_barriers"] >= 0.99
    # the plan carries the six blocks, numbered and counted
    assert len(result.blocks) == 6 and result.blocks["households"].sum() == result.buildings["households"].sum()


def test_a_block_heavier_than_a_grid_is_split_and_the_report_says_how_much_had_to_be():
    # one block holds 300 of 400 households: for two grids (mean 200) it must be cut
    heavy = [(0, 0, [30] * 10), (1, 0, [25] * 2), (2, 0, [25] * 2)]
    result = partition(_layers(3, 1, heavy), n_grids=2, barriers=("roads",))
    blocks = result.report["street_blocks"]
    assert blocks["split_blocks"] >= 1
    assert blocks["inside_oversized_blocks_m"] > 0
    assert 0 < blocks["possible_share"] < 1
    # what lies on the streets is never more than the blocks allow
    assert blocks["share_on_barriers_cells"] <= blocks["possible_share"] + 1e-9
    assert blocks["street_networks"]["communities"] == 1
    assert result.report["balance"]["max_deviation"] <= 0.10


def test_the_worker_returns_the_blocks_it_cut_by():
    layers = _layers(3, 2, UNEQUAL)
    result = partition(layers, n_grids=3, barriers=("roads",))
    com = layers["communities"].to_crs(result.blocks.estimate_utm_crs()).geometry.iloc[0]
    blocks = result.blocks.to_crs(result.blocks.estimate_utm_crs()).geometry.to_numpy()
    # six blocks tiling the community: the streets and the boundary enclose them
    assert abs(shapely.area(shapely.union_all(blocks)) - com.area) < 1e-3 * com.area
    assert sorted(result.blocks["block_id"]) == [f"440784101001B{i:04d}" for i in range(1, 7)]
    metric = np.array([shapely.box(0, 0, 100, 100)], dtype=object)
    task = CommunityTask("440784101001", metric[0], np.array([[20.0, 50], [80, 50]]), np.ones(2), 2,
                         barriers=shapely.LineString([(50, -10), (50, 110)]))  # fmt: skip
    res = partition_community(task)
    assert sorted(round(a) for a in shapely.area(np.array(res.street_blocks, dtype=object))) == [5000, 5000]
    assert res.cut_m == res.cut_on_barriers_m == 100.0 and res.cut_forced_m == 0.0


def test_streets_clipped_to_a_community_close_their_blocks():
    # a street clipped to the outline ends on it only to within floating point; left a dangle, it would
    # enclose nothing (on the code before this test: 1 to 3 blocks instead of 4 at every angle tried)
    from shapely import affinity

    from gridgis.partition.tessellate import street_blocks

    for angle in range(1, 60, 7):
        area = affinity.rotate(box(0, 0, 300, 200), angle, origin=(0, 0))
        cross = shapely.union_all([LineString([(100, -50), (100, 250)]), LineString([(-50, 100), (350, 100)])])
        lines = shapely.intersection(affinity.rotate(cross, angle, origin=(0, 0)), area)
        blocks = street_blocks(area, lines)
        assert len(blocks) == 4, angle
        assert abs(shapely.area(blocks).sum() - area.area) < 1e-6 * area.area
