"""Smoothing grid edges: straighter shared edges, and never a rule broken on the way."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgis.partition.report import polsby_popper
from gridgis.partition.smooth import _give_back, _join_strays, _keeps_rules, smooth_grids
from gridgis.partition.tessellate import dissolve, tessellate

AREA = shapely.box(0, 0, 10, 10)


def jittered(seed: int, jitter: float = 0.35) -> np.ndarray:
    """A 10 x 10 lattice of sites, each moved at random by up to ``jitter``: Voronoi edges zigzag."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(10), np.arange(10), indexing="ij")
    xy = np.column_stack([i.ravel() + 0.5, j.ravel() + 0.5]).astype(float)
    return xy + rng.uniform(-jitter, jitter, xy.shape)


def assert_rules(grids, xy, labels, shapes=None):
    assert shapely.is_valid(grids).all()
    assert (shapely.get_num_geometries(grids) == 1).all()
    assert shapely.covers(grids[labels], shapely.points(xy)).all()
    if shapes is not None:
        assert shapely.covers(grids[labels], shapes).all()
    assert shapely.area(grids).sum() == pytest.approx(AREA.area, abs=1e-3)
    assert shapely.area(shapely.union_all(grids)) == pytest.approx(AREA.area, abs=1e-3)
    assert shapely.area(shapely.intersection(grids[0], grids[1])) == pytest.approx(0, abs=1e-6)


