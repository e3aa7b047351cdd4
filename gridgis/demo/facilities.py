"""Synthetic facilities (schools, hospitals, industrial parks, markets): rotated rectangles in metres.

Each facility is drawn near an anchor point and kept only if it lies inside
one community (with a margin), clear of roads and of the facilities placed
before it, so each can become a dedicated grid.
"""

from __future__ import annotations

import numpy as np
import shapely

#: Side lengths (metres) of each facility kind: (min, max) along, (min, max) across.
SIZES = {
    "school": ((130, 220), (100, 160)),
    "hospital": ((100, 170), (80, 130)),
    "market": ((60, 110), (50, 80)),
    "industrial_park": ((500, 1000), (350, 700)),
}


def rectangle(centre: np.ndarray, length: float, width: float, angle: float) -> shapely.Polygon:
    """A ``length`` x ``width`` rectangle centred on ``centre``, its long side at ``angle`` radians."""
    box = shapely.box(-length / 2, -width / 2, length / 2, width / 2)
    coords = shapely.get_coordinates(box)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return shapely.polygons(coords @ rot.T + centre)


def place_facility(
    kind: str,
    anchor: np.ndarray,
    spread: float,
    community: shapely.Geometry,
    obstacles: shapely.STRtree,
    placed: list,
    rng: np.random.Generator,
    *,
    angle: float,
    tries: int = 60,
    margin: float = 15.0,
) -> shapely.Polygon | None:
    """A rectangle of ``kind`` near ``anchor`` inside ``community`` and clear of obstacles, or None after ``tries``.

    Several candidates are drawn at once and the first that fits is kept.
    """
    (l0, l1), (w0, w1) = SIZES[kind]
    centres = anchor + rng.normal(0, spread, size=(tries, 2))
    lengths = rng.uniform(l0, l1, size=tries)
    widths = rng.uniform(w0, w1, size=tries)
    angles = angle + rng.choice([0, np.pi / 2], size=tries)
    candidates = np.array([rectangle(c, a, b, t) for c, a, b, t in zip(centres, lengths, widths, angles, strict=True)])
    inner = shapely.buffer(community, -margin)
    fits = shapely.contains(inner, candidates)
    hit = obstacles.query(candidates, predicate="dwithin", distance=margin)[0]
    fits[hit] = False
    if placed:
        near = shapely.STRtree(placed).query(candidates, predicate="dwithin", distance=3 * margin)[0]
        fits[near] = False
    good = np.flatnonzero(fits)
    return candidates[good[0]] if len(good) else None
