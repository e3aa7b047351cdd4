"""The case chain as a grid centre runs it: THE one table of statuses and of who may make each move.

::

    reported -> assigned -> accepted -> in_progress -> resolved -> verified -> closed
                 |  ^  \\        \\                       \\
                 |  |   \\-> returned (to the dispatcher,  \\-> reopened (the check failed) -> ...
                 |  |        with a reason)
                 |  \\-- reassigned by the dispatcher
                 \\-> rejected (with a reason)          any open case -> escalated (overdue)

Who makes a move is a *chain role* (:data:`CHAIN_ROLES`), worked out by :func:`chain_roles` from the
caller's key and the person holding it: ``dispatcher`` (a dispatcher's key or above), ``handler`` (a
grid worker's key covering the case's grid), ``community`` (a person posted to the case's community),
``system`` (the escalation job). :data:`MOVES` says, for each status, which targets each role may
reach; ``verified`` must come from someone other than the person who resolved the case.

Moves are pure functions: :func:`transition` (a person's move), :func:`note` (a note or photos without
a move) and :func:`escalation` (the overdue job's) take the case as stored (a mapping of its columns),
the request, the :class:`Actor` and the time, and return the :class:`Change` the case store writes in
one transaction. :func:`allowed_moves` lists what an actor may do now (the console offers those).
Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridgis.cases.categories import get_category
from gridgis.cases.config import DEFAULT, LEVELS, CaseConfig
from gridgis.errors import ConflictError, ForbiddenError, InputError

D, H, C, S = "dispatcher", "handler", "community", "system"
CHAIN_ROLES = (D, H, C, S)

#: status -> target -> chain roles allowed to make that move (the single table)
MOVES: dict[str, dict[str, tuple[str, ...]]] = {
    "reported": {"assigned": (D, S), "rejected": (D,), "escalated": (D, S)},
    "assigned": {"assigned": (D,), "accepted": (H, D), "returned": (H,), "rejected": (D,), "escalated": (D, S)},
    "accepted": {"in_progress": (H, D), "assigned": (D,), "returned": (H,), "escalated": (D, S)},
    "in_progress": {"resolved": (H, D), "assigned": (D,), "escalated": (D, S)},
    "resolved": {"verified": (D, C), "reopened": (D, C)},
    "verified": {"closed": (D, C)},
    "reopened": {"accepted": (H, D), "in_progress": (H, D), "assigned": (D,), "escalated": (D, S)},
    "returned": {"assigned": (D,), "rejected": (D,), "escalated": (D, S)},
    "escalated": {
        "assigned": (D,),
        "accepted": (H, D),
        "in_progress": (H, D),
        "resolved": (H, D),
        "rejected": (D,),
        "escalated": (D, S),
    },
    "closed": {},
    "rejected": {},
}
STATUSES = tuple(MOVES)
#: status -> every target reachable from it by someone
TRANSITIONS: dict[str, tuple[str, ...]] = {s: tuple(t) for s, t in MOVES.items()}
STATUS_NAMES_ZH = {
    "reported": "已上报",
    "assigned": "已派遣",
    "accepted": "已受理",
    "in_progress": "处置中",
    "resolved": "已处置",
    "verified": "已核查",
    "closed": "已办结",
    "returned": "已退回",
    "rejected": "已驳回",
    "reopened": "核查未通过",
    "escalated": "已上报上级",
}
#: moves whose note is required: it is the reason or the result the reporter reads
NOTE_REQUIRED = {
    "returned": "the reason",
    "rejected": "the reason",
    "reopened": "what failed the check",
    "resolved": "the result",
}

#: statuses whose deadline still runs (an overdue case in one of them escalates)
OPEN_STATUSES = ("reported", "assigned", "accepted", "in_progress", "reopened", "returned", "escalated")
FINAL_STATUSES = ("closed", "rejected")
WARNINGS = ("green", "yellow", "red")
WARNING_NAMES_ZH = {"green": "正常", "yellow": "黄牌", "red": "红牌"}
#: longest note of a move, in characters
MAX_NOTE = 4000
#: who holds a returned case
DISPATCH_DESK = "desk:dispatch"


def allowed_transitions(status: str) -> tuple[str, ...]:
    """The statuses a case in ``status`` may move to, by someone."""
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
    """Raise :class:`~gridgis.errors.ConflictError` (listing the allowed moves) unless ``current -> target`` is a move
    of :data:`MOVES` (for someone).

    Examples
    --------
    >>> check_transition("assigned", "accepted")
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


