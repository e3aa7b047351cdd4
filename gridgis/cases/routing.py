"""Routing a case: to a department by category and area, else to the grid's staff, else to the county's desk.

FixMyStreet-style: the routing table may send a category to a department
layer (an extra layer of the store, e.g. river-chief sections); a case of that
category inside one of the layer's areas goes to that area's department. Every
other case goes to the grid where it happened: its worker on duty, else its
leader (people of :mod:`gridgis.cases.people`), else the grid's desk. A point outside
every grid is still accepted: it goes to the county's desk (not to the nearest town),
flagged ``outside_coverage``.

Assignees are strings ``kind:id``: ``person:<person_id>``, ``grid:<grid_id>``,
``community:<community_id>``, ``town:<town_id>``, ``county:<code>``, ``department:<name>``
(``dept:<department>:<area>`` for a department area of the routing table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import InitVar, dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from gridgis.cases.categories import get_category
from gridgis.errors import InputError


@dataclass(frozen=True)
class RouteRule:
    """One row of the routing table: ``category`` goes to ``department`` inside the areas of ``layer``.

    ``max_distance_m`` also takes points that far outside an area (a report from a river bank).
    """

    category: str
    layer: str
    department: str
    max_distance_m: float = 0.0
    #: the category table to check ``category`` against (default: the built-in one)
    categories: InitVar[Mapping[str, Any] | None] = None

    def __post_init__(self, categories: Mapping[str, Any] | None) -> None:
        get_category(self.category, categories)
        if not self.department or not isinstance(self.department, str):
            raise InputError(f"Routing rule for {self.category!r} has no department.", fix="name the department.")
        if not (0 <= float(self.max_distance_m) <= 10_000):
            raise InputError(
                f"max_distance_m must be between 0 and 10000; got {self.max_distance_m!r}.", fix="use metres."
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "layer": self.layer,
            "department": self.department,
            "max_distance_m": float(self.max_distance_m),
        }


@dataclass(frozen=True)
class Route:
    """Where a case goes: the place it happened and who holds it."""

    grid_id: str | None
    community_id: str | None
    town_id: str | None
    assignee: str
    assignee_kind: str  # person | grid | department | county
    level: int  # 0 grid (or department), 1 community, 2 town, 3 county
    department: str | None = None
    outside_coverage: bool = False


class Territory:
    """The grids of a plan with what routing needs: a point locator and the towns' areas.

    Parameters
    ----------
    grids
        The grids layer (grid_id, community_id, town_id, geometry) in EPSG:4326.
    towns
        The towns layer (town_id, geometry); derived from the grids when None or empty.
    locator
        An object whose ``locate(lon, lat)`` gives grid row positions (-1 outside); default: a
        :class:`gridgis.assign.GridIndex` over ``grids`` (the point-in-grid rule of assign and the service).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grids = gpd.GeoDataFrame({"grid_id": ["g1"], "community_id": ["c1"], "town_id": ["t1"]},
    ...                          geometry=[box(112.9, 22.7, 112.91, 22.71)], crs=4326)
    >>> t = Territory(grids)
    >>> t.locate(np.array([112.905, 113.5]), np.array([22.705, 22.705])).tolist()
    [0, -1]
    >>> t.nearest_town(112.92, 22.705)[0]
    't1'
    """

    def __init__(self, grids: gpd.GeoDataFrame, towns: gpd.GeoDataFrame | None = None, *, locator: Any = None):
        from gridgis.assign import GridIndex
        from gridgis.crs import to_local_metric

        self.grids = grids.reset_index(drop=True)
        self.grid_ids = self.grids["grid_id"].astype(str).to_numpy()
        self.community_ids = self.grids["community_id"].astype(str).to_numpy()
        self.town_ids = self.grids["town_id"].astype(str).to_numpy()
        self._locator = locator if locator is not None else GridIndex(self.grids)
        if towns is None or towns.empty or "town_id" not in towns.columns:
            towns = self.grids.dissolve(by="town_id", as_index=False)[["town_id", "geometry"]]
        self._to_metric = to_local_metric(self.grids)
        self._town_ids = towns["town_id"].astype(str).to_numpy()
        self._town_tree = shapely.STRtree(_to_metric(self._to_metric, np.asarray(towns.geometry.values)))

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Grid row positions of the points (-1 outside every grid)."""
        return np.asarray(self._locator.locate(np.asarray(lon, float), np.asarray(lat, float)), dtype=np.int64)

    def locate_one(self, lon: float, lat: float) -> int:
        """Grid row position of one point (-1 outside): the locator's ``locate_point`` when it has one
        (no numpy arrays for one point, as the locate endpoint does), else :meth:`locate`."""
        one = getattr(self._locator, "locate_point", None)
        if one is not None:
            return int(one(float(lon), float(lat)))
        return int(self.locate(np.array([lon]), np.array([lat]))[0])

    def nearest_town(self, lon: float, lat: float) -> tuple[str, float]:
        """(town_id, distance in metres) of the town nearest to the point."""
        x, y = self._to_metric.transform(lon, lat)
        (_, [town]), dist = self._town_tree.query_nearest(np.array([shapely.Point(x, y)]), return_distance=True)
        return str(self._town_ids[town]), float(dist[0])


