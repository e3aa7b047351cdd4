"""Assigning the features of a file, in chunks: bounded memory, a progress bar, an atomic output.

GeoPackage, GeoJSON and Shapefile inputs are streamed in Arrow batches
(pyogrio), GeoParquet by Parquet batches; a CSV is read whole (then processed
in chunks). Each chunk goes through :func:`gridgis.io.prepare_layer` (CRS,
repair), :func:`~gridgis.assign.assign`, and is appended to a temporary output
file that replaces the target only when every chunk is written.
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gridgis.assign.features import assign, feature_points
from gridgis.assign.index import GridIndex
from gridgis.assign.overlaps import grid_overlaps, points_in_several_grids
from gridgis.errors import FileFormatError, InputError
from gridgis.io import file_format, list_layers, prepare_layer, read_layer
from gridgis.io.atomic import atomic_dir, atomic_path
from gridgis.io.encoding import detect_encoding, read_cpg
from gridgis.model import LAYERS, validate_layer

__all__ = [
    "GRID_COLUMNS",
    "AssignSummary",
    "assign_file",
    "iter_features",
    "read_grids",
    "with_grid_columns",
    "write_chunks",
]

#: columns ``gridgis assign`` adds to every feature
GRID_COLUMNS = ("grid_id", "grid_code", "community_id", "town_id")
DEFAULT_CHUNK = 500_000
_OGR_DRIVERS = {"GeoPackage": "GPKG", "GeoJSON": "GeoJSON", "Shapefile": "ESRI Shapefile"}


def read_grids(path: str | Path, layer: str = "grids") -> gpd.GeoDataFrame:
    """Read and check a grids layer: the ``grids`` layer of a plan, or a single-layer file of grids."""
    names = list_layers(path)
    if layer not in names:
        if len(names) != 1:
            raise FileFormatError(f"{path} has no layer {layer!r}; it has {names}.", fix="name it with --grids-layer.")
        layer = names[0]
    grids = read_layer(path, layer, validate=False)
    return validate_layer(grids, "grids", source=str(path))


def with_grid_columns(features: gpd.GeoDataFrame, positions: np.ndarray, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``features`` with :data:`GRID_COLUMNS` of the grid at each position (None where -1).

    Existing columns of those names (e.g. a building's own ``community_id``) are replaced.
    """
    out = features.copy()
    found = positions >= 0
    for col in GRID_COLUMNS:
        values = np.full(len(out), None, dtype=object)
        values[found] = grids[col].to_numpy(dtype=object)[positions[found]]
        out[col] = pd.Series(values, index=out.index, dtype="string")
    return out


def _layer_name(path: Path, layer: str | None) -> str:
    if file_format(path) != "GeoPackage":
        return layer or path.stem
    names = list_layers(path)
    if layer is None:
        if len(names) != 1:
            raise FileFormatError(f"{path} holds {len(names)} layers {names}; which one?", fix="name one with --layer.")
        return names[0]
    if layer not in names:
        raise FileFormatError(f"{path} has no layer {layer!r}; it has {names}.", fix=f"use one of {names}.")
    return layer


def count_features(path: str | Path, layer: str | None = None) -> int | None:
    """Number of features in a file when the format knows it cheaply, else None."""
    path = Path(path)
    fmt = file_format(path)
    if fmt == "GeoParquet":
        return pq.ParquetFile(path).metadata.num_rows
    if fmt in _OGR_DRIVERS:
        n = pyogrio.read_info(path, layer=_layer_name(path, layer) if fmt == "GeoPackage" else None)["features"]
        return n if n >= 0 else None
    return None


def iter_features(
    path: str | Path, layer: str | None = None, *, chunk_size: int = DEFAULT_CHUNK, crs=None, encoding=None
) -> Iterator[gpd.GeoDataFrame]:
    """Yield the features of a file in chunks of at most ``chunk_size`` rows, each prepared as
    :func:`gridgis.io.read_layer` prepares a whole layer (EPSG:4326, repaired). Row labels run on
    across chunks (0, 1, ... in file order)."""
    path = Path(path)
    if chunk_size < 1:
        raise InputError(f"Chunk size {chunk_size} is not a positive number of features.", fix="use e.g. 500000.")
    if not path.exists():
        raise FileFormatError(f"{path} does not exist.", fix="check the path.")
    fmt = file_format(path)
    name = _layer_name(path, layer)
    start = 0
    for frame in _raw_chunks(path, fmt, name, chunk_size, encoding):
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield prepare_layer(frame, name, source=str(path), crs=crs, validate=False)


