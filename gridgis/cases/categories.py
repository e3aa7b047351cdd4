"""Case categories (Heshan's merged forces, 多网合一), intake channels and deadlines.

Each category carries the time its handler has before the case escalates one level up the chain
grid -> community -> town -> county, and the time before that deadline when its warning turns yellow
(red once it has passed). These are the built-in defaults; :mod:`gridgis.cases.config` lets a grid
centre change them (a file or ``PUT /v1/cases/config``). Names are Chinese by default, English on request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from gridgis.errors import InputError

#: languages names are given in: Chinese (default) and English
LANGS = ("zh", "en")


@dataclass(frozen=True)
class Category:
    """One case category (an Open311 service): ``name`` English, ``name_zh`` Chinese, ``deadline_hours``
    before it escalates, ``yellow_hours`` before the deadline when its warning turns yellow (default a
    quarter of the deadline)."""

    code: str
    name: str
    name_zh: str
    deadline_hours: float
    description: str
    yellow_hours: float | None = None

    @property
    def deadline(self) -> timedelta:
        return timedelta(hours=self.deadline_hours)

    @property
    def yellow(self) -> timedelta:
        """How long before the deadline the warning turns yellow."""
        hours = self.yellow_hours if self.yellow_hours is not None else self.deadline_hours / 4
        return timedelta(hours=hours)

    def label(self, lang: str = "zh") -> str:
        """The name in ``lang`` (``zh`` default, ``en``)."""
        return self.name if lang == "en" else self.name_zh


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
#: the channels as a grid centre's ledger names them
CHANNEL_NAMES_ZH = {"app": "APP", "hotline": "热线", "patrol": "巡查", "wechat": "微信"}


def get_category(code: str, table: Mapping[str, Category] | None = None) -> Category:
    """The category ``code`` of ``table`` (default: the built-in :data:`CATEGORIES`);
    :class:`~gridgis.errors.InputError` listing the allowed codes otherwise."""
    table = CATEGORIES if table is None else table
    try:
        return table[code]
    except (KeyError, TypeError):
        raise InputError(
            f"Unknown case category {code!r}.",
            fix=f"use one of {list(table)}.",
            details={"field": "category", "allowed": list(table)},
        ) from None


def check_lang(lang: str | None) -> str:
    """``zh`` (default for None) or ``en``; :class:`InputError` otherwise."""
    lang = (lang or "zh").lower()
    if lang not in LANGS:
        raise InputError(f"Unknown language {lang!r}.", fix=f"use one of {list(LANGS)}.", details={"field": "lang"})
    return lang
