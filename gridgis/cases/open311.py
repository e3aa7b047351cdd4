"""Open311 GeoReport v2 documents: services, service requests and errors, as JSON-ready lists or XML.

The chain maps to Open311's two statuses: ``closed`` for closed and rejected cases, ``open`` for the
others. ``status_notes`` is what the reporter reads: the handler's note (the result) once the case is
resolved, the reason when it is rejected, returned or reopened, else where the case stands, in Chinese.
Service names are the categories' Chinese names (``lang="en"``: English), from the configuration.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from gridgis.cases.config import DEFAULT, CaseConfig
from gridgis.cases.lifecycle import FINAL_STATUSES, OPEN_STATUSES

#: Open311 status -> our statuses
OPEN311_STATUSES = {
    "open": tuple(s for s in (*OPEN_STATUSES, "resolved", "verified") if s not in FINAL_STATUSES),
    "closed": FINAL_STATUSES,
}
_NOTES = {
    "reported": "已受理上报，正在派遣。",
    "assigned": "已派遣给{who}。",
    "accepted": "{who}已受理。",
    "in_progress": "{who}正在处置。",
    "resolved": "已处置：{result}",
    "verified": "已处置并核查通过：{result}",
    "closed": "已办结：{result}",
    "returned": "已退回指挥中心重新派遣：{reason}",
    "rejected": "不予受理：{reason}",
    "reopened": "核查未通过，重新处置：{reason}",
    "escalated": "未在时限内处置，已上报{who}。",
}
_WHO = {
    "grid": "网格",
    "community": "社区",
    "town": "镇街",
    "county": "县级指挥中心",
    "department": "部门",
    "person": "网格",
    "desk": "指挥中心",
}


def service_list(config: CaseConfig = DEFAULT, lang: str = "zh") -> list[dict[str, Any]]:
    """``GET services``: one service per case category, named in ``lang`` (Chinese by default)."""
    return [
        {
            "service_code": c.code,
            "service_name": c.label(lang),
            "description": f"{c.name_zh}: {c.description} 时限 {c.deadline_hours:g} 小时 (handled within "
            f"{c.deadline_hours:g} h).",
            "metadata": False,
            "type": "realtime",
            "keywords": f"{c.name_zh},{c.name}",
            "group": "grid",
        }
        for c in config.categories.values()
    ]


def service_definition(code: str) -> dict[str, Any]:
    """``GET services/{code}``: no extra attributes (``metadata`` is false for every service)."""
    return {"service_code": code, "attributes": []}


def _who(case: dict[str, Any]) -> str:
    """Who holds the case, as the public may read it: a unit, never a person's name or phone."""
    kind, _, rest = case["assignee"].partition(":")
    if kind in ("person", "grid"):
        return f"网格 {case['grid_id']}" if case["grid_id"] else "县级指挥中心"
    if kind in ("community", "town"):
        return f"{_WHO[kind]} {rest}"
    if kind == "county":
        return "县级指挥中心"
    if kind in ("dept", "department"):
        return case["department"] or rest.split(":")[0]
    return _WHO.get(kind, "指挥中心")


def status_notes(case: dict[str, Any]) -> str:
    """What the reporter reads about ``case``: the result, the reason or where it stands."""
    reason = (
        case.get("reject_reason")
        if case["status"] == "rejected"
        else (case.get("return_reason") if case["status"] == "returned" else case.get("check_note"))
    )
    notes = _NOTES[case["status"]].format(who=_who(case), result=case.get("result") or "", reason=reason or "")
    if case["outside_coverage"]:
        notes += " 上报地点不在任何网格内，已转县级指挥中心。"
    return notes


def service_request(case: dict[str, Any], config: CaseConfig = DEFAULT, lang: str = "zh") -> dict[str, Any]:
    """One case as an Open311 service request (no reporter contact, no staff names or phones)."""
    status = "closed" if case["status"] in FINAL_STATUSES else "open"
    iso = lambda d: d.isoformat() if isinstance(d, datetime) else d  # noqa: E731
    category = config.categories.get(case["category"]) or DEFAULT.categories.get(case["category"])
    return {
        "service_request_id": str(case["id"]),
        "status": status,
        "status_notes": status_notes(case),
        "service_name": category.label(lang) if category else case["category"],
        "service_code": case["category"],
        "description": case["description"],
        "agency_responsible": _who(case),
        "service_notice": f"{category.deadline_hours:g} 小时内处置，超时上报上级。" if category else None,
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


def created(case: dict[str, Any], config: CaseConfig = DEFAULT) -> list[dict[str, Any]]:
    """The answer to ``POST requests``."""
    category = config.categories.get(case["category"]) or DEFAULT.categories[case["category"]]
    return [
        {
            "service_request_id": str(case["id"]),
            "service_notice": f"{category.deadline_hours:g} 小时内处置，超时上报上级。",
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
