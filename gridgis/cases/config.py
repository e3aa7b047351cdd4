"""The case configuration of a grid centre: categories and deadlines, warning levels, departments,
the county, escalation and routing — a file (JSON) and the API, Chinese names by default.

The document (``gridgis cases config FILE``, ``GET|PUT /v1/cases/config``)::

    {"county": {"code": "440784", "name": "鹤山市"},
     "categories": [{"code": "fire", "name_zh": "消防安全", "name_en": "Fire safety",
                     "deadline_hours": 12, "yellow_hours": 3, "description": "..."}],
     "departments": ["河长办", "城管局"],
     "escalation": {"levels": ["community", "town", "county"]},
     "routes": [{"category": "river_chief", "layer": "river_sections", "department": "河长办",
                 "max_distance_m": 0}]}

Every member is optional: what is left out keeps its default (the built-in categories, no departments,
the county derived from the town codes, escalation through every level). ``routes`` replace the
routing table (:class:`gridgis.cases.routing.RouteRule`). An overdue case escalates to the named
leader of each level in ``escalation.levels``; past the top it raises an alert, never silence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridgis.cases.categories import CATEGORIES, Category
from gridgis.errors import InputError

#: levels of the chain, lowest first (a case's ``level`` is an index into it)
LEVELS = ("grid", "community", "town", "county")
LEVEL_NAMES_ZH = {"grid": "网格", "community": "社区", "town": "镇街", "county": "县(市、区)"}
MAX_CATEGORIES = 200
_CATEGORY_KEYS = {"code", "name_zh", "name_en", "deadline_hours", "yellow_hours", "description"}
_TOP_KEYS = {"county", "categories", "departments", "escalation", "routes"}


@dataclass(frozen=True)
class CaseConfig:
    """The parsed configuration (see the module doc). ``county_code`` None: derived from the town codes
    (their first 6 digits, the county's division code)."""

    categories: dict[str, Category] = field(default_factory=lambda: dict(CATEGORIES))
    departments: tuple[str, ...] = ()
    county_code: str | None = None
    county_name: str | None = None
    escalation_levels: tuple[str, ...] = ("community", "town", "county")
    routes: tuple[dict[str, Any], ...] | None = None

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The document (``routes`` left out: the routing table is read from the store)."""
        return {
            "county": {"code": self.county_code, "name": self.county_name},
            "categories": [
                {
                    "code": c.code,
                    "name": c.label(lang),
                    "name_zh": c.name_zh,
                    "name_en": c.name,
                    "deadline_hours": c.deadline_hours,
                    "yellow_hours": c.yellow.total_seconds() / 3600,
                    "description": c.description,
                }
                for c in self.categories.values()
            ],
            "departments": list(self.departments),
            "escalation": {"levels": list(self.escalation_levels)},
        }

    def county_of(self, town_id: str | None) -> str | None:
        """The county code: configured, else the first 6 digits of a 9-digit town code."""
        if self.county_code:
            return self.county_code
        return town_id[:6] if town_id and len(town_id) >= 9 and town_id[:6].isdigit() else None


DEFAULT = CaseConfig()


def _bad(where: str, message: str, fix: str) -> InputError:
    return InputError(f"{where}: {message}", fix=fix, details={"field": where})


def _hours(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < float(value) <= 24 * 365):
        raise _bad(where, f"{value!r} is not a number of hours.", "give hours between 0 and 8760, e.g. 72.")
    return float(value)


def parse_config(doc: Any, source: str = "configuration") -> CaseConfig:
    """Check and parse a configuration document (a JSON object); :class:`InputError` naming ``source``
    and the field otherwise. Categories left out of ``categories`` keep their built-in definition."""
    if not isinstance(doc, Mapping):
        raise InputError(f"{source}: the configuration must be a JSON object.", fix="see GET /v1/cases/config.")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise _bad(f"{source}: {unknown[0]}", f"unknown member(s) {unknown}.", f"use {sorted(_TOP_KEYS)}.")
    categories = dict(CATEGORIES)
    items = doc.get("categories") or []
    if not isinstance(items, list) or len(items) > MAX_CATEGORIES:
        raise _bad(f"{source}: categories", "must be a list of at most 200 objects.", "see GET /v1/cases/config.")
    for i, item in enumerate(items):
        where = f"{source}: categories[{i}]"
        if not isinstance(item, Mapping) or set(item) - _CATEGORY_KEYS:
            raise _bad(where, f"bad category {item!r}.", f"give an object with {sorted(_CATEGORY_KEYS)}.")
        code = item.get("code")
        if (
            not isinstance(code, str)
            or not code.isascii()
            or not (0 < len(code) <= 40)
            or not code.replace("_", "").isalnum()
        ):
            raise _bad(where, f"code {code!r} must be 1-40 ASCII letters, digits or '_'.", 'e.g. "street_lights".')
        base = categories.get(code)
        name_zh = item.get("name_zh", base.name_zh if base else None)
        if not isinstance(name_zh, str) or not name_zh.strip():
            raise _bad(where, f"category {code!r} needs a Chinese name (name_zh).", 'e.g. "name_zh": "路灯维修".')
        deadline = _hours(item.get("deadline_hours", base.deadline_hours if base else None), f"{where}.deadline_hours")
        yellow = item.get("yellow_hours", base.yellow_hours if base else None)
        if yellow is not None:
            yellow = _hours(yellow, f"{where}.yellow_hours")
            if yellow > deadline:
                raise _bad(where, f"yellow_hours {yellow:g} exceeds the deadline {deadline:g} h.", "give fewer hours.")
        categories[code] = Category(
            code,
            str(item.get("name_en", base.name if base else code)),
            name_zh.strip(),
            deadline,
            str(item.get("description", base.description if base else "")),
            yellow,
        )
    departments = doc.get("departments") or []
    if not isinstance(departments, list) or not all(
        isinstance(d, str) and 0 < len(d.strip()) <= 100 for d in departments
    ):
        raise _bad(f"{source}: departments", "must be a list of names.", 'e.g. ["河长办", "城管局"].')
    county = doc.get("county") or {}
    if not isinstance(county, Mapping) or set(county) - {"code", "name"}:
        raise _bad(f"{source}: county", f"bad county {county!r}.", 'e.g. {"code": "440784", "name": "鹤山市"}.')
    code = county.get("code")
    if code is not None and not (isinstance(code, str) and code.isdigit() and len(code) == 6):
        raise _bad(f"{source}: county.code", f"{code!r} is not a 6-digit division code.", 'e.g. "440784".')
    escalation = doc.get("escalation") or {}
    levels = escalation.get("levels", list(DEFAULT.escalation_levels)) if isinstance(escalation, Mapping) else None
    if not isinstance(levels, list) or not levels or [lv for lv in LEVELS[1:] if lv in levels] != levels:
        raise _bad(
            f"{source}: escalation.levels",
            f"{levels!r} must name levels above the grid, in order, without repeats.",
            'use a subset of ["community", "town", "county"] in that order.',
        )
    routes = doc.get("routes")
    if routes is not None:
        from gridgis.cases.routing import RouteRule

        if not isinstance(routes, list):
            raise _bad(f"{source}: routes", "must be a list.", "see GET /v1/cases/routes.")
        checked = []
        for i, r in enumerate(routes):
            if not isinstance(r, Mapping) or set(r) - {"category", "layer", "department", "max_distance_m"}:
                raise _bad(f"{source}: routes[{i}]", f"bad rule {r!r}.", "give category, layer, department.")
            try:
                rule = RouteRule(
                    str(r.get("category")),
                    str(r.get("layer")),
                    r.get("department"),
                    r.get("max_distance_m", 0.0),
                    categories=categories,
                )
            except InputError as exc:
                raise _bad(f"{source}: routes[{i}]", exc.message, exc.fix or "") from None
            checked.append(rule.as_dict())
        routes = tuple(checked)
    return CaseConfig(
        categories=categories,
        departments=tuple(d.strip() for d in departments),
        county_code=code,
        county_name=county.get("name"),
        escalation_levels=tuple(levels),
        routes=routes,
    )


def read_config_file(path: str | Path) -> tuple[dict[str, Any], CaseConfig]:
    """(document, parsed) of a JSON configuration file; errors name the file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.", fix="give the path of a JSON configuration file.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path}: not JSON ({exc}).", fix="save it as UTF-8 JSON (see GET /v1/cases/config)."
        ) from None
    return doc, parse_config(doc, str(path))
