"""Share a number of grids among communities (or islands) so that the fullest grid is as light as possible."""

from __future__ import annotations

import heapq

import numpy as np


def apportion(loads, total: int, minimum=None, maximum=None) -> np.ndarray:
    """Give ``total`` seats to units so that the largest mean load per seat is least, then the smallest is most.

    Every unit first gets its minimum; each further seat goes to the unit
    with the largest mean ``load / seats`` that can still take one (the
    highest-averages rule of D'Hondt / Jefferson, which minimises the largest
    mean: a seat anywhere else leaves that mean standing). That fixes the
    least largest mean ``M``; the seats are then handed out again, each unit
    getting only what it needs to stay at or below ``M``
    (``ceil(load / M)``, within its bounds), and the seats left over go one
    by one to the unit whose mean stays highest after taking one, so that
    the smallest mean is as large as ``M`` allows. All loads zero: seats are
    spread evenly.

    Parameters
    ----------
    loads
        ``(n,)`` non-negative load of each unit (households, or the weighted load).
    total
        Seats to share; ``sum(minimum) <= total <= sum(maximum)``.
    minimum, maximum
        ``(n,)`` per-unit bounds (default 1 and unbounded).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` seats per unit, summing to ``total``.

    Raises
    ------
    ValueError
        When the bounds cannot hold ``total`` seats.

    Examples
    --------
    >>> apportion([500, 300, 200], 7).tolist()  # means 167, 150, 100 (largest remainders: 4, 2, 1 -> 125, 150, 200)
    [3, 2, 2]
    >>> apportion([1000, 1, 1], 4).tolist()
    [2, 1, 1]
    """
    loads = np.asarray(loads, dtype=float)
    n = len(loads)
    lo = np.ones(n, dtype=np.int64) if minimum is None else np.asarray(minimum, dtype=np.int64).copy()
    hi = np.full(n, max(total, 0), dtype=np.int64) if maximum is None else np.asarray(maximum, dtype=np.int64)
    if lo.sum() > total or hi.sum() < total:
        raise ValueError(f"cannot share {total} seats within bounds summing to {lo.sum()}..{hi.sum()}")
    if n == 0:
        return lo
    if loads.sum() <= 0:
        loads = np.ones(n)
    seats = _highest_averages(loads, lo.copy(), hi, total)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(seats > 0, loads / np.maximum(seats, 1), np.where(loads > 0, np.inf, 0.0))
    worst = float(mean.max())
    if not np.isfinite(worst) or worst <= 0:
        return seats
    # the fewest seats that keep every mean at or below the least largest mean, then the leftovers
    need = np.clip(np.ceil(loads / worst - 1e-9).astype(np.int64), lo, hi)
    if need.sum() > total:
        return seats
    return _leftovers(loads, need, hi, total)


def _highest_averages(loads: np.ndarray, seats: np.ndarray, hi: np.ndarray, total: int) -> np.ndarray:
    """Seats one at a time to the largest mean ``load / seats`` (a unit with no seat and some load first)."""
    heap = [(-_mean(loads[i], seats[i]), i) for i in range(len(loads)) if seats[i] < hi[i]]
    heapq.heapify(heap)
    left = total - int(seats.sum())
    while left > 0 and heap:
        _, i = heapq.heappop(heap)
        seats[i] += 1
        left -= 1
        if seats[i] < hi[i]:
            heapq.heappush(heap, (-_mean(loads[i], seats[i]), i))
    return seats


def _leftovers(loads: np.ndarray, seats: np.ndarray, hi: np.ndarray, total: int) -> np.ndarray:
    """Seats one at a time to the unit whose mean after taking one, ``load / (seats + 1)``, is largest."""
    heap = [(-loads[i] / (seats[i] + 1), i) for i in range(len(loads)) if seats[i] < hi[i]]
    heapq.heapify(heap)
    left = total - int(seats.sum())
    while left > 0 and heap:
        _, i = heapq.heappop(heap)
        seats[i] += 1
        left -= 1
        if seats[i] < hi[i]:
            heapq.heappush(heap, (-loads[i] / (seats[i] + 1), i))
    return seats


def _mean(load: float, seats: int) -> float:
    return load / seats if seats > 0 else (np.inf if load > 0 else 0.0)


