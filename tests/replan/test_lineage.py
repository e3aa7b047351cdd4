"""Grid identity across plans (gridgis.lineage): pure rules, no store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridgis.errors import SchemaError
from gridgis.lineage import avoid_used, continue_identity, continues, kept_counts, moved

C = "440784101001"


def _old(*seqs: int, com: str = C) -> pd.DataFrame:
    codes = [f"{com}{s:03d}" for s in seqs]
    return pd.DataFrame({"grid_id": codes, "grid_code": codes, "community_id": [com] * len(codes)})


def test_a_retired_code_is_never_given_again_over_two_replans():
    # plan 1: 001 002 003; plan 2 retires 003 and adds one; plan 3 adds one more
    two = continue_identity([C] * 3, [f"{C}001", f"{C}002", f"{C}003"], [f"{C}001", f"{C}002", None], _old(1, 2, 3))
    assert two.grid_codes.tolist() == [f"{C}001", f"{C}002", f"{C}004"] and two.retired == (f"{C}003",)
    three = continue_identity(
        [C] * 3, [f"{C}001", f"{C}002", f"{C}003"], [f"{C}001", f"{C}004", None], _old(1, 2, 4),
        used_codes=[f"{C}003"],
    )  # fmt: skip
    assert three.grid_codes.tolist() == [f"{C}001", f"{C}004", f"{C}005"]
    assert three.status.tolist() == ["kept", "kept", "new"] and three.retired == (f"{C}002",)


def test_first_plan_of_a_community_keeps_reading_order_and_other_communities_continue():
    other = "440784101002"
    ident = continue_identity(
        [C, other, other], [f"{C}001", f"{other}002", f"{other}001"], [f"{C}001", None, None], _old(1)
    )
    assert ident.grid_codes.tolist() == [f"{C}001", f"{other}002", f"{other}001"]


def test_a_grid_continuing_one_of_another_community_is_new_and_ids_are_never_taken_twice():
    other = "440784101002"
    ident = continue_identity([other, C, C], [f"{other}001", f"{C}001", f"{C}002"], [f"{C}001", f"{C}001", f"{C}001"],
                              _old(1))  # fmt: skip
    assert ident.status.tolist() == ["new", "kept", "new"]
    assert len(set(ident.grid_ids)) == 3


def test_sequence_overflow_is_one_clear_error():
    with pytest.raises(SchemaError, match="999"):
        continue_identity([C], [f"{C}001"], [None], _old(999))


def test_moves_counted_through_the_lineage_not_raw_ids():
    new = pd.DataFrame({"grid_id": ["a", "b", "c"], "previous_grid_id": ["x", "y", None]})
    line = continues(new, ["x", "y"])
    # renumbered grids (x->a, y->b) do not count as moves; a building of x now in c does
    flags = moved(np.array(["x", "y", "x", None]), np.array(["a", "b", "c", "a"]), line)
    assert flags.tolist() == [False, False, True, False]
    # a new grid that took an old grid's id is not that grid (the reused-code bug)
    reuse = pd.DataFrame({"grid_id": ["x"], "previous_grid_id": [None]})
    assert moved(np.array(["x"]), np.array(["x"]), continues(reuse, ["x"])).tolist() == [True]


def test_import_renumbers_only_new_grids_that_carry_used_codes():
    out = avoid_used([C] * 3, [f"{C}001", f"{C}002", f"{C}003"], [False, True, True], [f"{C}001", f"{C}002"])
    assert out.tolist() == [f"{C}001", f"{C}004", f"{C}003"]


def test_keep_counts_in_range_kept_out_of_range_recounted_one_way():
    old = np.array([3, 3, 3, 1])
    proposed = np.array([2, 5, 4, 1])
    loads = np.array([1200.0, 2400.0, 600.0, 100.0])  # per grid: 400 (in), 800 (above), 200 (below), 100
    assert kept_counts(old, proposed, loads, 300, 500).tolist() == [3, 5, 3, 1]