def _raw_chunks(path: Path, fmt: str, name: str, chunk_size: int, encoding) -> Iterator[gpd.GeoDataFrame]:
    if fmt == "GeoParquet":
        try:
            file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise FileFormatError(f"{path} cannot be read as Parquet: {exc}.", fix="check the file.") from exc
        metadata = file.schema_arrow.metadata or {}
        if b"geo" not in metadata:
            raise FileFormatError(
                f"{path} is a Parquet file without GeoParquet metadata.",
                fix="write it with GeoDataFrame.to_parquet(), or export a CSV with lon/lat columns.",
            )
        geo = json.loads(metadata[b"geo"])
        column = geo.get("primary_column", "geometry")
        crs = geo.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
        for batch in file.iter_batches(batch_size=chunk_size):
            frame = batch.to_pandas()
            geometry = shapely.from_wkb(frame.pop(column).to_numpy())
            yield gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)
    elif fmt in _OGR_DRIVERS:
        layer = name if fmt == "GeoPackage" else None
        if fmt == "Shapefile" and encoding is None and read_cpg(path) is None:
            encoding = detect_encoding(path)  # as gridgis.io does: GBK/GB18030 files often lack a .cpg
        try:
            with pyogrio.open_arrow(path, layer=layer, batch_size=chunk_size, use_pyarrow=True, encoding=encoding) as (
                meta,
                reader,
            ):
                for batch in reader:
                    frame = gpd.GeoDataFrame.from_arrow(pa.Table.from_batches([batch]))
                    yield frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
        except (DataSourceError, DataLayerError) as exc:
            raise FileFormatError(f"{path} cannot be read: {exc}.", fix="check the file (gridgis inspect).") from exc
    else:  # CSV: read whole, handed on in chunks
        frame = read_layer(path, name, encoding=encoding, validate=False)
        for lo in range(0, len(frame), chunk_size):
            yield frame.iloc[lo : lo + chunk_size].reset_index(drop=True)


def _arrow(chunk: gpd.GeoDataFrame) -> pa.Table:
    return pa.table(chunk.to_arrow(index=False, geometry_encoding="WKB"))


def _csv_frame(chunk: gpd.GeoDataFrame) -> pd.DataFrame:
    geoms = np.asarray(chunk.geometry.values, dtype=object)
    frame = pd.DataFrame(chunk.drop(columns=chunk.geometry.name))
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all():
        return frame.assign(lon=shapely.get_x(geoms), lat=shapely.get_y(geoms))
    return frame.assign(wkt=shapely.to_wkt(geoms, rounding_precision=-1))


def write_chunks(chunks: Iterator[gpd.GeoDataFrame], path: str | Path, layer: str | None = None) -> int:
    """Write a stream of chunks (same columns) as one layer, atomically; return the number of features.

    GeoPackage, GeoJSON and Shapefile are written by one streaming GDAL call
    (one spatial index build, not one per chunk), GeoParquet by row groups,
    CSV by appends; only one chunk is held at a time. Nothing is written when
    there is no chunk or any chunk fails.
    """
    path = Path(path)
    fmt = file_format(path)
    first = next(chunks, None)
    if first is None:
        return 0
    stream = itertools.chain([first], chunks)
    count = 0

    def counted(frames):
        nonlocal count
        for frame in frames:
            count += len(frame)
            yield frame

    with ExitStack() as stack:
        if fmt == "Shapefile":
            tmp = stack.enter_context(atomic_dir(path)) / path.name
        else:
            tmp = stack.enter_context(atomic_path(path))
        if fmt == "CSV":
            for i, chunk in enumerate(counted(stream)):
                head = {"header": True, "encoding": "utf-8-sig"} if i == 0 else {"header": False, "mode": "a"}
                _csv_frame(chunk).to_csv(tmp, index=False, **head)
            return count
        schema = _arrow(first).schema
        tables = (_arrow(chunk).cast(schema) for chunk in counted(stream))
        if fmt == "GeoParquet":
            geo = {
                "version": "1.0.0",
                "primary_column": first.geometry.name,
                "columns": {
                    first.geometry.name: {"encoding": "WKB", "geometry_types": [], "crs": first.crs.to_json_dict()}
                },
            }
            with pq.ParquetWriter(tmp, schema.with_metadata({b"geo": json.dumps(geo).encode()})) as writer:
                for table in tables:
                    writer.write_table(table)
            return count
        points = (shapely.get_type_id(np.asarray(first.geometry.values, dtype=object)) == 0).all()
        geometry_type = "Point" if points else "MultiPolygon" if fmt == "Shapefile" else "Unknown"
        failure: list[BaseException] = []

        def batches_of(tables_):
            try:
                for table in tables_:
                    yield from table.to_batches()
            except Exception as exc:  # GDAL reports it as a stream error: keep ours to raise instead
                failure.append(exc)
                raise

        batches = pa.RecordBatchReader.from_batches(schema, batches_of(tables))
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*(truncated|Normalized/laundered).*")
                pyogrio.write_arrow(
                    batches,
                    tmp,
                    layer=layer if fmt == "GeoPackage" else None,
                    driver=_OGR_DRIVERS[fmt],
                    geometry_type=geometry_type,
                    crs=first.crs.to_wkt(),
                    encoding="UTF-8" if fmt == "Shapefile" else None,
                )
        except Exception:
            if failure:
                raise failure[0] from None
            raise
    return count


