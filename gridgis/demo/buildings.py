"""Synthetic building footprints and their households, in metres of a projected CRS.

Buildings come in clusters (a housing estate, a shop-house street, a village
core). A cluster is a rotated lattice whose spacing leaves room between
footprints; slots are drawn without replacement with a preference for the cluster
centre that is flat inside and falls off sharply at the edge (a dense core),
so buildings within a cluster never overlap.
Footprints are rectangles aligned with the lattice, turned by a few degrees.
Every ``lanes``-th row and column of a cluster's lattice is left free and drawn
as a lane, so buildings stand in street blocks as in a real estate or village
(blocks of ``lanes - 1`` x ``lanes - 1`` slots).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True)
class BuildingType:
    """A kind of building: footprint sizes (x along the lattice, y across), lattice spacing, floors, households."""

    size_x: tuple[float, float]
    size_y: tuple[float, float]
    spacing: tuple[float, float]
    floors: tuple[int, int]
    #: households per floor (uniform range); ``None`` for the 1-3 household village houses.
    per_floor: tuple[float, float] | None
    households: tuple[int, int]
    #: how anisotropic the cluster is: (spread along, spread across) as factors of its radius.
    shape: tuple[float, float] = (1.0, 1.0)
    #: share of the lattice slots of a cluster's core that get a building.
    fill: float = 0.5
    #: every this many lattice rows and columns is a lane (0: none; shop-houses face the streets instead).
    lanes: int = 0

    @property
    def half_diagonal(self) -> float:
        return float(np.hypot(self.size_x[1], self.size_y[1]) / 2)


TYPES: dict[str, BuildingType] = {
    "high_rise": BuildingType((24, 34), (16, 22), (62, 55), (18, 33), (3.0, 12.0), (50, 400), fill=0.7, lanes=4),
    "residential_block": BuildingType((36, 56), (12, 15), (72, 34), (7, 11), (6.0, 11.0), (50, 400), fill=0.7, lanes=5),
    "shop_house": BuildingType((7, 11), (15, 20), (13, 26), (3, 6), (0.8, 3.0), (2, 20), shape=(2.5, 0.35), fill=0.7),
    "village_house": BuildingType((8, 12), (7, 10), (15, 14), (1, 4), None, (1, 3), fill=0.75, lanes=7),
    # Non-residential buildings inside facilities (schools, hospitals, parks, markets).
    "facility": BuildingType((14, 36), (10, 20), (48, 30), (2, 6), None, (0, 0)),
}
#: Households of a village house: 1, 2 or 3 with these probabilities.
VILLAGE_HOUSEHOLDS = (0.45, 0.4, 0.15)


def draw_attributes(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Floors and households of ``n`` buildings of one type."""
    t = TYPES[kind]
    floors = rng.integers(t.floors[0], t.floors[1] + 1, size=n)
    if t.per_floor is not None:
        households = np.rint(floors * rng.uniform(*t.per_floor, size=n))
    elif t.households[1] > 0:
        households = rng.choice(np.arange(1, 4), size=n, p=VILLAGE_HOUSEHOLDS)
    else:
        households = np.zeros(n)
    return floors.astype("int64"), np.clip(households, *t.households).astype("int64")