def test_zigzag_edge_between_two_halves_becomes_nearly_straight():
    xy = jittered(0)
    labels = (np.arange(100) // 10 >= 5).astype(np.int64)  # columns 0-4 | 5-9
    tess = tessellate(AREA, xy)
    raw = dissolve(tess.pieces, labels[tess.site], 2)
    grids, smoothed = smooth_grids(tess, labels[tess.site], 2, xy, labels)
    assert smoothed
    assert_rules(grids, xy, labels)
    shared = shapely.length(shapely.intersection(shapely.boundary(grids[0]), shapely.boundary(grids[1])))
    raw_shared = shapely.length(shapely.intersection(shapely.boundary(raw[0]), shapely.boundary(raw[1])))
    assert 10 <= shared < raw_shared
    assert shared < 10.8  # the straight edge is 10 long; the zigzag was longer
    assert (polsby_popper(grids) > polsby_popper(raw)).all()
    # the outer boundary is the community's, untouched
    assert shapely.equals(shapely.union_all(grids), AREA)


def test_footprints_stay_whole_inside_their_grid():
    xy = jittered(1, jitter=0.45)
    labels = (np.arange(100) // 10 >= 5).astype(np.int64)
    shapes = shapely.buffer(shapely.points(xy), 0.12, quad_segs=2)
    tess = tessellate(AREA, xy)
    raw = dissolve(tess.pieces, labels[tess.site], 2)
    held = shapely.covers(raw[labels], shapes)
    grids, smoothed = smooth_grids(tess, labels[tess.site], 2, xy, labels, shapes, tolerance=1.5)
    assert smoothed
    assert shapely.covers(grids[labels[held]], shapes[held]).all()


def test_a_footprint_the_new_edge_cuts_gets_its_sliver_back():
    # grid 0 had a bump (5..6 x 4..6) around a building straddling x = 5; the straight edge cuts it
    raw = np.array([shapely.box(0, 0, 5, 10).union(shapely.box(5, 4, 6, 6)), shapely.box(5, 0, 10, 10)])
    raw[1] = raw[1].difference(shapely.box(5, 4, 6, 6))
    straight = np.array([shapely.box(0, 0, 5, 10), shapely.box(5, 0, 10, 10)])
    xy = np.array([[4.8, 5.0], [8.0, 5.0]])
    labels = np.array([0, 1])
    footprints = np.array([shapely.box(4.6, 4.6, 5.4, 5.4), shapely.box(7.5, 4.5, 8.5, 5.5)])
    back = _give_back(raw, straight, footprints, labels)
    assert shapely.equals(back[0], raw[0]) and shapely.equals(back[1], raw[1])
    # with the points alone nothing is cut, so the straight edge stays
    same = _give_back(raw, straight, shapely.points(xy), labels)
    assert shapely.equals(same[0], straight[0])


def test_barrier_edges_are_kept_exactly():
    xy = jittered(2)
    road = shapely.LineString([(0, 5.02), (10, 5.02)])
    labels = (np.arange(100) % 10 >= 5).astype(np.int64)  # rows 0-4 | 5-9: split along the road
    tess = tessellate(AREA, xy, road)
    grids, smoothed = smooth_grids(tess, labels[tess.site], 2, xy, labels)
    assert_rules(grids, xy, labels)
    edge = shapely.intersection(shapely.boundary(grids[0]), shapely.boundary(grids[1]))
    assert shapely.hausdorff_distance(shapely.line_merge(edge), road) < 1e-3


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tolerance", [0.5, 2.0, 8.0])
def test_every_result_keeps_the_rules_whatever_the_tolerance(seed, tolerance):
    xy = jittered(seed, jitter=0.45)
    rng = np.random.default_rng(seed)
    # a wavy split, so that large tolerances cut through sites
    labels = (xy[:, 0] + np.sin(xy[:, 1] * rng.uniform(1, 3)) > 5).astype(np.int64)
    tess = tessellate(AREA, xy)
    grids, _ = smooth_grids(tess, labels[tess.site], 2, xy, labels, tolerance=tolerance)
    assert_rules(grids, xy, labels)


def test_a_broken_coverage_is_refused():
    xy = np.array([[2.0, 5.0], [8.0, 5.0]])
    raw = np.array([shapely.box(0, 0, 5, 10), shapely.box(5, 0, 10, 10)])
    labels = np.array([0, 1])
    points = shapely.points(xy)
    assert _keeps_rules(raw, raw, points, xy, labels)
    overlapping = np.array([shapely.box(0, 0, 6, 10), shapely.box(5, 0, 10, 10)])
    assert not _keeps_rules(raw, overlapping, points, xy, labels)
    split = np.array(
        [shapely.box(0, 0, 5, 10), shapely.MultiPolygon([shapely.box(5, 0, 10, 4), shapely.box(5, 5, 10, 10)])]
    )
    assert not _keeps_rules(raw, split, points, xy, labels)
    site_lost = np.array([shapely.box(0, 0, 1, 10).union(shapely.box(1, 0, 5, 4)), shapely.box(5, 0, 10, 10)])
    assert not _keeps_rules(raw, site_lost, points, xy, labels)


def test_stray_pieces_are_mended():
    raw = np.array([shapely.box(0, 0, 5, 10), shapely.box(5, 0, 10, 10)])
    labels = np.array([0, 1])
    # grid 0 left a piece of itself (holding nothing of its own) inside grid 1: it goes to grid 1
    island = shapely.box(6, 4, 7, 5)
    grids = np.array([shapely.box(0, 0, 5, 10).union(island), shapely.box(5, 0, 10, 10).difference(island)])
    sites = shapely.points(np.array([[2.0, 5.0], [8.0, 5.0]]))
    mended = _join_strays(grids.copy(), raw, sites, labels)
    assert shapely.equals(mended[0], raw[0]) and shapely.equals(mended[1], raw[1])
    # the same piece holding a building of grid 0 cannot move: grid 0 goes back to its old polygon
    sites = shapely.points(np.array([[6.5, 4.5], [8.0, 5.0]]))
    raw = np.array([shapely.box(0, 0, 7, 10).difference(shapely.box(5, 5, 7, 10)), shapely.box(5, 0, 10, 10)])
    raw[1] = raw[1].difference(raw[0])
    mended = _join_strays(grids.copy(), raw, sites, labels)
    assert shapely.equals(mended[0], raw[0]) and shapely.equals(mended[1], raw[1])
