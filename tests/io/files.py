"""Files like the ones planners and departments hand over, built by code: the unusual ones gridgis must read
right, and a corpus of malformed ones every reading command must refuse cleanly."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from shapely.geometry import Point, box

from gridgis.io import write_layer

#: GBK place names whose GBK bytes are valid UTF-8 too (沙坪 reads as ɳƺ)
GBK_NAMES = ["沙坪", "坪山", "平沙"]
#: ESRI .prj of the CGCS2000 3-degree Gauss-Krüger zone around 114E, both flavours (ArcGIS names)
PRJ_CM_114E = (
    'PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],'
    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
PRJ_ZONE_38 = PRJ_CM_114E.replace("GK_CM_114E", "GK_Zone_38").replace(
    'PARAMETER["False_Easting",500000.0]', 'PARAMETER["False_Easting",38500000.0]'
)


def shops(n: int = 3) -> gpd.GeoDataFrame:
    """``n`` shops in Heshan (lon 112.9.., lat 22.70..), EPSG:4326."""
    return gpd.GeoDataFrame(
        {"shop_id": [f"S{i}" for i in range(n)], "name": [f"商铺{i}" for i in range(n)]},
        geometry=[Point(112.90 + 0.01 * i, 22.705 + 0.002 * i) for i in range(n)],
        crs="EPSG:4326",
    )


def areas(n: int = 2) -> gpd.GeoDataFrame:
    """``n`` square areas (police beats) in Heshan, EPSG:4326."""
    return gpd.GeoDataFrame(
        {"name": [f"警区{i}" for i in range(n)]},
        geometry=[box(112.90 + 0.02 * i, 22.70, 112.92 + 0.02 * i, 22.72) for i in range(n)],
        crs="EPSG:4326",
    )


def set_dbf_code_page(shp: Path, ldid: int) -> None:
    """Write the language-driver byte (29) of the .dbf next to ``shp`` and remove its .cpg (as ArcGIS leaves it)."""
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = ldid
    dbf.write_bytes(bytes(data))


def gbk_shapefile(directory: Path, *, ldid: int | None = 0x4D) -> Path:
    """Shops named 沙坪/坪山/平沙 in GBK, no .cpg; the .dbf declares code page 936 (0x4D) unless ``ldid`` is None."""
    path = directory / "gbk_shops.shp"
    gdf = shops(3).assign(name=GBK_NAMES)
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    set_dbf_code_page(path, 0 if ldid is None else ldid)
    return path


def gauss_kruger_shapefile(directory: Path, *, zone_in_easting: bool, prj: str) -> Path:
    """Shops with eastings of one flavour (zone number in front or not) and the given .prj text."""
    path = directory / f"gk_{'zone' if zone_in_easting else 'cm'}.shp"
    gdf = shops(3).to_crs(4526 if zone_in_easting else 4547)
    pyogrio.write_dataframe(gdf, path, encoding="UTF-8")
    path.with_suffix(".prj").write_text(prj)
    return path


def metres_geojson(path: Path) -> Path:
    """A GeoJSON without ``crs`` member whose coordinates are EPSG:4526 metres (zone 38)."""
    gk = shops(3).to_crs(4526)
    features = [
        {"type": "Feature", "properties": {"shop_id": s}, "geometry": {"type": "Point", "coordinates": [g.x, g.y]}}
        for s, g in zip(gk["shop_id"], gk.geometry, strict=True)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def surveyor_csv(path: Path) -> Path:
    """A surveyor's table: X = northing, Y = easting (EPSG:4526, zone number in the easting)."""
    gk = shops(3).to_crs(4526)
    pd.DataFrame({"点号": gk["shop_id"], "X": gk.geometry.y, "Y": gk.geometry.x}).to_csv(path, index=False)
    return path


def chinese_lonlat_csv(path: Path) -> Path:
    """Points with 经度/纬度 columns."""
    s = shops(3)
    pd.DataFrame({"名称": s["name"], "经度": s.geometry.x, "纬度": s.geometry.y}).to_csv(
        path, index=False, encoding="utf-8-sig"
    )
    return path