def lattice_slots(
    centre: np.ndarray, radius: float, kind: str, angle: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slot centres of a lattice rotated by ``angle`` within ``2 * radius``, their preference weights, and its lanes.

    The lanes (every ``lanes``-th row and column, their slots left out) are LineStrings across the lattice.
    """
    t = TYPES[kind]
    sx, sy = t.spacing
    rx, ry = 2 * radius * t.shape[0], 2 * radius * t.shape[1]
    xs, ys = np.arange(-rx, rx + 1e-9, sx), np.arange(-ry, ry + 1e-9, sy)
    gx, gy = np.meshgrid(xs, ys)
    shift = rng.uniform(-0.5, 0.5, size=2) * (sx, sy)
    local = np.column_stack([gx.ravel(), gy.ravel()]) + shift
    r2 = (local[:, 0] / (rx / 2)) ** 2 + (local[:, 1] / (ry / 2)) ** 2
    weight = np.exp(-0.5 * r2**2)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lanes = np.zeros(0, dtype=object)
    if t.lanes:
        ix, iy = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)))
        off = rng.integers(0, t.lanes, size=2)
        on_lane = ((ix.ravel() - off[0]) % t.lanes == 0) | ((iy.ravel() - off[1]) % t.lanes == 0)
        local, weight = local[~on_lane], weight[~on_lane]
        cols = xs[(np.arange(len(xs)) - off[0]) % t.lanes == 0] + shift[0]
        rows = ys[(np.arange(len(ys)) - off[1]) % t.lanes == 0] + shift[1]
        segs = [np.array([[x, -ry], [x, ry]]) for x in cols] + [np.array([[-rx, y], [rx, y]]) for y in rows]
        lanes = shapely.linestrings([centre + seg @ rot.T for seg in segs]) if segs else lanes
    return centre + local @ rot.T, weight, lanes


def cluster_radius(kind: str, n: int) -> float:
    """Radius of a disc holding ``n`` buildings of ``kind`` at its ``fill`` share of the lattice slots."""
    t = TYPES[kind]
    return float(np.sqrt(n * t.spacing[0] * t.spacing[1] / (np.pi * t.fill * t.shape[0] * t.shape[1])))


def footprints(kind: str, centres: np.ndarray, angles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotated rectangles of ``kind``'s sizes at ``centres``, turned by ``angles`` plus up to 4 degrees."""
    t = TYPES[kind]
    n = len(centres)
    hx = rng.uniform(*t.size_x, size=n) / 2
    hy = rng.uniform(*t.size_y, size=n) / 2
    theta = angles + np.radians(rng.uniform(-4, 4, size=n))
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=float)
    local = corners[None, :, :] * np.stack([hx, hy], axis=1)[:, None, :]
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x = centres[:, 0:1] + local[:, :, 0] * cos - local[:, :, 1] * sin
    y = centres[:, 1:2] + local[:, :, 0] * sin + local[:, :, 1] * cos
    return shapely.polygons(np.stack([x, y], axis=2))


def place_cluster(
    kind: str,
    n: int,
    centre: np.ndarray,
    area: shapely.Geometry,
    blocked: shapely.STRtree,
    rng: np.random.Generator,
    *,
    angle: float | None = None,
    radius: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``n`` slot centres of one cluster inside ``area`` (already shrunk by a margin), clear of ``blocked``.

    Returns the chosen slot centres (k, 2), the lattice angle of each, and the cluster's lanes: the
    lattice lanes clipped to the chosen slots' extent (half a spacing around them) and to ``area``.
    """
    angle = rng.uniform(0, np.pi) if angle is None else angle
    radius = cluster_radius(kind, n) if radius is None else radius
    slots, weight, lanes = lattice_slots(centre, radius, kind, angle, rng)
    ok = shapely.contains_xy(area, slots[:, 0], slots[:, 1])
    slots, weight = slots[ok], weight[ok]
    if len(slots):
        hit = blocked.query(shapely.points(slots), predicate="dwithin", distance=TYPES[kind].half_diagonal)[0]
        free = np.ones(len(slots), dtype=bool)
        free[hit] = False
        slots, weight = slots[free], weight[free]
    k = min(n, len(slots))
    if k == 0:
        return np.empty((0, 2)), np.empty(0), np.zeros(0, dtype=object)
    chosen = rng.choice(len(slots), size=k, replace=False, p=weight / weight.sum())
    pts = slots[chosen]
    if len(lanes):
        extent = shapely.intersection(
            shapely.buffer(shapely.convex_hull(shapely.multipoints(pts)), max(TYPES[kind].spacing) / 2), area
        )
        lanes = shapely.intersection(lanes, extent)
        lanes = lanes[~shapely.is_empty(lanes) & (shapely.length(lanes) > max(TYPES[kind].spacing))]
    return pts, np.full(k, angle), lanes
