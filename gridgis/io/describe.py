"""What a file holds, layer by layer: counts, CRS, bounds, totals and problems (for ``gridgis inspect``).

Unlike :func:`gridgis.io.read_layer`, describing never stops at the first
problem of a layer: schema, CRS and geometry problems and the repair warnings
are collected into the layer's report.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgis.crs import local_metric_crs
from gridgis.errors import GridgisError, GridgisWarning
from gridgis.io.formats import file_format, list_file_layers, read_frame
from gridgis.io.read import prepare_layer
from gridgis.model import POLYGONAL, layer_problems

__all__ = ["describe_file"]

_TOTALS = ("households", "population")


def _describe_layer(frame: gpd.GeoDataFrame, name: str, source: str, crs) -> dict[str, Any]:
    info: dict[str, Any] = {
        "layer": name,
        "features": len(frame),
        "file_crs": frame.crs.to_string() if frame.crs is not None else None,
        "geometry_types": {str(k): int(v) for k, v in frame.geometry.geom_type.value_counts(dropna=False).items()},
        "columns": [c for c in frame.columns if c != frame.geometry.name],
        "bounds": None,
        "totals": {},
        "kinds": {},
        "area_km2": None,
        "problems": [],
        "warnings": [],
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GridgisWarning)
        try:
            gdf = prepare_layer(frame, name, source=source, crs=crs, validate=False)
        except GridgisError as exc:
            info["problems"].append(str(exc))
            gdf = None
    info["warnings"] = [str(w.message) for w in caught if issubclass(w.category, GridgisWarning)]
    if gdf is None:
        return info
    if len(frame) and not len(gdf):
        info["problems"].append(
            f"{source}: none of its {len(frame):,} features has a geometry. Fix: export it again with its shapes."
        )
    info["problems"].extend(layer_problems(gdf, name))
    if len(gdf):
        info["bounds"] = [round(float(v), 6) for v in gdf.total_bounds]
    for col in _TOTALS:
        if col in gdf.columns:
            values = pd.to_numeric(gdf[col], errors="coerce")
            info["totals"][col] = int(values.sum()) if np.isfinite(values.sum()) else None
    if "kind" in gdf.columns:
        info["kinds"] = {str(k): int(v) for k, v in gdf["kind"].value_counts().items()}
    if len(gdf) and gdf.geometry.geom_type.isin(POLYGONAL).all():
        info["area_km2"] = round(float(gdf.to_crs(local_metric_crs(gdf)).area.sum()) / 1e6, 3)
    return info


def describe_file(
    path: str | Path,
    layers: list[str] | None = None,
    *,
    encoding: str | None = None,
    crs=None,
    lon: str = "lon",
    lat: str = "lat",
) -> dict[str, Any]:
    """Describe every layer (or ``layers``) of ``path``.

    Returns
    -------
    dict
        ``{"path", "format", "layers": [...]}``; each layer has ``layer``,
        ``features``, ``file_crs`` (as declared by the file), ``geometry_types``,
        ``columns``, ``bounds`` (EPSG:4326), ``totals`` (households, population),
        ``kinds`` (counts of the ``kind`` column), ``area_km2`` (polygon layers),
        ``problems`` and ``warnings`` (messages).

    Raises
    ------
    FileFormatError
        The file cannot be opened at all (missing, empty, truncated).

    Examples
    --------
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> info = describe_file(HESHAN_OUTLINE)
    >>> info["layers"][0]["features"], round(info["layers"][0]["area_km2"])
    (1, 1083)
    """
    path = Path(path)
    fmt = file_format(path)
    names = layers or list_file_layers(path)
    out = []
    for name in names:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GridgisWarning)
            try:
                frame, name = read_frame(path, name, encoding=encoding, lon=lon, lat=lat)
            except GridgisError as exc:
                out.append({"layer": name, "features": None, "problems": [str(exc)], "warnings": []})
                continue
        info = _describe_layer(frame, name, str(path), crs)
        info["warnings"][:0] = [str(w.message) for w in caught if issubclass(w.category, GridgisWarning)]
        out.append(info)
    return {"path": str(path), "format": fmt, "layers": out}