def null_geometry_geojson(path: Path, n: int = 3) -> Path:
    """Features whose geometries are all null (bad coordinates dropped by the exporter)."""
    features = [{"type": "Feature", "properties": {"name": f"x{i}"}, "geometry": None} for i in range(n)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _gpkg(directory: Path, name: str, gdf, layer: str = "grids") -> Path:
    path = directory / name
    pyogrio.write_dataframe(gdf, path, layer=layer)
    return path


def _cut(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _shp(directory: Path, name: str, drop: tuple[str, ...] = (), cut: str | None = None) -> Path:
    path = directory / f"{name}.shp"
    pyogrio.write_dataframe(shops(40), path, encoding="UTF-8")
    for suffix in drop:
        path.with_suffix(suffix).unlink()
    if cut:
        _cut(path.with_suffix(cut), 0.6)
    return path


def _write(directory: Path, name: str, data: bytes | str) -> Path:
    path = directory / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _good_geojson(path: Path) -> Path:
    write_layer(shops(40), path)
    return path


def _csv(directory: Path, name: str, text: str) -> Path:
    return _write(directory, name, text.encode("utf-8"))


def _nolayer_gpkg(directory: Path) -> Path:
    path = directory / "no_layers.gpkg"
    con = sqlite3.connect(path)
    con.execute("PRAGMA application_id = 1196444487")
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    return path


_RNG = np.random.default_rng(0)
_GK = shops(3).to_crs(4526)

#: name -> builder(directory) of a malformed file (its main path); every reading command must refuse each
CORPUS: dict[str, Callable[[Path], Path]] = {
    "empty geojson": lambda d: _write(d, "empty.geojson", b""),
    "empty gpkg": lambda d: _write(d, "empty.gpkg", b""),
    "empty csv": lambda d: _write(d, "empty.csv", b""),
    "empty shp": lambda d: _write(d, "empty.shp", b""),
    "empty parquet": lambda d: _write(d, "empty.parquet", b""),
    "empty kml": lambda d: _write(d, "empty.kml", b""),
    "invalid json": lambda d: _write(d, "invalid.geojson", '{"type": "FeatureCollection", "features": [{'),
    "json, not geojson": lambda d: _write(d, "config.json", '{"name": "鹤山", "version": 3}'),
    "json array": lambda d: _write(d, "list.geojson", "[1, 2, 3]"),
    "truncated geojson": lambda d: _cut(_good_geojson(d / "cut.geojson"), 0.5),
    "only NUL bytes csv": lambda d: _write(d, "nul.csv", b"\x00" * (4 << 20)),
    "only NUL bytes gpkg": lambda d: _write(d, "nul.gpkg", b"\x00" * (1 << 20)),
    "only NUL bytes geojson": lambda d: _write(d, "nul.geojson", b"\x00" * (1 << 20)),
    "only NUL bytes shp": lambda d: _write(d, "nul.shp", b"\x00" * (1 << 16)),
    "random bytes parquet": lambda d: _write(d, "random.parquet", _RNG.bytes(1 << 16)),
    "random bytes gpkg": lambda d: _write(d, "random.gpkg", _RNG.bytes(1 << 16)),
    "random bytes geojson": lambda d: _write(d, "random.geojson", _RNG.bytes(1 << 16)),
    "text named gpkg": lambda d: _write(d, "text.gpkg", "this is not a geopackage\n"),
    "shp without shx": lambda d: _shp(d, "no_shx", drop=(".shx",)),
    "shp without dbf": lambda d: _shp(d, "no_dbf", drop=(".dbf",)),
    "shp without prj": lambda d: _shp(d, "no_prj", drop=(".prj",)),
    "shp cut short": lambda d: _shp(d, "cut_shp", cut=".shp"),
    "dbf cut short": lambda d: _shp(d, "cut_dbf", cut=".dbf"),
    "shx cut short": lambda d: _shp(d, "cut_shx", cut=".shx"),
    "shp with a garbage prj": lambda d: (p := _shp(d, "bad_prj"), p.with_suffix(".prj").write_text("hello"))[0],
    "unknown encoding in cpg": lambda d: (p := _shp(d, "bad_cpg"), p.with_suffix(".cpg").write_text("NOPE-99"))[0],
    "parquet without geo metadata": lambda d: (
        p := d / "plain.parquet",
        pd.DataFrame({"a": [1, 2]}).to_parquet(p),
    )[0],
    "truncated parquet": lambda d: _cut((p := d / "cut.parquet", shops(40).to_parquet(p))[0], 0.5),
    "csv without coordinate columns": lambda d: _csv(d, "nocoords.csv", "name,x,y\na,112.9,22.7\n"),
    "csv with text coordinates": lambda d: _csv(d, "textcoords.csv", "name,lon,lat\na,east,22.7\nb,112.9,north\n"),
    "csv with swapped lon/lat": lambda d: _csv(d, "swapped.csv", "name,lon,lat\na,22.70,112.90\nb,22.71,112.91\n"),
    "csv outside China": lambda d: _csv(d, "paris.csv", "name,lon,lat\na,2.35,48.85\n"),
    "csv with bad wkt": lambda d: _csv(d, "badwkt.csv", "name,wkt\na,POLYGON((oops\n"),
    "csv cut mid-line": lambda d: _csv(d, "cut.csv", "name,lon,lat,households\na,112.9,22.7,3\nb,112.91,22"),
    "csv with a 2 MiB header": lambda d: _csv(d, "wide.csv", "c," * (1 << 20) + "\n1\n"),
    "csv of metres": lambda d: _csv(d, "metres.csv", f"name,lon,lat\na,{_GK.geometry.x[0]},{_GK.geometry.y[0]}\n"),
    "geojson in metres without crs": lambda d: metres_geojson(d / "metres.geojson"),
    "geojson with null geometries": lambda d: null_geometry_geojson(d / "nulls.geojson"),
    "geojson with text coordinates": lambda d: _write(
        d,
        "textcoords.geojson",
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Point","coordinates":["a","b"]}}]}',
    ),
    "geojson with a one-point line": lambda d: _write(
        d,
        "line.geojson",
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"LineString","coordinates":[[112.9,22.7]]}}]}',
    ),
    "broken kml": lambda d: _write(d, "broken.kml", "<?xml version='1.0'?><kml><Document><Placemark><Point>"),
    "gpkg cut short": lambda d: _cut((p := d / "cut.gpkg", write_layer(shops(400), p, "grids"))[0], 0.5),
    "sqlite without layers": _nolayer_gpkg,
    "gpkg table without geometry": lambda d: (
        p := d / "table.gpkg",
        pyogrio.write_dataframe(pd.DataFrame({"grid_id": ["1"]}), p, layer="grids"),
    )[0],
    "gpkg without crs": lambda d: _gpkg(d, "nocrs.gpkg", shops(3).set_crs(None, allow_override=True)),
    "degrees labelled Gauss-Krüger": lambda d: _gpkg(d, "wrongzone.gpkg", shops(3).set_crs(4547, allow_override=True)),
    "gauss-krüger with x = northing": lambda d: _gpkg(
        d,
        "swapped_gk.gpkg",
        gpd.GeoDataFrame(geometry=gpd.points_from_xy(_GK.geometry.y, _GK.geometry.x), crs=4526),
    ),
    "unknown suffix": lambda d: _write(d, "grids.txt", "grid_id\n1\n"),
}


def size_of(path: Path) -> int:
    """Bytes of a file and its Shapefile side files."""
    return sum(p.stat().st_size for p in path.parent.glob(f"{path.stem}.*")) if path.exists() else 0


def listing_of(directory: Path) -> dict[str, int]:
    """Every file under ``directory`` with its size (to prove nothing was written)."""
    return {str(p.relative_to(directory)): p.stat().st_size for p in sorted(directory.rglob("*")) if p.is_file()}


__all__ = [
    "CORPUS",
    "GBK_NAMES",
    "PRJ_CM_114E",
    "PRJ_ZONE_38",
    "areas",
    "chinese_lonlat_csv",
    "gauss_kruger_shapefile",
    "gbk_shapefile",
    "listing_of",
    "metres_geojson",
    "null_geometry_geojson",
    "shops",
    "surveyor_csv",
]