def _to_metric(transformer: Transformer, geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


class DepartmentAreas:
    """The areas of one department layer, indexed for point lookups in metres.

    ``labels`` name each area (the layer's name field, else its feature id).
    """

    def __init__(self, areas: gpd.GeoDataFrame, labels: list[str]):
        from gridgis.crs import to_local_metric

        self.labels = np.asarray(labels, dtype=object)
        self._to_metric = to_local_metric(areas)
        self._tree = shapely.STRtree(_to_metric(self._to_metric, np.asarray(areas.geometry.values)))

    def find(self, lon: float, lat: float, max_distance_m: float = 0.0) -> str | None:
        """The label of the area holding the point (or nearest within ``max_distance_m``), else None."""
        x, y = self._to_metric.transform(lon, lat)
        point = shapely.Point(x, y)
        hits = self._tree.query(point, predicate="intersects")
        if hits.size:
            return str(self.labels[hits.min()])
        if max_distance_m > 0:
            near = self._tree.query_nearest(point, max_distance=max_distance_m)
            if near.size:
                return str(self.labels[near.min()])
        return None


def pick_staff(grid_id: str, staff: Mapping[str, Any] | None) -> tuple[str, str]:
    """(assignee, kind) for a grid: the first worker on duty, else the leader, else the grid's desk.

    ``staff`` is the store's staff document ``{"leader": {"name": ...}, "workers": [{"name": ..., "on_duty": bool}]}``
    (a worker without ``on_duty`` is on duty, as in :func:`gridgis.store.snapshot.on_duty`).

    Examples
    --------
    >>> pick_staff("g1", {"leader": {"name": "Li"}, "workers": [{"name": "Wu", "on_duty": False}]})
    ('leader:Li', 'leader')
    >>> pick_staff("g1", None)
    ('grid:g1', 'grid')
    """
    staff = staff or {}
    for worker in staff.get("workers") or []:
        if isinstance(worker, Mapping) and worker.get("on_duty", True) and _person(worker):
            return f"worker:{_person(worker)}", "worker"
    leader = staff.get("leader")
    if isinstance(leader, Mapping) and _person(leader):
        return f"leader:{_person(leader)}", "leader"
    return f"grid:{grid_id}", "grid"


def _person(doc: Mapping[str, Any]) -> str | None:
    value = doc.get("id") or doc.get("name")
    return str(value) if value else None


def route_case(
    territory: Territory,
    lon: float,
    lat: float,
    category: str,
    *,
    rules: Mapping[str, RouteRule] | None = None,
    departments: Mapping[str, DepartmentAreas] | None = None,
    staff_of: Callable[[str], Mapping[str, Any] | None] = lambda grid_id: None,
    handler_of: Callable[[str], tuple[str, str]] | None = None,
    county: str | None = None,
) -> Route:
    """Route one case at (lon, lat) in EPSG:4326.

    Parameters
    ----------
    territory
        The published grids.
    category
        The case category.
    rules
        Routing table: category -> rule.
    departments
        The areas of each layer named by a rule.
    staff_of
        Staff document of a grid id (see :func:`pick_staff`), when ``handler_of`` is None.
    handler_of
        (assignee, kind) of a new case in a grid id (:meth:`gridgis.cases.people.Directory.handler_of`).
    county
        The county code whose desk takes a point outside every grid (``county:<code>``).
    """
    row = territory.locate_one(lon, lat)
    inside = row >= 0
    grid_id = str(territory.grid_ids[row]) if inside else None
    community_id = str(territory.community_ids[row]) if inside else None
    town_id = str(territory.town_ids[row]) if inside else None
    rule = (rules or {}).get(category)
    areas = (departments or {}).get(rule.layer) if rule else None
    if rule and areas is not None:
        area = areas.find(lon, lat, rule.max_distance_m)
        if area is not None:
            return Route(
                grid_id,
                community_id,
                town_id,
                f"dept:{rule.department}:{area}",
                "department",
                0,
                department=rule.department,
                outside_coverage=not inside,
            )
    if not inside:
        desk = f"county:{county}" if county else "county:desk"
        return Route(None, None, None, desk, "county", 3, outside_coverage=True)
    assignee, kind = handler_of(grid_id) if handler_of is not None else pick_staff(grid_id, staff_of(grid_id))
    return Route(grid_id, community_id, town_id, assignee, kind, 0)
