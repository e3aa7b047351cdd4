"""Progress of long commands, with the time left: one display for every command.

A command opens the display with :func:`shown` (the ``--quiet`` of
:func:`gridgis.cli.options.progress_opt`); the work inside reports what it does with
:func:`task` or :func:`track` wherever it runs (the demo builder, the partition driver,
the file readers and writers, chunked assignment). Reporting costs nothing when no display
is open, so library calls from Python draw nothing.

The display is :class:`rich.progress.Progress` on stderr (stdout stays for the command's
result, e.g. ``--json``): a bar per task with done/total and the time left, estimated by
rich from the speed so far. Nothing is drawn with ``--quiet`` or when stderr is not a
terminal (a pipe, a file, a CI log), and the bars are removed when the command ends.

Examples
--------
>>> from rich.console import Console
>>> import io
>>> screen = io.StringIO()
>>> with shown(console=Console(file=screen, force_terminal=True, width=100)):
...     for _ in track(range(3), "counting"):
...         pass
>>> "counting" in screen.getvalue()
True
>>> with shown(quiet=True):
...     with task("nothing drawn", total=2) as t:
...         t.advance()
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

__all__ = ["Task", "drawing", "shown", "task", "track"]

T = TypeVar("T")

_display: ContextVar[Progress | None] = ContextVar("gridgis_progress", default=None)


@contextlib.contextmanager
def shown(*, quiet: bool = False, console: Console | None = None) -> Iterator[Progress | None]:
    """Open the progress display for the work inside (None when nothing is drawn).

    Parameters
    ----------
    quiet
        Draw nothing (a command's ``--quiet``).
    console
        Where to draw; default: stderr, drawn on only when it is a terminal (not a dumb one;
        ``FORCE_COLOR`` does not count). A console given is drawn on when rich takes it for a
        terminal (``Console(force_terminal=True)`` in tests).
    """
    if console is None:
        # stderr itself must be a terminal: FORCE_COLOR (colour in CI logs) does not make one
        console = Console(stderr=True)
        terminal = _isatty(sys.stderr) and not console.is_dumb_terminal
    else:
        terminal = console.is_terminal
    if quiet or not terminal:
        token = _display.set(None)  # work inside draws nothing, even under an open display
        try:
            yield None
        finally:
            _display.reset(token)
        return
    if _display.get() is not None:  # already open (a command calling another): one display
        yield _display.get()
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("left"),
    )
    # stdout is left alone (not routed through the display): a command's result goes where it was sent
    with Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as display:
        token = _display.set(display)
        try:
            yield display
        finally:
            _display.reset(token)


def drawing() -> bool:
    """Whether a display is open (to skip work done only for it, e.g. counting what is to come)."""
    return _display.get() is not None


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class Task:
    """One bar of the display (or nothing, when none is open): :meth:`advance` it as work gets done."""

    def __init__(self, display: Progress | None, task_id: TaskID | None):
        self._display, self._id = display, task_id

    def advance(self, amount: float = 1) -> None:
        """Count ``amount`` more units done."""
        if self._display is not None:
            self._display.advance(self._id, amount)

    def total(self, total: float | None) -> None:
        """Set (or correct) the number of units; None for unknown."""
        if self._display is not None:
            self._display.update(self._id, total=total)


@contextlib.contextmanager
def task(description: str, total: float | None = None) -> Iterator[Task]:
    """A bar for the work inside, ``total`` units (None: unknown, no time left shown); removed at the end."""
    display = _display.get()
    if display is None:
        yield Task(None, None)
        return
    task_id = display.add_task(description, total=total)
    display.refresh()  # drawn now, however short the work
    try:
        yield Task(display, task_id)
    finally:
        display.remove_task(task_id)
        display.refresh()  # the bar goes now, before the command prints its result


def track(items: Iterable[T], description: str, total: float | None = None) -> Iterator[T]:
    """Yield ``items``, one unit each (``total``: default ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with task(description, total) as bar:
        for item in items:
            yield item
            bar.advance()