@dataclass(frozen=True)
class Actor:
    """Who moves a case: the audit log's ``name``, the chain ``roles`` held on this case, the ``identity``
    that tells two people apart (a person id, else a key id) and the ``person_id`` when known."""

    name: str
    roles: frozenset[str]
    identity: str | None = None
    person_id: str | None = None


SYSTEM = Actor("system:escalation", frozenset({S}), "system")


def chain_roles(
    case: Mapping[str, Any],
    *,
    key_role: str | None,
    key_grids: Iterable[str] = (),
    posts: Iterable[tuple[str, str]] = (),
) -> frozenset[str]:
    """The chain roles of a caller on ``case``: ``key_role`` its key's role, ``key_grids`` a worker key's grids,
    ``posts`` the (level, unit id) its person is attached to.

    >>> case = {"grid_id": "g1", "community_id": "c1"}
    >>> sorted(chain_roles(case, key_role="worker", key_grids=["g1"], posts=[("community", "c1")]))
    ['community', 'handler']
    >>> sorted(chain_roles(case, key_role="dispatcher"))
    ['dispatcher']
    """
    roles = set()
    if key_role in ("dispatcher", "planner", "admin"):
        roles.add(D)
    if key_role == "worker" and case.get("grid_id") in set(key_grids):
        roles.add(H)
    if case.get("community_id") and ("community", case["community_id"]) in set(posts):
        roles.add(C)
    return frozenset(roles)


def allowed_moves(case: Mapping[str, Any], actor: Actor) -> list[str]:
    """The targets ``actor`` may move ``case`` to now (the console offers these).

    >>> allowed_moves({"status": "resolved", "resolved_by": "p1"}, Actor("x", frozenset({"dispatcher"}), "p2"))
    ['verified', 'reopened']
    >>> allowed_moves({"status": "resolved", "resolved_by": "p1"}, Actor("x", frozenset({"dispatcher"}), "p1"))
    ['reopened']
    """
    out = []
    for target, roles in MOVES[case["status"]].items():
        if actor.roles.intersection(roles) and not (target == "verified" and _same(actor, case)):
            out.append(target)
    return out


def _same(actor: Actor, case: Mapping[str, Any]) -> bool:
    return actor.identity is not None and actor.identity == case.get("resolved_by")


def warning(case: Mapping[str, Any], now: datetime, config: CaseConfig = DEFAULT) -> str | None:
    """``green``, ``yellow`` (within the category's yellow time of the deadline) or ``red`` (past it) for an
    open case; None for a case whose deadline no longer runs."""
    if case["status"] not in OPEN_STATUSES:
        return None
    if case["due_at"] < now:
        return "red"
    yellow = get_category(case["category"], config.categories).yellow
    return "yellow" if case["due_at"] - yellow <= now else "green"


@dataclass(frozen=True)
class Change:
    """What a move does: the columns of the case to set (``sets``, column -> value, times as aware
    datetimes) and its audit event (``from_status``, ``to_status``, ``assignee``, ``note``, ``actor``,
    ``person_id``, ``photos``, ``at``)."""

    sets: dict[str, Any]
    event: dict[str, Any]


@dataclass(frozen=True)
class Assignment:
    """A checked assignee: ``assignee`` (``person:ID`` or ``department:NAME``), its ``kind``, the ``level``
    index of :data:`LEVELS` it works at and the ``department`` name when a department holds it."""

    assignee: str
    kind: str
    level: int = 0
    department: str | None = None


