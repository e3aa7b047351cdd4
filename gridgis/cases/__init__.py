"""Cases: intake, routing to the people on duty, the chain with its check and call-back, escalation,
the audit log, the configuration and the ledger.

"Small matters do not leave the grid": a report at a location becomes a case,
routed to the grid where it happened and its worker on duty, handled, checked by
someone else (核查), called back (回访) and closed, and escalated to the named leader
of community, town and county when its deadline passes.

Examples
--------
>>> from gridgis.cases import check_report, allowed_transitions
>>> check_report(category="river_chief", description="oil on the water", lon=112.95, lat=22.71).category
'river_chief'
>>> allowed_transitions("resolved")
('verified', 'reopened')
"""

from gridgis.cases.categories import CATEGORIES, CHANNELS, Category, get_category
from gridgis.cases.config import CaseConfig, parse_config
from gridgis.cases.desk import CaseRouter, router_for, run_escalation, submit
from gridgis.cases.intake import Report, check_report
from gridgis.cases.lifecycle import (
    MOVES,
    STATUSES,
    TRANSITIONS,
    Actor,
    allowed_moves,
    allowed_transitions,
    check_transition,
)
from gridgis.cases.routing import Route, RouteRule, Territory, route_case
from gridgis.cases.store import CaseFilter, CaseStore, open_case_store

__all__ = [
    "CATEGORIES",
    "CHANNELS",
    "MOVES",
    "STATUSES",
    "TRANSITIONS",
    "Actor",
    "CaseConfig",
    "CaseFilter",
    "CaseRouter",
    "CaseStore",
    "Category",
    "Report",
    "Route",
    "RouteRule",
    "Territory",
    "allowed_moves",
    "allowed_transitions",
    "check_report",
    "check_transition",
    "get_category",
    "open_case_store",
    "parse_config",
    "route_case",
    "router_for",
    "run_escalation",
    "submit",
]
