"""The case lifecycle: 发现—上报—分配—处置—反馈—销号 as a small state machine.

::

    reported -> assigned -> in_progress -> resolved -> closed
        \\            \\           \\            \\-> in_progress (feedback: not fixed)
         \\-> rejected  \\-> escalated (overdue: grid -> community -> town)

``escalated`` cases are picked up again (assigned, in_progress, resolved or
rejected) by the level they reached. ``closed`` and ``rejected`` are final.

A move is a pure function: :func:`transition` (a person's move) and :func:`escalation` (the overdue
job's) take the case as stored (a mapping of its columns), the request, the actor and the time, and
return the :class:`Change` the case store then writes in one transaction. Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridgis.cases.categories import get_category
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


def escalation_target(level: int, community_id: str | None, town_id: str | None) -> tuple[int, str] | None:
    """(new level, assignee) one step up the chain grid -> community -> town; None at the top.

    Examples
    --------
    >>> escalation_target(0, "c1", "t1")
    (1, 'community:c1')
    >>> escalation_target(1, "c1", "t1")
    (2, 'town:t1')
    >>> escalation_target(2, "c1", "t1") is None
    True
    """
    if level == 0 and community_id:
        return 1, f"community:{community_id}"
    if level <= 1 and town_id:
        return 2, f"town:{town_id}"
    return None


#: longest note of a move, in characters
MAX_NOTE = 4000


def assignee_kind(assignee: str) -> str:
    """What holds a case: the part before ':' of ``community:ID``, ``town:ID``, ``department:NAME``...;
    ``person`` for a plain name.

    >>> assignee_kind("community:440784101001"), assignee_kind("王五")
    ('community', 'person')
    """
    return assignee.split(":", 1)[0] if ":" in assignee else "person"


@dataclass(frozen=True)
class Change:
    """What a move does: the columns of the case to set (``sets``, column -> value, times as aware
    datetimes) and its audit event (``from_status``, ``to_status``, ``assignee``, ``note``, ``actor``, ``at``)."""

    sets: dict[str, Any]
    event: dict[str, Any]


@dataclass(frozen=True)
class Move:
    """A person's request to move a case: the ``target`` status, a ``note`` (at most :data:`MAX_NOTE`
    characters) and, only when assigning, the new ``assignee``."""

    target: str
    note: str = ""
    assignee: str | None = None


def check_note(note: str) -> str:
    """Return ``note`` if it has at most :data:`MAX_NOTE` characters, else :class:`InputError`."""
    if len(note) > MAX_NOTE:
        raise InputError(f"The note has {len(note):,} characters; at most {MAX_NOTE:,}.", fix="shorten it.")
    return note


def _escalate(case: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """The columns an escalation one level up sets, or None at the top of the chain."""
    up = escalation_target(case["level"], case["community_id"], case["town_id"])
    if up is None:
        return None
    level, assignee = up
    return {
        "level": level,
        "assignee": assignee,
        "assignee_kind": assignee_kind(assignee),
        "due_at": now + get_category(case["category"]).deadline,
    }


def transition(case: Mapping[str, Any], move: Move, actor: str, now: datetime) -> Change:
    """The change of moving ``case`` as ``move`` asks, by ``actor`` at ``now``.

    Raises :class:`ConflictError` listing the allowed moves when the move is illegal (or the case cannot
    escalate further) and :class:`InputError` for a too long note or an assignee given when not
    assigning. Moving to ``escalated`` goes one level up the chain like the overdue job does;
    ``resolved`` stamps ``resolved_at``, back to ``in_progress`` clears it, a final status stamps ``closed_at``.
    """
    check_note(move.note)
    target, status = move.target, case["status"]
    check_transition(status, target, case_id=case["id"])
    sets: dict[str, Any] = {"status": target, "updated_at": now}
    if target == "escalated":
        up = _escalate(case, now)
        if up is None:
            raise ConflictError(
                f"Case {case['id']} is already held by the town ({case['assignee']}); it cannot escalate further.",
                fix="assign it, resolve it or reject it.",
                details={"status": status, "level": case["level"]},
            )
        sets.update(up)
    if move.assignee is not None:
        if target != "assigned":
            raise InputError(
                f"An assignee can be given only when assigning (target 'assigned', not {target!r}).",
                fix="drop the assignee or move the case to 'assigned'.",
            )
        sets.update(assignee=move.assignee, assignee_kind=assignee_kind(move.assignee))
    if target == "resolved":
        sets["resolved_at"] = now
    if target == "in_progress" and status == "resolved":
        sets["resolved_at"] = None
    if target in FINAL_STATUSES:
        sets["closed_at"] = now
    event = {
        "from_status": status,
        "to_status": target,
        "assignee": sets.get("assignee"),
        "note": move.note,
        "actor": actor,
        "at": now,
    }
    return Change(sets, event)


def escalation(case: Mapping[str, Any], now: datetime, actor: str = "system:escalation") -> Change | None:
    """The change of escalating an overdue ``case`` one level up (grid -> community -> town) at ``now``;
    None when it is not overdue, not open or already at the top."""
    if case["status"] not in OPEN_STATUSES or not case["due_at"] < now:
        return None
    up = _escalate(case, now)
    if up is None:
        return None
    sets = {"status": "escalated", **up, "updated_at": now}
    note = f"overdue: escalated to {up['assignee']}"
    event = {
        "from_status": case["status"],
        "to_status": "escalated",
        "assignee": up["assignee"],
        "note": note,
        "actor": actor,
        "at": now,
    }
    return Change(sets, event)
