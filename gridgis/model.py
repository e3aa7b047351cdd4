"""The data model: the layers gridgis reads and writes, and their checks.

Every layer is a GeoDataFrame stored in EPSG:4326 (CGCS2000, EPSG:4490, is
accepted as equal). :data:`LAYERS` declares each layer's id column, required
and optional columns and allowed geometry types; :func:`validate_layer`
checks a frame against it and raises :class:`~gridgis.errors.SchemaError`
naming the layer, the rows and the fix.

Ids of towns, communities and grids are strings of digits (division codes);
building and shop ids may be integers or strings but must be unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.errors import CRSError, GeometryError, SchemaError

STORAGE_CRS = "EPSG:4326"
#: CRSs taken as equal to the storage CRS (CGCS2000 differs by centimetres).
EQUIVALENT_CRS = ("EPSG:4326", "EPSG:4490")

POLYGONAL = ("Polygon", "MultiPolygon")
LINEAR = ("LineString", "MultiLineString")
PUNTAL = ("Point",)


@dataclass(frozen=True)
class LayerSchema:
    """What one layer must hold.

    ``columns`` maps required column names to a kind: ``"str"``, ``"int"``
    (non-negative integers), ``"float"`` or ``"any"``. ``choices`` limits the
    values of some columns.
    """

    name: str
    id_column: str
    columns: dict[str, str]
    geometry_types: tuple[str, ...]
    optional: dict[str, str] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)


TOWN_KINDS = ("subdistrict", "town")
COMMUNITY_KINDS = ("urban", "village")
GRID_KINDS = ("basic", "dedicated")
FACILITY_KINDS = ("school", "hospital", "industrial_park", "market")

LAYERS: dict[str, LayerSchema] = {
    s.name: s
    for s in (
        LayerSchema(
            "towns",
            "town_id",
            {"town_id": "str", "name": "str"},
            POLYGONAL,
            optional={"kind": "str", "name_en": "str", "population": "int", "households": "int"},
            choices={"kind": TOWN_KINDS},
        ),
        LayerSchema(
            "communities",
            "community_id",
            {"community_id": "str", "town_id": "str", "name": "str"},
            POLYGONAL,
            optional={"kind": "str", "population": "int", "households": "int"},
            choices={"kind": COMMUNITY_KINDS},
        ),
        LayerSchema(
            "buildings",
            "building_id",
            {"building_id": "any", "households": "int", "population": "int"},
            POLYGONAL + PUNTAL,
            optional={"community_id": "str", "kind": "str", "floors": "int", "grid_id": "str"},
        ),
        LayerSchema(
            "shops",
            "shop_id",
            {"shop_id": "any"},
            PUNTAL,
            optional={"name": "str", "kind": "str", "community_id": "str", "grid_id": "str"},
        ),
        LayerSchema(
            "roads",
            "road_id",
            {"road_id": "any"},
            LINEAR,
            optional={"name": "str", "class": "str"},
        ),
        LayerSchema(
            "rivers",
            "river_id",
            {"river_id": "any"},
            LINEAR + POLYGONAL,
            optional={"name": "str"},
        ),
        LayerSchema(
            "facilities",
            "facility_id",
            {"facility_id": "any", "kind": "str"},
            POLYGONAL,
            optional={"name": "str", "community_id": "str"},
            choices={"kind": FACILITY_KINDS},
        ),
        LayerSchema(
            "grids",
            "grid_id",
            {"grid_id": "str", "grid_code": "str", "community_id": "str", "town_id": "str"},
            POLYGONAL,
            optional={
                "kind": "str",
                "name": "str",
                "households": "int",
                "population": "int",
                "buildings": "int",
                "shops": "int",
                "area_m2": "float",
                "polsby_popper": "float",
                "load": "float",
                "target": "float",
                "deviation": "float",
                "note": "str",
            },
            choices={"kind": GRID_KINDS},
        ),
        LayerSchema(
            "blocks",
            "block_id",
            {"block_id": "str", "community_id": "str"},
            POLYGONAL,
            optional={"buildings": "int", "households": "int"},
        ),
    )
}


def _rows(mask: np.ndarray, frame: pd.DataFrame, limit: int = 10) -> list:
    idx = list(frame.index[np.asarray(mask)])
    return idx[:limit]


def _fmt_rows(rows: list, total: int) -> str:
    more = f" and {total - len(rows)} more" if total > len(rows) else ""
    return f"row(s) {', '.join(map(str, rows))}{more}"


def check_crs(gdf: gpd.GeoDataFrame, layer: str) -> None:
    """Raise :class:`CRSError` unless ``gdf`` is in the storage CRS (or CGCS2000)."""
    if gdf.crs is None:
        raise CRSError(
            f"Layer {layer!r} has no CRS.",
            fix="declare it when reading (--crs EPSG:4326, EPSG:4490, gcj02, bd09 or a projected EPSG code).",
        )
    if gdf.crs.to_string() not in EQUIVALENT_CRS and gdf.crs != STORAGE_CRS:
        raise CRSError(
            f"Layer {layer!r} is in {gdf.crs.to_string()}, not {STORAGE_CRS}.",
            fix="reproject with gridgis.io.to_storage_crs() or read it through gridgis.io.read_layer().",
        )


def validate_layer(gdf: gpd.GeoDataFrame, layer: str, *, source: str | None = None) -> gpd.GeoDataFrame:
    """Check ``gdf`` against the schema of ``layer``; return it unchanged.

    Parameters
    ----------
    gdf
        The layer.
    layer
        One of :data:`LAYERS`.
    source
        The file it came from, quoted in errors.

    Raises
    ------
    SchemaError
        Missing columns, null or duplicate ids, negative or non-integer loads,
        values outside their choices, wrong geometry types.
    GeometryError
        Null or empty geometries.
    CRSError
        No CRS or a CRS other than EPSG:4326/4490.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> towns = gpd.GeoDataFrame({"town_id": ["440784101"], "name": ["雅瑶镇"]},
    ...                          geometry=[box(112.9, 22.6, 113.0, 22.7)], crs="EPSG:4326")
    >>> validate_layer(towns, "towns") is towns
    True
    """
    if layer not in LAYERS:
        raise SchemaError(f"Unknown layer {layer!r}.", fix=f"use one of {sorted(LAYERS)}.")
    schema = LAYERS[layer]
    where = f"Layer {layer!r}" + (f" in {source}" if source else "")
    missing = [c for c in schema.columns if c not in gdf.columns]
    if missing:
        raise SchemaError(
            f"{where} lacks required column(s) {missing}; it has {[c for c in gdf.columns if c != 'geometry']}.",
            fix=f"rename or add the column(s); {layer} needs {list(schema.columns)}.",
            details={"layer": layer, "missing": missing},
        )
    check_crs(gdf, layer)
    ids = gdf[schema.id_column]
    if ids.isna().any():
        rows = _rows(ids.isna(), gdf)
        raise SchemaError(
            f"{where} has empty {schema.id_column!r} at {_fmt_rows(rows, int(ids.isna().sum()))}.",
            fix="give every feature an id.",
            details={"layer": layer, "rows": rows},
        )
    dup = ids.duplicated(keep=False)
    if dup.any():
        rows = _rows(dup, gdf)
        values = sorted(set(map(str, ids[dup].head(10))))
        raise SchemaError(
            f"{where} has duplicate {schema.id_column!r} values {values} at {_fmt_rows(rows, int(dup.sum()))}.",
            fix="make the ids unique (or drop the duplicated rows).",
            details={"layer": layer, "rows": rows, "values": values},
        )
    for col, kind in {**schema.columns, **{k: v for k, v in schema.optional.items() if k in gdf.columns}}.items():
        _check_column(gdf, col, kind, where, layer)
    for col, allowed in schema.choices.items():
        if col in gdf.columns:
            bad = ~gdf[col].isin(allowed) & gdf[col].notna()
            if bad.any():
                rows = _rows(bad, gdf)
                raise SchemaError(
                    f"{where} column {col!r} has value(s) {sorted(set(map(str, gdf.loc[bad, col].head(5))))} "
                    f"at {_fmt_rows(rows, int(bad.sum()))}.",
                    fix=f"use one of {list(allowed)}.",
                    details={"layer": layer, "column": col, "rows": rows, "allowed": list(allowed)},
                )
    geoms = gdf.geometry.values
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        rows = _rows(empty, gdf)
        raise GeometryError(
            f"{where} has null or empty geometries at {_fmt_rows(rows, int(empty.sum()))}.",
            fix="drop those rows or give them a geometry (gridgis.repair.drop_empty drops them with a warning).",
            details={"layer": layer, "rows": rows},
        )
    types = gdf.geometry.geom_type
    bad = ~types.isin(schema.geometry_types)
    if bad.any():
        rows = _rows(bad, gdf)
        raise SchemaError(
            f"{where} has geometry type(s) {sorted(set(types[bad]))} at {_fmt_rows(rows, int(bad.sum()))}.",
            fix=f"{layer} takes {list(schema.geometry_types)}.",
            details={"layer": layer, "rows": rows, "allowed": list(schema.geometry_types)},
        )
    return gdf


def _check_column(gdf: gpd.GeoDataFrame, col: str, kind: str, where: str, layer: str) -> None:
    values = gdf[col]
    if kind == "int":
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() | (numeric < 0) | (numeric != np.floor(numeric))
        if bad.any():
            rows = _rows(bad, gdf)
            raise SchemaError(
                f"{where} column {col!r} must hold whole numbers >= 0; "
                f"found {sorted(set(map(str, values[bad].head(5))))} at {_fmt_rows(rows, int(bad.sum()))}.",
                fix="correct those values (0 where there are none).",
                details={"layer": layer, "column": col, "rows": rows},
            )
    elif kind == "float":
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() & values.notna()
        if bad.any():
            rows = _rows(bad, gdf)
            raise SchemaError(
                f"{where} column {col!r} must be numeric; found {sorted(set(map(str, values[bad].head(5))))} "
                f"at {_fmt_rows(rows, int(bad.sum()))}.",
                fix="correct those values.",
                details={"layer": layer, "column": col, "rows": rows},
            )


def layer_problems(gdf: gpd.GeoDataFrame, layer: str) -> list[str]:
    """The schema problems of ``gdf`` as messages (empty when it is valid)."""
    if layer not in LAYERS:
        return []
    try:
        validate_layer(gdf, layer)
    except (SchemaError, GeometryError, CRSError) as exc:
        return [str(exc)]
    return []
