"""Area-targeted tilings of a polygon, built from a fine Voronoi mesh.

A region is first cut into small Voronoi *cells* (a jittered lattice of
points). Regions (towns, then communities inside each town) are sets of cells
chosen by a power diagram whose weights are fitted so each region reaches its
target area; stray fragments are then merged into a neighbour so regions are
contiguous. Because every region is a union of whole cells, the regions tile
their parent exactly, and cell boundaries give them natural ragged borders.
All coordinates are metres in a projected CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

#: Snapping grid (metres) for clipped regions, so neighbours share exact vertices.
GRID_SIZE = 0.01


@dataclass(frozen=True)
class Mesh:
    """Voronoi cells covering an outline.

    ``points`` (n, 2) are the generating points, ``cells`` the unclipped
    Voronoi polygons (neighbours share exact edges), ``areas`` the areas of
    the cells clipped to the outline and ``edges`` (m, 2) the pairs of cells
    that touch inside the outline (i < j).
    """

    outline: shapely.Geometry
    points: np.ndarray
    cells: np.ndarray
    areas: np.ndarray
    edges: np.ndarray


def build_mesh(outline: shapely.Geometry, spacing: float, rng: np.random.Generator) -> Mesh:
    """Voronoi cells of a jittered square lattice of ``spacing`` metres inside ``outline``."""
    x0, y0, x1, y1 = outline.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1 + spacing, spacing), np.arange(y0, y1 + spacing, spacing))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts += rng.uniform(-0.4 * spacing, 0.4 * spacing, size=pts.shape)
    shapely.prepare(outline)
    pts = pts[shapely.contains_xy(outline, pts[:, 0], pts[:, 1])]
    frame = shapely.box(x0 - 2 * spacing, y0 - 2 * spacing, x1 + 2 * spacing, y1 + 2 * spacing)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True))
    inside = shapely.contains(outline, cells)
    clipped = cells.copy()
    clipped[~inside] = shapely.intersection(cells[~inside], outline)
    areas = shapely.area(clipped)
    tree = shapely.STRtree(clipped)
    left, right = tree.query(clipped, predicate="intersects")
    keep = left < right
    edges = np.column_stack([left[keep], right[keep]])
    return Mesh(outline=outline, points=pts, cells=cells, areas=areas, edges=edges)


def warp(points: np.ndarray, rng: np.random.Generator, *, amplitude: float, wavelength: float) -> np.ndarray:
    """Displace points by a smooth random field (three plane waves), so power-diagram borders meander."""
    out = points.astype(float).copy()
    for _ in range(3):
        angle = rng.uniform(0, 2 * np.pi, size=2)
        k = 2 * np.pi / (wavelength * rng.uniform(0.7, 1.4, size=2))
        phase = rng.uniform(0, 2 * np.pi, size=2)
        for axis in range(2):
            along = points[:, 0] * np.cos(angle[axis]) + points[:, 1] * np.sin(angle[axis])
            out[:, axis] += amplitude / 3 * np.sin(k[axis] * along + phase[axis])
    return out


def power_labels(points: np.ndarray, seeds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Index of the seed with the smallest power distance ``|p - s|^2 - w`` for each point."""
    d2 = ((points[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2) - weights[None, :]
    return np.argmin(d2, axis=1)


def fit_power_diagram(
    points: np.ndarray, areas: np.ndarray, seeds: np.ndarray, targets: np.ndarray, *, iterations: int = 200
) -> np.ndarray:
    """Label points by a power diagram of ``seeds`` whose regions' areas approach ``targets``.

    ``targets`` are rescaled to the total area. Each step grows or shrinks a
    region by changing its weight by about the missing area over pi (the
    weight is a squared radius).
    """
    targets = np.asarray(targets, dtype=float) * areas.sum() / np.sum(targets)
    weights = np.zeros(len(seeds))
    labels = power_labels(points, seeds, weights)
    for _ in range(iterations):
        got = np.bincount(labels, weights=areas, minlength=len(seeds))
        if np.max(np.abs(got - targets) / targets) < 0.01:
            break
        weights += 0.5 * (targets - got) / np.pi
        labels = power_labels(points, seeds, weights)
    return labels


def make_contiguous(labels: np.ndarray, areas: np.ndarray, edges: np.ndarray, *, rounds: int = 20) -> np.ndarray:
    """Give every detached fragment of a region to the neighbouring region it shares most edges with.

    A region keeps its largest connected piece; fragments with no neighbour of
    another region (islands of the outline) stay where they are.
    """
    labels = labels.copy()
    n = len(labels)
    for _ in range(rounds):
        same = labels[edges[:, 0]] == labels[edges[:, 1]]
        e = edges[same]
        graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
        comp_area = np.bincount(comp, weights=areas)
        comp_label = np.zeros(comp.max() + 1, dtype=labels.dtype)
        comp_label[comp] = labels
        frame = pd.DataFrame({"label": comp_label, "area": comp_area})
        main = frame.groupby("label")["area"].idxmax().to_numpy()
        stray = np.ones(len(frame), dtype=bool)
        stray[main] = False
        if not stray.any():
            break
        # Neighbour labels of the stray fragments, by shared edge count.
        both = np.concatenate([edges, edges[:, ::-1]])
        cross = labels[both[:, 0]] != labels[both[:, 1]]
        both = both[cross & stray[comp[both[:, 0]]]]
        if len(both) == 0:
            break
        votes = pd.DataFrame({"comp": comp[both[:, 0]], "to": labels[both[:, 1]]}).value_counts()
        best = votes.reset_index().sort_values(["comp", "count", "to"], ascending=[True, False, True])
        best = best.drop_duplicates("comp")
        new_label = comp_label.copy()
        new_label[best["comp"].to_numpy()] = best["to"].to_numpy()
        labels = new_label[comp]
    return labels


def region_polygons(mesh: Mesh, labels: np.ndarray, count: int, *, simplify: float = 0.0) -> np.ndarray:
    """Union of the cells of each label (0..count-1), clipped to the outline, snapped to :data:`GRID_SIZE`.

    ``simplify`` (metres) smooths the shared borders with a coverage simplification,
    which keeps the regions edge-matched and leaves the outline as it is.
    """
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    merged = np.array(
        [shapely.coverage_union_all(mesh.cells[order[bounds[k] : bounds[k + 1]]]) for k in range(count)],
        dtype=object,
    )
    regions = shapely.intersection(merged, mesh.outline, grid_size=GRID_SIZE)
    mixed = ~np.isin(shapely.get_type_id(regions), (3, 6))
    # clipping to a ragged outline can leave a collection holding a stray line or point: keep its polygons
    regions[mixed] = [_polygons_of(g) for g in regions[mixed]]
    if simplify > 0:
        regions = shapely.coverage_simplify(regions, simplify, simplify_boundary=False)
    return regions


def _polygons_of(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(shapely.get_parts(geom))
    return shapely.multipolygons(parts[shapely.get_type_id(parts) == 3])


def absorb_fragments(polygons: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Hand every part of a region but its largest to the region of the same group it shares most border with.

    Clipping whole cells to a ragged outline can leave a region with a sliver
    that touches the rest only at a point, or across a narrow inlet. Parts with
    no such neighbour (a true exclave) stay. Areas are unchanged: the regions
    still tile the same outline.
    """
    polygons = polygons.copy()
    tree = shapely.STRtree(polygons)
    for i in np.flatnonzero(shapely.get_num_geometries(polygons) > 1):
        parts = shapely.get_parts(polygons[i])
        largest = int(np.argmax(shapely.area(parts)))
        kept = [parts[largest]]
        for k, part in enumerate(parts):
            if k == largest:
                continue
            near = tree.query(part, predicate="intersects")
            near = near[(near != i) & (groups[near] == groups[i])]
            shared = shapely.length(shapely.intersection(shapely.boundary(polygons[near]), shapely.boundary(part)))
            if len(near) == 0 or shared.max() <= 0:
                kept.append(part)
                continue
            j = near[int(np.argmax(shared))]
            polygons[j] = shapely.union(polygons[j], part, grid_size=GRID_SIZE)
        polygons[i] = shapely.union_all(kept, grid_size=GRID_SIZE)
    return polygons
