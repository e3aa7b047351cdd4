"""The partition input: every layer projected to one metric CRS, buildings grouped into sites per community.

:class:`PartitionInput` is what :func:`gridgis.partition.partition` works on
and what its report is measured from. Build it with :meth:`PartitionInput.build`
from validated layers; every geometry in it is in metres of ``crs`` (a local
transverse Mercator, see :func:`gridgis.crs.to_local_metric`), every load in
the units of the weights (households by default).

A *site* is one point of a community holding one or more buildings (buildings
sharing a representative point, e.g. the floors of one block drawn as several
rows); the grids are drawn over sites. A building belongs to the community
holding its representative point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridgis.crs import to_local_metric
from gridgis.errors import RepairWarning
from gridgis.listing import listing
from gridgis.partition.tessellate import PRECISION_M
from gridgis.quality import project


@dataclass
class CommunitySites:
    """The sites of one community (its dedicated grids' buildings left out).

    Attributes
    ----------
    xy
        ``(m, 2)`` site coordinates, metres.
    load
        ``(m,)`` load of each site (sum over its buildings of the weighted columns).
    shapes
        ``(m,)`` object array: the union of each site's footprints (metric polygons),
        None for a site of point buildings.
    """

    xy: np.ndarray
    load: np.ndarray
    shapes: np.ndarray


@dataclass
class DedicatedGrid:
    """A dedicated grid (school, hospital, park...): its community (position), metric polygon and label."""

    community: int
    geometry: shapely.Geometry
    label: str | None


@dataclass
class KeptPlan:
    """An old plan to re-divide from (``partition(keep=...)``).

    Attributes
    ----------
    site_grid
        Per community, ``(m,)`` position in the old plan of the grid holding each site (-1: none).
    building_grid
        ``(n,)`` the same per building.
    grid_ids
        ``grid_id`` of each grid of the old plan.
    """

    site_grid: list[np.ndarray]
    building_grid: np.ndarray
    grid_ids: np.ndarray


@dataclass
class PartitionInput:
    """Everything a partition works on, projected to one metric CRS (``n`` buildings, ``c`` communities).

    Attributes
    ----------
    crs
        The metric CRS of every geometry and coordinate below (metres).
    communities
        The communities layer as given (index reset; positions are community numbers).
    community_geoms
        ``(c,)`` metric community polygons.
    areas
        ``(c,)`` the same without their dedicated grids: what basic grids tile.
    buildings
        The buildings layer as given (index reset).
    building_xy
        ``(n, 2)`` metric representative points (``shapely.point_on_surface``).
    building_community
        ``(n,)`` community position holding each building's point, -1 outside every community.
    building_load
        ``(n,)`` load of each building.
    building_dedicated
        ``(n,)`` dedicated grid position holding each building, -1 for none.
    building_site
        ``(n,)`` site position of each building within its community's :class:`CommunitySites`, -1 for none.
    sites
        Per community, its :class:`CommunitySites`.
    dedicated
        The dedicated grids.
    barriers
        Union of the barrier lines (polygon barriers by their outlines), metric, or None.
    weights
        Load weight per column (see :data:`gridgis.partition.LOAD_COLUMNS`).
    shops
        The shops layer as given, or None.
    keep
        The old plan, or None.
    reconciled
        Positions of buildings whose ``community_id`` column named another community than the one
        holding them (the output says the holding one).
    """

    crs: pyproj.CRS
    communities: gpd.GeoDataFrame
    community_geoms: np.ndarray
    areas: np.ndarray
    buildings: gpd.GeoDataFrame
    building_xy: np.ndarray
    building_community: np.ndarray
    building_load: np.ndarray
    building_dedicated: np.ndarray
    building_site: np.ndarray
    sites: list[CommunitySites]
    dedicated: list[DedicatedGrid]
    barriers: shapely.Geometry | None
    weights: dict[str, float]
    shops: gpd.GeoDataFrame | None = None
    keep: KeptPlan | None = None
    reconciled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def build(
        cls,
        layers: dict[str, gpd.GeoDataFrame],
        weights: dict[str, float],
        barriers: tuple[str, ...] = (),
        dedicated: str | gpd.GeoDataFrame | None = None,
        keep: gpd.GeoDataFrame | None = None,
    ) -> PartitionInput:
        """Project validated ``layers`` (see :func:`gridgis.partition.partition`) and group buildings into sites.

        Warns
        -----
        RepairWarning
            When buildings' ``community_id`` disagrees with the community holding them (rows named).
        """
        communities = layers["communities"].reset_index(drop=True)
        buildings = layers["buildings"].reset_index(drop=True)
        fwd = to_local_metric(communities)
        com_m = project(communities.geometry.values, fwd)
        b_pts = project(shapely.point_on_surface(buildings.geometry.values), fwd)
        b_xy = shapely.get_coordinates(b_pts)
        tree = shapely.STRtree(com_m)
        bi, ci = tree.query(b_pts, predicate="intersects")
        b_community = np.full(len(buildings), -1, dtype=np.int64)
        b_community[bi[::-1]] = ci[::-1]
        reconciled = _reconcile(buildings, communities, b_community)
        load = np.zeros(len(buildings))
        for col in ("households", "population"):
            if col in weights:
                load += weights[col] * buildings[col].to_numpy(dtype=float)
        if "buildings" in weights:
            load += weights["buildings"]
        if "shops" in weights:
            load += weights["shops"] * _shops_per_building(layers["shops"], fwd, b_xy, b_community, com_m)
        ded_list, areas = _dedicated(layers, dedicated, fwd, tree, com_m)
        b_dedicated = np.full(len(buildings), -1, dtype=np.int64)
        if ded_list:
            ded_geoms = np.array([d.geometry for d in ded_list], dtype=object)
            hb, hd = shapely.STRtree(ded_geoms).query(b_pts, predicate="intersects")
            same = np.array([ded_list[d].community for d in hd], dtype=np.int64) == b_community[hb] if len(hb) else []
            b_dedicated[hb[same][::-1]] = hd[same][::-1]
        b_site = np.full(len(buildings), -1, dtype=np.int64)
        sites = []
        basic = (b_community >= 0) & (b_dedicated < 0)
        footprints = project(buildings.geometry.values, fwd)
        # points, and footprints without area, stand as points
        footprints[(shapely.get_dimensions(footprints) < 2) | (shapely.area(footprints) <= 0)] = None
        for c in range(len(communities)):
            members = np.flatnonzero(basic & (b_community == c))
            xy, inv = np.unique(b_xy[members], axis=0, return_inverse=True)
            b_site[members] = inv.ravel()
            sites.append(
                CommunitySites(
                    xy,
                    np.bincount(inv.ravel(), weights=load[members], minlength=len(xy)),
                    _site_shapes(footprints[members], inv.ravel(), len(xy)),
                )
            )
        barrier_geom = None
        if barriers:
            lines = np.concatenate([project(layers[n].geometry.values, fwd) for n in barriers])
            lines = shapely.boundary(lines[shapely.get_dimensions(lines) == 2]).tolist() + [
                g for g in lines if shapely.get_dimensions(g) == 1
            ]
            barrier_geom = shapely.union_all(np.array(lines, dtype=object)) if lines else None
        kept = None
        if keep is not None:
            kept = _kept_plan(keep, fwd, b_pts, b_site, b_community, basic, len(communities))
        return cls(
            crs=fwd.target_crs,
            communities=communities,
            community_geoms=com_m,
            areas=areas,
            buildings=buildings,
            building_xy=b_xy,
            building_community=b_community,
            building_load=load,
            building_dedicated=b_dedicated,
            building_site=b_site,
            sites=sites,
            dedicated=ded_list,
            barriers=barrier_geom,
            weights=weights,
            shops=layers.get("shops"),
            keep=kept,
            reconciled=reconciled,
        )

    def n_dedicated(self, c: int) -> int:
        """Number of dedicated grids of community ``c``."""
        return sum(1 for d in self.dedicated if d.community == c)

    def minimum(self, c: int) -> int:
        """Grids community ``c`` needs at least: its dedicated grids + one per inhabited piece (or one)."""
        n_ded = self.n_dedicated(c)
        parts = shapely.get_parts(self.areas[c])
        parts = parts[shapely.area(parts) > 0]
        if not len(parts):
            return n_ded
        xy = self.sites[c].xy
        if not len(xy):
            return n_ded + 1
        inhabited = np.unique(shapely.STRtree(parts).query(shapely.points(xy), predicate="intersects")[1])
        return n_ded + max(1, len(inhabited))

    def maximum(self, c: int) -> int:
        """Grids community ``c`` can hold at most: its dedicated grids + one per site (one if it has none)."""
        return self.n_dedicated(c) + max(len(self.sites[c].xy), 1 if shapely.area(self.areas[c]) > 0 else 0)

    def basic_loads(self) -> np.ndarray:
        """``(c,)`` load of each community outside its dedicated grids."""
        return np.array([s.load.sum() for s in self.sites])


def _reconcile(buildings: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, b_community: np.ndarray) -> np.ndarray:
    """Positions of buildings whose ``community_id`` is not the community holding them; warn naming them."""
    if "community_id" not in buildings.columns:
        return np.zeros(0, dtype=np.int64)
    given = buildings["community_id"].astype("string").fillna("").to_numpy()
    names = communities["community_id"].astype(str).to_numpy()
    holder = np.where(b_community >= 0, names[np.maximum(b_community, 0)], "")
    wrong = np.flatnonzero((b_community >= 0) & (given != holder) & (given != ""))
    if len(wrong):
        ids = buildings["building_id"].to_numpy()[wrong]
        warnings.warn(
            f"{len(wrong)} building(s) name another community than the one holding them (by their "
            f"representative point): building_id {listing(ids)}; their community_id is set to the holding one "
            f"(e.g. {given[wrong[0]]} -> {holder[wrong[0]]}).",
            RepairWarning,
            stacklevel=3,
        )
    return wrong


def _dedicated(layers, dedicated, fwd, tree, com_m) -> tuple[list[DedicatedGrid], np.ndarray]:
    """Dedicated grids, one per feature, cut out of the community holding its representative point."""
    areas = com_m.copy()
    out: list[DedicatedGrid] = []
    if dedicated is None:
        return out, areas
    ded = layers[dedicated] if isinstance(dedicated, str) else dedicated
    ded_m = project(ded.geometry.values, fwd)
    di, dc = tree.query(shapely.point_on_surface(ded_m), predicate="intersects")
    first = np.unique(di, return_index=True)[1]
    label_col = next((c for c in ("name", "kind") if c in ded.columns), None)
    for d, c in zip(di[first], dc[first], strict=True):
        geom = shapely.intersection(ded_m[d], areas[c])
        geom = polygonal(shapely.set_precision(geom, PRECISION_M))
        if shapely.is_empty(geom) or shapely.area(geom) <= 0:
            continue
        areas[c] = polygonal(shapely.difference(areas[c], geom))
        out.append(DedicatedGrid(int(c), geom, None if label_col is None else str(ded[label_col].iloc[d])))
    return out, areas


def _site_shapes(footprints: np.ndarray, site: np.ndarray, n_sites: int) -> np.ndarray:
    """The union of the footprints of each site's buildings (buildings sharing a point are one site).

    Examples
    --------
    >>> boxes = np.array([shapely.box(i, 0, i + 0.5, 1) for i in range(3)])
    >>> [round(g.area, 2) for g in _site_shapes(boxes, np.array([1, 0, 1]), 2)]
    [0.5, 1.0]
    """
    out = np.full(n_sites, None, dtype=object)
    counts = np.bincount(site, minlength=n_sites)
    alone = counts[site] == 1
    out[site[alone]] = footprints[alone]
    order = np.argsort(site, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    for s in np.flatnonzero(counts > 1).tolist():
        out[s] = shapely.union_all(footprints[order[starts[s] : starts[s + 1]]])
    return out


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal parts of ``geom`` as one (Multi)Polygon (empty Polygon when none)."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if len(parts) == 0:
        return shapely.Polygon()
    return shapely.multipolygons(parts) if len(parts) > 1 else parts[0]


def _shops_per_building(shops, fwd, b_xy, b_community, com_m) -> np.ndarray:
    """Each shop counts on the nearest building of the community it lies in."""
    from scipy.spatial import cKDTree

    s_pts = project(shops.geometry.values, fwd)
    si, sc = shapely.STRtree(com_m).query(s_pts, predicate="intersects")
    counts = np.zeros(len(b_xy))
    s_xy = shapely.get_coordinates(s_pts)
    for c in np.unique(sc):
        members = np.flatnonzero(b_community == c)
        if not len(members):
            continue
        _, nearest = cKDTree(b_xy[members]).query(s_xy[si[sc == c]])
        np.add.at(counts, members[nearest], 1)
    return counts


def _kept_plan(keep, fwd, b_pts, b_site, b_community, basic, n_com) -> KeptPlan:
    """Old grid (position in ``keep``) of each building, and of each site per community; -1 where none."""
    old_m = project(keep.geometry.values, fwd)
    hb, hg = shapely.STRtree(old_m).query(b_pts, predicate="intersects")
    b_old = np.full(len(b_pts), -1, dtype=np.int64)
    b_old[hb[::-1]] = hg[::-1]
    out = []
    for c in range(n_com):
        members = np.flatnonzero(basic & (b_community == c))
        n_sites = int(b_site[members].max()) + 1 if len(members) else 0
        site_old = np.full(n_sites, -1, dtype=np.int64)
        site_old[b_site[members]] = b_old[members]
        out.append(site_old)
    return KeptPlan(out, b_old, keep["grid_id"].astype(str).to_numpy())
