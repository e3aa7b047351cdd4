"""Plan edits on the toy plan and on a real partition: known answers, refusals, all-or-nothing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from gridgis.errors import EditRefused, InputError
from gridgis.planedit import Plan, apply_edits, check_edits, figures
from gridgis.quality import check_plan
from tests.workbench.conftest import COMMUNITY, EAST, WEST


def quality(plan: Plan, skip=()):
    report = check_plan(plan.grids, plan.buildings, plan.layers["communities"])
    failed = [f for f in report.failures() if f.split(":")[0] not in skip]
    assert not failed, failed
    return report


def row(plan: Plan, gid: str):
    return plan.grids.set_index("grid_id").loc[gid]


def grid_of(plan: Plan, building_id) -> str:
    b = plan.buildings
    return str(b.loc[b["building_id"] == building_id, "grid_id"].iloc[0])


def test_move_two_buildings_recomputes_both_grids_only(plan):
    result = apply_edits(plan, [{"op": "move", "buildings": [18, 19], "to": WEST}])
    new = result.plan
    assert (row(new, WEST)["households"], row(new, WEST)["buildings"]) == (80, 20)
    assert (row(new, EAST)["households"], row(new, EAST)["buildings"]) == (64, 16)
    assert result.changed == [WEST, EAST] and result.added == [] and result.removed == []
    assert grid_of(new, 18) == WEST and grid_of(new, 17) == WEST and grid_of(new, 20) == EAST
    others = ~new.grids["grid_id"].isin([WEST, EAST])
    old = plan.grids.set_index("grid_id").loc[new.grids.loc[others, "grid_id"]]
    assert shapely.equals_exact(new.grids.loc[others].geometry.values, old.geometry.values, 0).all()
    # the moved buildings lie in their new grid, the others where they were
    west = row(new, WEST).geometry
    assert plan.buildings.geometry.iloc[[18, 19]].representative_point().within(west).all()
    assert not plan.buildings.geometry.iloc[[20, 21]].representative_point().within(west).any()
    # no grid edge crosses a building: every footprint lies in its grid
    for gid in (WEST, EAST):
        grid = row(new, gid).geometry.buffer(1e-9)
        assert new.buildings.loc[new.buildings["grid_id"] == gid].geometry.within(grid).all()
    quality(new)
    # the given plan is untouched
    assert grid_of(plan, 18) == EAST and row(plan, WEST)["households"] == 72


def test_move_a_street_block(plan):
    west, _, _, top = plan.layers["communities"].geometry.iloc[0].bounds
    step = 0.02 / 6
    blocks = gpd.GeoDataFrame({"block_id": ["B7"]}, geometry=[box(west + 3 * step, 22.70, west + 4 * step, top)],
                              crs="EPSG:4326")  # fmt: skip
    plan.layers["blocks"] = blocks
    result = apply_edits(plan, [{"op": "move", "block": "B7", "to": WEST}])
    assert row(result.plan, WEST)["buildings"] == 24 and row(result.plan, EAST)["buildings"] == 12
    assert {grid_of(result.plan, b) for b in range(18, 24)} == {WEST}
    quality(result.plan)


@pytest.mark.parametrize(
    ("edits", "rule", "words"),
    [
        ([{"op": "move", "buildings": [30], "to": WEST}], "touch", "do not touch grid"),
        ([{"op": "move", "buildings": [40], "to": WEST}], "community", "never crosses a community boundary"),
        ([{"op": "move", "buildings": [20, 21, 26, 27, 32, 33], "to": WEST}], "contiguity", "would be in 2 pieces"),
        ([{"op": "lock", "grids": [EAST]}, {"op": "move", "buildings": [18], "to": WEST}], "locked", "locked"),
        ([{"op": "merge", "grids": [WEST, "440784101002001"]}], "community", "community boundary"),
        ([{"op": "move", "buildings": list(range(18, 36)), "to": WEST}], "empty", "would hold no building"),
        ([{"op": "move", "buildings": [0, 1], "to": WEST}], "noop", "already in grid"),
    ],
)
def test_refused_edits_name_the_rule_and_change_nothing(plan, edits, rule, words):
    before = plan.buildings["grid_id"].copy()
    with pytest.raises(EditRefused) as err:
        apply_edits(plan, [{"op": "rename", "grid": WEST, "name": "先改名"}, *edits])
    assert words in err.value.message
    assert err.value.details["rule"] == rule
    assert err.value.message.startswith(f"operation {len(edits)} ")
    assert "\n" not in str(err.value)
    assert plan.buildings["grid_id"].equals(before) and row(plan, WEST)["name"] != "先改名"


def test_rebalance_changes_only_unlocked_grids(partitioned):
    cid = COMMUNITY
    ids = sorted(partitioned.grids.loc[partitioned.grids["community_id"] == cid, "grid_id"])
    locked = ids[0]
    # unbalance the two unlocked grids by hand: move the buildings of the third grid that touch the second
    b = partitioned.buildings
    third = b.loc[b["grid_id"] == ids[2]]
    second = partitioned.grids.set_index("grid_id").loc[ids[1]].geometry
    near = third.loc[shapely.distance(third.geometry.values, second) < 0.002, "building_id"].tolist()[:3]
    moved = apply_edits(
        partitioned, [{"op": "lock", "grids": [locked]}, {"op": "move", "buildings": near, "to": ids[1]}]
    )
    loads = moved.plan.grids.set_index("grid_id").loc[ids, "households"].tolist()
    assert loads[0] == 48 and loads[1] > 48 > loads[2]
    result = apply_edits(moved.plan, [{"op": "rebalance", "community": cid}])
    new = result.plan.grids.set_index("grid_id")
    assert new.loc[ids, "households"].tolist() == [48, 48, 48]
    assert bool(new.loc[locked, "locked"])
    old = partitioned.grids.set_index("grid_id").loc[locked]
    assert shapely.equals_exact(new.loc[locked].geometry, old.geometry, 0)
    assert set(result.changed) == {ids[1], ids[2]}
    before = partitioned.buildings.set_index("building_id")["grid_id"]
    after = result.plan.buildings.set_index("building_id")["grid_id"]
    assert (after[before == locked] == locked).all() and (after == locked).sum() == (before == locked).sum()
    quality(result.plan)


def test_merge_keeps_the_first_grid_and_retires_the_other(plan):
    result = apply_edits(plan, [{"op": "merge", "grids": [WEST, EAST]}])
    assert result.removed == [EAST] and result.changed == [WEST]
    merged = row(result.plan, WEST)
    assert (merged["households"], merged["buildings"], merged["grid_code"]) == (144, 36, WEST)
    community = plan.layers["communities"].geometry.iloc[0]
    assert merged.geometry.symmetric_difference(community).area < 1e-6 * community.area
    assert set(result.plan.buildings.loc[result.plan.buildings["community_id"] == COMMUNITY, "grid_id"]) == {WEST}
    quality(result.plan)


def test_split_gives_the_next_unused_code_and_never_a_retired_one(plan):
    result = apply_edits(plan, [{"op": "merge", "grids": [WEST, EAST]}, {"op": "split", "grid": WEST, "into": 2}])
    assert result.added == [f"{COMMUNITY}003"]  # 002 was retired by the merge
    halves = result.plan.grids.set_index("grid_id").loc[[WEST, f"{COMMUNITY}003"]]
    assert halves["households"].tolist() == [72, 72] and halves["buildings"].sum() == 36
    # the kept grid keeps its code (lineage: previous_grid_id), the new one has none
    assert halves["previous_grid_id"].isna().tolist() == [False, True]
    quality(result.plan)


def test_rename_note_lock_unlock(plan):
    result = apply_edits(plan, [
        {"op": "rename", "grid": EAST, "name": " 沙坪一网格 "}, {"op": "note", "grid": EAST, "text": "含菜市场"},
        {"op": "lock", "grids": [WEST, EAST]}, {"op": "unlock", "grids": [WEST]},
    ])  # fmt: skip
    g = result.plan.grids.set_index("grid_id")
    assert (g.loc[EAST, "name"], g.loc[EAST, "note"]) == ("沙坪一网格", "含菜市场")
    assert g["locked"].tolist().count(True) == 1 and bool(g.loc[EAST, "locked"])
    assert result.changed == []
    assert shapely.equals_exact(result.plan.grids.geometry.values, plan.grids.geometry.values, 0).all()


@pytest.mark.parametrize(
    ("edits", "words"),
    [
        ({"op": "move"}, "must be a JSON list"),
        ([{"op": "teleport"}], "operation 0: unknown op 'teleport'"),
        ([{"op": "rename", "grid": WEST}], "missing field(s) ['name']"),
        ([{"op": "move", "to": WEST}], "either 'buildings'"),
        ([{"op": "split", "grid": WEST, "into": 3}], "a split makes 2 grids"),
        ([{"op": "lock", "grids": [WEST], "colour": "red"}], "unknown field(s) ['colour']"),
        ([{"op": "rename", "grid": WEST, "name": "x" * 101}], "at most 100 characters"),
    ],
)
def test_malformed_edits(edits, words):
    with pytest.raises(InputError) as err:
        check_edits(edits)
    assert words in err.value.message and err.value.fix


def test_unknown_ids_are_refused_as_input(plan):
    with pytest.raises(InputError, match="operation 1 \\(move\\): no grid '9'"):
        apply_edits(plan, [{"op": "lock", "grids": [WEST]}, {"op": "move", "buildings": [1], "to": "9"}])
    with pytest.raises(InputError, match="no building\\(s\\) \\[999\\]"):
        apply_edits(plan, [{"op": "move", "buildings": [999], "to": WEST}])


def test_figures_are_county_wide(plan):
    fig = figures(plan.grids)
    assert (fig["grids"], fig["mean"], fig["std"], fig["min"], fig["max"]) == (8, 72.0, 0.0, 72.0, 72.0)
    assert [b["grids"] for b in fig["bins"]] == [0, 0, 0, 8, 0, 0, 0]
    moved = apply_edits(plan, [{"op": "move", "buildings": list(range(18, 24)), "to": WEST}]).report
    assert (moved["min"], moved["max"], moved["mean"]) == (48.0, 96.0, 72.0)
    assert [b["grids"] for b in moved["bins"]] == [0, 1, 0, 6, 0, 1, 0]
    assert np.isclose(moved["cv"], moved["std"] / 72.0, atol=1e-4)


def test_figures_are_the_quality_report_distribution_of_basic_grids(plan):
    from gridgis.quality import county_distribution

    grids = plan.grids.assign(kind=["dedicated"] + ["basic"] * 7)
    grids.loc[0, "households"] = 500  # a school's grid: not part of the balance
    fig = figures(grids)
    same = county_distribution(grids.assign(load=grids["households"].astype(float)), 0.10)
    assert {k: fig[k] for k in same} == same and fig["grids"] == 7 and fig["max"] == 72.0
    assert sum(fig["per_community"][c]["grids"] for c in fig["per_community"]) == 7


def test_an_editor_continues_from_a_remembered_list_with_the_same_result(plan):
    from gridgis.planedit import Editor

    first = {"op": "move", "buildings": [18, 19], "to": WEST}
    second = {"op": "move", "buildings": [20], "to": WEST}
    editor = Editor(plan)
    one = editor.apply([first], layers=False).grids
    two = editor.apply([first, second], layers=False).grids  # continues from [first]
    again = editor.apply([first], layers=False).grids  # undo: the shorter list
    fresh = apply_edits(plan, [first, second]).grids
    assert two["households"].tolist() == fresh["households"].tolist()
    assert shapely.equals_exact(two.geometry.values, fresh.geometry.values, 0).all()
    assert shapely.equals_exact(again.geometry.values, one.geometry.values, 0).all()
    assert row(Plan({"grids": two}), WEST)["households"] == 84


def test_the_partition_writes_its_street_blocks_and_a_whole_block_moves():
    from gridgis.partition import partition
    from tests.conftest import _toy_city

    city = _toy_city()
    result = partition(city, n_grids=12, barriers=["roads"])
    blocks = result.blocks  # the road cuts every community into a south and a north block of 18 buildings
    assert len(blocks) == 8 and blocks["block_id"].is_unique
    assert blocks["buildings"].tolist() == [18] * 8 and blocks["households"].tolist() == [72] * 8
    com = city["communities"].set_index("community_id").geometry
    for cid, mine in blocks.groupby("community_id"):
        assert np.isclose(shapely.union_all(mine.geometry.values).area, com[cid].area, rtol=1e-6)
    plan = Plan({"grids": result.grids, "buildings": result.buildings, "blocks": blocks})
    south = blocks[blocks["block_id"] == f"{COMMUNITY}B0002"].geometry.iloc[0]  # numbered north-west first
    inside = set(result.buildings.loc[result.buildings.representative_point().within(south), "building_id"])
    accepted = []
    for gid in sorted(result.grids.loc[result.grids["community_id"] == COMMUNITY, "grid_id"]):
        try:
            res = apply_edits(plan, [{"op": "move", "block": f"{COMMUNITY}B0002", "to": gid}])
        except EditRefused:
            continue
        accepted.append(gid)
        b = res.plan.buildings
        assert set(b.loc[b["grid_id"] == gid, "building_id"]) >= inside and row(res.plan, gid)["households"] >= 72
    assert accepted  # some grid of the community can take the whole south block
