"""The plan's ``blocks`` layer: the street blocks each community's basic grids were cut from.

A street block (enclosure) is an area that the barrier lines (roads, rivers) and the community's boundary
enclose (:func:`gridgis.partition.tessellate.street_blocks`); the workers that partition the communities
return them with their grids, so the driver only numbers and counts them. The partition prefers grids that
are unions of whole blocks; the workbench lets a planner move a whole block's buildings to a neighbouring
grid (``{"op": "move", "block": block_id, "to": grid_id}``, :mod:`gridgis.planedit`), which needs the blocks
in the plan. Dedicated grids (schools, markets) are left out: the area basic grids tile is the community
without them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgis.codes import reading_order
from gridgis.model import STORAGE_CRS

#: the columns of the blocks layer (and the geometry, WGS84 polygons)
BLOCK_COLUMNS = ("block_id", "community_id", "buildings", "households")


def block_id(community_id: str, seq: int) -> str:
    """The id of a community's block number ``seq`` (1 = north-west, in :func:`gridgis.codes.reading_order`).

    >>> block_id("440784101001", 7)
    '440784101001B0007'
    """
    return f"{community_id}B{seq:04d}"


def blocks_layer(inp, blocks: list[list[shapely.Geometry]]) -> gpd.GeoDataFrame:
    """The street blocks of every community of ``inp`` (a :class:`gridgis.partition.inputs.PartitionInput`).

    Parameters
    ----------
    inp
        The partition's input: ``communities``, ``buildings``, ``building_xy``, ``crs``.
    blocks
        Per community, its street blocks (metric polygons of positive area), as the partition's workers
        drew them (:attr:`gridgis.partition.community.CommunityResult.street_blocks`).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`BLOCK_COLUMNS` and WGS84 polygons; ``buildings`` and ``households`` count the buildings whose
        representative point lies in the block (``households`` 0 when the buildings have no such column).
    """
    back = pyproj.Transformer.from_crs(inp.crs, STORAGE_CRS, always_xy=True)
    ids, coms, geoms = [], [], []
    for c, mine in enumerate(blocks):
        if not len(mine):
            continue
        mine = np.asarray(mine, dtype=object)
        cid = str(inp.communities["community_id"].iloc[c])
        xy = shapely.get_coordinates(shapely.point_on_surface(mine))
        seq = np.empty(len(mine), dtype=np.int64)
        seq[reading_order(xy[:, 0], xy[:, 1])] = np.arange(1, len(mine) + 1)
        ids += [block_id(cid, s) for s in seq]
        coms += [cid] * len(mine)
        geoms += list(mine)
    geoms_m = np.array(geoms, dtype=object)
    where, which = shapely.STRtree(geoms_m).query(shapely.points(inp.building_xy), predicate="intersects")
    first = np.unique(where, return_index=True)[1]  # a point on a shared edge counts once
    where, which = where[first], which[first]
    n = len(inp.buildings)
    hh = inp.buildings["households"].to_numpy(dtype=float) if "households" in inp.buildings else np.zeros(n)
    geoms_ll = shapely.transform(geoms_m, lambda a: np.column_stack(back.transform(a[:, 0], a[:, 1])))
    frame = pd.DataFrame({
        "block_id": ids,
        "community_id": coms,
        "buildings": np.bincount(which, minlength=len(ids)).astype(np.int64),
        "households": np.round(np.bincount(which, weights=hh[where], minlength=len(ids))).astype(np.int64),
    })  # fmt: skip
    out = gpd.GeoDataFrame(frame, geometry=list(geoms_ll), crs=STORAGE_CRS)
    return out.sort_values("block_id", ignore_index=True)
