"""15-digit grid codes: 6-digit county + 3-digit town + 3-digit community + 3-digit sequence.

The layout follows Beijing's DB11/T 2157-2023: a grid code is the 12-digit
community id followed by a 3-digit sequence number. Within a community grids
are numbered in reading order, west to east and north to south: the grids are
cut into ``r`` rows of (nearly) equal size by latitude of their centroids,
northernmost row first, and numbered west to east inside each row, where
``r = round(sqrt(n * height / width))`` follows the shape of the community so
that a wide community gets one row and a tall one gets one column.
"""

from __future__ import annotations

import re

import numpy as np

from gridgis.errors import SchemaError

COMMUNITY_ID_DIGITS = 12
SEQ_DIGITS = 3
CODE_DIGITS = COMMUNITY_ID_DIGITS + SEQ_DIGITS
MAX_SEQ = 10**SEQ_DIGITS - 1
_CODE = re.compile(rf"^\d{{{CODE_DIGITS}}}$")
_COMMUNITY = re.compile(rf"^\d{{{COMMUNITY_ID_DIGITS}}}$")


def check_community_id(community_id: str) -> str:
    """Return ``community_id`` if it is 12 digits (6 county + 3 town + 3 community), else raise SchemaError."""
    if not isinstance(community_id, str) or not _COMMUNITY.match(community_id):
        raise SchemaError(
            f"Community id {community_id!r} is not a 12-digit code "
            "(6-digit county + 3-digit town + 3-digit community).",
            fix="give communities ids such as '440784101001' (town 440784101, community 001).",
            details={"community_id": str(community_id)},
        )
    return community_id


def is_grid_code(code: object) -> bool:
    """True when ``code`` is a string of exactly 15 digits.

    Examples
    --------
    >>> is_grid_code("440784101001003"), is_grid_code("44078410100103")
    (True, False)
    """
    return isinstance(code, str) and bool(_CODE.match(code))


def split_code(code: str) -> dict[str, str]:
    """Split a grid code into its county, town, community and sequence parts.

    Examples
    --------
    >>> split_code("440784101001003")["community_id"]
    '440784101001'
    """
    if not is_grid_code(code):
        raise SchemaError(f"Grid code {code!r} is not 15 digits.", fix="use 12-digit community id + 3-digit sequence.")
    return {
        "county": code[:6],
        "town_id": code[:9],
        "community_id": code[:12],
        "seq": code[12:],
    }


def reading_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Positions of the grids in reading order (north-west first, then east, then the next row south).

    Parameters
    ----------
    x, y
        Centroid coordinates of the grids of one community in a metric
        (or locally equal-scaled) CRS, y growing northwards.

    Returns
    -------
    numpy.ndarray
        ``order`` such that ``order[0]`` is the position of the grid numbered 1.

    Examples
    --------
    Four squares of a 2 x 2 block: NW, NE, SW, SE.

    >>> reading_order(np.array([0.5, 1.5, 0.5, 1.5]), np.array([0.5, 0.5, 1.5, 1.5])).tolist()
    [2, 3, 0, 1]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    width = float(np.ptp(x)) if n > 1 else 0.0
    height = float(np.ptp(y)) if n > 1 else 0.0
    if width == 0.0:
        rows = n
    elif height == 0.0:
        rows = 1
    else:
        rows = int(np.clip(round(np.sqrt(n * height / width)), 1, n))
    # north first; ties broken west first so the order is total
    by_lat = np.lexsort((x, -y))
    order = []
    for band in np.array_split(by_lat, rows):
        order.extend(band[np.lexsort((-y[band], x[band]))])
    return np.asarray(order, dtype=np.int64)


def grid_codes(community_id: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """15-digit codes for the grids of one community, numbered in :func:`reading_order`.

    Returns
    -------
    numpy.ndarray
        ``codes[i]`` is the code of the grid at position ``i``.

    Examples
    --------
    >>> grid_codes("440784101001", np.array([1.0, 0.0]), np.array([0.0, 0.0])).tolist()
    ['440784101001002', '440784101001001']
    """
    check_community_id(community_id)
    n = len(x)
    if n > MAX_SEQ:
        raise SchemaError(
            f"Community {community_id} would need {n} grids; a 3-digit sequence allows at most {MAX_SEQ}.",
            fix="ask for fewer grids in that community.",
        )
    codes = np.empty(n, dtype=object)
    for seq, pos in enumerate(reading_order(x, y), start=1):
        codes[pos] = f"{community_id}{seq:0{SEQ_DIGITS}d}"
    return codes
