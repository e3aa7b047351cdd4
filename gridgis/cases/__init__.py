"""Cases: intake, routing to grid staff, the lifecycle with escalation, the audit log and the ledger.

"Small matters do not leave the grid": a report at a location becomes a case,
routed to the grid where it happened and its worker on duty, tracked to closure
and escalated grid -> community -> town when its deadline passes.

Examples
--------
>>> from gridgis.cases import check_report, allowed_transitions
>>> check_report(category="river_chief", description="oil on the water", lon=112.95, lat=22.71).category
'river_chief'
>>> allowed_transitions("resolved")
('closed', 'in_progress')
"""

from gridgis.cases.categories import CATEGORIES, CHANNELS, Category, get_category
from gridgis.cases.desk import CaseRouter, router_for, run_escalation, submit
from gridgis.cases.intake import Report, check_report
from gridgis.cases.lifecycle import STATUSES, TRANSITIONS, allowed_transitions, check_transition
from gridgis.cases.routing import Route, RouteRule, Territory, route_case
from gridgis.cases.store import CaseFilter, CaseStore, open_case_store

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "STATUSES",
    "TRANSITIONS",
    "CaseFilter",
    "CaseRouter",
    "CaseStore",
    "Category",
    "Report",
    "Route",
    "RouteRule",
    "Territory",
    "allowed_transitions",
    "check_report",
    "check_transition",
    "get_category",
    "open_case_store",
    "route_case",
    "router_for",
    "run_escalation",
    "submit",
]
