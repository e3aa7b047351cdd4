"""Plan edits: a planner's hand changes to a plan, as data, checked against the hard grid rules.

An edit list is JSON: operations applied in order to the layers of a plan
GeoPackage written by ``gridgis partition`` (``grids``, ``buildings`` with
``grid_id``, ``communities``, ``towns``...)::

    {"op": "move", "buildings": [ids], "to": grid_id}     (or "block": block_id, with a blocks layer)
    {"op": "lock", "grids": [ids]}      {"op": "unlock", "grids": [ids]}
    {"op": "rebalance", "community": community_id}        only its unlocked grids change
    {"op": "merge", "grids": [a, b, ...]}                 the first keeps its id, code and name
    {"op": "split", "grid": id, "into": 2}                the larger part keeps its id and code
    {"op": "rename", "grid": id, "name": "..."}   {"op": "note", "grid": id, "text": "..."}

An operation that would break a hard rule (a grid in several inhabited
pieces, a grid across a community boundary, a moved building not touching
its new grid, a change to a locked grid) raises :class:`~gridgis.errors.EditRefused`
naming the operation's index, and the plan given is left as it was: edits
work on a copy and the result appears complete or not at all.

Only the grids an operation touches are redrawn: the union of their areas is
tessellated by the Voronoi regions of their buildings' representative points
and the regions are dissolved by the new grid of each building (the method of
:mod:`gridgis.partition.tessellate`); a rebalance or a split runs
:func:`gridgis.partition.community.partition_community` on that union with the
current grids as the start. Other grids keep their geometry and figures to the
bit. A kept grid keeps its ``grid_id`` and ``grid_code``; a grid merged away
retires its code, and a split's new grid takes the community's next sequence
never used in the plan (DESIGN.md: "a retired code is never reused").
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgis.crs import to_local_metric
from gridgis.errors import EditRefused, InputError
from gridgis.model import STORAGE_CRS
from gridgis.quality import project

#: the operations :func:`apply_edits` knows, with their required fields
OPS: dict[str, tuple[str, ...]] = {
    "move": ("to",),
    "lock": ("grids",),
    "unlock": ("grids",),
    "rebalance": ("community",),
    "merge": ("grids",),
    "split": ("grid",),
    "rename": ("grid", "name"),
    "note": ("grid", "text"),
}
#: most operations one edit list may hold (the API and the CLI read whole lists into memory)
MAX_OPS = 10_000
#: edit-list states an :class:`Editor` keeps to continue from (a page's undo and redo stay quick)
RECENT_STATES = 4
#: bins of the county-wide distribution: a grid's load divided by the county mean
DISTRIBUTION_BINS = (0.0, 0.5, 0.8, 0.9, 1.1, 1.2, 1.5, float("inf"))
_NAME_MAX = 100
_TEXT_MAX = 2000
#: millimetre snapping of redrawn grids, as the partition does
_PRECISION_M = 0.001


@dataclass
class Plan:
    """The layers of a plan: ``grids`` (required), ``buildings`` with ``grid_id``, and any others
    (``communities``, ``towns``, ``shops``, ``roads``, ``blocks``...), passed through unchanged."""

    layers: dict[str, gpd.GeoDataFrame]

    @property
    def grids(self) -> gpd.GeoDataFrame:
        return self.layers["grids"]

    @property
    def buildings(self) -> gpd.GeoDataFrame | None:
        return self.layers.get("buildings")


@dataclass
class EditResult:
    """The edited plan (None when not assembled), its grids, the grid ids each kind of change touched,
    and the county-wide figures (see :func:`figures`)."""

    plan: Plan | None
    grids: gpd.GeoDataFrame
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    #: building_id -> grid_id of every building whose grid the edits changed
    moved: dict = field(default_factory=dict)


def read_plan(path: str | Path, *, crs=None, encoding: str | None = None) -> Plan:
    """Read every layer of a plan GeoPackage; ``grids`` is required.

    Raises
    ------
    FileFormatError
        Not a GeoPackage, or no ``grids`` layer.
    """
    from gridgis.io import read_layers
    from gridgis.io.formats import check_geopackage

    path = check_geopackage(path, "the plan to edit")
    from gridgis.io.read import list_file_layers

    if "grids" not in list_file_layers(path):
        read_layers(path, ["grids"])  # raises the one FileFormatError naming the layers it has
    return Plan(read_layers(path, crs=crs, encoding=encoding))


def write_plan(plan: Plan, path: str | Path) -> None:
    """Write every layer of ``plan`` into a new GeoPackage atomically (all or nothing)."""
    from gridgis.io import write_layers

    write_layers(plan.layers, path)


def load_edits(source: str | Path | list) -> list[dict]:
    """An edit list from a JSON file path or an already parsed list, checked by :func:`check_edits`.

    Raises
    ------
    InputError
        Unreadable JSON, not a list, more than :data:`MAX_OPS` operations, or a bad operation.
    """
    if isinstance(source, list):
        return check_edits(source)
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read the edit list ({exc.strerror}).", fix="give an existing JSON file."
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: not UTF-8 JSON ({exc}).", fix="write the edits as a JSON list of operations."
        ) from exc
    return check_edits(data, source=str(path))


def check_edits(edits: Any, *, source: str = "edits") -> list[dict]:
    """Check the shape of an edit list (ops, fields, types); the plan is not looked at here.

    Raises
    ------
    InputError
        Naming the operation index and field; the fix lists the operations and their fields.
    """
    fix = "each operation is an object with 'op' one of " + ", ".join(OPS) + " (see gridgis plan edit --help)."
    if not isinstance(edits, list):
        raise InputError(f"{source}: an edit list must be a JSON list, not {type(edits).__name__}.", fix=fix)
    if len(edits) > MAX_OPS:
        raise InputError(f"{source}: {len(edits)} operations, at most {MAX_OPS}.", fix="split the list.")
    out = []
    for i, op in enumerate(edits):
        where = f"{source}: operation {i}"
        if not isinstance(op, dict) or op.get("op") not in OPS:
            got = op.get("op") if isinstance(op, dict) else op
            raise InputError(f"{where}: unknown op {str(got)[:40]!r}.", fix=fix)
        name = op["op"]
        known = set(OPS[name]) | {"op", "buildings", "block", "into"}
        extra = sorted(set(op) - known)
        if extra:
            raise InputError(f"{where} ({name}): unknown field(s) {extra}.", fix=f"{name} takes {list(OPS[name])}.")
        missing = [f for f in OPS[name] if f not in op]
        if missing:
            raise InputError(f"{where} ({name}): missing field(s) {missing}.", fix=f"{name} takes {list(OPS[name])}.")
        if name == "move" and ("buildings" in op) == ("block" in op):
            raise InputError(f"{where} (move): give either 'buildings' (a list of ids) or 'block'.", fix=fix)
        if "buildings" in op and (not isinstance(op["buildings"], list) or not op["buildings"]):
            raise InputError(f"{where} (move): 'buildings' must be a non-empty list of building ids.", fix=fix)
        if "grids" in op and (not isinstance(op["grids"], list) or not op["grids"]):
            raise InputError(f"{where} ({name}): 'grids' must be a non-empty list of grid ids.", fix=fix)
        if name == "merge" and len(op["grids"]) < 2:
            raise InputError(f"{where} (merge): give at least 2 grids.", fix="list the grids to merge.")
        if name == "split" and op.get("into", 2) != 2:
            raise InputError(f"{where} (split): into={op.get('into')!r}; a split makes 2 grids.",
                             fix="split into 2, then split a part again.")  # fmt: skip
        for key, limit in (("name", _NAME_MAX), ("text", _TEXT_MAX)):
            if key in op and (not isinstance(op[key], str) or len(op[key]) > limit):
                raise InputError(f"{where} ({name}): '{key}' must be text of at most {limit} characters.", fix=fix)
        if name == "rename" and not op["name"].strip():
            raise InputError(f"{where} (rename): the name is empty.", fix="give the grid a name.")
        out.append(dict(op))
    return out


# --- the partition's functions used here, in one place (gridgis.partition draws grids; edits reuse it) ---
def _tessellate(area: shapely.Geometry, xy: np.ndarray, shapes: np.ndarray | None = None):
    """Regions of the sites ``xy`` in ``area`` (metric), around their footprints ``shapes`` so that no edge
    crosses a building: :func:`gridgis.partition.tessellate.tessellate`."""
    from gridgis.partition.tessellate import tessellate

    return tessellate(area, xy, shapes=shapes)


def _site_shapes(footprints: np.ndarray, site: np.ndarray, n_sites: int) -> np.ndarray | None:
    """The union of the footprints (None: a point building) of each site's buildings; None when no footprint."""
    if all(f is None for f in footprints):
        return None
    out = np.full(n_sites, None, dtype=object)
    for k, f in zip(site, footprints, strict=True):
        if f is not None:
            out[k] = f if out[k] is None else shapely.union(out[k], f)
    return out


