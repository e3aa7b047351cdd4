"""A synthetic Heshan (鹤山市) inside its real outline.

Real: the outline (data/geo/heshan.geojson), the 10 town-level divisions
(names, division codes, roughly where their centres are), the published
figures quoted in DESIGN.md (about 543,000 residents, 22 urban communities
and 137 villages; 雅瑶 58.07 km² with 1 community + 15 villages and 44,823
residents; 共和 89.93 km² with 2 communities + 9 villages) and the Xijiang
along the north-east edge. Everything else -- town and community borders,
community names, buildings, households, shops, roads, small rivers and
facilities -- is made up, plausibly, from a seed (:func:`gridgis.demo.county.build_county`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gridgis.demo.county import County, Town, build_county
from gridgis.model import STORAGE_CRS
from gridgis.paths import HESHAN_OUTLINE

REGION_CODE = "440784"

TOWNS: tuple[Town, ...] = (
    Town("440784001", "沙坪街道", "Shaping", "subdistrict", (112.965, 22.765), 108.0, 195_000, 11, 12, 0.75),
    Town("440784101", "雅瑶镇", "Yayao", "town", (112.995, 22.715), 58.07, 44_823, 1, 15, 0.30),
    Town("440784102", "古劳镇", "Gulao", "town", (112.930, 22.825), 58.0, 38_000, 1, 10, 0.30),
    Town("440784103", "龙口镇", "Longkou", "town", (112.860, 22.780), 82.0, 42_000, 1, 15, 0.30),
    Town("440784104", "桃源镇", "Taoyuan", "town", (112.870, 22.710), 112.0, 40_000, 1, 14, 0.30),
    Town("440784105", "鹤城镇", "Hecheng", "town", (112.760, 22.670), 170.0, 50_000, 2, 17, 0.40),
    Town("440784106", "共和镇", "Gonghe", "town", (112.920, 22.610), 89.93, 45_000, 2, 9, 0.40),
    Town("440784107", "址山镇", "Zhishan", "town", (112.785, 22.530), 115.0, 35_000, 1, 15, 0.30),
    Town("440784108", "宅梧镇", "Zhaiwu", "town", (112.565, 22.625), 175.0, 22_000, 1, 16, 0.30),
    Town("440784109", "双合镇", "Shuanghe", "town", (112.660, 22.640), 115.0, 28_000, 1, 14, 0.30),
)

EXPRESSWAYS = {
    "佛开高速": [(113.06, 22.79), (113.00, 22.74), (112.985, 22.69), (112.95, 22.63), (112.90, 22.57), (112.86, 22.50)],
    "江肇高速": [
        (113.06, 22.64),
        (112.97, 22.675),
        (112.88, 22.69),
        (112.80, 22.70),
        (112.72, 22.745),
        (112.66, 22.80),
    ],
}
#: (min lon, min lat, max lon, max lat) of the stretch of the outline the Xijiang follows.
XIJIANG_WINDOW = (112.90, 22.785, 113.07, 22.87)
SMALL_RIVERS = {
    "沙坪河": [(112.80, 22.735), (112.86, 22.745), (112.92, 22.760), (112.965, 22.778), (113.01, 22.815)],
    "宅梧河": [(112.52, 22.700), (112.56, 22.655), (112.60, 22.600), (112.64, 22.550)],
}
#: Industrial parks of the towns, by town_id (沙坪's are in FACILITIES; 宅梧 and 双合 have none).
INDUSTRIAL_PARKS = {
    "440784101": 2,
    "440784102": 1,
    "440784103": 1,
    "440784104": 1,
    "440784105": 1,
    "440784106": 2,
    "440784107": 1,
}
SHOPS = 10_000


def heshan_county() -> County:
    """Heshan as a :class:`~gridgis.demo.county.County`: its real outline and towns, its corridors."""
    outline = shapely.union_all(gpd.read_file(HESHAN_OUTLINE).to_crs(STORAGE_CRS).geometry.values)
    return County(
        code=REGION_CODE,
        name="鹤山市",
        outline=outline,
        towns=TOWNS,
        expressways=EXPRESSWAYS,
        small_rivers=SMALL_RIVERS,
        edge_rivers={"西江": XIJIANG_WINDOW},
        industrial_parks=INDUSTRIAL_PARKS,
        shops=SHOPS,
    )


def build_heshan(seed: int = 0) -> dict[str, gpd.GeoDataFrame]:
    """Build the synthetic Heshan demo city.

    Parameters
    ----------
    seed
        Random seed: the same seed gives identical layers.

    Returns
    -------
    dict of GeoDataFrame
        Layers ``towns``, ``communities``, ``buildings``, ``shops``, ``roads``,
        ``rivers`` and ``facilities`` in EPSG:4326, each checked with
        :func:`gridgis.model.validate_layer`.

    Examples
    --------
    It takes several seconds, so it is shown here, not run (tests/demo runs it)::

        layers = build_heshan(seed=0)
        layers["towns"]["name"].tolist()[:2]  # ['沙坪街道', '雅瑶镇']
    """
    return build_county(heshan_county(), np.random.default_rng(seed))
