"""Grid identity across plans: which old grid each new grid continues, and the ids and codes that follow.

A grid code is an identifier people, worker keys, signs on walls and other systems use; a re-division
changes boundaries, not who a grid is. The rules:

- a new grid that continues an old one (``previous_grid_id``: one to one, by most shared buildings, as
  :func:`gridgis.partition.report.match_previous` draws it) keeps the old grid's id and code, as long as
  both lie in the same community (the code starts with the community id);
- any other grid of a community that had grids before takes the next unused sequence number of its
  community (after the highest ever used, in the old plan or in the store's register of every code ever
  published), in reading order among the new grids; so a retired code is never given to another grid;
- a community's first plan is numbered west to east, north to south (:func:`gridgis.codes.grid_codes`).

A plan without ``previous_grid_id`` continues an old grid when it has the same ``grid_id``.

Everything here is pure (frames and arrays in, arrays out); the store applies it at import and publish
(:mod:`gridgis.store.replan`), ``gridgis partition --keep`` at the end of a partition, and
``gridgis map compare`` counts moves with :func:`moved`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridgis.codes import COMMUNITY_ID_DIGITS, MAX_SEQ, SEQ_DIGITS, is_grid_code
from gridgis.errors import SchemaError

KEPT, NEW = "kept", "new"


@dataclass(frozen=True)
class Identity:
    """Ids and codes of a new plan's grids, position by position.

    Attributes
    ----------
    grid_ids, grid_codes
        The id and the 15-digit code of each new grid (object arrays of str).
    previous
        The old grid id each new grid continues, None for a new grid.
    status
        ``"kept"`` (continues an old grid, keeps its id and code) or ``"new"``.
    retired
        Old grid ids that no new grid continues, sorted.
    """

    grid_ids: np.ndarray
    grid_codes: np.ndarray
    previous: np.ndarray
    status: np.ndarray
    retired: tuple[str, ...]

    def renamed(self, provisional: Iterable[str]) -> dict[str, str]:
        """provisional id -> final id of the grids whose id changed."""
        return {str(a): str(b) for a, b in zip(provisional, self.grid_ids, strict=True) if str(a) != str(b)}


def _seq(code: str) -> int:
    return int(code[COMMUNITY_ID_DIGITS:])


def continue_identity(
    community_ids: Iterable[str],
    reading_codes: Iterable[str],
    previous: Iterable[str | None],
    old: pd.DataFrame | None,
    used_codes: Iterable[str] = (),
) -> Identity:
    """Ids and codes of new grids from the grids they continue (rules in the module docstring).

    Parameters
    ----------
    community_ids
        Community id (12 digits) of each new grid.
    reading_codes
        The code each new grid gets in reading order (:func:`gridgis.codes.grid_codes`): a community's
        first plan keeps these, and new grids of other communities are numbered in their order.
    previous
        The old grid id each new grid continues (``previous_grid_id``), None or NaN for none.
    old
        The old plan's grids: ``grid_id``, ``grid_code``, ``community_id`` (None: no old plan).
    used_codes
        Every code ever published (the store's register), besides the old plan's.

    Returns
    -------
    Identity

    Raises
    ------
    SchemaError
        A community would need a sequence number above 999.

    Examples
    --------
    Old grids 001 and 002; new grid 0 continues 002, new grid 1 is new; 003 was retired long ago:

    >>> old = pd.DataFrame({"grid_id": ["440784101001001", "440784101001002"],
    ...                     "grid_code": ["440784101001001", "440784101001002"],
    ...                     "community_id": ["440784101001"] * 2})
    >>> ident = continue_identity(["440784101001"] * 2, ["440784101001001", "440784101001002"],
    ...                           ["440784101001002", None], old, used_codes=["440784101001003"])
    >>> ident.grid_codes.tolist(), ident.status.tolist(), ident.retired
    (['440784101001002', '440784101001004'], ['kept', 'new'], ('440784101001001',))
    """
    coms = np.asarray([str(c) for c in community_ids], dtype=object)
    reading = np.asarray([str(c) for c in reading_codes], dtype=object)
    prev = np.asarray([None if _missing(p) else str(p) for p in previous], dtype=object)
    n = len(coms)
    if not (len(reading) == len(prev) == n):
        raise ValueError("community_ids, reading_codes and previous must have one value per new grid")
    old_ids, old_codes, old_coms = _old_columns(old)
    code_of = dict(zip(old_ids, old_codes, strict=True))
    com_of = dict(zip(old_ids, old_coms, strict=True))

    ids = np.empty(n, dtype=object)
    codes = np.empty(n, dtype=object)
    status = np.full(n, NEW, dtype=object)
    previous_out = np.full(n, None, dtype=object)
    taken: set[str] = set()
    for i in range(n):
        p = prev[i]
        if p is not None and p in code_of and com_of[p] == coms[i] and p not in taken:
            ids[i], codes[i], status[i], previous_out[i] = p, code_of[p], KEPT, p
            taken.add(p)
    # the highest sequence ever used per community: old plan, register, kept codes
    highest: dict[str, int] = {}
    for code in [*old_codes, *used_codes]:
        code = str(code)
        if is_grid_code(code):
            com = code[:COMMUNITY_ID_DIGITS]
            highest[com] = max(highest.get(com, 0), _seq(code))
    for com in np.unique(coms[status == NEW]).tolist():
        fresh = np.flatnonzero((coms == com) & (status == NEW))
        if com not in highest:  # the community's first plan: reading order as it is
            ids[fresh] = codes[fresh] = reading[fresh]
            continue
        order = fresh[np.argsort([_seq(c) if is_grid_code(c) else 0 for c in reading[fresh]], kind="stable")]
        start = highest[com]
        if start + len(order) > MAX_SEQ:
            raise SchemaError(
                f"Community {com} would need sequence numbers up to {start + len(order)}; "
                f"a 3-digit sequence allows at most {MAX_SEQ} and retired numbers are never reused.",
                fix="ask for fewer grids in that community, or let more new grids continue old ones (--keep).",
                details={"community_id": com, "highest_used": start, "new_grids": len(order)},
            )
        for k, i in enumerate(order, start=1):
            ids[i] = codes[i] = f"{com}{start + k:0{SEQ_DIGITS}d}"
    retired = tuple(sorted(set(old_ids) - taken))
    return Identity(ids, codes, previous_out, status, retired)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or str(value) == ""


def _old_columns(old: pd.DataFrame | None) -> tuple[list[str], list[str], list[str]]:
    if old is None or len(old) == 0:
        return [], [], []
    ids = old["grid_id"].astype(str).tolist()
    codes = old["grid_code"].astype(str).tolist() if "grid_code" in old else ids
    if "community_id" in old:
        coms = old["community_id"].astype(str).tolist()
    else:
        coms = [c[:COMMUNITY_ID_DIGITS] for c in codes]
    return ids, codes, coms


def continues(new: pd.DataFrame, old_ids: Iterable[str] | None = None) -> dict[str, str | None]:
    """new grid id -> the old grid id it continues (None: a new grid).

    With a ``previous_grid_id`` column that is the lineage (an empty one: a new grid, even when its id was an
    old grid's: that is a reused code); without the column a grid continues the old grid of the same id.
    ``old_ids``, when given, drops continuations of grids that are not in the old plan.

    Examples
    --------
    >>> continues(pd.DataFrame({"grid_id": ["a", "b"], "previous_grid_id": ["x", None]}))
    {'a': 'x', 'b': None}
    >>> continues(pd.DataFrame({"grid_id": ["a", "b"]}), old_ids=["a"])
    {'a': 'a', 'b': None}
    """
    ids = new["grid_id"].astype(str).tolist()
    if "previous_grid_id" in new.columns:
        prev = [None if _missing(p) else str(p) for p in new["previous_grid_id"].tolist()]
    else:
        prev = list(ids)
    if old_ids is not None:
        known = {str(i) for i in old_ids}
        prev = [p if p in known else None for p in prev]
    return dict(zip(ids, prev, strict=True))


def moved(old_grid: pd.Series | np.ndarray, new_grid: pd.Series | np.ndarray, lineage: Mapping[str, str | None]):
    """Per building (matched between plans), whether it changed grid: its new grid does not continue its old one.

    ``old_grid`` and ``new_grid`` are the grid ids of the same buildings in the two plans (None/NaN: in no
    grid; such buildings never count); ``lineage`` is :func:`continues` of the new plan.

    Examples
    --------
    >>> moved(np.array(["x", "x", "y"]), np.array(["a", "b", "b"]), {"a": "x", "b": None}).tolist()
    [False, True, True]
    """
    old = pd.Series(np.asarray(old_grid, dtype=object)).astype("string")
    new = pd.Series(np.asarray(new_grid, dtype=object)).astype("string")
    continued = new.map(lambda g: lineage.get(g) if isinstance(g, str) else None).astype("string")
    both = old.notna() & new.notna()
    out = both & (continued.isna() | (continued != old))
    return out.fillna(False).to_numpy(dtype=bool)


def community_table(
    old_grids: pd.DataFrame,
    new_grids: pd.DataFrame,
    lineage: Mapping[str, str | None],
    moves: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per community (index ``community_id``): ``grids_old``, ``grids_new``, ``kept``, ``new``, ``retired``
    and, given ``moves`` (columns ``new_grid``/``old_grid``, ``moved``), ``buildings_moved``.

    A move counts in the community of the building's new grid (its old one when it is in no new grid).

    Examples
    --------
    >>> old = pd.DataFrame({"grid_id": ["x", "y"], "community_id": ["c", "c"]})
    >>> new = pd.DataFrame({"grid_id": ["x", "z"], "community_id": ["c", "c"]})
    >>> community_table(old, new, continues(new, ["x", "y"]))[["kept", "new", "retired"]].to_dict("records")
    [{'kept': 1, 'new': 1, 'retired': 1}]
    """
    kept_old = {p for p in lineage.values() if p is not None}
    new = pd.DataFrame(
        {
            "community_id": new_grids["community_id"].astype(str).to_numpy(),
            "kept": [lineage.get(str(g)) is not None for g in new_grids["grid_id"]],
        }
    )
    old = pd.DataFrame(
        {
            "community_id": old_grids["community_id"].astype(str).to_numpy(),
            "retired": [str(g) not in kept_old for g in old_grids["grid_id"]],
        }
    )
    table = pd.DataFrame(
        {
            "grids_old": old.groupby("community_id").size(),
            "grids_new": new.groupby("community_id").size(),
            "kept": new.groupby("community_id")["kept"].sum(),
            "retired": old.groupby("community_id")["retired"].sum(),
        }
    )
    table = table.fillna(0).astype(np.int64)
    table["new"] = table["grids_new"] - table["kept"]
    table = table[["grids_old", "grids_new", "kept", "new", "retired"]]
    if moves is not None:
        com_new = dict(zip(new_grids["grid_id"].astype(str), new["community_id"], strict=True))
        com_old = dict(zip(old_grids["grid_id"].astype(str), old["community_id"], strict=True))
        hit = moves.loc[moves["moved"]]
        pairs = zip(hit["new_grid"], hit["old_grid"], strict=True)
        where = [com_new.get(str(n)) or com_old.get(str(o)) for n, o in pairs]
        counts = pd.Series(where, dtype=object).value_counts()
        table["buildings_moved"] = counts.reindex(table.index).fillna(0).astype(np.int64)
    table.index.name = "community_id"
    return table.sort_index()


def keep_identity(
    community_ids: np.ndarray, reading_codes: np.ndarray, previous: np.ndarray, old_ids: np.ndarray
) -> Identity:
    """:func:`continue_identity` for ``gridgis partition --keep``: ``previous`` holds positions in the kept
    plan's grids (-1 for none) and ``old_ids`` their ids (the codes of a plan gridgis wrote)."""
    old_ids = np.asarray(old_ids, dtype=object).astype(str)
    prev = [str(old_ids[p]) if p >= 0 else None for p in np.asarray(previous).tolist()]
    return continue_identity(community_ids, reading_codes, prev, pd.DataFrame({"grid_id": old_ids}))


def keep_table(
    identity: Identity, community_ids: np.ndarray, old_ids: np.ndarray, b_old: np.ndarray, b_grid: np.ndarray
) -> list[dict]:
    """The per-community part of the ``keep`` report: grids kept/new/retired and buildings moved.

    ``b_old`` / ``b_grid``: each building's grid position in the kept plan / the new plan (-1: none).
    """
    old_ids = np.asarray(old_ids, dtype=object).astype(str)
    old = pd.DataFrame({"grid_id": old_ids, "community_id": [i[:COMMUNITY_ID_DIGITS] for i in old_ids]})
    new = pd.DataFrame({"grid_id": identity.grid_ids, "community_id": np.asarray(community_ids).astype(str)})
    lineage = dict(zip(identity.grid_ids.tolist(), identity.previous.tolist(), strict=True))
    both = (b_old >= 0) & (b_grid >= 0)
    moves = pd.DataFrame({"old_grid": old_ids[b_old[both]], "new_grid": identity.grid_ids[b_grid[both]]})
    moves["moved"] = moved(moves["old_grid"], moves["new_grid"], lineage)
    table = community_table(old, new, lineage, moves)
    return [{"community_id": c, **{k: int(v) for k, v in row.items()}} for c, row in table.iterrows()]


def avoid_used(
    community_ids: Iterable[str], codes: Iterable[str], is_new: Iterable[bool], used_codes: Iterable[str]
) -> np.ndarray:
    """The codes of a plan where each new grid whose code was used before (``used_codes``: the register of
    every code ever published) takes the next unused sequence number of its community instead.

    Examples
    --------
    >>> avoid_used(["440784101001"] * 2, ["440784101001001", "440784101001004"], [False, True],
    ...            ["440784101001004", "440784101001005"]).tolist()
    ['440784101001001', '440784101001006']
    """
    coms = [str(c) for c in community_ids]
    out = np.asarray([str(c) for c in codes], dtype=object)
    fresh = np.asarray(list(is_new), dtype=bool)
    used = {str(c) for c in used_codes}
    clash = [i for i in np.flatnonzero(fresh).tolist() if out[i] in used]
    highest: dict[str, int] = {}
    for code in [*used, *out.tolist()]:
        if is_grid_code(code):
            highest[code[:COMMUNITY_ID_DIGITS]] = max(highest.get(code[:COMMUNITY_ID_DIGITS], 0), _seq(code))
    for i in sorted(clash, key=lambda i: out[i]):
        com = coms[i]
        seq = highest.get(com, 0) + 1
        if seq > MAX_SEQ:
            raise SchemaError(
                f"Community {com} has no unused grid sequence number left (retired numbers are never reused).",
                fix="ask for fewer grids in that community.",
                details={"community_id": com},
            )
        highest[com] = seq
        out[i] = f"{com}{seq:0{SEQ_DIGITS}d}"
    return out


#: with ``--grids N --keep``, a community keeps its grid count while its load per grid stays within this share
#: of the county mean (N's mean load per basic grid): the planner's range when no ``--households`` is given
KEEP_SPREAD = 0.5


def kept_counts(old: np.ndarray, proposed: np.ndarray, loads: np.ndarray, low: float, high: float) -> np.ndarray:
    """Basic grids per community for ``partition --keep``: each community keeps its old count while its load per
    grid stays in the planner's range ``[low, high]``; outside it, it takes the ``proposed`` count, but only in
    the direction that brings it back (a community above the range never loses grids, one below never gains).
    A community without old grids takes the proposed count.

    Parameters
    ----------
    old
        ``(c,)`` basic grids of each community in the kept plan (0: none).
    proposed
        ``(c,)`` basic grids the apportionment gives without the old plan.
    loads
        ``(c,)`` basic load of each community now.
    low, high
        The range of load per grid (``--households LOW-HIGH``; with ``--grids N``, the county mean load per basic
        grid times ``1 -/+`` :data:`KEEP_SPREAD`).

    Examples
    --------
    Community 0 grew out of the range, 1 stays in it, 2 is new:

    >>> kept_counts(np.array([2, 3, 0]), np.array([4, 2, 1]), np.array([1200.0, 1100.0, 300.0]), 300, 500).tolist()
    [4, 3, 1]
    """
    old = np.asarray(old, dtype=np.int64)
    out = np.asarray(proposed, dtype=np.int64).copy()
    loads = np.asarray(loads, dtype=float)
    has = old > 0
    per = np.where(has, loads / np.maximum(old, 1), 0.0)
    inside = has & (per >= low) & (per <= high)
    out[inside] = old[inside]
    above = has & (per > high)
    below = has & (per < low)
    out[above] = np.maximum(out[above], old[above])
    out[below] = np.minimum(out[below], old[below])
    return out
