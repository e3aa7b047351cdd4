"""Case categories (Heshan's merged forces, 多网合一), intake channels and deadlines.

Each category carries the time its handler has before the case escalates one
level up the chain grid -> community -> town. The deadlines are the defaults
of the all-in-one grid; the Open311 service list is generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gridgis.errors import InputError


@dataclass(frozen=True)
class Category:
    """One case category (an Open311 service)."""

    code: str
    name: str
    name_zh: str
    deadline_hours: float
    description: str

    @property
    def deadline(self) -> timedelta:
        return timedelta(hours=self.deadline_hours)


CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category("public_security", "Public security", "社会治安", 24, "Disputes, suspicious people, public order."),
        Category("fire", "Fire safety", "消防安全", 12, "Blocked fire exits, illegal wiring, hazards."),
        Category("work_safety", "Work safety", "安全生产", 24, "Unsafe workshops, hazardous goods, sites."),
        Category("river_chief", "River chief", "河长制", 72, "Waste or discharge into rivers, damaged banks."),
        Category("urban_management", "Urban management", "城市管理", 72, "Street vendors, litter, broken facilities."),
        Category("petitions", "Petitions and stability", "信访维稳", 72, "Grievances and conflicts to mediate."),
        Category("civilisation", "Civilisation campaign", "文明创建", 120, "Uncivil behaviour, campaign tasks."),
        Category("volunteers", "Volunteers", "志愿服务", 168, "Requests for volunteer help."),
        Category("other", "Other", "其他", 72, "Anything else within the grid's remit."),
    )
}

CHANNELS = ("app", "hotline", "patrol", "wechat")


def get_category(code: str) -> Category:
    """The category ``code``; :class:`~gridgis.errors.InputError` listing the allowed codes otherwise."""
    try:
        return CATEGORIES[code]
    except (KeyError, TypeError):
        raise InputError(
            f"Unknown case category {code!r}.",
            fix=f"use one of {list(CATEGORIES)}.",
            details={"field": "category", "allowed": list(CATEGORIES)},
        ) from None