@dataclass(frozen=True)
class Move:
    """A person's request: the ``target`` status, a ``note`` (at most :data:`MAX_NOTE` characters), photo
    references and, only when assigning, the checked :class:`Assignment`."""

    target: str
    note: str = ""
    assignee: Assignment | None = None
    photos: tuple[str, ...] = field(default_factory=tuple)


def check_note(note: str) -> str:
    """Return ``note`` if it has at most :data:`MAX_NOTE` characters, else :class:`InputError`."""
    if len(note) > MAX_NOTE:
        raise InputError(f"The note has {len(note):,} characters; at most {MAX_NOTE:,}.", fix="shorten it.")
    return note


def assignee_kind(assignee: str) -> str:
    """What holds a case: the part before ':' of ``person:ID``, ``community:ID``, ``department:NAME``...

    >>> assignee_kind("community:440784101001"), assignee_kind("person:p-1a2b")
    ('community', 'person')
    """
    return assignee.split(":", 1)[0] if ":" in assignee else "person"


def _event(case, target, actor: Actor, now, *, note="", assignee=None, photos=()) -> dict[str, Any]:
    return {
        "from_status": case["status"],
        "to_status": target,
        "assignee": assignee,
        "note": note,
        "actor": actor.name,
        "person_id": actor.person_id,
        "photos": list(photos),
        "at": now,
    }


def transition(
    case: Mapping[str, Any],
    move: Move,
    actor: Actor,
    now: datetime,
    config: CaseConfig = DEFAULT,
    up: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None,
) -> Change:
    """The change of moving ``case`` as ``move`` asks, by ``actor`` at ``now``.

    Raises :class:`ConflictError` (409) listing the moves when the status does not allow the target,
    :class:`ForbiddenError` (403) when the actor's chain roles do not (or it resolved the case and now
    verifies it), :class:`InputError` for a missing reason or result, a too long note, or an assignee
    when not assigning (or none when assigning). ``up(case)`` gives the columns of one escalation step
    (see :func:`escalation_step`); escalating at the top raises :class:`ConflictError`.
    """
    check_note(move.note)
    target, status = move.target, case["status"]
    try:
        check_transition(status, target, case_id=case["id"])
    except ConflictError as exc:
        exc.details["allowed_for_you"] = allowed_moves(case, actor)
        raise
    roles = MOVES[status][target]
    if not actor.roles.intersection(roles):
        raise ForbiddenError(
            f"Moving case {case['id']} from {status!r} to {target!r} needs a {' or '.join(roles)}; "
            f"{actor.name} acts here as {sorted(actor.roles) or 'none of them'}.",
            fix=f"moves open to you now: {allowed_moves(case, actor)}.",
            details={"status": status, "target": target, "roles": list(roles), "allowed": allowed_moves(case, actor)},
        )
    if target == "verified" and _same(actor, case):
        raise ForbiddenError(
            f"Case {case['id']} was resolved by {actor.name}; the check (核查) must be done by someone else.",
            fix="ask a dispatcher or the community to verify it.",
            details={"status": status, "target": target},
        )
    if target in NOTE_REQUIRED and not move.note.strip():
        raise InputError(
            f"Moving case {case['id']} to {target!r} needs a note: {NOTE_REQUIRED[target]}.",
            fix='send it as "note" (the reporter reads it).',
            details={"field": "note"},
        )
    if (move.assignee is not None) != (target == "assigned"):
        raise InputError(
            "An assignee is given exactly when assigning (target 'assigned')"
            + (f", not {target!r}." if move.assignee is not None else "; none was given."),
            fix='assign to "person:ID" (GET /v1/people) or "department:NAME" (GET /v1/cases/config).',
            details={"field": "assignee"},
        )
    sets: dict[str, Any] = {"status": target, "updated_at": now}
    if target == "assigned":
        a = move.assignee
        sets.update(assignee=a.assignee, assignee_kind=a.kind, level=a.level, department=a.department)
    elif target == "escalated":
        step = up(case) if up is not None else None
        if step is None:
            raise ConflictError(
                f"Case {case['id']} is already held at the top of the chain ({case['assignee']}); it cannot escalate.",
                fix="assign it, resolve it or reject it.",
                details={"status": status, "level": case["level"]},
            )
        sets.update(step)
    elif target == "returned":
        sets.update(assignee=DISPATCH_DESK, assignee_kind="desk", return_reason=move.note)
    elif target == "rejected":
        sets["reject_reason"] = move.note
    elif target == "resolved":
        sets.update(resolved_at=now, resolved_by=actor.identity, result=move.note)
    elif target == "verified":
        sets.update(verified_at=now, verified_by=actor.name, check_note=move.note)
    elif target == "reopened":
        deadline = get_category(case["category"], config.categories).deadline
        sets.update(resolved_at=None, resolved_by=None, check_note=move.note, due_at=now + deadline)
    if target in FINAL_STATUSES:
        sets["closed_at"] = now
    return Change(
        sets, _event(case, target, actor, now, note=move.note, assignee=sets.get("assignee"), photos=move.photos)
    )


