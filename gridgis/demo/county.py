"""A synthetic county inside a real outline: towns, communities, buildings, shops, roads, rivers, facilities.

:func:`build_county` draws one county from a :class:`County` (its outline and
town-level divisions, the corridors of its expressways and rivers) and a
random generator. Town and community borders, community names, buildings,
households, shops, roads, small rivers and facilities are made up, plausibly;
the Heshan demo (:mod:`gridgis.demo.heshan`) and the Jiangmen one
(:mod:`gridgis.demo.jiangmen`) are counties drawn by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.crs import to_local_metric
from gridgis.demo import buildings as bld
from gridgis.demo import facilities as fac
from gridgis.demo import network as net
from gridgis.demo import tessellate as tes
from gridgis.demo.names import SHOP_KINDS, place_names, shop_names
from gridgis.model import STORAGE_CRS, validate_layer


@dataclass(frozen=True)
class Town:
    """One town-level division and the figures the demo aims at."""

    town_id: str
    name: str
    name_en: str
    kind: str
    centre: tuple[float, float]  # lon, lat of the town centre (镇区)
    area_km2: float
    population: int
    urban: int  # number of urban communities (社区)
    villages: int  # number of villages (村)
    urban_share: float  # share of the population living in the urban communities


#: Residents per household, by community kind (the whole demo averages about 3.0).
HOUSEHOLD_SIZE = {"urban": 2.8, "village": 3.2}
#: Share of an urban community's households living in each building type (沙坪 is a city, the towns are not).
URBAN_MIX = {
    "subdistrict": {"high_rise": 0.45, "residential_block": 0.35, "shop_house": 0.20},
    "town": {"high_rise": 0.10, "residential_block": 0.40, "shop_house": 0.50},
}
VILLAGE_MIX = {"village_house": 0.93, "shop_house": 0.07}
#: Buildings per cluster (estate, street, village core), by type.
CLUSTER_SIZE = {"high_rise": 12, "residential_block": 16, "shop_house": 40, "village_house": 400}
#: Extra buildings drawn, then dropped in random order, to make up for overlaps between clusters.
SURPLUS = 0.25
#: Metres kept free between a lane and a building.
LANE_CLEARANCE = 2.0

#: Facilities per town: kind -> count (沙坪 has more).
FACILITIES = {
    "subdistrict": {"hospital": 3, "market": 3, "school": 6, "industrial_park": 3},
    "town": {"hospital": 1, "market": 1, "school": 2},
}
#: Share of shops along main roads (the rest line local streets).
SHOPS_ON_MAIN = 0.65
MESH_SPACING = 200.0  # metres between the points of the Voronoi mesh
BORDER_SMOOTHING = 100.0  # metres: coverage simplification of the borders between communities


@dataclass(frozen=True)
class County:
    """A county-level division to draw: its outline and towns, and where its expressways and rivers run.

    ``outline`` is a (Multi)Polygon in lon/lat (EPSG:4326); ``expressways`` and
    ``small_rivers`` map a name to lon/lat waypoints; ``edge_rivers`` maps a
    river's name to the (min lon, min lat, max lon, max lat) window of the stretch
    of the outline it follows; ``industrial_parks`` counts the parks of a town
    (by town_id) besides :data:`FACILITIES`; ``shops`` is the number of shops.
    """

    code: str
    name: str
    outline: shapely.Geometry
    towns: tuple[Town, ...]
    expressways: dict[str, list[tuple[float, float]]]
    small_rivers: dict[str, list[tuple[float, float]]]
    edge_rivers: dict[str, tuple[float, float, float, float]]
    industrial_parks: dict[str, int]
    shops: int


def build_county(county: County, rng: np.random.Generator) -> dict[str, gpd.GeoDataFrame]:
    """Draw one synthetic county inside its outline.

    Parameters
    ----------
    county
        The outline, towns and corridors (see :class:`County`).
    rng
        The random generator: the same state gives identical layers.

    Returns
    -------
    dict of GeoDataFrame
        Layers ``towns``, ``communities``, ``buildings``, ``shops``, ``roads``,
        ``rivers`` and ``facilities`` in EPSG:4326, each checked with
        :func:`gridgis.model.validate_layer`; ids of buildings, shops, roads,
        rivers and facilities count from 1.
    """
    outline_ll = gpd.GeoSeries([county.outline], crs=STORAGE_CRS)
    to_metric = to_local_metric(outline_ll)
    crs = to_metric.target_crs
    outline = shapely.union_all(outline_ll.to_crs(crs).geometry.values)

    def metric(lonlat) -> np.ndarray:
        arr = np.asarray(lonlat, dtype=float).reshape(-1, 2)
        return np.column_stack(to_metric.transform(arr[:, 0], arr[:, 1]))

    towns_spec = county.towns
    centres = metric([t.centre for t in towns_spec])
    towns, communities = _divisions(outline, centres, towns_spec, rng)
    # Each town centre has its own street grid orientation; its urban estates and facilities follow it.
    towns["street_angle"] = rng.uniform(0, np.pi / 2, size=len(towns_spec))
    roads = _roads(outline, centres, county, towns, communities, rng, metric)
    rivers = _rivers(outline, county, rng, metric)
    facilities = _facilities(county, towns, communities, roads, rivers, rng)
    buildings, lanes = _buildings(towns, communities, roads, rivers, facilities, rng)
    roads = _with_lanes(roads, lanes)
    shops = _shops(communities, roads, centres, county.shops, rng)

    hh = buildings.groupby("community_id")[["households", "population"]].sum()
    communities[["households", "population"]] = hh.reindex(communities["community_id"]).fillna(0).to_numpy("int64")
    by_town = communities.groupby("town_id")[["households", "population"]].sum()
    towns[["households", "population"]] = by_town.reindex(towns["town_id"]).to_numpy("int64")
    layers = {
        "towns": towns.drop(columns="street_angle"),
        "communities": communities.drop(columns=["seed_x", "seed_y", "population_target"]),
        "buildings": buildings,
        "shops": shops,
        "roads": roads,
        "rivers": rivers,
        "facilities": facilities,
    }
    return {
        name: validate_layer(gpd.GeoDataFrame(frame, geometry="geometry", crs=crs).to_crs(STORAGE_CRS), name)
        for name, frame in layers.items()
    }


def _random_points(area: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points inside ``area`` (rejection sampling in its bounding box)."""
    x0, y0, x1, y1 = area.bounds
    out = np.empty((0, 2))
    for _ in range(100):
        pts = rng.uniform((x0, y0), (x1, y1), size=(max(4 * n, 64), 2))
        out = np.vstack([out, pts[shapely.contains_xy(area, pts[:, 0], pts[:, 1])]])
        if len(out) >= n:
            return out[:n]
    # a sliver that random draws keep missing
    return np.repeat(shapely.get_coordinates(shapely.point_on_surface(area)), n, axis=0)


