"""The realistic Heshan demo into 379 grids: every hard rule, end to end (one partition, shared)."""

from __future__ import annotations

import pytest

from gridgis.demo import build_heshan
from gridgis.partition import partition
from gridgis.quality import check_plan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def heshan():
    layers = build_heshan(seed=0)
    result = partition(layers, n_grids=379, barriers=("roads", "rivers"), dedicated="facilities", jobs=2)
    return layers, result


def test_heshan_379_grids_keep_every_hard_rule(heshan):
    layers, result = heshan
    report = check_plan(result.grids, result.buildings, layers["communities"], n_grids=379)
    assert report.ok, report.failures()
    grids = result.grids
    assert len(grids) == 379
    assert grids["grid_code"].str.fullmatch(r"\d{15}").all() and grids["grid_code"].is_unique
    # every community has a grid, dedicated grids one per facility
    assert set(grids["community_id"]) == set(layers["communities"]["community_id"])
    assert (grids["kind"] == "dedicated").sum() == len(layers["facilities"])
    assert (
        result.buildings["grid_id"].notna().sum()
        == len(layers["buildings"]) - (result.report["unassigned_buildings"]["count"])
    )


def test_heshan_balance_and_shape_figures(heshan):
    _, result = heshan
    report = result.report
    basic = result.grids[result.grids["kind"] == "basic"]
    # grids within the 10 % tolerance of their community's mean: measured 318 of 319 (one at 11.2 %)
    assert report["balance"]["within_tolerance"] >= 0.99
    assert report["footprints_inside_grid"]["share_inside"] >= 0.99  # measured 100 %
    # grids follow streets, lanes and rivers: measured 39.4 % of inner edges (32.8 % while streets ending on a
    # community boundary left their blocks open, 12.6 % before street blocks)
    assert report["barriers"]["share_on_barriers"] >= 0.35
    blocks = report["street_blocks"]
    assert blocks["whole_block_grids"] >= 0.5 * len(basic)  # measured 175 of 319 (152 with the blocks left open)
    assert blocks["blocks"] >= 2400  # blocks holding buildings: measured 2,485
    assert len(result.blocks) >= 4000  # blocks in the plan: measured 4,191 (3,672 with the blocks left open)
    # over the cells: measured 49.3 % on barriers, of at most 69.0 % the blocks allow
    assert blocks["share_on_barriers_cells"] <= blocks["possible_share"] + 1e-9
    assert blocks["share_on_barriers_cells"] >= 0.45
    assert (basic["households"] > 0).all()


def test_heshan_counts_minimise_the_largest_community_mean(heshan):
    _, result = heshan
    a, county = result.report["apportionment"], result.report["county"]
    # the largest community mean per grid is the least the 379 grids allow (727 and a grid of 953
    # households with largest remainders; measured 716 and a largest grid of 776)
    assert a["largest_community_mean"] <= 1.01 * a["bound"]
    assert county["max"] <= 1.1 * a["bound"] + 1e-9
    assert county["outside_range"] == int(
        (abs(result.grids.loc[result.grids["kind"] == "basic", "county_deviation"]) > 0.1 + 1e-9).sum()
    )


def test_heshan_bound_is_a_true_lower_bound(heshan):
    _, result = heshan
    per = result.report["per_community"]
    # a lower bound can never exceed what a plan reached, community by community
    assert all(c["max_deviation"] >= c["bound"] - 1e-9 for c in per)
    # and the tolerance is kept nearly everywhere (measured: one community at 11.2 %)
    assert sum(c["max_deviation"] > max(0.10, c["bound"]) + 1e-9 for c in per) <= 2