def _dissolve(pieces: np.ndarray, label: np.ndarray, k: int) -> np.ndarray:
    from gridgis.partition.tessellate import dissolve

    return dissolve(pieces, label, k)


def _cut(cid: str, area, xy: np.ndarray, w: np.ndarray, k: int, initial: np.ndarray | None = None, shapes=None):
    """(grid 0..k-1 of each site, grids made): the partition of one community's ``area`` into ``k`` balanced
    grids, from ``initial`` labels when given (:func:`gridgis.partition.community.partition_community`)."""
    from gridgis.partition.community import CommunityTask, partition_community

    res = partition_community(CommunityTask(cid, area, xy, w, k, initial=initial, shapes=shapes))
    return res.site_grid, len(res.geoms)


def _match_previous(old: np.ndarray, new: np.ndarray, n: int) -> np.ndarray:
    from gridgis.partition.report import match_previous

    return match_previous(old, new, n)


def _polsby_popper(geoms: np.ndarray) -> np.ndarray:
    from gridgis.partition.report import polsby_popper

    return polsby_popper(geoms)


def _join_strays(geoms: np.ndarray, pts: np.ndarray, site_label: np.ndarray) -> np.ndarray:
    """Give every piece of a grid that holds none of its sites to the grid sharing the longest edge with it
    (as :func:`gridgis.partition.community.attach_loose` does): grids stay one polygon each."""
    geoms = geoms.copy()
    for k in range(len(geoms)):
        parts = shapely.get_parts(geoms[k])
        if len(parts) < 2:
            continue
        mine = pts[site_label == k]
        held = np.zeros(len(parts), dtype=bool)
        held[np.unique(shapely.STRtree(parts).query(mine, predicate="intersects")[1])] = True
        if not held.any():
            continue
        geoms[k] = shapely.union_all(parts[held])
        for piece in parts[~held]:
            shared = shapely.length(shapely.intersection(shapely.boundary(geoms), shapely.boundary(piece)))
            j = int(np.argmax(shared))
            geoms[j] = shapely.union(geoms[j], piece)
    return shapely.set_precision(geoms, _PRECISION_M)


