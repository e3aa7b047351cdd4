"""Cases as JSON, the one shape the case routes, Open311's queue and the console answer with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gridgis.access import Caller
from gridgis.cases import CaseStore
from gridgis.cases.config import LEVELS, CaseConfig
from gridgis.cases.lifecycle import (
    OPEN_STATUSES,
    STATUS_NAMES_ZH,
    Actor,
    allowed_moves,
    allowed_transitions,
    warning,
)


def case_json(
    case: dict[str, Any],
    now: datetime,
    *,
    contact: bool = False,
    config: CaseConfig | None = None,
    actor: Actor | None = None,
    names: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """A case as JSON (times ISO 8601 UTC); the reporter's contact only for staff. With ``actor``,
    ``allowed_moves`` lists the targets it may move the case to now; ``names`` gives a person's name."""
    out = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in case.items()
        if k not in ("contact", "submitter_id", "resolved_by")
    }
    out["level"] = LEVELS[case["level"]]
    out["overdue"] = case["status"] in OPEN_STATUSES and case["due_at"] < now
    out["status_name"] = STATUS_NAMES_ZH[case["status"]]
    if config is not None:
        out["warning"] = warning(case, now, config)
        category = config.categories.get(case["category"])
        out["category_name"] = category.name_zh if category else case["category"]
        out["category_name_en"] = category.name if category else case["category"]
    out["allowed_transitions"] = list(allowed_transitions(case["status"]))
    if actor is not None:
        out["allowed_moves"] = allowed_moves(case, actor)
    if names is not None:
        out["assignee_name"] = names(case["assignee"])
    if contact:
        out["contact"] = case["contact"]
    return out


def case_view(cases: CaseStore, caller: Caller, case: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A case as the caller sees it, with the moves open to it."""
    return case_json(
        case,
        now,
        contact=caller.at_least("worker"),
        config=cases.config(),
        actor=cases.actor(caller, case),
        names=cases.people.directory().name_of,
    )