def _divisions(outline, centres, towns_spec, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Towns, then communities inside each town, as unions of mesh cells (metres)."""
    mesh = tes.build_mesh(outline, MESH_SPACING, rng)
    warped = tes.warp(mesh.points, rng, amplitude=1500, wavelength=9000)
    town_of = tes.fit_power_diagram(warped, mesh.areas, centres, np.array([t.area_km2 for t in towns_spec]))
    town_of = tes.make_contiguous(town_of, mesh.areas, mesh.edges)
    warped = tes.warp(mesh.points, rng, amplitude=400, wavelength=2500)
    community_of = np.empty(len(mesh.points), dtype=int)
    rows, seeds, taken = [], [], {t.name[:2] for t in towns_spec}
    offset = 0
    for t, town in enumerate(towns_spec):
        cells = np.flatnonzero(town_of == t)
        pts, areas = mesh.points[cells], mesh.areas[cells]
        k = town.urban + town.villages
        town_seeds = _community_seeds(pts, areas, centres[t], town, rng)
        urban_area = 1.4e6 if town.kind == "subdistrict" else 3.5e6
        target = np.empty(k)
        target[: town.urban] = urban_area * rng.lognormal(0, 0.25, size=town.urban)
        rest = max(areas.sum() - target[: town.urban].sum(), 0.5 * areas.sum())
        village_weights = rng.lognormal(0, 0.35, size=town.villages)
        target[town.urban :] = rest * village_weights / village_weights.sum()
        local = tes.fit_power_diagram(warped[cells], areas, town_seeds, target)
        edge_mask = np.isin(mesh.edges, cells).all(axis=1)
        remap = np.full(len(mesh.points), -1)
        remap[cells] = np.arange(len(cells))
        local = tes.make_contiguous(local, areas, remap[mesh.edges[edge_mask]])
        # Urban communities first (nearest the centre first), then villages by distance from the centre.
        dist = np.linalg.norm(town_seeds - centres[t], axis=1)
        order = np.concatenate(
            [np.argsort(dist[: town.urban], kind="stable"), town.urban + np.argsort(dist[town.urban :], kind="stable")]
        )
        rank = np.empty(k, dtype=int)
        rank[order] = np.arange(k)
        community_of[cells] = offset + rank[local]
        names = place_names(k, rng, taken=taken)
        taken.update(names)
        if town.urban:
            names[0] = town.name[:2]
        for r in range(k):
            urban = r < town.urban
            rows.append(
                {
                    "community_id": f"{town.town_id}{r + 1:03d}",
                    "town_id": town.town_id,
                    "name": names[r] + ("社区" if urban else "村"),
                    "kind": "urban" if urban else "village",
                }
            )
        seeds.append(town_seeds[order])
        offset += k
    communities = pd.DataFrame(rows)
    polygons = tes.region_polygons(mesh, community_of, len(communities), simplify=BORDER_SMOOTHING)
    communities["geometry"] = tes.absorb_fragments(polygons, communities["town_id"].to_numpy())
    seeds = np.vstack(seeds)
    # A community whose seed drew no cell (its neighbours' power regions covered it) is left out.
    drawn = ~shapely.is_empty(communities.geometry.to_numpy())
    communities, seeds = communities[drawn].reset_index(drop=True), seeds[drawn]
    # A seed whose cells went to a neighbour (contiguity repair) moves to a point inside its community.
    inside = shapely.contains_xy(communities.geometry.to_numpy(), seeds[:, 0], seeds[:, 1])
    seeds[~inside] = shapely.get_coordinates(shapely.point_on_surface(communities.geometry.to_numpy()[~inside]))
    communities["seed_x"], communities["seed_y"] = seeds.T
    _population_targets(communities, towns_spec, rng)
    towns = pd.DataFrame(
        {
            "town_id": [t.town_id for t in towns_spec],
            "name": [t.name for t in towns_spec],
            "name_en": [t.name_en for t in towns_spec],
            "kind": [t.kind for t in towns_spec],
        }
    )
    towns["geometry"] = [
        shapely.union_all(communities.geometry[communities["town_id"] == t.town_id].to_numpy(), grid_size=tes.GRID_SIZE)
        for t in towns_spec
    ]
    return towns, communities


def _community_seeds(pts, areas, centre, town: Town, rng) -> np.ndarray:
    """Urban seeds close around the town centre, village seeds spread by a few Lloyd steps."""
    spread = 1800.0 if town.kind == "subdistrict" else 700.0
    urban = centre + np.vstack([[0, 0], rng.normal(0, spread, size=(town.urban - 1, 2))])
    far = np.linalg.norm(pts - centre, axis=1) > spread
    pool = pts[far] if far.sum() >= town.villages else pts
    villages = pool[rng.choice(len(pool), size=town.villages, replace=False)]
    for _ in range(8):
        seeds = np.vstack([urban, villages])
        label = tes.power_labels(pts, seeds, np.zeros(len(seeds)))
        weight = np.bincount(label, weights=areas, minlength=len(seeds))
        for axis in range(2):
            mean = np.bincount(label, weights=areas * pts[:, axis], minlength=len(seeds))
            moved = np.divide(mean, weight, out=seeds[:, axis].copy(), where=weight > 0)
            villages[:, axis] = moved[town.urban :]
    return np.vstack([urban, villages])


def _population_targets(communities: pd.DataFrame, towns_spec, rng) -> None:
    """Split each town's population between its communities (urban ones denser)."""
    area = shapely.area(communities.geometry.to_numpy())
    target = np.zeros(len(communities))
    for town in towns_spec:
        mine = (communities["town_id"] == town.town_id).to_numpy()
        urban = mine & (communities["kind"] == "urban").to_numpy()
        village = mine & ~urban
        w = area[urban] * rng.lognormal(0, 0.2, size=urban.sum())
        target[urban] = town.population * town.urban_share * w / w.sum()
        w = np.sqrt(area[village]) * rng.lognormal(0, 0.3, size=village.sum())
        target[village] = town.population * (1 - town.urban_share) * w / w.sum()
    communities["population_target"] = target


def _roads(outline, centres, county: County, towns, communities, rng, metric) -> pd.DataFrame:
    names, lines, classes = [], [], []
    exp_names, exp_lines = net.expressways({k: metric(v) for k, v in county.expressways.items()}, rng)
    main_names, main_lines = net.main_roads(centres, [t.name for t in county.towns], rng)
    for cls, n, ls in (("expressway", exp_names, exp_lines), ("main", main_names, main_lines)):
        names += n
        lines += ls
        classes += [cls] * len(ls)
    for t, town in enumerate(county.towns):
        big = town.kind == "subdistrict"
        streets = net.street_grid(centres[t], 3000 if big else 900, 350 if big else 300, towns["street_angle"][t])
        villages = communities[(communities["town_id"] == town.town_id) & (communities["kind"] == "village")]
        lanes = net.village_lanes(np.vstack([centres[t], villages[["seed_x", "seed_y"]].to_numpy()]), rng)
        lines += streets + lanes
        names += [None] * (len(streets) + len(lanes))
        classes += ["local"] * (len(streets) + len(lanes))
    parts, index = net.clip_lines(np.array(lines, dtype=object), outline)
    return pd.DataFrame(
        {
            "road_id": np.arange(1, len(parts) + 1),
            "name": np.array(names, dtype=object)[index],
            "class": np.array(classes, dtype=object)[index],
            "geometry": parts,
        }
    )


def _rivers(outline, county: County, rng, metric) -> pd.DataFrame:
    names, lines = [], []
    for name, window in county.edge_rivers.items():
        x0, y0 = metric(window[:2])[0]
        x1, y1 = metric(window[2:])[0]
        names.append(name)
        lines.append(net.edge_river(outline, shapely.box(x0, y0, x1, y1)))
    for name, waypoints in county.small_rivers.items():
        pts = metric(waypoints)
        legs = [net.meander(a, b, rng, wiggle=0.12, knots=4) for a, b in zip(pts[:-1], pts[1:], strict=True)]
        line = shapely.intersection(shapely.linestrings(np.vstack(legs)), outline)
        if line.is_empty:
            continue
        names.append(name)
        lines.append(shapely.line_merge(line) if line.geom_type == "MultiLineString" else line)
    return pd.DataFrame({"river_id": np.arange(1, len(lines) + 1), "name": names, "geometry": lines})


def _obstacles(roads: pd.DataFrame, rivers: pd.DataFrame) -> np.ndarray:
    """Roads and rivers widened by their clearance."""
    widths = roads["class"].map(net.CLEARANCE).to_numpy(float)
    return np.concatenate(
        [
            shapely.buffer(roads.geometry.to_numpy(), widths, cap_style="flat"),
            shapely.buffer(rivers.geometry.to_numpy(), net.CLEARANCE["river"], cap_style="flat"),
        ]
    )


def _facilities(county: County, towns, communities, roads, rivers, rng) -> pd.DataFrame:
    obstacles = shapely.STRtree(_obstacles(roads, rivers))
    placed, rows = [], []
    geoms = communities.geometry.to_numpy()
    for town, angle in zip(county.towns, towns["street_angle"], strict=True):
        counts = dict(FACILITIES[town.kind])
        if town.town_id in county.industrial_parks:
            counts["industrial_park"] = county.industrial_parks[town.town_id]
        mine = np.flatnonzero(communities["town_id"].to_numpy() == town.town_id)
        urban = mine[communities["kind"].to_numpy()[mine] == "urban"]
        village = mine[communities["kind"].to_numpy()[mine] == "village"]
        for kind, count in counts.items():
            for i in range(count):
                if kind in ("hospital", "market"):
                    pool, spread = urban, 300.0
                elif kind == "school":
                    pool, spread = (urban if i % 2 == 0 else village), 400.0
                else:
                    pool, spread = village, 800.0
                for c in rng.permutation(pool)[:8]:
                    anchor = shapely.get_coordinates(shapely.point_on_surface(geoms[c]))[0]
                    if kind != "industrial_park":
                        anchor = 0.5 * (anchor + communities.loc[c, ["seed_x", "seed_y"]].to_numpy(float))
                    poly = fac.place_facility(kind, anchor, spread, geoms[c], obstacles, placed, rng, angle=angle)
                    if poly is not None:
                        placed.append(poly)
                        rows.append(
                            {"kind": kind, "community_id": communities.loc[c, "community_id"], "geometry": poly}
                        )
                        break
    frame = pd.DataFrame(rows)
    frame.insert(0, "facility_id", np.arange(1, len(frame) + 1))
    name_of = {"school": "学校", "hospital": "医院", "market": "市场", "industrial_park": "工业园"}
    community_name = communities.set_index("community_id")["name"].str[:2]
    frame["name"] = frame["community_id"].map(community_name) + frame["kind"].map(name_of)
    return frame


def _with_lanes(roads: pd.DataFrame, lanes: np.ndarray) -> pd.DataFrame:
    """The roads plus the lanes of the estates and villages (class ``local``, unnamed), as single lines."""
    parts = shapely.get_parts(lanes)
    parts = parts[shapely.get_type_id(parts) == 1]
    extra = pd.DataFrame(
        {
            "road_id": np.arange(len(roads) + 1, len(roads) + len(parts) + 1),
            "name": None,
            "class": "local",
            "geometry": parts,
        }
    )
    return pd.concat([roads, extra], ignore_index=True)


def _buildings(towns, communities, roads, rivers, facilities, rng) -> tuple[pd.DataFrame, np.ndarray]:
    """Buildings in clusters (households meeting each community's target), and the lanes between them."""
    road_tree = shapely.STRtree(_obstacles(roads, rivers))
    blocked = shapely.STRtree(
        np.concatenate([_obstacles(roads, rivers), shapely.buffer(facilities.geometry.to_numpy(), 10.0)])
    )
    streets = roads[roads["class"] != "expressway"].geometry.to_numpy()
    street_tree = shapely.STRtree(streets)
    parts = []  # (kind, community index, centres, angles, floors, households)
    lanes = []
    geoms = communities.geometry.to_numpy()
    town_kind = dict(zip(towns["town_id"], towns["kind"], strict=True))
    town_angle = dict(zip(towns["town_id"], towns["street_angle"], strict=True))
    for c, com in enumerate(communities.itertuples()):
        urban = com.kind == "urban"
        mix = URBAN_MIX[town_kind[com.town_id]] if urban else VILLAGE_MIX
        households = com.population_target / HOUSEHOLD_SIZE[com.kind] * (1 + SURPLUS)
        seed = np.array([com.seed_x, com.seed_y])
        for kind, share in mix.items():
            inner = shapely.buffer(geoms[c], -(bld.TYPES[kind].half_diagonal + 2.0))
            if inner.is_empty:
                continue
            shapely.prepare(inner)
            floors, hh = bld.draw_attributes(kind, int(share * households) + 1, rng)
            n = int(np.searchsorted(np.cumsum(hh), share * households)) + 1
            floors, hh = floors[:n], hh[:n]
            n_clusters = int(np.ceil(n / CLUSTER_SIZE[kind]))
            if kind == "village_house":
                n_clusters = max(n_clusters, int(rng.integers(1, 4)))
            anchors = _random_points(inner, n_clusters, rng)
            if not urban and shapely.contains_xy(inner, *seed):
                anchors[0] = seed
            split = (
                np.array_split(rng.permutation(n), n_clusters)
                if kind != "village_house"
                else _dirichlet_split(n, n_clusters, rng)
            )
            for members, anchor in zip(split, anchors, strict=True):
                if len(members) == 0:
                    continue
                todo, centre = members, anchor
                angle = town_angle[com.town_id] if urban else None
                for _ in range(8):  # a cluster that does not fit moves elsewhere for the rest
                    if kind == "shop_house":
                        centre, angle = _street_front(centre, streets, street_tree, bld.TYPES[kind].size_y[1])
                    pts, angles, cluster_lanes = bld.place_cluster(
                        kind, len(todo), centre, inner, blocked, rng, angle=angle
                    )
                    lanes.extend(cluster_lanes.tolist())
                    parts.append((kind, c, pts, angles, floors[todo[: len(pts)]], hh[todo[: len(pts)]]))
                    todo = todo[len(pts) :]
                    if len(todo) == 0:
                        break
                    centre = _random_points(inner, 1, rng)[0]
    for f in facilities.itertuples():
        c = int(np.flatnonzero(communities["community_id"].to_numpy() == f.community_id)[0])
        inner = shapely.buffer(f.geometry, -(bld.TYPES["facility"].half_diagonal + 2.0))
        n = int(rng.integers(8, 20)) if f.kind == "industrial_park" else int(rng.integers(2, 6))
        centre = shapely.get_coordinates(shapely.centroid(f.geometry))[0]
        edge = np.diff(shapely.get_coordinates(f.geometry)[:2], axis=0)[0]
        angle = float(np.arctan2(edge[1], edge[0]))
        radius = np.sqrt(f.geometry.area) / 2
        pts, angles, _ = bld.place_cluster("facility", n, centre, inner, road_tree, rng, angle=angle, radius=radius)
        if len(pts) == 0:  # a small market or clinic: one building in the middle
            pts, angles = shapely.get_coordinates(shapely.point_on_surface(inner)), np.array([angle])
        floors, hh = bld.draw_attributes("facility", len(pts), rng)
        parts.append((f.kind, c, pts, angles, floors, hh))

    kind = np.concatenate([np.full(len(p[2]), p[0], dtype=object) for p in parts])
    community = np.concatenate([np.full(len(p[2]), p[1]) for p in parts])
    centres = np.vstack([p[2] for p in parts])
    angles = np.concatenate([p[3] for p in parts])
    floors = np.concatenate([p[4] for p in parts])
    households = np.concatenate([p[5] for p in parts])
    shape_kind = np.where(np.isin(kind, list(bld.TYPES)), kind, "facility")
    geometry = np.empty(len(kind), dtype=object)
    for k in np.unique(shape_kind):
        sel = shape_kind == k
        geometry[sel] = bld.footprints(k, centres[sel], angles[sel], rng)

    # Buildings of different clusters may overlap: drop the later one (by a random priority) of each pair.
    priority = rng.permutation(len(kind))
    left, right = shapely.STRtree(geometry).query(geometry, predicate="intersects")
    pair = left != right
    loser = np.where(priority[left[pair]] > priority[right[pair]], left[pair], right[pair])
    keep = np.ones(len(kind), dtype=bool)
    keep[loser] = False
    # ... and those another cluster's lane runs through
    lanes = np.array(lanes, dtype=object)
    if len(lanes):
        keep[np.unique(shapely.STRtree(lanes).query(geometry, predicate="dwithin", distance=LANE_CLEARANCE)[0])] = False
    # Then drop the surplus, in priority order, so each community meets its household target.
    frame = pd.DataFrame({"community": community, "households": households, "priority": priority, "keep": keep})
    frame = frame[frame["keep"]].sort_values(["community", "priority"])
    before = frame.groupby("community")["households"].cumsum() - frame["households"]
    target = communities["population_target"].to_numpy() / communities["kind"].map(HOUSEHOLD_SIZE).to_numpy()
    frame = frame[(before < target[frame["community"].to_numpy()]) | (frame["households"] == 0)]
    idx = np.sort(frame.index.to_numpy())

    size = communities["kind"].map(HOUSEHOLD_SIZE).to_numpy()[community[idx]]
    hh = households[idx]
    population = np.maximum(rng.poisson(hh * size), hh)
    frame = pd.DataFrame(
        {
            "building_id": np.arange(1, len(idx) + 1),
            "community_id": communities["community_id"].to_numpy()[community[idx]],
            "kind": kind[idx],
            "floors": floors[idx],
            "households": hh,
            "population": population.astype("int64"),
            "geometry": geometry[idx],
        }
    )
    return frame, lanes


def _street_front(point: np.ndarray, streets: np.ndarray, tree: shapely.STRtree, depth: float):
    """A point facing the street nearest ``point``, set back by ``depth`` plus the road's clearance, and its angle."""
    line = streets[tree.nearest(shapely.Point(point))]
    s = line.project(shapely.Point(point))
    s = min(max(s, 1.0), line.length - 1.0)
    a = np.array(line.interpolate(s - 1.0).coords[0])
    b = np.array(line.interpolate(s + 1.0).coords[0])
    tangent = (b - a) / np.linalg.norm(b - a)
    normal = np.array([-tangent[1], tangent[0]])
    side = 1.0 if np.dot(point - a, normal) >= 0 else -1.0
    front = (a + b) / 2 + side * normal * (net.CLEARANCE["main"] + depth)
    return front, float(np.arctan2(tangent[1], tangent[0]))


def _dirichlet_split(n: int, parts: int, rng) -> list[np.ndarray]:
    """Split ``range(n)`` (shuffled) into ``parts`` groups of random sizes (village cores of unequal size)."""
    share = rng.dirichlet(np.full(parts, 2.0))
    cuts = np.rint(np.cumsum(share)[:-1] * n).astype(int)
    return np.split(rng.permutation(n), cuts)


def _shops(communities, roads, centres, count_all: int, rng) -> pd.DataFrame:
    geoms = communities.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    picked = []
    for classes, count in (
        (("main",), round(count_all * SHOPS_ON_MAIN)),
        (("local",), count_all - round(count_all * SHOPS_ON_MAIN)),
    ):
        lines = roads.geometry[roads["class"].isin(classes)].to_numpy()
        length = shapely.length(lines)
        n = 6 * count
        which = rng.choice(len(lines), size=n, p=length / length.sum())
        s = rng.uniform(0, length[which] - 1.0)
        a = shapely.get_coordinates(shapely.line_interpolate_point(lines[which], s))
        b = shapely.get_coordinates(shapely.line_interpolate_point(lines[which], s + 1.0))
        tangent = (b - a) / np.linalg.norm(b - a, axis=1, keepdims=True)
        normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
        side = rng.choice([-1.0, 1.0], size=n)[:, None]
        pts = a + normal * side * rng.uniform(10, 30, size=(n, 1))
        d = np.min(np.linalg.norm(pts[:, None, :] - centres[None, :, :], axis=2), axis=1)
        weight = np.exp(-d / 2000.0) + 0.03
        point_geoms = shapely.points(pts)
        inside, com = tree.query(point_geoms, predicate="within")
        first = np.unique(inside, return_index=True)[1]
        inside, com = inside[first], com[first]
        chosen = rng.choice(len(inside), size=count, replace=False, p=weight[inside] / weight[inside].sum())
        picked.append((point_geoms[inside[chosen]], com[chosen]))
    geometry = np.concatenate([p[0] for p in picked])
    com = np.concatenate([p[1] for p in picked])
    kinds = rng.choice(
        np.array(SHOP_KINDS, dtype=object), size=len(com), p=[0.3, 0.2, 0.08, 0.08, 0.1, 0.1, 0.08, 0.06]
    )
    places = communities["name"].str[:2].to_numpy()[com]
    return pd.DataFrame(
        {
            "shop_id": np.arange(1, len(com) + 1),
            "name": shop_names(kinds, places),
            "kind": kinds,
            "community_id": communities["community_id"].to_numpy()[com],
            "geometry": geometry,
        }
    )