class _State:
    """A plan in a metric CRS, with the grid (position) of every building; edited in place, on a copy."""

    def __init__(self, plan: Plan, weights: dict[str, float] | None):
        grids = plan.grids.reset_index(drop=True)
        self.plan = plan
        self.fwd = to_local_metric(grids)
        self.back = pyproj.Transformer.from_crs(self.fwd.target_crs, STORAGE_CRS, always_xy=True)
        self.table = pd.DataFrame(grids.drop(columns=grids.geometry.name))
        self.table["grid_id"] = self.table["grid_id"].astype(str)
        if "locked" not in self.table:
            self.table["locked"] = False
        self.table["locked"] = self.table["locked"].fillna(False).astype(bool)
        for col in ("name", "note"):
            if col not in self.table:
                self.table[col] = pd.array([None] * len(grids), dtype="string")
        if "previous_grid_id" not in self.table:
            # each grid continues itself (gridgis.lineage); a plan from a re-plan keeps its own lineage
            self.table["previous_grid_id"] = pd.array(self.table["grid_id"], dtype="string")
        self.geom_ll = np.asarray(grids.geometry.values, dtype=object)
        self.geom_m = project(self.geom_ll, self.fwd)
        self.alive = np.ones(len(grids), dtype=bool)
        self.dirty = np.zeros(len(grids), dtype=bool)
        self.pos = {g: i for i, g in enumerate(self.table["grid_id"])}
        self.retired: set[str] = set()
        b = plan.buildings
        if b is None:
            b = gpd.GeoDataFrame({"building_id": [], "households": [], "population": []}, geometry=[], crs=STORAGE_CRS)
        self.buildings = b.reset_index(drop=True)
        self.b_xy = shapely.get_coordinates(project(shapely.point_on_surface(self.buildings.geometry.values), self.fwd))
        self.b_grid = np.full(len(self.buildings), -1, dtype=np.int64)
        if "grid_id" in self.buildings:
            gid = self.buildings["grid_id"].astype("string").map(self.pos)
            self.b_grid = gid.fillna(-1).to_numpy(dtype=np.int64)
        footprints = project(np.asarray(self.buildings.geometry.values, dtype=object), self.fwd)
        footprints[shapely.get_dimensions(footprints) < 2] = None
        self.b_shape = footprints
        self.b_moved = np.zeros(len(self.buildings), dtype=bool)
        self.weights = weights or {"households": 1.0}
        load = np.zeros(len(self.buildings))
        for col, w in self.weights.items():
            load += w * (1.0 if col == "buildings" else self.buildings[col].to_numpy(dtype=float))
        self.b_load = load
        #: building_id (as text) -> position, shared by every copy
        self.b_index = {str(v): k for k, v in enumerate(self.buildings["building_id"])}
        #: what is built once on demand and shared by every copy (the buildings' point tree)
        self.shared: dict[str, Any] = {}

    def copy(self) -> _State:
        new = copy.copy(self)
        new.table = self.table.copy()
        for name in ("geom_ll", "geom_m", "alive", "dirty", "b_grid", "b_moved"):
            setattr(new, name, getattr(self, name).copy())
        new.pos = dict(self.pos)
        new.retired = set(self.retired)
        return new

    # -- lookups ---------------------------------------------------------------------------------
    def grid(self, gid: Any, i: int, op: str) -> int:
        p = self.pos.get(str(gid))
        if p is None or not self.alive[p]:
            raise InputError(f"operation {i} ({op}): no grid {str(gid)[:40]!r} in the plan.",
                                fix="use a grid_id of the plan's grids layer.")  # fmt: skip
        return p

    def building_positions(self, op: dict, i: int) -> np.ndarray:
        if "block" in op:
            blocks = self.plan.layers.get("blocks")
            if blocks is None or "block_id" not in blocks:
                raise InputError(f"operation {i} (move): the plan has no blocks layer with block_id.",
                                 fix="move buildings by id, or write the plan with its street blocks.")  # fmt: skip
            hit = blocks.loc[blocks["block_id"].astype(str) == str(op["block"])]
            if hit.empty:
                raise InputError(f"operation {i} (move): no block {str(op['block'])[:40]!r}.",
                                    fix="use a block_id of the plan's blocks layer.")  # fmt: skip
            area = project(np.asarray(hit.geometry.values, dtype=object), self.fwd)
            if "points" not in self.shared:
                self.shared["points"] = shapely.STRtree(shapely.points(self.b_xy))
            return np.unique(self.shared["points"].query(shapely.union_all(area), predicate="intersects"))
        pos, unknown = [], []
        for v in op["buildings"]:
            k = self.b_index.get(str(v))
            (unknown if k is None else pos).append(v if k is None else k)
        if unknown:
            raise InputError(f"operation {i} (move): no building(s) {unknown[:5]} in the plan.",
                                fix="use building_id values of the plan's buildings layer.")  # fmt: skip
        return np.unique(np.array(pos, dtype=np.int64))

    def gid(self, p: int) -> str:
        return self.table["grid_id"].iat[p]

    def community(self, p: int) -> str:
        return str(self.table["community_id"].iat[p])

    def refuse_locked(self, ps, i: int, op: str) -> None:
        locked = [self.gid(p) for p in ps if self.table["locked"].iat[p]]
        if locked:
            raise EditRefused(f"operation {i} ({op}): grid(s) {locked} are locked.",
                              fix="unlock them first ({\"op\": \"unlock\", \"grids\": [...]}).",
                              details={"op": i, "rule": "locked", "grids": locked})  # fmt: skip

    # -- geometry --------------------------------------------------------------------------------
    def members(self, ps) -> np.ndarray:
        return np.flatnonzero(np.isin(self.b_grid, np.asarray(list(ps), dtype=np.int64)))

    def redraw(self, ps: list[int], i: int, op: str, moved: np.ndarray | None = None, to: int | None = None) -> None:
        """Retile the union of grids ``ps`` by the current grid of their buildings; refuse broken grids."""
        area = shapely.union_all(self.geom_m[ps])
        members = self.members(ps)
        xy, first, inv = np.unique(self.b_xy[members], axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
        local = {p: k for k, p in enumerate(ps)}
        site_label = np.array([local[p] for p in self.b_grid[members][first]], dtype=np.int64)
        clash = site_label[inv] != np.array([local[p] for p in self.b_grid[members]], dtype=np.int64)
        if clash.any():
            ids = self.buildings["building_id"].to_numpy()[members[clash]][:5].tolist()
            raise EditRefused(f"operation {i} ({op}): building(s) {ids} share one point with a building of "
                              "another grid; a point belongs to one grid.", fix="move them together.",
                              details={"op": i, "rule": "building"})  # fmt: skip
        tess = _tessellate(area, xy, _site_shapes(self.b_shape[members], inv, len(xy)))
        piece_label = np.where(tess.site >= 0, site_label[np.maximum(tess.site, 0)], -1)
        loose = np.flatnonzero(piece_label < 0)
        if len(loose):  # regions without a building (islands): back to the grid that held them
            reps = shapely.point_on_surface(tess.pieces[loose])
            pi, gi = shapely.STRtree(self.geom_m[ps]).query(reps, predicate="intersects")
            piece_label[loose[pi[::-1]]] = gi[::-1]
        geoms = _join_strays(_dissolve(tess.pieces, piece_label, len(ps)), shapely.points(xy), site_label)
        self.check_pieces(ps, geoms, xy, site_label, i, op, moved, to)
        self.set_geoms(ps, geoms)

    def check_pieces(self, ps, geoms, xy, site_label, i, op, moved=None, to=None) -> None:
        pts = shapely.points(xy)
        for k, (p, g) in enumerate(zip(ps, geoms, strict=True)):
            mine = pts[site_label == k]
            if shapely.is_empty(g) or not len(mine):
                raise EditRefused(f"operation {i} ({op}): grid {self.gid(p)} would hold no building.",
                                  fix=f"merge grid {self.gid(p)} into a neighbour instead.",
                                  details={"op": i, "rule": "empty", "grid": self.gid(p)})  # fmt: skip
            parts = shapely.get_parts(g)
            inhabited = np.unique(shapely.STRtree(parts).query(mine, predicate="intersects")[1])
            if len(inhabited) <= 1:
                continue
            if moved is not None and p == to:
                raise EditRefused(
                    f"operation {i} ({op}): building(s) {moved[:5]} do not touch grid {self.gid(p)}; "
                    "a grid stays one piece.",
                    fix="move buildings that share an edge with the grid, or a whole block.",
                    details={"op": i, "rule": "touch", "grid": self.gid(p), "buildings": moved[:20]},
                )
            raise EditRefused(
                f"operation {i} ({op}): grid {self.gid(p)} would be in {len(inhabited)} pieces; "
                "a grid stays one piece.",
                fix="move the buildings that connect it too, or a whole block.",
                details={"op": i, "rule": "contiguity", "grid": self.gid(p)},
            )

    def set_geoms(self, ps, geoms_m) -> None:
        for p, g in zip(ps, geoms_m, strict=True):
            self.geom_m[p] = g
            self.dirty[p] = True

    # -- output ----------------------------------------------------------------------------------
    def result(self, original_ids: set[str], *, layers: bool = True) -> EditResult:
        dirty = np.flatnonzero(self.dirty & self.alive)
        if len(dirty):
            back = self.back
            self.geom_ll[dirty] = shapely.transform(
                self.geom_m[dirty], lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1]))
            )
        self._figures(dirty)
        keep = np.flatnonzero(self.alive)
        grids = gpd.GeoDataFrame(self.table.iloc[keep].reset_index(drop=True),
                                 geometry=list(self.geom_ll[keep]), crs=STORAGE_CRS)  # fmt: skip
        out = None
        if layers:
            frames = dict(self.plan.layers)
            frames["grids"] = grids
            if self.plan.buildings is not None:
                b = self.plan.buildings.copy()
                ids = self.table["grid_id"].to_numpy()
                b["grid_id"] = pd.array([ids[p] if p >= 0 else None for p in self.b_grid], dtype="string")
                frames["buildings"] = b
            out = Plan(frames)
        now = set(grids["grid_id"])
        changed = sorted(set(self.table["grid_id"].to_numpy()[dirty]) & original_ids)
        return EditResult(out, grids, changed, sorted(now - original_ids), sorted(original_ids - now), figures(grids))

    def _figures(self, ps: np.ndarray) -> None:
        if not len(ps):
            return
        b = self.buildings
        inside = np.isin(self.b_grid, ps)
        bg = self.b_grid[inside]
        n = len(self.table)
        cols = {
            "households": np.bincount(bg, weights=b["households"].to_numpy(dtype=float)[inside], minlength=n),
            "population": np.bincount(bg, weights=b["population"].to_numpy(dtype=float)[inside], minlength=n),
            "buildings": np.bincount(bg, minlength=n).astype(float),
        }
        for col, values in cols.items():
            if col in self.table:
                self.table[col] = self.table[col].astype("int64")
                self.table.loc[ps, col] = values[ps].round().astype(np.int64)
        if "shops" in self.table and "shops" in self.plan.layers:
            shops = self.plan.layers["shops"]
            s_pts = project(np.asarray(shops.geometry.values, dtype=object), self.fwd)
            si, gi = shapely.STRtree(self.geom_m[ps]).query(s_pts, predicate="intersects")
            first = np.unique(si, return_index=True)[1]
            self.table.loc[ps, "shops"] = np.bincount(gi[first], minlength=len(ps)).astype(np.int64)
        if "area_m2" in self.table:
            self.table.loc[ps, "area_m2"] = shapely.area(self.geom_m[ps])
        if "polsby_popper" in self.table:
            self.table.loc[ps, "polsby_popper"] = _polsby_popper(self.geom_m[ps])
        load = np.bincount(bg, weights=self.b_load[inside], minlength=n)
        if "load" in self.table:
            self.table.loc[ps, "load"] = load[ps]
        if "target" in self.table and "deviation" in self.table:
            target = self.table["target"].to_numpy(dtype=float)[ps]
            with np.errstate(divide="ignore", invalid="ignore"):
                self.table.loc[ps, "deviation"] = np.where(target > 0, (load[ps] - target) / target, np.nan)


