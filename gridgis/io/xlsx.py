"""A layer as an Excel workbook (.xlsx) for people: Chinese headers, codes as text, shapes as lon/lat and WKT.

Written with openpyxl (write-only mode: rows are streamed, not held as cells).
Division and grid codes are written as text cells (format ``@``) so that Excel
neither rounds 15-digit codes nor drops leading zeros. Points get 经度/纬度
columns; other shapes a representative point (代表点经度/代表点纬度) and their
WKT (6 decimals, about 0.1 m), which must fit the 32,767 characters of a cell.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from gridgis.errors import FileFormatError
from gridgis.io.lonlat_csv import STRING_COLUMNS
from gridgis.listing import listing

__all__ = ["HEADERS", "MAX_CELL", "MAX_ROWS", "write_xlsx"]

#: column -> Chinese header (other columns keep their names)
HEADERS = {
    "grid_id": "网格编号",
    "grid_code": "单元网格编码",
    "community_id": "社区（村）代码",
    "town_id": "镇（街道）代码",
    "county_id": "县（区）代码",
    "name": "名称",
    "name_en": "英文名称",
    "kind": "类型",
    "households": "户数",
    "population": "人口",
    "buildings": "建筑数",
    "shops": "商铺数",
    "units": "驻区单位数",
    "building_id": "建筑编号",
    "shop_id": "商铺编号",
    "facility_id": "单位编号",
    "floors": "层数",
    "previous_grid_id": "原网格编号",
    "load": "负荷",
    "area_km2": "面积（平方千米）",
    "lon": "经度",
    "lat": "纬度",
    "rep_lon": "代表点经度",
    "rep_lat": "代表点纬度",
    "wkt": "几何（WKT）",
}
#: characters an Excel cell holds
MAX_CELL = 32_767
#: rows an Excel sheet holds (the header included)
MAX_ROWS = 1_048_576


def _is_code(col: str) -> bool:
    return col in STRING_COLUMNS or col.endswith(("_id", "_code"))


def _table(gdf: gpd.GeoDataFrame, path: Path) -> pd.DataFrame:
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    present = ~shapely.is_missing(geoms)
    types = shapely.get_type_id(geoms[present])
    if len(types) and (types == shapely.GeometryType.POINT).all():
        table["lon"] = shapely.get_x(geoms)
        table["lat"] = shapely.get_y(geoms)
        return table
    points = shapely.point_on_surface(geoms)
    table["rep_lon"] = shapely.get_x(points)
    table["rep_lat"] = shapely.get_y(points)
    wkt = shapely.to_wkt(geoms, rounding_precision=6)
    sizes = np.array([len(w) if w is not None else 0 for w in wkt])
    if (sizes > MAX_CELL).any():
        rows = gdf.index[sizes > MAX_CELL]
        raise FileFormatError(
            f"Cannot write {path}: the shapes of row(s) {listing(rows)} need up to {int(sizes.max()):,} characters "
            f"of WKT; an Excel cell holds {MAX_CELL:,}.",
            fix="export the shapes as .gpkg, .geojson, .shp or .kml (the XLSX is for tables).",
        )
    table["wkt"] = wkt
    return table


def _cell(value, col: str):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if _is_code(col):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)


def write_xlsx(gdf: gpd.GeoDataFrame, path: str | Path, *, sheet: str = "layer") -> None:
    """Write ``gdf`` (in lon/lat) as one sheet of an .xlsx workbook at ``path`` (the caller makes it atomic).

    Raises
    ------
    FileFormatError
        The layer is not in lon/lat, has more rows than a sheet holds, or a shape whose WKT exceeds a cell.
    """
    path = Path(path)
    if gdf.crs is None or not gdf.crs.is_geographic:
        raise FileFormatError(
            f"Cannot write {path}: a spreadsheet holds lon/lat, but the layer is in {gdf.crs}.",
            fix="reproject it to EPSG:4326 first.",
        )
    if len(gdf) + 1 > MAX_ROWS:
        raise FileFormatError(
            f"Cannot write {path}: {len(gdf):,} rows; an Excel sheet holds {MAX_ROWS - 1:,}.",
            fix="export as .csv or .gpkg instead.",
        )
    table = _table(gdf, path)
    book = Workbook(write_only=True)
    ws = book.create_sheet(title=sheet[:31] or "layer")
    bold = Font(bold=True)
    header = []
    for col in table.columns:
        cell = WriteOnlyCell(ws, value=HEADERS.get(col, str(col)))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    codes = [_is_code(str(c)) for c in table.columns]
    columns = [str(c) for c in table.columns]
    for row in table.itertuples(index=False, name=None):
        cells = []
        for value, col, code in zip(row, columns, codes, strict=True):
            cell = WriteOnlyCell(ws, value=_cell(value, col))
            if code:
                cell.number_format = "@"
            cells.append(cell)
        ws.append(cells)
    book.save(path)
