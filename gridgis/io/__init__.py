"""Reading and writing layers: GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV with lon/lat.

This package only re-exports; the logic lives in named modules:

- :mod:`gridgis.io.read`: :func:`read_layer`, :func:`read_layers` (EPSG:4326, repaired, checked);
- :mod:`gridgis.io.write`: :func:`write_layer`, :func:`write_layers` (atomic);
- :mod:`gridgis.io.stream`: :func:`iter_features`, :func:`write_chunks` for files larger than memory;
- :mod:`gridgis.io.formats`: per-format readers and writers, :data:`FORMATS`;
- :mod:`gridgis.io.encoding`, :mod:`gridgis.io.reproject`, :mod:`gridgis.io.shapefile`,
  :mod:`gridgis.io.lonlat_csv`, :mod:`gridgis.io.atomic`, :mod:`gridgis.io.describe`.
"""

from __future__ import annotations

from gridgis.io.formats import FORMATS, file_format
from gridgis.io.read import CRSInput, list_layers, prepare_layer, read_layer, read_layers
from gridgis.io.reproject import parse_crs, to_storage_crs
from gridgis.io.stream import DEFAULT_CHUNK, count_features, iter_features, write_chunks
from gridgis.io.write import write_layer, write_layers

__all__ = [
    "DEFAULT_CHUNK",
    "FORMATS",
    "CRSInput",
    "count_features",
    "file_format",
    "iter_features",
    "list_layers",
    "parse_crs",
    "prepare_layer",
    "read_layer",
    "read_layers",
    "to_storage_crs",
    "write_chunks",
    "write_layer",
    "write_layers",
]
