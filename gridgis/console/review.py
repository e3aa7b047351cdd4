"""The monthly review (考核) figures: per grid, community or town, for a period of reporting times.

For each unit: cases reported in the period, closed, still open, overdue now, escalated, the on-time
rate (cases closed by their deadline / cases closed) and the median hours from report to close.
A case escalated past its grid counts against its grid as well (it keeps its grid id).

Examples
--------
>>> import tempfile
>>> from gridgis.cases import open_case_store
>>> cases = open_case_store(f"sqlite:///{tempfile.mkdtemp()}/c.db")
>>> review(cases, "grid", month_range("2026-11"))
[]
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from gridgis.cases import CaseFilter
from gridgis.cases.lifecycle import OPEN_STATUSES
from gridgis.cases.store import CaseStore
from gridgis.errors import InputError
from gridgis.times import utc_now

#: units the figures are grouped by
UNITS = {"grid": "grid_id", "community": "community_id", "town": "town_id"}
#: the review's columns, in order
COLUMNS = (
    "unit_id",
    "name",
    "cases",
    "closed",
    "open",
    "overdue",
    "escalated",
    "on_time_rate",
    "median_hours_to_close",
)
CHINA = ZoneInfo("Asia/Shanghai")


def month_range(month: str) -> tuple[datetime, datetime]:
    """(start, end) of a calendar month ``YYYY-MM`` in Beijing time; :class:`InputError` for another text."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=CHINA)
    except ValueError:
        raise InputError(
            f"Bad month {month!r}.", fix="use YYYY-MM, e.g. 2026-11.", details={"field": "month"}
        ) from None
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def review(
    cases: CaseStore,
    unit: str,
    period: tuple[datetime, datetime],
    *,
    grid_ids: tuple[str, ...] | None = None,
    units: tuple[tuple[str, str], ...] = (),
    names: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The figures of each ``unit`` (grid, community or town) for cases reported in ``period`` [start, end),
    sorted by unit id; ``grid_ids`` (and ``units``) limit them to a worker's scope (see
    :class:`gridgis.cases.CaseFilter`); ``names`` (code -> name, e.g. of
    :func:`gridgis.cases.ledger.unit_names`) gives each row its ``name`` (None when unknown). Rates are
    fractions (0..1, None without closed cases); hours are floats rounded to 0.1."""
    if unit not in UNITS:
        raise InputError(f"Unknown unit {unit!r}.", fix=f"use one of {list(UNITS)}.", details={"field": "unit"})
    now = now or utc_now()
    cols = ["grid_id", "community_id", "town_id", "status", "level", "created_at", "closed_at", "due_at"]
    rows = cases.timings(CaseFilter(since=period[0], until=period[1], grid_ids=grid_ids, units=units))
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        return []
    for col in ("created_at", "closed_at", "due_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    key = UNITS[unit]
    frame[key] = frame[key].astype(object).where(frame[key].notna(), "")
    closed = frame["status"] == "closed"
    frame["closed"] = closed
    frame["open"] = frame["status"].isin(OPEN_STATUSES)
    frame["overdue"] = frame["open"] & (frame["due_at"] < pd.Timestamp(now))
    frame["on_time"] = closed & (frame["closed_at"] <= frame["due_at"])
    frame["escalated"] = frame["level"] > 0
    frame["hours"] = (frame["closed_at"] - frame["created_at"]).dt.total_seconds().where(closed) / 3600
    out = []
    for unit_id, g in frame.groupby(key, sort=True):
        n_closed = int(g["closed"].sum())
        median = g["hours"].median()
        out.append(
            {
                "unit_id": unit_id or None,
                "name": (names or {}).get(unit_id) if unit_id else None,
                "cases": len(g),
                "closed": n_closed,
                "open": int(g["open"].sum()),
                "overdue": int(g["overdue"].sum()),
                "escalated": int(g["escalated"].sum()),
                "on_time_rate": round(int(g["on_time"].sum()) / n_closed, 4) if n_closed else None,
                "median_hours_to_close": None if pd.isna(median) else round(float(median), 1),
            }
        )
    return out


def review_xlsx(rows: list[dict[str, Any]], headers: list[str], title: str) -> bytes:
    """The review as an XLSX workbook (one sheet named ``title``, a header row of ``headers``, one row per
    unit in :data:`COLUMNS` order; the on-time rate formatted as a percentage)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(headers)
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    rate = "ABCDEFGHIJ"[COLUMNS.index("on_time_rate")]
    for cell in sheet[rate][1:]:
        cell.number_format = "0.0%"
    sheet.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    return out.getvalue()
