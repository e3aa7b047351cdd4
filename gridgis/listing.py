"""Row labels (or values) quoted in error messages: the first few, then how many more."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["brief", "listing"]


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
    return ", ".join(brief(label, 40) for label in labels[:limit]) + more


def brief(value, limit: int = 160) -> str:
    """``str(value)`` on one line (whitespace runs collapsed), cut to about ``limit`` characters.

    For quoting library errors and file content in messages, which must stay one short line;
    text with unprintable characters (NUL bytes...) is quoted with escapes.

    Examples
    --------
    >>> brief("line one,   line two")
    'line one, line two'
    >>> brief("x" * 1000, 10)
    'xxxxxxxxxx... (1,000 characters)'
    """
    text = str(value)
    size = len(text)
    text = text[: limit * 4]
    words = text.split()
    text = " ".join(words) if "".join(words).isprintable() else repr(text)
    if size > limit or len(text) > limit:
        return f"{text[:limit]}... ({size:,} characters)"
    return text
