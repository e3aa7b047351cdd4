"""The case ledger (台账) as CSV, and per-grid figures: counts by status and median time to close."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gridgis.cases.categories import CATEGORIES
from gridgis.cases.lifecycle import LEVELS, OPEN_STATUSES
from gridgis.cases.store import CaseFilter, CaseStore
from gridgis.errors import FileFormatError
from gridgis.io.atomic import atomic_path
from gridgis.times import utc_now

LEDGER_COLUMNS = (
    "id",
    "status",
    "category",
    "category_zh",
    "channel",
    "description",
    "lon",
    "lat",
    "grid_id",
    "community_id",
    "town_id",
    "assignee",
    "department",
    "level",
    "outside_coverage",
    "submitted_by",
    "created_at",
    "due_at",
    "resolved_at",
    "closed_at",
    "hours_to_close",
    "overdue",
)


def ledger_row(case: dict[str, Any], now: datetime) -> list[Any]:
    """One ledger line for a case (times in ISO 8601 UTC)."""
    closed = case["closed_at"]
    hours = round((closed - case["created_at"]).total_seconds() / 3600, 2) if closed else ""
    iso = lambda d: d.isoformat() if d else ""  # noqa: E731
    return [
        case["id"],
        case["status"],
        case["category"],
        CATEGORIES[case["category"]].name_zh,
        case["channel"],
        case["description"],
        case["lon"],
        case["lat"],
        case["grid_id"] or "",
        case["community_id"] or "",
        case["town_id"] or "",
        case["assignee"],
        case["department"] or "",
        LEVELS[case["level"]],
        int(case["outside_coverage"]),
        case["submitted_by"],
        iso(case["created_at"]),
        iso(case["due_at"]),
        iso(case["resolved_at"]),
        iso(closed),
        hours,
        int(case["status"] in OPEN_STATUSES and case["due_at"] < now),
    ]


def ledger_chunks(cases: Iterable[dict[str, Any]], now: datetime | None = None, *, rows: int = 500) -> Iterator[str]:
    """The ledger CSV text in chunks of ``rows`` lines (header first; UTF-8 BOM so Excel reads the Chinese)."""
    now = now or utc_now()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(LEDGER_COLUMNS)
    for n, case in enumerate(cases, start=1):
        writer.writerow(ledger_row(case, now))
        if n % rows == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_ledger(cases: CaseStore, path: str | Path, f: CaseFilter = CaseFilter(), now: datetime | None = None) -> int:
    """Write the ledger of the matching cases to ``path`` atomically (temp file, then rename); return the count."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise FileFormatError(f"The ledger is written as CSV; {path} does not end in .csv.", fix="name it ledger.csv.")
    count = 0

    def counted():
        nonlocal count
        for case in cases.iter_cases(f):
            count += 1
            yield case

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        for chunk in ledger_chunks(counted(), now):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return count


def grid_stats(cases: CaseStore, f: CaseFilter = CaseFilter(), now: datetime | None = None) -> list[dict[str, Any]]:
    """Per grid: cases, open, closed, rejected, escalated, overdue and the median hours from report to close.

    Cases outside every grid are counted under ``grid_id`` None (their town's desk).
    """
    now = now or utc_now()
    cols = ["grid_id", "community_id", "town_id", "status", "level", "created_at", "closed_at", "due_at"]
    frame = pd.DataFrame(cases.timings(f), columns=cols)
    if frame.empty:
        return []
    frame["grid_id"] = frame["grid_id"].astype(object).where(frame["grid_id"].notna(), "")
    frame["open"] = frame["status"].isin(OPEN_STATUSES)
    frame["overdue"] = frame["open"] & (pd.to_datetime(frame["due_at"], utc=True) < pd.Timestamp(now))
    frame["escalated"] = frame["level"] > 0
    closed = frame["status"] == "closed"
    frame["hours"] = (
        pd.to_datetime(frame["closed_at"], utc=True) - pd.to_datetime(frame["created_at"], utc=True)
    ).dt.total_seconds().where(closed) / 3600
    out = []
    for grid_id, g in frame.groupby("grid_id", sort=True):
        median = g["hours"].median()
        out.append(
            {
                "grid_id": grid_id or None,
                "community_id": g["community_id"].iloc[0] if grid_id else None,
                "town_id": g["town_id"].iloc[0] if grid_id else None,
                "cases": len(g),
                "open": int(g["open"].sum()),
                "closed": int((g["status"] == "closed").sum()),
                "rejected": int((g["status"] == "rejected").sum()),
                "escalated": int(g["escalated"].sum()),
                "overdue": int(g["overdue"].sum()),
                "median_hours_to_close": None if pd.isna(median) else round(float(median), 2),
            }
        )
    return out
