"""Open311 GeoReport v2 request fields kept beside the case tables: what a POST ``requests`` carries that a
case does not (address, reporter's account and device, names, attributes, jurisdiction, the point's CRS, and for an
address-only report how the geocoder placed it).

The ``georeport`` store component owns one table, ``georeport_requests`` (one row per case submitted through
Open311, keyed by the case id); the case tables are never altered. Service definitions' attributes are
:data:`ATTRIBUTES` (the same for every service); a submitted ``attribute[CODE]`` is checked against them,
so no attribute is silently dropped. Spec: https://wiki.open311.org/GeoReport_v2/
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gridgis.errors import InputError
from gridgis.store import Store

COMPONENT = "georeport"

#: the reporter fields of a POST ``requests`` (GeoReport v2), kept as sent
PERSON_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
#: every column of the side table but case_id, in order
COLUMNS = (
    "jurisdiction_id",
    "address_string",
    "address_id",
    *PERSON_FIELDS,
    "media_url",
    "attributes",
    "crs",
    "placement",
)
MAX_FIELD = 200
MAX_ATTRIBUTE = 1000

MIGRATIONS = [
    """
    CREATE TABLE georeport_requests (case_id BIGINT PRIMARY KEY, jurisdiction_id TEXT, address_string TEXT,
        address_id TEXT, email TEXT, device_id TEXT, account_id TEXT, first_name TEXT, last_name TEXT,
        phone TEXT, media_url TEXT, attributes TEXT NOT NULL, crs TEXT NOT NULL, placement TEXT)
    """
]

#: the attributes of every service definition (GeoReport v2 ``GET services/{code}``)
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "urgency",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "normal (一般) or urgent (紧急)",
        "order": 1,
        "description": "紧急程度 Urgency",
        "values": [{"key": "normal", "name": "一般"}, {"key": "urgent", "name": "紧急"}],
    },
    {
        "variable": True,
        "code": "landmark",
        "datatype": "string",
        "required": False,
        "datatype_description": "free text, at most 1,000 characters",
        "order": 2,
        "description": "附近标志物 Nearby landmark (shop sign, building number)",
    },
    {
        "variable": True,
        "code": "recurring",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "yes (是) or no (否)",
        "order": 3,
        "description": "是否反复发生 Has it happened before",
        "values": [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}],
    },
]
_BY_CODE = {a["code"]: a for a in ATTRIBUTES}


def check_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """Check ``attribute[CODE]`` values against :data:`ATTRIBUTES`; :class:`InputError` names the bad one.

    >>> check_attributes({"urgency": "urgent"})
    {'urgency': 'urgent'}
    """
    for code, value in attributes.items():
        spec = _BY_CODE.get(code)
        if spec is None:
            raise InputError(
                f"Unknown attribute[{code}].",
                fix=f"use the attributes of the service definition: {sorted(_BY_CODE)} (GET services/CODE.json).",
                details={"field": f"attribute[{code}]", "allowed": sorted(_BY_CODE)},
            )
        keys = [v["key"] for v in spec.get("values", [])]
        if keys and value not in keys:
            raise InputError(
                f"attribute[{code}]={value[:40]!r} is not one of {keys}.",
                fix=f"send one of {keys}.",
                details={"field": f"attribute[{code}]", "allowed": keys},
            )
        if len(value) > MAX_ATTRIBUTE:
            raise InputError(f"attribute[{code}] is longer than {MAX_ATTRIBUTE:,} characters.", fix="shorten it.")
    return attributes


def check_field(name: str, value: str | None) -> str | None:
    """A reporter or address field: at most 200 characters (None for empty)."""
    if value is None or value == "":
        return None
    if len(value) > MAX_FIELD:
        raise InputError(
            f"{name} has {len(value):,} characters; at most {MAX_FIELD} are accepted.",
            fix="shorten it.",
            details={"field": name},
        )
    return value


class GeoReportStore:
    """The ``georeport_requests`` table over a :class:`gridgis.store.Store` (its dialect and transactions)."""

    def __init__(self, store: Store):
        self.store = store
        store.migrate_component(COMPONENT, MIGRATIONS)

    def writer(self, fields: dict[str, Any]) -> Callable[[Any, dict[str, Any]], None]:
        """The write of ``fields`` (keys of :data:`COLUMNS`; ``attributes`` a dict) for a new case, as
        ``write(cursor, case)``: pass it as ``also`` to :func:`gridgis.cases.submit`, so the row and the case
        are committed in one transaction. A row already kept for that case stays as it is."""
        row = [fields.get(c) for c in COLUMNS]
        row[COLUMNS.index("attributes")] = json.dumps(fields.get("attributes") or {}, ensure_ascii=False)
        row[COLUMNS.index("crs")] = fields.get("crs") or "wgs84"
        placement = fields.get("placement")
        row[COLUMNS.index("placement")] = json.dumps(placement, ensure_ascii=False) if placement else None
        sql = self.store.dialect.q(
            f"INSERT INTO georeport_requests (case_id, {', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))}) ON CONFLICT (case_id) DO NOTHING"
        )
        return lambda cur, case: cur.execute(sql, (case["id"], *row))

    def load(self, case_ids: list[int]) -> dict[int, dict[str, Any]]:
        """case id -> its kept fields (``attributes`` as a dict), for the ids that came through Open311."""
        if not case_ids:
            return {}
        out = {}
        with self.store.cursor(readonly=True) as cur:
            for start in range(0, len(case_ids), 500):
                chunk = case_ids[start : start + 500]
                cur.execute(
                    self.store.dialect.q(
                        f"SELECT case_id, {', '.join(COLUMNS)} FROM georeport_requests "
                        f"WHERE case_id IN ({', '.join('?' * len(chunk))})"
                    ),
                    chunk,
                )
                for case_id, *values in cur.fetchall():
                    row = dict(zip(COLUMNS, values, strict=True))
                    row["attributes"] = json.loads(row["attributes"])
                    row["placement"] = json.loads(row["placement"]) if row["placement"] else None
                    out[int(case_id)] = row
        return out
