"""Open311 GeoReport v2 documents: services, service requests and errors, as JSON-ready lists or XML.

The lifecycle maps to Open311's two statuses: ``closed`` for closed and rejected
cases, ``open`` for the others, with ``status_notes`` saying where the case is.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from gridgis.cases.categories import CATEGORIES
from gridgis.cases.lifecycle import FINAL_STATUSES

#: Open311 status -> our statuses
OPEN311_STATUSES = {
    "open": ("reported", "assigned", "in_progress", "resolved", "escalated"),
    "closed": FINAL_STATUSES,
}
_NOTES = {
    "reported": "Reported; being routed.",
    "assigned": "Assigned to {who}.",
    "in_progress": "Being handled by {who}.",
    "resolved": "Resolved by {who}; awaiting the reporter's feedback before closing.",
    "closed": "Closed after feedback.",
    "escalated": "Not handled in time: escalated to {who}.",
    "rejected": "Rejected by the grid (not within its remit or a duplicate).",
}
_WHO = {"worker": "the grid worker", "leader": "the grid leader", "grid": "the grid's desk"}


def service_list() -> list[dict[str, Any]]:
    """``GET services``: one service per case category."""
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": f"{c.name_zh}: {c.description} Handled within {c.deadline_hours:g} h.",
            "metadata": False,
            "type": "realtime",
            "keywords": c.name_zh,
            "group": "grid",
        }
        for c in CATEGORIES.values()
    ]


def service_definition(code: str) -> dict[str, Any]:
    """``GET services/{code}``: no extra attributes (``metadata`` is false for every service)."""
    return {"service_code": code, "attributes": []}


def _who(case: dict[str, Any]) -> str:
    kind, _, rest = case["assignee"].partition(":")
    if kind in _WHO:
        return f"{_WHO[kind]} of grid {case['grid_id']}"
    if kind == "community":
        return f"community {rest}"
    if kind == "town":
        return f"the desk of town {rest}"
    if kind == "dept":
        return case["department"] or rest
    return case["assignee"]


def service_request(case: dict[str, Any]) -> dict[str, Any]:
    """One case as an Open311 service request (no reporter contact)."""
    status = "closed" if case["status"] in FINAL_STATUSES else "open"
    notes = _NOTES[case["status"]].format(who=_who(case))
    if case["outside_coverage"]:
        notes += " Reported outside every grid; sent to the nearest town's desk."
    iso = lambda d: d.isoformat() if isinstance(d, datetime) else d  # noqa: E731
    category = CATEGORIES[case["category"]]
    return {
        "service_request_id": str(case["id"]),
        "status": status,
        "status_notes": notes,
        "service_name": category.name,
        "service_code": category.code,
        "description": case["description"],
        "agency_responsible": _who(case),
        "service_notice": f"Handled within {category.deadline_hours:g} h, else escalated.",
        "requested_datetime": iso(case["created_at"]),
        "updated_datetime": iso(case["updated_at"]),
        "expected_datetime": iso(case["due_at"]) if status == "open" else None,
        "address": None,
        "address_id": case["grid_id"],
        "zipcode": None,
        "lat": case["lat"],
        "long": case["lon"],
        "media_url": case["photo_urls"][0] if case["photo_urls"] else None,
    }


def created(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer to ``POST requests``."""
    category = CATEGORIES[case["category"]]
    return [
        {
            "service_request_id": str(case["id"]),
            "service_notice": f"Handled within {category.deadline_hours:g} h, else escalated.",
            "account_id": None,
        }
    ]


def errors(status: int, description: str) -> list[dict[str, Any]]:
    """An Open311 GeoReport v2 error body."""
    return [{"code": status, "description": description}]


#: root element and item element of each kind of document
_XML_TAGS = {
    "services": ("services", "service"),
    "service_definition": ("service_definition", None),
    "service_requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def to_xml(kind: str, doc: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """Serialize a document of ``kind`` (services, service_definition, service_requests, errors) as XML.

    Examples
    --------
    >>> to_xml("errors", errors(404, "No service 'dogs'.")).decode().splitlines()[1]
    "<errors><error><code>404</code><description>No service 'dogs'.</description></error></errors>"
    """
    root_tag, item_tag = _XML_TAGS[kind]
    root = ET.Element(root_tag)
    if item_tag is None:
        _fill(root, doc)
    else:
        for item in doc:
            _fill(ET.SubElement(root, item_tag), item)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _fill(parent: ET.Element, doc: dict[str, Any]) -> None:
    for key, value in doc.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            singular = key[:-1] if key.endswith("s") else key
            for item in value:
                _fill(ET.SubElement(child, singular), item)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)
