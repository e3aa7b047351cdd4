"""What differs between the two databases, in one object: placeholders, column types, stored times and booleans.

Every component (the core store, the case tables, what comes next) writes its SQL once with ``?``
placeholders and ``{serial}``-style type names, and lets the store's :class:`Dialect` turn it into
the database's own. Times are stored in UTC: SQLite as fixed-width ISO 8601 text (so they sort
and compare as text), PostGIS as ``TIMESTAMPTZ``; both read back as aware UTC datetimes.

Examples
--------
>>> from datetime import UTC, datetime
>>> SQLITE.q("SELECT 1 WHERE a = ?"), POSTGIS.q("SELECT 1 WHERE a = ?")
('SELECT 1 WHERE a = ?', 'SELECT 1 WHERE a = %s')
>>> SQLITE.ts(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
'2026-11-23T08:00:00.000000+00:00'
>>> SQLITE.schema("CREATE TABLE t (id {serial} PRIMARY KEY, at {ts} NOT NULL)")
'CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT NOT NULL)'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Dialect:
    """The SQL dialect of a store.

    Attributes
    ----------
    kind
        "sqlite" or "postgis".
    paramstyle
        DB-API placeholder style: "qmark" (``?``) or "format" (``%s``).
    types
        Column types by name, for :meth:`schema`: ``serial`` (an auto-increment integer key),
        ``bigint``, ``real`` (float64), ``bool``, ``ts`` (a UTC instant), ``bytes`` (a binary value).
    text_times
        True when times are stored as ISO 8601 text (SQLite), False for native timestamps.
    for_update
        The row-lock clause of a ``SELECT`` that is about to update the row ("" where the whole
        database is locked by the write transaction, as in SQLite).
    """

    kind: str
    paramstyle: str
    types: Mapping[str, str]
    text_times: bool
    for_update: str = ""

    def q(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in this dialect's style."""
        return sql if self.paramstyle == "qmark" else sql.replace("?", "%s")

    def schema(self, template: str) -> str:
        """A schema template with ``{serial}``, ``{bigint}``, ``{real}``, ``{bool}``, ``{ts}``, ``{bytes}`` type names
        filled in."""
        return template.format(**self.types)

    def ts(self, value: datetime | None) -> Any:
        """The stored form of an aware datetime (None stays None): UTC text on SQLite, the datetime on PostGIS."""
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="microseconds") if self.text_times else value

    def bool(self, value: bool) -> Any:
        """The stored form of a boolean (0/1 on SQLite)."""
        return int(value) if self.text_times else bool(value)


def from_stored(value: Any) -> datetime | None:
    """A stored time (ISO text or a datetime) as an aware UTC datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC)


SQLITE = Dialect(
    "sqlite",
    "qmark",
    {"serial": "INTEGER", "bigint": "INTEGER", "real": "REAL", "bool": "INTEGER", "ts": "TEXT", "bytes": "BLOB"},
    text_times=True,
)
POSTGIS = Dialect(
    "postgis",
    "format",
    {
        "serial": "BIGSERIAL",
        "bigint": "BIGINT",
        "real": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "ts": "TIMESTAMPTZ",
        "bytes": "BYTEA",
    },
    text_times=False,
    for_update=" FOR UPDATE",
)