@dataclass
class AssignSummary:
    """What :func:`assign_file` did: counts, and the features it could not place cleanly."""

    features: int = 0
    assigned: int = 0
    outside: int = 0
    in_several: int = 0
    #: up to ``limit`` features outside every grid: row, id, lon, lat, nearest_grid_id, distance_m
    outside_rows: list[dict] = field(default_factory=list)
    #: up to ``limit`` features inside 2+ overlapping grids: row, id, grid_ids
    several_rows: list[dict] = field(default_factory=list)
    #: pairs of overlapping grids: grid_id_a, grid_id_b, area_m2
    grid_overlaps: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled,
    )


def assign_file(
    grids: gpd.GeoDataFrame,
    features: str | Path,
    output: str | Path,
    *,
    layer: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    crs=None,
    encoding=None,
    limit: int = 20,
    progress: bool = False,
) -> AssignSummary:
    """Assign every feature of a file to ``grids`` and write it with :data:`GRID_COLUMNS` added.

    Parameters
    ----------
    grids
        The grids layer (see :func:`read_grids`).
    features
        Any supported file (GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV).
    output
        Output file; its suffix picks the format. Written atomically: on any
        error, nothing is left at ``output``.
    layer
        The features' layer in a GeoPackage.
    chunk_size
        Features held in memory at a time.
    crs, encoding
        As for :func:`gridgis.io.read_layer`.
    limit
        How many outside/overlap features the summary lists (all are counted).
    progress
        Show a progress bar on stderr.

    Returns
    -------
    AssignSummary
    """
    features, output = Path(features), Path(output)
    index = GridIndex(grids)
    overlaps = grid_overlaps(index)
    grid_ids = grids["grid_id"].to_numpy(dtype=object)
    summary = AssignSummary(
        grid_overlaps=[
            {"grid_id_a": grid_ids[a], "grid_id_b": grid_ids[b], "area_m2": round(float(m2), 2)}
            for a, b, m2 in overlaps.itertuples(index=False)
        ]
    )
    name = _layer_name(features, layer)
    id_column = LAYERS[name].id_column if name in LAYERS else None
    total = count_features(features, layer)
    with _progress(progress) as bar:
        task = bar.add_task(f"assigning {features.name}", total=total)

        def assigned() -> Iterator[gpd.GeoDataFrame]:
            for chunk in iter_features(features, layer, chunk_size=chunk_size, crs=crs, encoding=encoding):
                positions = assign(chunk, index)
                _report_chunk(summary, chunk, positions, index, grid_ids, overlaps, id_column, limit)
                bar.advance(task, len(chunk))
                yield with_grid_columns(chunk, positions, grids)

        if write_chunks(assigned(), output, name) == 0:
            raise InputError(f"{features} has no features to assign.", fix="check the file and the --layer.")
    return summary


def _report_chunk(summary, chunk, positions, index, grid_ids, overlaps, id_column, limit) -> None:
    summary.features += len(chunk)
    summary.assigned += int((positions >= 0).sum())
    outside = np.flatnonzero(positions < 0)
    summary.outside += outside.size
    ids = chunk[id_column].to_numpy(dtype=object) if id_column in chunk.columns else chunk.index.to_numpy()
    geoms = np.asarray(chunk.geometry.values, dtype=object)
    room = limit - len(summary.outside_rows)
    if outside.size and room > 0:
        shown = outside[:room]
        x, y = feature_points(geoms[shown])
        nearest, metres = index.nearest(x, y)
        for i, px, py, g, d in zip(shown, x, y, nearest, metres, strict=True):
            summary.outside_rows.append(
                {
                    "row": int(chunk.index[i]),
                    "id": _plain(ids[i]),
                    "lon": round(float(px), 7),
                    "lat": round(float(py), 7),
                    "nearest_grid_id": grid_ids[g] if g >= 0 else None,
                    "distance_m": round(float(d), 1),
                }
            )
    if not overlaps.empty:
        x, y = feature_points(geoms)
        point, grid = points_in_several_grids(index, x, y, overlaps=overlaps)
        firsts = np.unique(point)
        summary.in_several += firsts.size
        for p in firsts[: max(limit - len(summary.several_rows), 0)]:
            summary.several_rows.append(
                {"row": int(chunk.index[p]), "id": _plain(ids[p]), "grid_ids": [grid_ids[g] for g in grid[point == p]]}
            )


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
