"""The realistic Heshan demo into 379 grids: every hard rule, end to end (one partition, shared)."""

from __future__ import annotations

import numpy as np
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
    basic = result.grids[result.grids["kind"] == "basic"]
    dev = basic["deviation"].abs().to_numpy()
    # measured 90.6% of basic grids within 1% of their target (seed 0; 87% before forced moves of high-rises)
    # and mean 0.37% (0.57% before); the others are in communities whose grids hold a few high-rises each
    # (buildings at 40-65% of the target) where towers touch only towers, so no plan reaches 1% (bound below)
    assert np.mean(dev <= 0.01) >= 0.89
    assert result.report["balance"]["mean_deviation"] <= 0.005
    assert result.report["footprints_inside_grid"]["share_inside"] >= 0.99
    # the 42 community pieces cut into several grids all had their shared edges smoothed (measured 42 of 42)
    assert result.report["compactness"]["smoothed_community_pieces"] >= 40
    assert (basic["households"] > 0).all()


def test_heshan_bound_is_a_true_lower_bound_and_close(heshan):
    _, result = heshan
    per = result.report["per_community"]
    # a lower bound can never exceed what a plan reached, community by community
    assert all(c["max_deviation"] >= c["bound"] - 1e-9 for c in per)
    # the worst community (沙坪 440784001003) holds a pocket of three towers that touch only towers: its grids
    # cannot come closer than 9.94% (pocket_bound); measured 9.94% there (11.2% before forced moves), so the
    # plan's largest deviation is within the 0.5 points of the bound
    b = result.report["balance"]
    assert b["bound"] == max(c["bound"] for c in per) >= 0.05
    assert b["above_bound"] <= 0.005
