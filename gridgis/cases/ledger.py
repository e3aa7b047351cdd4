"""The case ledger (台账) for Excel, as CSV or XLSX, and per-grid figures: counts by status and median time to close.

The ledger has Chinese headers and status names by default (``lang="en"``: English), Beijing time
without microseconds (``2026-11-23 16:00:00``), codes as text (CSV: a leading tab, which Excel keeps
as text instead of turning 440784101001001 into 4.40784E+14; XLSX: text cells), the grid, community
and town names, the handler, the handling notes, the result, the check and the call-back.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gridgis.cases.categories import CHANNEL_NAMES_ZH, get_category
from gridgis.cases.config import DEFAULT, LEVEL_NAMES_ZH, LEVELS, CaseConfig
from gridgis.cases.lifecycle import OPEN_STATUSES, STATUS_NAMES_ZH, WARNING_NAMES_ZH, warning
from gridgis.cases.store import CaseFilter, CaseStore
from gridgis.errors import FileFormatError
from gridgis.io.atomic import atomic_path
from gridgis.times import shown, utc_now

#: (key, Chinese header, English header) of each ledger column, in order
LEDGER_COLUMNS = (
    ("id", "编号", "id"),
    ("status", "状态", "status"),
    ("category", "类别", "category"),
    ("channel", "来源渠道", "channel"),
    ("description", "问题描述", "description"),
    ("lon", "经度", "lon"),
    ("lat", "纬度", "lat"),
    ("grid_id", "网格编码", "grid_id"),
    ("grid_name", "网格名称", "grid_name"),
    ("community_id", "社区编码", "community_id"),
    ("community_name", "社区名称", "community_name"),
    ("town_id", "镇街编码", "town_id"),
    ("town_name", "镇街名称", "town_name"),
    ("outside_coverage", "网格外", "outside_coverage"),
    ("handler", "处置人", "handler"),
    ("department", "处置部门", "department"),
    ("level", "当前层级", "level"),
    ("submitted_by", "上报方", "submitted_by"),
    ("created_at", "上报时间", "created_at"),
    ("due_at", "办理时限", "due_at"),
    ("warning", "预警", "warning"),
    ("resolved_at", "处置时间", "resolved_at"),
    ("result", "处置结果", "result"),
    ("verified_at", "核查时间", "verified_at"),
    ("verified_by", "核查人", "verified_by"),
    ("check_note", "核查意见", "check_note"),
    ("callback_note", "回访情况", "callback_note"),
    ("rating", "满意度", "rating"),
    ("closed_at", "办结时间", "closed_at"),
    ("hours_to_close", "办结用时(小时)", "hours_to_close"),
    ("return_reason", "退回原因", "return_reason"),
    ("reject_reason", "驳回原因", "reject_reason"),
    ("alerts", "超时告警次数", "alerts"),
)
#: columns holding codes: kept as text
CODE_COLUMNS = ("grid_id", "community_id", "town_id")
_TIMES = ("created_at", "due_at", "resolved_at", "verified_at", "closed_at")


def headers(lang: str = "zh") -> list[str]:
    """The ledger's header line in ``lang``."""
    return [zh if lang != "en" else en for _, zh, en in LEDGER_COLUMNS]


