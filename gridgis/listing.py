"""Row labels (or values) quoted in error messages: the first few, then how many more."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["listing"]


def listing(labels: Iterable, limit: int = 10) -> str:
    """The first ``limit`` labels joined by commas, with ``" and N more"`` when there are more.

    Examples
    --------
    >>> listing([3, 7])
    '3, 7'
    >>> listing(range(12), limit=3)
    '0, 1, 2 and 9 more'
    """
    labels = list(labels.tolist() if hasattr(labels, "tolist") else labels)
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return ", ".join(map(str, labels[:limit])) + more
