"""The demo's building blocks on small hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgis.demo import buildings as bld
from gridgis.demo import network as net
from gridgis.demo import tessellate as tes


@pytest.fixture(scope="module")
def square_mesh() -> tes.Mesh:
    # a 10 km x 10 km square cut into cells of about 250 m
    return tes.build_mesh(shapely.box(0, 0, 10_000, 10_000), 250.0, np.random.default_rng(0))


def test_mesh_cells_tile_the_outline(square_mesh):
    assert square_mesh.areas.sum() == pytest.approx(1e8, rel=1e-9)
    assert len(square_mesh.points) == pytest.approx(1600, rel=0.05)
    assert (square_mesh.edges[:, 0] < square_mesh.edges[:, 1]).all()


def test_power_diagram_reaches_target_areas(square_mesh):
    seeds = np.array([[2_500.0, 5_000.0], [7_500.0, 5_000.0]])
    labels = tes.fit_power_diagram(square_mesh.points, square_mesh.areas, seeds, np.array([1.0, 3.0]))
    got = np.bincount(labels, weights=square_mesh.areas)
    # a quarter and three quarters of 100 km², to within a cell or two
    assert got[0] == pytest.approx(25e6, rel=0.02)
    assert got[1] == pytest.approx(75e6, rel=0.02)


def test_power_labels_without_weights_is_nearest_seed():
    points = np.array([[0.0, 0.0], [4.0, 0.0], [6.0, 0.0], [10.0, 0.0]])
    seeds = np.array([[0.0, 0.0], [10.0, 0.0]])
    assert tes.power_labels(points, seeds, np.zeros(2)).tolist() == [0, 0, 1, 1]
    # a weight of 40 moves the border from x=5 to x=7 (x^2 - 40 = (10 - x)^2)
    assert tes.power_labels(points, seeds, np.array([40.0, 0.0])).tolist() == [0, 0, 0, 1]


def test_make_contiguous_gives_a_stray_cell_to_its_neighbours():
    # a path of 6 cells: labels 0 0 1 0 1 1 -> the lone 0 at position 3 joins 1 (its only neighbour label)
    labels = np.array([0, 0, 1, 0, 1, 1])
    edges = np.array([[i, i + 1] for i in range(5)])
    areas = np.ones(6)
    fixed = tes.make_contiguous(labels, areas, edges)
    # region 1 kept its largest piece (cells 4-5) and took cell 3; the lone 1 at cell 2 went to 0
    assert fixed.tolist() == [0, 0, 0, 1, 1, 1]


def test_absorb_fragments_moves_a_sliver_and_keeps_an_exclave():
    a = shapely.union(shapely.box(0, 0, 10, 10), shapely.box(10, 10, 11, 11))  # a sliver touching at a corner
    b = shapely.box(11, 0, 20, 11)  # shares the sliver's right edge
    c = shapely.union(shapely.box(0, 20, 5, 25), shapely.box(30, 30, 31, 31))  # a far exclave
    polygons = np.array([a, b, c], dtype=object)
    out = tes.absorb_fragments(polygons, np.array([0, 0, 0]))
    assert out[0].equals(shapely.box(0, 0, 10, 10))
    assert out[1].area == pytest.approx(9 * 11 + 1)
    assert shapely.get_num_geometries(out[2]) == 2  # nobody shares its border: it stays
    assert sum(shapely.area(out)) == pytest.approx(sum(shapely.area(polygons)))


def test_absorb_fragments_does_not_cross_groups():
    a = shapely.union(shapely.box(0, 0, 10, 10), shapely.box(10, 10, 11, 11))
    b = shapely.box(11, 0, 20, 11)
    out = tes.absorb_fragments(np.array([a, b], dtype=object), np.array([0, 1]))
    assert out[0].equals(a) and out[1].equals(b)


def test_smooth_keeps_the_ends_and_stays_in_the_hull():
    coords = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    out = net.smooth(coords, iterations=3)
    assert out[0].tolist() == [0.0, 0.0] and out[-1].tolist() == [10.0, 0.0]
    assert (out[:, 1] >= 0).all() and (out[:, 1] < 5).all()


def test_footprints_have_the_sizes_of_their_type():
    rng = np.random.default_rng(1)
    centres = np.zeros((200, 2))
    polys = bld.footprints("village_house", centres, np.full(200, 0.3), rng)
    t = bld.TYPES["village_house"]
    areas = shapely.area(polys)
    assert (areas >= t.size_x[0] * t.size_y[0] - 1e-6).all() and (areas <= t.size_x[1] * t.size_y[1] + 1e-6).all()
    assert shapely.is_valid(polys).all()


def test_one_cluster_never_overlaps_and_stays_in_its_area():
    rng = np.random.default_rng(2)
    area = shapely.box(0, 0, 800, 800)
    road = shapely.STRtree([shapely.LineString([(0, 400), (800, 400)]).buffer(6, cap_style="flat")])
    pts, angles, lanes = bld.place_cluster("village_house", 300, np.array([400.0, 400.0]), area, road, rng)
    assert len(pts) == 300
    polys = bld.footprints("village_house", pts, angles, rng)
    left, right = shapely.STRtree(polys).query(polys, predicate="intersects")
    assert (left == right).all()
    assert shapely.within(polys, shapely.box(-15, -15, 815, 815)).all()
    assert not shapely.intersects(polys, shapely.box(0, 394, 800, 406)).any()  # clear of the road
    # lanes run between the buildings: every 7th lattice row and column, through no footprint
    assert len(lanes) >= 4 and not shapely.intersects(polys[:, None], lanes[None, :]).any()
    blocks = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(list(lanes) + [area.boundary]))))
    holder = shapely.STRtree(blocks).query(polys, predicate="within")
    assert len(np.unique(holder[0])) == len(polys)  # each house stands inside one street block
    assert len(np.unique(holder[1])) >= 4


def test_household_ranges_by_type():
    rng = np.random.default_rng(3)
    for kind in ("high_rise", "residential_block", "shop_house", "village_house", "facility"):
        floors, hh = bld.draw_attributes(kind, 500, rng)
        t = bld.TYPES[kind]
        assert floors.min() >= t.floors[0] and floors.max() <= t.floors[1]
        assert hh.min() >= t.households[0] and hh.max() <= t.households[1]
    _, village = bld.draw_attributes("village_house", 20_000, rng)
    assert village.mean() == pytest.approx(1 * 0.45 + 2 * 0.4 + 3 * 0.15, abs=0.03)
