"""Assignment of features to grids: which grid holds each point, building or shop.

:class:`GridIndex` answers "which grid holds this point" exactly at tens of
millions of points a second; :func:`assign` applies it to a layer (polygons by
their largest part); :func:`grid_overlaps` and :func:`points_in_several_grids`
report a broken plan.
"""

from gridgis.assign.features import assign, feature_points, prepare_features
from gridgis.assign.index import GridIndex
from gridgis.assign.overlaps import grid_overlaps, points_in_several_grids

__all__ = ["GridIndex", "assign", "feature_points", "grid_overlaps", "points_in_several_grids", "prepare_features"]