def _time(value: datetime | None) -> str:
    return shown(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def ledger_record(
    case: dict[str, Any],
    now: datetime,
    *,
    config: CaseConfig = DEFAULT,
    names: Mapping[str, Mapping[str, str]] | None = None,
    handler_name: Any = None,
    lang: str = "zh",
) -> dict[str, Any]:
    """One ledger line of a case as key -> value (times Beijing, codes as str). ``names`` maps ``grid``,
    ``community`` and ``town`` to id -> name; ``handler_name(assignee)`` gives a person's name."""
    names = names or {}
    zh = lang != "en"
    closed = case["closed_at"]
    warn = warning(case, now, config)
    who = (handler_name(case["assignee"]) if handler_name else None) or case["assignee"]
    out = {
        "id": case["id"],
        "status": STATUS_NAMES_ZH[case["status"]] if zh else case["status"],
        "category": get_category(case["category"], config.categories).label(lang)
        if case["category"] in config.categories
        else case["category"],
        "channel": CHANNEL_NAMES_ZH.get(case["channel"], case["channel"]) if zh else case["channel"],
        "description": case["description"],
        "lon": case["lon"],
        "lat": case["lat"],
        "outside_coverage": ("是" if zh else "yes") if case["outside_coverage"] else ("否" if zh else "no"),
        "handler": who,
        "department": case["department"] or "",
        "level": LEVEL_NAMES_ZH[LEVELS[case["level"]]] if zh else LEVELS[case["level"]],
        "submitted_by": case["submitted_by"],
        "warning": (WARNING_NAMES_ZH[warn] if zh else warn) if warn else "",
        "hours_to_close": round((closed - case["created_at"]).total_seconds() / 3600, 2) if closed else "",
        "rating": case["rating"] if case["rating"] is not None else "",
        "alerts": case["alerts"],
    }
    for level in ("grid", "community", "town"):
        code = case[f"{level}_id"]
        out[f"{level}_id"] = code or ""
        out[f"{level}_name"] = (names.get(level) or {}).get(code, "") if code else ""
    for col in _TIMES:
        out[col] = _time(case[col])
    for col in ("result", "verified_by", "check_note", "callback_note", "return_reason", "reject_reason"):
        out[col] = case[col] or ""
    return out


def ledger_chunks(
    cases: Iterable[dict[str, Any]], now: datetime | None = None, *, rows: int = 500, **options: Any
) -> Iterator[str]:
    """The ledger CSV text in chunks of ``rows`` lines (header first; UTF-8 BOM so Excel reads the Chinese;
    codes with a leading tab so Excel keeps them as text). ``options``: those of :func:`ledger_record`."""
    now = now or utc_now()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(headers(options.get("lang", "zh")))
    keys = [k for k, _, _ in LEDGER_COLUMNS]
    for n, case in enumerate(cases, start=1):
        rec = ledger_record(case, now, **options)
        for col in CODE_COLUMNS:
            if rec[col]:
                rec[col] = "\t" + rec[col]
        writer.writerow([rec[k] for k in keys])
        if n % rows == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def write_xlsx(cases: Iterable[dict[str, Any]], out, now: datetime | None = None, **options: Any) -> int:
    """Write the ledger as an XLSX workbook (one sheet 台账, streamed: constant memory) to ``out`` (a path or
    a binary file); codes are text cells. Returns the number of cases."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    now = now or utc_now()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账" if options.get("lang", "zh") != "en" else "ledger")
    sheet.append(headers(options.get("lang", "zh")))
    keys = [k for k, _, _ in LEDGER_COLUMNS]
    n = 0
    for n, case in enumerate(cases, start=1):  # noqa: B007
        rec = ledger_record(case, now, **options)
        row = []
        for k in keys:
            cell = WriteOnlyCell(sheet, value=rec[k])
            if k in CODE_COLUMNS:
                cell.number_format = "@"
            row.append(cell)
        sheet.append(row)
    book.save(out)
    return n


def write_ledger(
    cases: CaseStore, path: str | Path, f: CaseFilter = CaseFilter(), now: datetime | None = None, **options: Any
) -> int:
    """Write the ledger of the matching cases to ``path`` (``.csv`` or ``.xlsx``) atomically (temp file, then
    rename); return the count. ``options``: those of :func:`ledger_record`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise FileFormatError(
            f"The ledger is written as CSV or XLSX; {path} ends in neither.", fix="name it ledger.csv or ledger.xlsx."
        )
    options.setdefault("config", cases.config())
    options.setdefault("handler_name", cases.people.directory().name_of)
    count = 0

    def counted():
        nonlocal count
        for case in cases.iter_cases(f):
            count += 1
            yield case

    with atomic_path(path) as tmp:
        if suffix == ".xlsx":
            with open(tmp, "wb") as out:
                write_xlsx(counted(), out, now, **options)
                out.flush()
                os.fsync(out.fileno())
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                for chunk in ledger_chunks(counted(), now, **options):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
    return count


def unit_names(snapshot) -> dict[str, dict[str, str]]:
    """``grid``, ``community``, ``town`` -> id -> name, from a plan snapshot's answers."""
    out: dict[str, dict[str, str]] = {"grid": {}, "community": {}, "town": {}}
    if snapshot is None:
        return out
    for answer in snapshot.answers:
        for level, key in (("grid", "grid_id"), ("community", "community_id"), ("town", "town_id")):
            unit = answer.get(level) or {}
            if unit.get(key) is not None and unit.get("name"):
                out[level][str(unit[key])] = str(unit["name"])
    return out


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
