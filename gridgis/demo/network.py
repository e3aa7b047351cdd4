"""Synthetic roads and rivers, in metres of a projected CRS.

Roads come in three classes: ``expressway`` (fixed corridors), ``main``
(linking town centres: a minimum spanning tree plus short extra links) and
``local`` (a street grid in each town centre and lanes linking the village
cores of a town to its centre). Rivers are the Xijiang along the north-east
edge of the outline plus two smaller meandering rivers.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

#: Clearance (metres) kept free of buildings on each side of a road or river, by class.
CLEARANCE = {"expressway": 30.0, "main": 12.0, "local": 6.0, "river": 25.0}


def smooth(coords: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a smooth polyline through the neighbourhood of ``coords`` (ends kept)."""
    for _ in range(iterations):
        q = 0.75 * coords[:-1] + 0.25 * coords[1:]
        r = 0.25 * coords[:-1] + 0.75 * coords[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        coords = np.vstack([coords[:1], mid, coords[-1:]])
    return coords


def meander(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, *, wiggle: float, knots: int = 3) -> np.ndarray:
    """A smooth line from ``a`` to ``b`` whose inner knots stray sideways by up to ``wiggle`` x its length."""
    t = np.linspace(0, 1, knots + 2)[:, None]
    pts = a + t * (b - a)
    normal = np.array([-(b - a)[1], (b - a)[0]])
    offsets = rng.uniform(-wiggle, wiggle, size=(knots + 2, 1))
    offsets[[0, -1]] = 0
    return smooth(pts + offsets * normal)


def clip_lines(
    lines: np.ndarray, outline: shapely.Geometry, *, min_length: float = 100.0
) -> tuple[np.ndarray, np.ndarray]:
    """The parts of ``lines`` inside ``outline`` as single LineStrings, with the index of the line each came from."""
    clipped = shapely.intersection(lines, outline)
    parts, index = shapely.get_parts(clipped, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) >= min_length)
    return parts[keep], index[keep]


def expressways(corridors: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[list[str], list]:
    """Expressways along fixed corridors (waypoints in metres), slightly jittered and smoothed."""
    names, lines = [], []
    for name, pts in corridors.items():
        jitter = rng.normal(0, 300, size=pts.shape)
        jitter[[0, -1]] = 0
        lines.append(shapely.linestrings(smooth(pts + jitter, 4)))
        names.append(name)
    return names, lines


def main_roads(
    centres: np.ndarray, names: list[str], rng: np.random.Generator, *, extra_km: float = 14.0
) -> tuple[list[str], list[shapely.LineString]]:
    """Roads linking town centres: the minimum spanning tree of their Delaunay graph plus links under ``extra_km``."""
    tri = Delaunay(centres)
    edges = set()
    for simplex in tri.simplices:
        for i in range(3):
            a, b = sorted((int(simplex[i]), int(simplex[(i + 1) % 3])))
            edges.add((a, b))
    edges = np.array(sorted(edges))
    length = np.linalg.norm(centres[edges[:, 0]] - centres[edges[:, 1]], axis=1)
    n = len(centres)
    dense = np.zeros((n, n))
    dense[edges[:, 0], edges[:, 1]] = length
    tree = minimum_spanning_tree(dense).toarray() > 0
    keep = tree[edges[:, 0], edges[:, 1]] | (length < extra_km * 1000)
    road_names, lines = [], []
    for a, b in edges[keep]:
        lines.append(shapely.linestrings(meander(centres[a], centres[b], rng, wiggle=0.08)))
        road_names.append(f"{names[a][:2]}{names[b][:2]}公路")
    return road_names, lines


def street_grid(centre: np.ndarray, radius: float, spacing: float, angle: float) -> list:
    """Straight streets every ``spacing`` metres, rotated by ``angle``, clipped to a disc of ``radius``."""
    offsets = np.arange(-radius, radius + 1e-9, spacing)
    along = np.array([-radius, radius])
    local = [np.column_stack([along, [o, o]]) for o in offsets] + [np.column_stack([[o, o], along]) for o in offsets]
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    lines = shapely.linestrings([centre + seg @ rot.T for seg in local])
    return list(shapely.intersection(lines, shapely.Point(centre).buffer(radius, quad_segs=16)))


def village_lanes(points: np.ndarray, rng: np.random.Generator) -> list:
    """Gently bent lanes along the minimum spanning tree of ``points`` (a town centre and its village cores)."""
    if len(points) < 2:
        return []
    dist = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    a, b = minimum_spanning_tree(dist).nonzero()
    return [
        shapely.linestrings(meander(points[i], points[j], rng, wiggle=0.1, knots=1)) for i, j in zip(a, b, strict=True)
    ]


def edge_river(outline: shapely.Geometry, window: shapely.Geometry) -> shapely.Geometry:
    """The stretch of the outline's boundary inside ``window``, merged into as few lines as possible."""
    return shapely.line_merge(shapely.intersection(shapely.boundary(outline), window))