def apply_edits(plan: Plan, edits: list[dict], *, weights: dict[str, float] | None = None) -> EditResult:
    """Apply ``edits`` in order to a copy of ``plan``; all of them or none.

    Parameters
    ----------
    plan
        The plan's layers; ``buildings`` must carry ``grid_id`` for moves, rebalances and splits.
    edits
        Operations as in the module docstring (checked by :func:`check_edits`).
    weights
        Load per unit of ``households``, ``population``, ``buildings``; default ``{"households": 1}``
        (the partition's default, so ``load`` stays comparable).

    Returns
    -------
    EditResult
        ``changed``: kept grids whose area or buildings changed; ``added`` / ``removed``: grid ids;
        ``report``: :func:`figures` of the new grids.

    Raises
    ------
    InputError
        A malformed operation (index and field named).
        A grid, building, community or block that is not in the plan.
    EditRefused
        An operation that would break a hard rule or change a locked grid; nothing is changed.
    """
    return Editor(plan, weights=weights).apply(edits)


class Editor:
    """A plan prepared once (projected, buildings indexed) to apply many edit lists to; each
    :meth:`apply` starts from the plan as given (the workbench sends its whole list on every change).

    Examples
    --------
    >>> # editor = Editor(read_plan("plan.gpkg")); editor.apply([{"op": "lock", "grids": ["440784101001001"]}])
    """

    def __init__(self, plan: Plan, *, weights: dict[str, float] | None = None):
        self.plan = plan
        self._start = _State(plan, weights)
        self._ids = set(self._start.table["grid_id"])
        #: states after recent edit lists (the page resends its list plus one operation): (keys, state)
        self._recent: list[tuple[list[str], _State]] = []

    def _resume(self, keys: list[str]) -> tuple[int, _State]:
        """The longest remembered prefix of ``keys`` and a copy of its state (else the plan as given)."""
        best = max((r for r in list(self._recent) if keys[: len(r[0])] == r[0]), key=lambda r: len(r[0]), default=None)
        return (0, self._start.copy()) if best is None else (len(best[0]), best[1].copy())

    def _remember(self, keys: list[str], state: _State) -> None:
        self._recent = [*self._recent[-(RECENT_STATES - 1) :], (keys, state)]

    def apply(self, edits: list[dict], *, layers: bool = True) -> EditResult:
        """:func:`apply_edits`; ``layers=False`` skips assembling the new layers (``result.plan`` is None,
        ``result.grids`` holds the grids) for a quick answer."""
        edits = check_edits(edits)
        keys = [json.dumps(op, sort_keys=True, ensure_ascii=False, default=str) for op in edits]
        done, state = self._resume(keys)
        for i in range(done, len(edits)):
            _HANDLERS[edits[i]["op"]](state, edits[i], i)
        self._remember(keys, state.copy())
        result = state.result(self._ids, layers=layers)
        diff = np.flatnonzero(state.b_grid != self._start.b_grid)
        ids, grid_ids = state.buildings["building_id"].to_numpy(), state.table["grid_id"].to_numpy()
        result.moved = {_plain(ids[k]): grid_ids[state.b_grid[k]] for k in diff if state.b_grid[k] >= 0}
        return result


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _move(st: _State, op: dict, i: int) -> None:
    to = st.grid(op["to"], i, "move")
    bpos = st.building_positions(op, i)
    ids = st.buildings["building_id"].to_numpy()
    if len(bpos) and (st.b_grid[bpos] == to).all():  # accepted, it would count as an edit that changes nothing
        raise EditRefused(
            f"operation {i} (move): building(s) {ids[bpos][:5].tolist()} are already in grid {st.gid(to)}.",
            fix="choose another grid of their community to move them to.",
            details={"op": i, "rule": "noop", "grid": st.gid(to)},
        )
    bpos = bpos[st.b_grid[bpos] != to]
    if not len(bpos):
        return
    loose = bpos[st.b_grid[bpos] < 0]
    if len(loose):
        raise EditRefused(
            f"operation {i} (move): building(s) {ids[loose][:5].tolist()} lie in no grid.",
            fix="check the plan with gridgis quality.",
            details={"op": i, "rule": "building"},
        )
    sources = sorted(set(st.b_grid[bpos].tolist()))
    across = [s for s in sources if st.community(s) != st.community(to)]
    if across:
        bad = ids[bpos[np.isin(st.b_grid[bpos], across)]][:5].tolist()
        raise EditRefused(
            f"operation {i} (move): building(s) {bad} are in community {st.community(across[0])}, grid "
            f"{st.gid(to)} in {st.community(to)}; a grid never crosses a community boundary.",
            fix="move them to a grid of their own community.",
            details={"op": i, "rule": "community", "grid": st.gid(to)},
        )
    st.refuse_locked([to, *sources], i, "move")
    st.b_grid[bpos] = to
    st.b_moved[bpos] = True
    st.redraw([to, *sources], i, "move", moved=ids[bpos].tolist(), to=to)


