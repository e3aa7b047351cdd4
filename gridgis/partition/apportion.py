"""Share a number of grids among communities (or islands) in proportion to their loads."""

from __future__ import annotations

import numpy as np


def apportion(loads, total: int, minimum=None, maximum=None) -> np.ndarray:
    """Largest-remainder (Hamilton) apportionment of ``total`` seats with per-unit bounds.

    Each unit gets ``floor(quota)`` seats (``quota = load / sum(loads) * total``)
    raised to its minimum and lowered to its maximum; the seats still to give
    go to the largest remainders ``quota - seats`` (seats taken back from the
    smallest), within the bounds. All loads zero: seats follow equal quotas.

    Parameters
    ----------
    loads
        Non-negative load of each unit.
    total
        Seats to share; ``sum(minimum) <= total <= sum(maximum)``.
    minimum, maximum
        Per-unit bounds (default 1 and unbounded).

    Examples
    --------
    >>> apportion([500, 300, 200], 7).tolist()
    [4, 2, 1]
    >>> apportion([1000, 1, 1], 4).tolist()
    [2, 1, 1]
    """
    loads = np.asarray(loads, dtype=float)
    n = len(loads)
    lo = np.ones(n, dtype=np.int64) if minimum is None else np.asarray(minimum, dtype=np.int64)
    hi = np.full(n, np.iinfo(np.int64).max) if maximum is None else np.asarray(maximum, dtype=np.int64)
    if lo.sum() > total or hi.sum() < total:
        raise ValueError(f"cannot share {total} seats within bounds summing to {lo.sum()}..{hi.sum()}")
    share = loads / loads.sum() if loads.sum() > 0 else np.full(n, 1.0 / max(n, 1))
    quota = share * total
    seats = np.clip(np.floor(quota).astype(np.int64), lo, hi)
    while seats.sum() < total:
        room = np.flatnonzero(seats < hi)
        seats[room[np.argmax((quota - seats)[room])]] += 1
    while seats.sum() > total:
        room = np.flatnonzero(seats > lo)
        seats[room[np.argmin((quota - seats)[room])]] -= 1
    return seats