def note(case: Mapping[str, Any], text: str, photos: tuple[str, ...], actor: Actor, now: datetime) -> Change:
    """A note and/or photos on ``case`` without moving it (an event from its status to the same)."""
    check_note(text)
    if not text.strip() and not photos:
        raise InputError("A note needs text or photos.", fix='send "note" and/or "photos".')
    return Change({"updated_at": now}, _event(case, case["status"], actor, now, note=text, photos=photos))


def escalation_step(
    case: Mapping[str, Any],
    now: datetime,
    config: CaseConfig,
    leader_of: Callable[[str, str], str | None],
) -> dict[str, Any] | None:
    """The columns of one step up the chain from the case's level: to the next configured level
    (``config.escalation_levels``) that has a unit for the case, held by its named leader
    (``leader_of(level, unit_id)`` gives ``person:ID`` or None) else by the level's desk ``level:unit_id``;
    None at the top.

    >>> case = {"level": 0, "grid_id": "g", "community_id": "c1", "town_id": "440784101", "category": "fire"}
    >>> from datetime import UTC
    >>> step = escalation_step(case, datetime(2026, 1, 1, tzinfo=UTC), DEFAULT, lambda lv, u: None)
    >>> step["level"], step["assignee"]
    (1, 'community:c1')
    """
    units = {
        "community": case.get("community_id"),
        "town": case.get("town_id"),
        "county": config.county_of(case.get("town_id")),
    }
    for level in config.escalation_levels:
        index = LEVELS.index(level)
        if index <= case["level"] or not units[level]:
            continue
        assignee = leader_of(level, units[level]) or f"{level}:{units[level]}"
        return {
            "level": index,
            "assignee": assignee,
            "assignee_kind": assignee_kind(assignee),
            "department": None,
            "due_at": now + get_category(case["category"], config.categories).deadline,
        }
    return None


def escalation(
    case: Mapping[str, Any],
    now: datetime,
    config: CaseConfig = DEFAULT,
    leader_of: Callable[[str, str], str | None] = lambda level, unit: None,
    actor: Actor = SYSTEM,
) -> Change | None:
    """The change of an overdue ``case`` at ``now``: one level up (see :func:`escalation_step`) or, at the
    top, an alert (the ``alerts`` count goes up, a new deadline runs, the audit log says so: never
    silence); None when it is not overdue or not open."""
    if case["status"] not in OPEN_STATUSES or not case["due_at"] < now:
        return None
    step = escalation_step(case, now, config, leader_of)
    if step is None:
        deadline = get_category(case["category"], config.categories).deadline
        sets = {
            "alerts": int(case.get("alerts") or 0) + 1,
            "alerted_at": now,
            "due_at": now + deadline,
            "updated_at": now,
        }
        text = f"ALERT: overdue at the top of the chain ({LEVELS[case['level']]}, {case['assignee']}); not handled"
        return Change(sets, _event(case, case["status"], actor, now, note=text, assignee=case["assignee"]))
    sets = {"status": "escalated", **step, "updated_at": now}
    text = f"overdue: escalated to {step['assignee']} ({LEVELS[step['level']]})"
    return Change(sets, _event(case, "escalated", actor, now, note=text, assignee=step["assignee"]))