def largest_mean(loads, seats) -> float:
    """The largest mean load per seat, ``max(load / seats)`` over units with seats.

    Examples
    --------
    >>> largest_mean([500, 300, 200], [3, 2, 2])
    166.66666666666666
    """
    loads, seats = np.asarray(loads, dtype=float), np.asarray(seats)
    has = seats > 0
    return float((loads[has] / seats[has]).max()) if has.any() else 0.0


def range_count(weights, low: float, high: float) -> tuple[int, str | None]:
    """Grids for one community in range mode: a count whose grids can each hold ``low..high``, with indivisible sites.

    A site heavier than ``high`` is a grid alone (nothing splits a building).
    The others, of load ``R``, take ``k`` grids with
    ``ceil(R / high) <= k <= floor(R / low)``, the one nearest ``R`` over the
    range's middle for which a split is found: sites heaviest first, each to
    the lightest grid (longest-processing-time order), every grid ending in
    the range. The split ignores which sites touch, so a plan may still miss
    the range where geometry forbids it.

    Parameters
    ----------
    weights
        ``(m,)`` load of each site of the community.
    low, high
        The load range per grid, ``0 < low <= high``.

    Returns
    -------
    (count, reason)
        ``reason`` is None when every grid can be in the range, else why not.

    Examples
    --------
    Twenty houses of 20 and a tower of 900, range 300-500: the tower alone and one grid of 400.

    >>> range_count([20] * 20 + [900], 300, 500)
    (2, 'a building of 900 is above the range: a grid alone')
    >>> range_count([250, 250, 250], 300, 500)[1]
    'no split of load 750 into grids of 300-500 exists (2 grids: 500 + 250)'
    >>> range_count([100] * 8, 300, 500)
    (2, None)
    """
    w = np.asarray(weights, dtype=float)
    w = w[w > 0]
    towers = w[w > high]
    rest = np.sort(w[w <= high])[::-1]
    total = float(rest.sum())
    reasons = []
    if len(towers) == 1:
        reasons.append(f"a building of {towers[0]:g} is above the range: a grid alone")
    elif len(towers):
        listed = ", ".join(f"{t:g}" for t in towers[:5]) + (", ..." if len(towers) > 5 else "")
        reasons.append(f"{len(towers)} buildings of {listed} are above the range: a grid alone each")
    if total <= 0:
        if not len(towers):
            return 1, f"load {total:g} is below the range: one grid"
        return len(towers), "; ".join(reasons)
    k_min, k_max = int(np.ceil(total / high - 1e-9)), int(np.floor(total / low + 1e-9))
    if k_max < k_min:
        k = max(1, int(np.rint(total / ((low + high) / 2))))
        if total < low:
            reasons.append(f"{'the rest, ' if len(towers) else ''}load {total:g} is below the range: one grid")
            k = 1
        else:
            reasons.append(f"no grid count splits load {total:g} into grids of {low:g}-{high:g}")
        return len(towers) + k, "; ".join(reasons) or None
    mid = total / ((low + high) / 2)
    tried = None
    for k in sorted(range(k_min, k_max + 1), key=lambda k: (abs(k - mid), k)):
        bins = _lpt(rest, k)
        if bins.min() >= low - 1e-9 and bins.max() <= high + 1e-9:
            return len(towers) + k, "; ".join(reasons) or None
        tried = tried or (k, bins)
    k, bins = tried
    shown = " + ".join(f"{b:g}" for b in np.sort(bins)[::-1][:4]) + (" + ..." if len(bins) > 4 else "")
    reasons.append(f"no split of load {total:g} into grids of {low:g}-{high:g} exists ({k} grids: {shown})")
    return len(towers) + k, "; ".join(reasons)


def _lpt(weights: np.ndarray, k: int) -> np.ndarray:
    """Loads of ``k`` bins filled heaviest item first, each into the lightest bin (``weights`` sorted descending)."""
    heap = [(0.0, i) for i in range(k)]
    for x in weights.tolist():
        load, i = heapq.heappop(heap)
        heapq.heappush(heap, (load + x, i))
    return np.array([load for load, _ in sorted(heap, key=lambda t: t[1])])
