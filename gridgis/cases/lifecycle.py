"""The case lifecycle: 发现—上报—分配—处置—反馈—销号 as a small state machine.

::

    reported -> assigned -> in_progress -> resolved -> closed
        \\            \\           \\            \\-> in_progress (feedback: not fixed)
         \\-> rejected  \\-> escalated (overdue: grid -> community -> town)

``escalated`` cases are picked up again (assigned, in_progress, resolved or
rejected) by the level they reached. ``closed`` and ``rejected`` are final.
"""

from __future__ import annotations

from gridgis.errors import ConflictError, InputError

STATUSES = ("reported", "assigned", "in_progress", "resolved", "closed", "escalated", "rejected")

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "reported": ("assigned", "escalated", "rejected"),
    "assigned": ("in_progress", "escalated", "rejected"),
    "in_progress": ("resolved", "escalated"),
    "resolved": ("closed", "in_progress"),
    "escalated": ("assigned", "in_progress", "resolved", "rejected", "escalated"),
    "closed": (),
    "rejected": (),
}

#: statuses whose deadline still runs (an overdue case in one of them escalates)
OPEN_STATUSES = ("reported", "assigned", "in_progress", "escalated")
FINAL_STATUSES = ("closed", "rejected")

#: escalation levels: who holds the case
LEVELS = ("grid", "community", "town")


def allowed_transitions(status: str) -> tuple[str, ...]:
    """The statuses a case in ``status`` may move to."""
    check_status(status)
    return TRANSITIONS[status]


def check_status(status: str) -> str:
    """Return ``status`` if it is one of :data:`STATUSES`, else :class:`InputError` listing them."""
    if status not in STATUSES:
        raise InputError(
            f"Unknown case status {status!r}.",
            fix=f"use one of {list(STATUSES)}.",
            details={"field": "status", "allowed": list(STATUSES)},
        )
    return status


def check_transition(current: str, target: str, *, case_id: int | None = None) -> None:
    """Raise :class:`~gridgis.errors.ConflictError` (listing the allowed moves) unless ``current -> target`` is legal.

    Examples
    --------
    >>> check_transition("assigned", "in_progress")
    >>> check_transition("closed", "assigned")
    Traceback (most recent call last):
    ...
    gridgis.errors.ConflictError: Case is 'closed'; it cannot move to 'assigned'. ...
    """
    check_status(target)
    allowed = allowed_transitions(current)
    if target not in allowed:
        which = f"Case {case_id}" if case_id is not None else "Case"
        raise ConflictError(
            f"{which} is {current!r}; it cannot move to {target!r}.",
            fix=f"allowed from {current!r}: {list(allowed)}" if allowed else f"{current!r} is final.",
            details={"status": current, "target": target, "allowed": list(allowed)},
        )
