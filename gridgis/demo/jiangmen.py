"""A synthetic Jiangmen (江门市) prefecture: seven synthetic counties inside their real outlines.

Real: the outlines of the 7 county-level divisions and their names and codes
(data/geo/jiangmen_counties.geojson, see data/geo/README.md for its source and
licence), Heshan's towns (:mod:`gridgis.demo.heshan`) and the prefecture's
size: about 4.8 million residents (2020 census, as quoted in issue 19). The
split of that figure between the counties (:data:`COUNTIES`) is a rounded
approximation, not an official figure. Made up: the other six counties'
town-level divisions (names, codes in the national pattern: 001.. for
subdistricts, 101.. for towns, centres, areas, populations), their
expressways and rivers, and everything :func:`gridgis.demo.county.build_county`
draws inside a county. Heshan is drawn exactly as ``gridgis demo heshan`` draws
it for the same seed.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.crs import to_local_metric
from gridgis.demo.county import County, Town, build_county
from gridgis.demo.heshan import REGION_CODE as HESHAN_CODE
from gridgis.demo.heshan import heshan_county
from gridgis.demo.names import place_names
from gridgis.model import STORAGE_CRS
from gridgis.paths import JIANGMEN_COUNTIES

#: Polygon parts smaller than this (km²) are slivers of the outlines' 1/1024-degree quantisation.
MIN_PART_KM2 = 1.0
#: Residents of a Heshan urban community and village, about (the county generator's scale).
URBAN_COMMUNITY_RESIDENTS = 13_000
VILLAGE_RESIDENTS = 2_200
#: Shops per resident, as in the Heshan demo (10,000 for about 543,000 residents).
SHOPS_PER_RESIDENT = 10_000 / 543_000
#: Share of a town's residents living in its urban communities, by kind (as most Heshan towns).
URBAN_SHARE = {"subdistrict": 0.75, "town": 0.30}


@dataclass(frozen=True)
class CountyFigures:
    """What the synthetic towns of a county aim at: residents, town-level divisions, share in subdistricts."""

    name_en: str
    population: int
    subdistricts: int
    towns: int
    subdistrict_share: float


#: By division code; populations rounded so they add up to about 4.8 million (Heshan: its demo's 543,000).
COUNTIES: dict[str, CountyFigures] = {
    "440703": CountyFigures("Pengjiang", 1_000_000, 6, 3, 0.80),
    "440704": CountyFigures("Jianghai", 330_000, 3, 0, 1.00),
    "440705": CountyFigures("Xinhui", 900_000, 1, 10, 0.35),
    "440781": CountyFigures("Taishan", 870_000, 1, 16, 0.25),
    "440783": CountyFigures("Kaiping", 700_000, 2, 13, 0.30),
    HESHAN_CODE: CountyFigures("Heshan", 543_000, 1, 9, 0.36),
    "440785": CountyFigures("Enping", 455_000, 1, 10, 0.30),
}


def county_outlines() -> gpd.GeoDataFrame:
    """The 7 county outlines (EPSG:4326), repaired and made disjoint.

    Each outline is repaired with ``shapely.make_valid`` keeping its polygonal
    parts over :data:`MIN_PART_KM2` (as Heshan's, data/geo/README.md); Heshan's
    is the shipped ``heshan.geojson``. Where two published outlines overlap the
    overlap goes to the county listed first, Heshan first, then by code.

    Returns
    -------
    GeoDataFrame
        Columns ``division_code``, ``name``, ``geometry``, Heshan first.
    """
    raw = gpd.read_file(JIANGMEN_COUNTIES).to_crs(STORAGE_CRS)
    raw = raw.sort_values("division_code", key=lambda s: s != HESHAN_CODE, kind="stable").reset_index(drop=True)
    metric = to_local_metric(raw)
    taken = None
    geoms = []
    for code, geom in zip(raw["division_code"], raw.geometry, strict=True):
        geom = heshan_county().outline if code == HESHAN_CODE else _polygonal(shapely.make_valid(geom), metric)
        if taken is not None:
            geom = _polygonal(shapely.difference(geom, taken), metric)
        taken = geom if taken is None else shapely.union(taken, geom)
        geoms.append(geom)
    return gpd.GeoDataFrame(
        {"division_code": raw["division_code"], "name": raw["name"]}, geometry=geoms, crs=STORAGE_CRS
    )


def _polygonal(geom: shapely.Geometry, metric) -> shapely.Geometry:
    """The polygon parts of ``geom`` over :data:`MIN_PART_KM2` (areas in the local UTM zone)."""
    parts = shapely.get_parts(shapely.get_parts(geom))  # a collection may hold a MultiPolygon
    parts = parts[shapely.get_type_id(parts) == 3]
    projected = shapely.transform(parts, lambda xy: np.column_stack(metric.transform(xy[:, 0], xy[:, 1])))
    return shapely.multipolygons(parts[shapely.area(projected) > MIN_PART_KM2 * 1e6])


def jiangmen_counties(seed: int = 0, *, scale: float = 1.0) -> list[County]:
    """The 7 counties to draw, Heshan first; the others' towns drawn from ``seed``.

    ``scale`` (0 < scale <= 1) multiplies every town's residents and every
    county's shops (the divisions stay those of the full size): a smaller
    prefecture for tests.
    """
    outlines = county_outlines()
    counties = []
    for code, name, outline in zip(outlines["division_code"], outlines["name"], outlines.geometry, strict=True):
        if code == HESHAN_CODE:
            county = dataclasses.replace(heshan_county(), outline=outline)
        else:
            county = _synthetic_county(code, name, outline, COUNTIES[code], np.random.default_rng([seed, int(code)]))
        if scale != 1.0:
            towns = tuple(dataclasses.replace(t, population=round(t.population * scale)) for t in county.towns)
            county = dataclasses.replace(county, towns=towns, shops=max(round(county.shops * scale), 20))
        counties.append(county)
    return counties


def build_jiangmen(
    seed: int = 0, *, counties: tuple[str, ...] | None = None, scale: float = 1.0, jobs: int = 1
) -> dict[str, gpd.GeoDataFrame]:
    """Build the synthetic Jiangmen prefecture (or some of its counties).

    Parameters
    ----------
    seed
        Random seed: the same seed gives identical layers; Heshan's part is
        ``build_heshan(seed)`` (at ``scale`` 1).
    counties
        Division codes to draw (default: all 7).
    scale
        Multiplies residents and shops (0 < scale <= 1), see :func:`jiangmen_counties`.
    jobs
        Processes drawing counties at the same time.

    Returns
    -------
    dict of GeoDataFrame
        The layers of :func:`gridgis.demo.county.build_county`, the counties'
        concatenated (Heshan first), ids of buildings, shops, roads, rivers
        and facilities numbered through from 1. At full size about 500,000
        buildings and 1.7 million households.

    Raises
    ------
    ValueError
        An unknown division code in ``counties``, or ``scale`` outside (0, 1].
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    unknown = sorted(set(counties or ()) - set(COUNTIES))
    if unknown:
        raise ValueError(f"unknown county code(s) {', '.join(unknown)}; Jiangmen's are {', '.join(COUNTIES)}")
    todo = [c for c in jiangmen_counties(seed, scale=scale) if counties is None or c.code in counties]
    seeds = [seed if c.code == HESHAN_CODE else [seed, int(c.code)] for c in todo]
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            parts = list(pool.map(_build, todo, seeds))
    else:
        parts = [_build(c, s) for c, s in zip(todo, seeds, strict=True)]
    return _concat(parts)


def _build(county: County, seed) -> dict[str, gpd.GeoDataFrame]:
    # Heshan starts from default_rng(seed), as build_heshan; the others from (seed, code): streams of their own.
    return build_county(county, np.random.default_rng(seed))


_IDS = {"buildings": "building_id", "shops": "shop_id", "roads": "road_id", "rivers": "river_id"}


def _concat(parts: list[dict[str, gpd.GeoDataFrame]]) -> dict[str, gpd.GeoDataFrame]:
    out = {}
    for name in parts[0]:
        frame = pd.concat([p[name] for p in parts], ignore_index=True)
        id_col = _IDS.get(name, "facility_id" if name == "facilities" else None)
        if id_col is not None:
            frame[id_col] = np.arange(1, len(frame) + 1, dtype=frame[id_col].dtype)
        out[name] = gpd.GeoDataFrame(frame, geometry="geometry", crs=STORAGE_CRS)
    return out


def _synthetic_county(code: str, name: str, outline: shapely.Geometry, figures: CountyFigures, rng) -> County:
    """A county of made-up towns inside ``outline``, with made-up corridors for its expressways and rivers."""
    to_metric = to_local_metric(gpd.GeoSeries([outline], crs=STORAGE_CRS))
    shape = shapely.transform(outline, lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1])))
    shapely.prepare(shape)

    def lonlat(xy: np.ndarray) -> list[tuple[float, float]]:
        lon, lat = to_metric.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
        return [(round(float(a), 6), round(float(b), 6)) for a, b in zip(lon, lat, strict=True)]

    x0, y0, x1, y1 = shape.bounds
    pts = rng.uniform((x0, y0), (x1, y1), size=(20_000, 2))
    pts = pts[shapely.contains_xy(shape, pts[:, 0], pts[:, 1])]
    n = figures.subdistricts + figures.towns
    centres = pts[rng.choice(len(pts), size=n, replace=False)]
    for _ in range(15):  # Lloyd steps: town centres spread over the county
        label = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        for k in range(n):
            if (label == k).any():
                centres[k] = pts[label == k].mean(axis=0)
    label = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    share = np.bincount(label, minlength=n) / len(label)
    # Subdistricts: the centres nearest the middle of the county (the county seat), smaller and denser.
    middle = shapely.get_coordinates(shapely.point_on_surface(shape))[0]
    order = np.argsort(np.linalg.norm(centres - middle, axis=1), kind="stable")
    centres, share = centres[order], share[order]
    kinds = ["subdistrict"] * figures.subdistricts + ["town"] * figures.towns
    area = shape.area / 1e6 * share * np.where(np.array(kinds) == "subdistrict", 0.6, 1.0)
    area *= rng.lognormal(0, 0.2, size=n)
    area *= shape.area / 1e6 / area.sum()
    people = np.empty(n)
    sub = np.array(kinds) == "subdistrict"
    people[sub] = figures.subdistrict_share * rng.lognormal(0, 0.2, size=sub.sum())
    people[~sub] = np.sqrt(area[~sub]) * rng.lognormal(0, 0.3, size=(~sub).sum())
    if sub.any():
        people[sub] *= figures.subdistrict_share / people[sub].sum()
    if (~sub).any():
        people[~sub] *= (1 - figures.subdistrict_share) / people[~sub].sum()
    people = np.rint(people / people.sum() * figures.population).astype(int)
    names = place_names(n, rng)
    towns = []
    for k in range(n):
        kind = kinds[k]
        number = k + 1 if kind == "subdistrict" else 100 + k + 1 - figures.subdistricts
        urban_share = URBAN_SHARE[kind]
        urban = max(1, round(people[k] * urban_share / URBAN_COMMUNITY_RESIDENTS))
        villages = max(1, round(people[k] * (1 - urban_share) / VILLAGE_RESIDENTS))
        towns.append(
            Town(
                f"{code}{number:03d}",
                names[k] + ("街道" if kind == "subdistrict" else "镇"),
                f"{figures.name_en} {kind} {number}",
                kind,
                lonlat(centres[k : k + 1])[0],
                float(area[k]),
                int(people[k]),
                urban,
                villages,
                urban_share,
            )
        )
    # Expressways along the county's long axis (and across it in large counties), rivers between far points.
    axes = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)[2]
    expressways = {}
    for a, axis in enumerate(axes[: 2 if shape.area > 1e9 else 1]):
        along = (pts - pts.mean(axis=0)) @ axis
        cuts = np.quantile(along, np.linspace(0, 1, 6))
        waypoints = [
            pts[(along >= lo) & (along <= hi)].mean(axis=0) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
        ]
        waypoints = np.vstack([waypoints[0] - 5000 * axis, *waypoints, waypoints[-1] + 5000 * axis])
        expressways[f"{name[:2]}{'东西南北'[a]}高速"] = lonlat(waypoints)
    rivers = {}
    river_names = place_names(2, rng, taken={t.name[:2] for t in towns})
    for r in range(2 if shape.area > 5e8 else 1):
        a, b = pts[rng.choice(len(pts), size=2, replace=False)]
        for _ in range(20):  # ends far apart: a river crossing the county
            c = pts[rng.integers(len(pts))]
            if np.linalg.norm(c - a) > np.linalg.norm(b - a):
                b = c
        mid = (a + b) / 2 + rng.normal(0, 0.1 * np.linalg.norm(b - a), size=2)
        rivers[river_names[r] + "河"] = lonlat(np.vstack([a, mid, b]))
    parks = {t.town_id: int(rng.integers(0, 3)) for t in towns if t.kind == "town"}
    return County(
        code=code,
        name=name,
        outline=outline,
        towns=tuple(towns),
        expressways=expressways,
        small_rivers=rivers,
        edge_rivers={},
        industrial_parks={k: v for k, v in parks.items() if v},
        shops=round(figures.population * SHOPS_PER_RESIDENT),
    )
