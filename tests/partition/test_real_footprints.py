"""Real footprints and streets (pyrosm's test.osm.pbf, momepy's Bubeneč): grids along streets, never through a building.

Both extracts ship inside the packages; nothing is downloaded. See tests/partition/real_cases.py for how
they are put into the data model; benchmarks/partition.py measures the whole extracts.
"""

from __future__ import annotations

import pytest

from gridgis.partition import partition
from tests.partition.real_cases import bubenec, footprint_figures, kouvola


@pytest.fixture(scope="module")
def kouvola_blocks():
    # eight street blocks of the town centre, 203 buildings inside (one block holds most households)
    return kouvola((26.95, 60.53, 400))


@pytest.fixture(scope="module")
def bubenec_blocks():
    return bubenec()


def test_kouvola_grids_follow_streets_and_keep_footprints_whole(kouvola_blocks):
    result = partition(kouvola_blocks, n_grids=3, barriers=("roads",))
    figures = footprint_figures(result, kouvola_blocks)
    # measured: every footprint no road crosses lies wholly in its grid, 42.0 % of inner edges on streets
    # (one block holds more than a grid's load, so it is split; the other edges follow streets)
    assert figures["footprints_inside"] == 1.0
    assert figures["edges_on_streets"] >= 0.35
    assert result.report["street_blocks"]["blocks"] == 8
    assert result.report["balance"]["max_deviation"] <= 0.10


def test_bubenec_perimeter_blocks_are_never_cut_through_a_building(bubenec_blocks):
    result = partition(bubenec_blocks, n_grids=5, barriers=("roads",))
    figures = footprint_figures(result, bubenec_blocks)
    # before footprints shaped the cells (one Voronoi point per building) 74 % at 10 grids
    assert figures["footprints_inside"] == 1.0
    assert result.report["footprints_inside_grid"]["share_inside"] == 1.0
    # measured 29.6 %: five perimeter blocks of unequal loads for five grids, so blocks must be split
    assert figures["edges_on_streets"] >= 0.28
    assert result.report["quality"]["ok"]


def test_a_tighter_tolerance_splits_more_blocks(kouvola_blocks):
    loose = partition(kouvola_blocks, n_grids=6, barriers=("roads",), tolerance=0.3)
    tight = partition(kouvola_blocks, n_grids=6, barriers=("roads",), tolerance=0.02)
    assert loose.report["balance"]["max_deviation"] <= 0.3
    assert tight.report["balance"]["max_deviation"] <= 0.02 + 1e-9
    assert loose.report["street_blocks"]["whole_block_grids"] >= tight.report["street_blocks"]["whole_block_grids"]
    assert loose.report["barriers"]["share_on_barriers"] >= tight.report["barriers"]["share_on_barriers"]
