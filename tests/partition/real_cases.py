"""Real footprints and streets shipped inside packages, put into the data model (nothing is downloaded).

- ``kouvola``: pyrosm's ``test.osm.pbf`` (OpenStreetMap, a town centre in Finland): buildings and the
  street network (drivable and residential ways; paths, cycleways and footways are not grid edges).
- ``bubenec``: momepy's Bubeneč (Prague) extract: perimeter blocks and their streets.

The area the streets enclose (the union of their blocks, its largest piece) is one community, as a
community bounded by streets (its id is made up; buildings outside it are reported as outside every
community); households are estimated from the
footprint area and floors (``building:levels``, else 2 for residential buildings), one household per
``M2_PER_HOUSEHOLD`` of floor area, none for garages, sheds and other non-residential buildings.
Used by the partition tests (small clips) and benchmarks/partition.py (whole extracts).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

M2_PER_HOUSEHOLD = 90.0
#: OSM building values without households
NON_RESIDENTIAL = {
    "garage", "garages", "shed", "roof", "carport", "industrial", "warehouse", "retail", "commercial", "church",
    "school", "kindergarten", "service", "transformer_tower", "hut", "greenhouse", "public", "office", "hospital",
    "parking", "kiosk", "barn", "farm_auxiliary", "storage_tank", "sports_hall", "train_station", "civic",
}  # fmt: skip
#: OSM highway values that are not grid edges
NOT_STREETS: set[str] = set()
COMMUNITY_ID = "440784001001"


def _community(roads: gpd.GeoDataFrame, name: str, near=None) -> gpd.GeoDataFrame:
    """The largest area the streets enclose, in lon/lat; ``near``: only the blocks within (lon, lat, metres)."""
    metric = roads.to_crs(roads.estimate_utm_crs())
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(metric.geometry.values))))
    if near is not None:
        centre = gpd.GeoSeries([shapely.Point(near[:2])], crs="EPSG:4326").to_crs(metric.crs).iloc[0]
        faces = faces[shapely.dwithin(shapely.centroid(faces), centre, near[2])]
    merged = shapely.get_parts(shapely.union_all(faces))
    outline = merged[np.argmax(shapely.area(merged))]
    outline = shapely.Polygon(shapely.get_exterior_ring(outline))
    geom = gpd.GeoSeries([outline], crs=metric.crs).to_crs("EPSG:4326").iloc[0]
    return gpd.GeoDataFrame(
        {"community_id": [COMMUNITY_ID], "town_id": [COMMUNITY_ID[:9]], "name": [name]},
        geometry=[geom],
        crs="EPSG:4326",
    )


def _households(area_m2: np.ndarray, levels: np.ndarray, residential: np.ndarray) -> np.ndarray:
    return np.where(residential, np.maximum(1, np.rint(area_m2 * levels / M2_PER_HOUSEHOLD)), 0).astype(np.int64)


def kouvola(near: tuple[float, float, float] | None = None) -> dict[str, gpd.GeoDataFrame]:
    """pyrosm's test extract as ``communities``, ``buildings`` and ``roads``.

    ``near``: ``(lon, lat, metres)``, the community is the street blocks whose centre lies that close
    (and only the buildings and roads near it are kept); default the whole extract.
    """
    import pyrosm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(pyrosm.get_data("test_pbf"))
        b = osm.get_buildings()
        n = osm.get_network(network_type="all")
    n = n[~n["highway"].isin(NOT_STREETS) & n.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    metric = b.to_crs(b.estimate_utm_crs())
    levels = pd.to_numeric(b["building:levels"], errors="coerce").fillna(2).clip(1, 30).to_numpy()
    residential = ~b["building"].isin(NON_RESIDENTIAL).to_numpy()
    households = _households(metric.area.to_numpy(), levels, residential)
    buildings = gpd.GeoDataFrame(
        {"building_id": b["id"].astype(str).to_numpy(), "households": households, "population": 2 * households},
        geometry=b.geometry.values,
        crs="EPSG:4326",
    )
    roads = gpd.GeoDataFrame(
        {"road_id": range(len(n)), "class": n["highway"].astype(str).to_numpy()},
        geometry=n.geometry.values,
        crs="EPSG:4326",
    )
    com = _community(roads, "Kouvola", near)
    if near is not None:
        around = com.geometry.iloc[0].buffer(0.001)
        buildings = buildings[buildings.intersects(around)].reset_index(drop=True)
        roads = roads[roads.intersects(around)].reset_index(drop=True)
    return {"communities": com, "buildings": buildings, "roads": roads}


def bubenec() -> dict[str, gpd.GeoDataFrame]:
    """momepy's Bubeneč extract as ``communities``, ``buildings`` and ``roads`` (perimeter blocks, 4 floors)."""
    import momepy

    path = momepy.datasets.get_path("bubenec")
    b = gpd.read_file(path, layer="buildings")
    s = gpd.read_file(path, layer="streets")
    metric = b.to_crs(b.estimate_utm_crs())
    households = _households(metric.area.to_numpy(), np.full(len(b), 4.0), np.ones(len(b), dtype=bool))
    buildings = gpd.GeoDataFrame(
        {"building_id": b["uID"].to_numpy(), "households": households, "population": 2 * households},
        geometry=b.geometry.values,
        crs=b.crs,
    ).to_crs("EPSG:4326")
    roads = gpd.GeoDataFrame({"road_id": range(len(s))}, geometry=s.geometry.values, crs=s.crs).to_crs("EPSG:4326")
    return {"communities": _community(roads, "Bubeneč"), "buildings": buildings, "roads": roads}


def footprint_figures(result, layers) -> dict:
    """Footprints wholly inside their grid among those no road crosses; inner grid edges on roads; mean PP."""
    from gridgis.crs import to_local_metric
    from gridgis.quality import project

    fwd = to_local_metric(layers["communities"])
    roads = shapely.union_all(project(layers["roads"].geometry.values, fwd))
    b = result.buildings
    fp = project(b.geometry.values, fwd)
    poly = np.isin(shapely.get_type_id(fp), (3, 6))
    crossed = shapely.intersects(fp, roads)
    grids = result.grids.set_index("grid_id")
    g_m = project(grids.geometry.values, fwd)
    pos = {g: i for i, g in enumerate(grids.index)}
    mine = np.array([pos.get(g, -1) for g in b["grid_id"].fillna("")])
    judged = poly & ~crossed & (mine >= 0)
    inside = shapely.covers(shapely.buffer(g_m[mine[judged]], 0.01), fp[judged])
    return {
        "footprints_inside": float(inside.mean()) if judged.any() else 1.0,
        "edges_on_streets": result.report["barriers"]["share_on_barriers"],
        "mean_pp": float(result.grids["polsby_popper"].mean()),
        "max_deviation": result.report["balance"]["max_deviation"],
    }
