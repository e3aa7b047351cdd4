"""Assignment of features to grids: which grid holds each point, building or shop.

* :class:`GridIndex` (:mod:`~gridgis.assign.index`): exact point-in-grid lookup at tens of
  millions of points a second, one point in a few microseconds, and the nearest grid in metres.
* :func:`assign` (:mod:`~gridgis.assign.features`): grid positions for a layer of points and
  polygons (polygons by their largest part).
* :func:`grid_overlaps`, :func:`points_in_several_grids` (:mod:`~gridgis.assign.overlaps`):
  a broken plan, reported.
* :mod:`~gridgis.assign.files`: files in chunks (bounded memory, atomic output);
  :mod:`~gridgis.assign.cluster`: the same on a Dask cluster over partitioned GeoParquet.
"""

from gridgis.assign.features import assign, feature_points, prepare_features
from gridgis.assign.index import GridIndex
from gridgis.assign.overlaps import grid_overlaps, points_in_several_grids

__all__ = ["GridIndex", "assign", "feature_points", "grid_overlaps", "points_in_several_grids", "prepare_features"]
