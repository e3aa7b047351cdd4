"""Re-divide from an old plan: turn its labelling into exactly k connected parts (``partition(keep=...)``)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from gridgis.partition.bisect import recursive_bisection
from gridgis.partition.refine import make_contiguous


def adjust_count(
    labels: np.ndarray, graph: sparse.csr_matrix, xy: np.ndarray, weights: np.ndarray, k: int
) -> np.ndarray:
    """Turn an existing labelling (-1: unlabelled) into exactly ``k`` connected parts ``0..k-1``.

    Used to re-divide from an old plan: unlabelled sites join a neighbouring
    part, then the heaviest part is bisected while there are too few parts
    and the lightest part merges into its lightest neighbour while there are
    too many. Parts untouched by this keep their sites.

    Examples
    --------
    >>> from scipy import sparse
    >>> path = sparse.diags([1.0, 1.0], [-1, 1], shape=(4, 4)).tocsr()
    >>> xy = np.column_stack([np.arange(4.0), np.zeros(4)])
    >>> adjust_count(np.array([0, 0, 0, -1]), path, xy, np.ones(4), 2).tolist()
    [0, 0, 1, 1]
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    known = labels >= 0
    if not known.any():
        return recursive_bisection(xy, weights, k, edges=_edges(graph), cost=_edges(graph, data=True))
    _, labels[known] = np.unique(labels[known], return_inverse=True)
    labels = make_contiguous(labels, graph, weights)
    m = int(labels.max()) + 1
    coo = graph.tocoo()
    while m < k:
        load = np.bincount(labels, weights=weights + 1e-9, minlength=m)
        size = np.bincount(labels, minlength=m)
        g = int(np.argmax(np.where(size >= 2, load, -1.0)))
        sub = np.flatnonzero(labels == g)
        pos = np.full(len(labels), -1)
        pos[sub] = np.arange(len(sub))
        inner = (pos[coo.row] >= 0) & (pos[coo.col] >= 0) & (coo.row < coo.col)
        half = recursive_bisection(
            xy[sub],
            weights[sub],
            2,
            edges=np.column_stack([pos[coo.row[inner]], pos[coo.col[inner]]]),
            cost=coo.data[inner],
        )
        labels[sub[half == 1]] = m
        m += 1
    while m > k:
        load = np.bincount(labels, weights=weights, minlength=m)
        g = int(np.argmin(load))
        near = np.unique(labels[coo.col[labels[coo.row] == g]])
        near = near[near != g]
        h = int(near[np.argmin(load[near])]) if len(near) else int(np.argsort(load)[1])
        labels[labels == g] = h
        labels[labels == m - 1] = g if g != m - 1 else h
        m -= 1
    return make_contiguous(labels, graph, weights)


def _edges(graph: sparse.csr_matrix, data: bool = False) -> np.ndarray:
    coo = sparse.triu(graph, k=1).tocoo()
    return coo.data if data else np.column_stack([coo.row, coo.col])
