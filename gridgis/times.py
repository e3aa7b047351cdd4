"""Time: stored and computed in UTC, shown in China Standard Time (Asia/Shanghai, UTC+8, no daylight saving).

Examples
--------
>>> from datetime import UTC, datetime
>>> shown(datetime(2026, 11, 23, 0, 30, tzinfo=UTC)).isoformat()
'2026-11-23T08:30:00+08:00'
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: the time zone times are shown in
SHOWN_ZONE = ZoneInfo("Asia/Shanghai")


def utc_now() -> datetime:
    """The current time, aware, in UTC (the clock of every stored time)."""
    return datetime.now(UTC)


def shown(value: datetime | None) -> datetime | None:
    """``value`` (aware) in Asia/Shanghai, for people to read; None stays None."""
    return None if value is None else value.astimezone(SHOWN_ZONE)