def _lock(st: _State, op: dict, i: int, value: bool = True) -> None:
    for g in op["grids"]:
        st.table.loc[st.grid(g, i, op["op"]), "locked"] = value


def _unlock(st: _State, op: dict, i: int) -> None:
    _lock(st, op, i, False)


def _rebalance(st: _State, op: dict, i: int) -> None:
    cid = str(op["community"])
    mine = np.flatnonzero(st.alive & (st.table["community_id"].astype(str).to_numpy() == cid))
    if not len(mine):
        raise InputError(f"operation {i} (rebalance): no grid of community {cid[:40]!r} in the plan.",
                            fix="use a community_id of the plan's grids.")  # fmt: skip
    ps = [int(p) for p in mine if not st.table["locked"].iat[p]]
    if len(ps) < 2:
        return  # nothing to trade load between
    members = st.members(ps)
    xy, first, inv = np.unique(st.b_xy[members], axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    local = {p: k for k, p in enumerate(ps)}
    initial = np.array([local[p] for p in st.b_grid[members][first]], dtype=np.int64)
    w = np.bincount(inv, weights=st.b_load[members], minlength=len(xy))
    shapes = _site_shapes(st.b_shape[members], inv, len(xy))
    site_grid, n = _cut(cid, shapely.union_all(st.geom_m[ps]), xy, w, len(ps), initial, shapes)
    if n != len(ps):
        raise EditRefused(f"operation {i} (rebalance): the unlocked grids of {cid} are not one connected area.",
                          fix="unlock the grids between them.", details={"op": i, "rule": "contiguity"})  # fmt: skip
    match = _match_previous(initial, site_grid, len(ps))
    free = iter(sorted(set(range(len(ps))) - set(match[match >= 0].tolist())))
    match = np.array([m if m >= 0 else next(free) for m in match], dtype=np.int64)
    st.b_grid[members] = np.asarray(ps, dtype=np.int64)[match[site_grid][inv]]
    st.redraw(ps, i, "rebalance")


def _merge(st: _State, op: dict, i: int) -> None:
    ps = list(dict.fromkeys(st.grid(g, i, "merge") for g in op["grids"]))
    if len(ps) < 2:
        raise InputError(f"operation {i} (merge): give at least 2 different grids.", fix="list the grids to merge.")
    coms = sorted({st.community(p) for p in ps})
    if len(coms) > 1:
        raise EditRefused(f"operation {i} (merge): the grids are in communities {coms}; a grid never crosses a "
                          "community boundary.", fix="merge grids of one community.",
                          details={"op": i, "rule": "community"})  # fmt: skip
    st.refuse_locked(ps, i, "merge")
    keep, gone = ps[0], ps[1:]
    st.b_grid[np.isin(st.b_grid, gone)] = keep
    geom = shapely.set_precision(shapely.union_all(st.geom_m[ps]), _PRECISION_M)
    members = st.members([keep])
    if len(members):
        xy = np.unique(st.b_xy[members], axis=0)
        st.check_pieces([keep], [geom], xy, np.zeros(len(xy), dtype=np.int64), i, "merge")
    for p in gone:
        st.alive[p] = False
        st.retired.add(str(st.table["grid_code"].iat[p]))
    st.set_geoms([keep], [geom])


def _split(st: _State, op: dict, i: int) -> None:
    p = st.grid(op["grid"], i, "split")
    st.refuse_locked([p], i, "split")
    members = st.members([p])
    xy, inv = np.unique(st.b_xy[members], axis=0, return_inverse=True)
    inv = inv.ravel()
    if len(xy) < 2:
        raise EditRefused(f"operation {i} (split): grid {st.gid(p)} has fewer than 2 building sites.",
                          fix="split a grid with more buildings.", details={"op": i, "rule": "empty"})  # fmt: skip
    w = np.bincount(inv, weights=st.b_load[members], minlength=len(xy))
    site_grid, n = _cut(st.community(p), st.geom_m[p], xy, w, 2, shapes=_site_shapes(st.b_shape[members], inv, len(xy)))
    if n != 2:
        raise EditRefused(f"operation {i} (split): grid {st.gid(p)} cannot be cut into 2 connected grids.",
                          fix="move buildings instead.", details={"op": i, "rule": "contiguity"})  # fmt: skip
    big = int(np.argmax(np.bincount(site_grid, weights=w, minlength=2)))
    row = st.table.iloc[[p]].copy()
    code = _next_code(st, st.community(p))
    row["grid_id"], row["grid_code"], row["locked"] = code, code, False
    row["name"] = f"{row['name'].iat[0] or st.gid(p)}（{int(code[12:])}）"
    row["note"] = None
    row["previous_grid_id"] = None  # a new grid: the kept part continues the old one
    q = len(st.table)
    st.table = pd.concat([st.table, row], ignore_index=True)
    st.geom_ll = np.append(st.geom_ll, None)
    st.geom_m = np.append(st.geom_m, None)
    st.alive = np.append(st.alive, True)
    st.dirty = np.append(st.dirty, True)
    st.pos[code] = q
    new = np.where(site_grid == big, p, q)
    st.b_grid[members] = new[inv]
    st.redraw([p, q], i, "split")


def _next_code(st: _State, cid: str) -> str:
    used = {c for c in st.table["grid_code"].astype(str) if c.startswith(cid)} | st.retired
    seq = max((int(c[12:]) for c in used if c.startswith(cid)), default=0) + 1
    if seq > 999:
        raise EditRefused(f"community {cid} has used all 999 grid codes.", fix="re-plan the community.")
    return f"{cid}{seq:03d}"


def _rename(st: _State, op: dict, i: int) -> None:
    st.table.loc[st.grid(op["grid"], i, "rename"), "name"] = op["name"].strip()


def _note(st: _State, op: dict, i: int) -> None:
    st.table.loc[st.grid(op["grid"], i, "note"), "note"] = op["text"]


_HANDLERS = {
    "move": _move,
    "lock": _lock,
    "unlock": _unlock,
    "rebalance": _rebalance,
    "merge": _merge,
    "split": _split,
    "rename": _rename,
    "note": _note,
}


def figures(grids: gpd.GeoDataFrame, column: str = "households", tolerance: float = 0.10) -> dict:
    """County-wide distribution of ``column`` over the basic grids, with its bands of the mean and per community.

    The distribution is :func:`gridgis.quality.county_distribution` (``grids``, ``mean``, ``min``, ``max``,
    ``std``, ``max_deviation``, ``range`` = mean +- ``tolerance``, ``outside_range``, ``histogram``); added here:
    ``column``, ``cv`` (std / mean), ``bins`` = ``[{"from", "to", "grids"}]`` with :data:`DISTRIBUTION_BINS`
    times the county mean (``to`` None: unbounded) and ``per_community`` = ``{community_id: {"grids", "mean"}}``.
    Grids without a ``kind`` column count as basic; dedicated grids (schools, markets) are left out, as the
    partition's report leaves them out (DESIGN.md: balance is judged county-wide, each grid against the county
    mean).
    """
    from gridgis.quality import county_distribution

    if column not in grids or not len(grids):
        return {"grids": 0, "column": column}
    basic = grids if "kind" not in grids else grids[grids["kind"].fillna("basic") == "basic"]
    frame = pd.DataFrame({"kind": "basic", "load": basic[column].to_numpy(dtype=float)})
    out = county_distribution(frame, tolerance)
    if not out["grids"]:
        return {"grids": 0, "column": column}
    v, mean = frame["load"].to_numpy(), out["mean"]
    ratio = v / mean if mean > 0 else np.zeros_like(v)
    counts = np.histogram(ratio, bins=np.array(DISTRIBUTION_BINS[:-1] + (np.inf,)))[0]
    per = basic.groupby(basic["community_id"].astype(str))[column].agg(["count", "mean"])
    out.update(
        column=column,
        cv=round(out["std"] / mean, 4) if mean > 0 else None,
        bins=[{"from": lo, "to": None if hi == float("inf") else hi, "grids": int(c)}
              for lo, hi, c in zip(DISTRIBUTION_BINS[:-1], DISTRIBUTION_BINS[1:], counts, strict=True)],
        per_community={c: {"grids": int(r["count"]), "mean": round(float(r["mean"]), 2)} for c, r in per.iterrows()},
    )  # fmt: skip
    return out


#: columns of a names table: grid_id (required), then name and/or note
TABLE_COLUMNS = ("grid_id", "name", "note")
#: most rows a names table may hold (a county has hundreds of grids)
MAX_TABLE_ROWS = 100_000


def edits_from_table(path: str | Path, *, encoding: str | None = None) -> list[dict]:
    """Rename and note operations from a CSV or XLSX table with columns ``grid_id`` and ``name`` and/or ``note``.

    An empty cell leaves that field as it is. CSV is read in ``encoding`` (default: declared or detected,
    see :func:`gridgis.io.encoding.resolve_encoding`); XLSX from its first sheet.

    Raises
    ------
    InputError
        Unreadable file, no ``grid_id`` column, neither ``name`` nor ``note``, a duplicate or empty
        ``grid_id``, over-long text: naming the file and the row (as a spreadsheet numbers it).
    """
    path = Path(path)
    fix = "give a .csv or .xlsx table with columns grid_id, name and/or note."
    try:
        if path.suffix.lower() == ".xlsx":
            frame = pd.read_excel(path, dtype=str, engine="openpyxl", nrows=MAX_TABLE_ROWS + 1)
        elif path.suffix.lower() == ".csv":
            from gridgis.io.encoding import resolve_encoding

            enc = resolve_encoding(path, encoding)
            frame = pd.read_csv(path, dtype=str, encoding=enc, keep_default_na=False, nrows=MAX_TABLE_ROWS + 1)
        else:
            raise InputError(f"{path}: a names table is .csv or .xlsx, not {path.suffix or 'no extension'}.", fix=fix)
    except InputError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, KeyError) as exc:
        raise InputError(f"{path}: cannot read the table ({str(exc)[:200]}).", fix=fix) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) > MAX_TABLE_ROWS:
        raise InputError(f"{path}: more than {MAX_TABLE_ROWS} rows.", fix="split the table.")
    if "grid_id" not in frame or not ({"name", "note"} & set(frame.columns)):
        raise InputError(f"{path}: columns {list(frame.columns)[:10]} lack grid_id and name or note.", fix=fix)
    unknown = [c for c in frame.columns if c not in TABLE_COLUMNS]
    if unknown:
        raise InputError(f"{path}: unknown column(s) {unknown[:10]}; they would be dropped.",
                         fix="keep only grid_id, name and note.")  # fmt: skip
    frame = frame.fillna("")
    seen: dict[str, int] = {}
    ops: list[dict] = []
    for k, rec in enumerate(frame.to_dict("records")):
        line = k + 2  # the header is row 1
        gid = str(rec["grid_id"]).strip()
        if not gid:
            raise InputError(f"{path} row {line}: empty grid_id.", fix="fill in the grid_id or delete the row.")
        if gid in seen:
            raise InputError(f"{path} row {line}: grid {gid} already named on row {seen[gid]}.",
                             fix="keep one row per grid.")  # fmt: skip
        seen[gid] = line
        if str(rec.get("name", "")).strip():
            ops.append({"op": "rename", "grid": gid, "name": str(rec["name"]).strip()})
        if str(rec.get("note", "")).strip():
            ops.append({"op": "note", "grid": gid, "text": str(rec["note"]).strip()})
    try:
        return check_edits(ops, source=str(path))
    except InputError as exc:
        raise InputError(exc.message.replace("operation", "table operation"), fix=exc.fix) from exc
