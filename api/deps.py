"""What a router needs, as FastAPI dependencies: the store, the plan snapshot, the locator, the caller.

How another router (cases, open311, maps...) uses them::

    from fastapi import APIRouter
    from api.deps import CallerDep, StoreDep, SnapshotDep, LocatorDep, RoleDep, require

    router = APIRouter(prefix="/v1/cases", tags=["cases"])

    @router.get("/{case_id}")
    def get_case(case_id: str, store: StoreDep, snap: SnapshotDep): ...

    @router.post("", dependencies=[require("dispatcher")])  # writes need a key
    def create_case(body: CaseIn, store: StoreDep, role: RoleDep): ...

    @router.get("")
    def list_cases(store: StoreDep, caller: CallerDep):
        grids = caller.scope  # None: every grid (dispatcher and above); a worker's grids; () for the others

- ``StoreDep``: the :class:`gridgis.store.Store` (one per worker; thread-safe). Keep your own tables with
  ``store.migrate_component("cases", [step1_sql, step2_sql, ...])`` (call it once, from a ``startup(state)``
  function in your router module; a ``shutdown(state)`` there runs at stop), query with
  ``with store.connect() as con:`` (a DB-API connection in a transaction; placeholders ``store.paramstyle``:
  "qmark" ``?`` for SQLite, "format" ``%s`` for PostGIS; ``store.kind`` is "sqlite" or "postgis").
- ``SnapshotDep``: the immutable in-memory :class:`gridgis.store.snapshot.Snapshot` of the published plan
  (or of ``?plan=NAME``): ``.plan`` (name, validity), ``.grids``/``.communities``/``.towns`` GeoDataFrames,
  ``.locate(lon, lat)`` -> grid positions, ``.answer(pos, lon, lat)`` -> the full locate answer.
  Take one snapshot per request and use only it: it never changes, so answers are never mixed.
- ``LocatorDep``: the plan's :class:`gridgis.assign.GridIndex` (``.locate(lon, lat)``, ``.locate_point(lon, lat)``,
  ``.nearest(lon, lat)``).
- ``CallerDep``: the :class:`Caller` (``.role``, ``.prefix`` of its key, ``.grids`` of a worker, ``.scope``,
  ``.at_least(role)``); anonymous (role None) without a key, 401 for an unknown or revoked key.
- ``RoleDep``: the caller's role ("reader" < "worker" < "dispatcher" < "planner" < "admin") or None without a key;
  ``require(role)`` rejects callers below ``role`` with 401/403. A ``worker`` key carries the grid ids it covers
  (``gridgis key create --role worker --grid ID``): routes scope by ``caller.scope``.
- ``StateDep``: the :class:`ServiceState` itself (settings, ``refresh()`` after a write that changes answers).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from api.errors import APIError
from api.settings import Settings
from gridgis.assign import GridIndex
from gridgis.errors import NotFoundError
from gridgis.store import ROLES, Store, open_store
from gridgis.store.snapshot import Snapshot, load_snapshot

log = logging.getLogger("gridgis.api")


@dataclass(frozen=True)
class Caller:
    """Who calls: the key's ``role`` (None without a key), its ``prefix`` (first 10 characters) and,
    for a ``worker`` key, the ``grids`` it covers."""

    role: str | None = None
    prefix: str | None = None
    grids: tuple[str, ...] = ()

    def at_least(self, role: str) -> bool:
        """True when the caller's role ranks at or above ``role``."""
        return self.role is not None and ROLES.index(self.role) >= ROLES.index(role)

    @property
    def scope(self) -> tuple[str, ...] | None:
        """Grid ids this caller's grid-bound data (cases) is limited to: None (all) for dispatcher and above."""
        return None if self.at_least("dispatcher") else self.grids


class ServiceState:
    """One worker's state: the store and the current snapshot, swapped by a single assignment.

    A background thread polls the store's revision number every ``settings.poll_seconds``; when it
    changes (a publish, a staff or layer edit, by any worker), it builds a new snapshot while the old
    one keeps answering, then swaps the reference.
    """

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self._owns_store = store is None
        self.store = store or open_store(settings.database_url)
        self.snapshot: Snapshot | None = None
        self._older: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    def refresh(self) -> Snapshot | None:
        """Rebuild the snapshot if the store's revision changed; return the current one."""
        with self._lock:
            revision = self.store.revision()
            current = self.snapshot
            if current is not None and current.revision == revision:
                return current
            try:
                self.snapshot = load_snapshot(self.store, previous=current)  # the atomic swap
            except NotFoundError:
                self.snapshot = None  # nothing published yet
            self._older.clear()
            return self.snapshot

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="gridgis-snapshot", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._owns_store:
            self.store.close()

    def _poll(self) -> None:
        while not self._stop.wait(self.settings.poll_seconds):
            try:
                self.refresh()
            except Exception:  # keep serving the old snapshot; the next poll retries
                log.exception("snapshot refresh failed")

    def current(self, plan: str | None = None) -> Snapshot:
        """The published snapshot, or the one of plan ``plan`` (kept in a small cache)."""
        snap = self.snapshot
        if plan is None or (snap is not None and snap.plan.name == plan):
            if snap is None:
                self.store.get_plan(None)  # raises NotFoundError with the list of plans
                snap = self.refresh()
                if snap is None:
                    raise NotFoundError("No plan is published.", fix="publish one: gridgis plan publish NAME")
            return snap
        key = (plan, snap.revision if snap else -1)
        with self._lock:
            if key in self._older:
                self._older.move_to_end(key)
                return self._older[key]
        older = load_snapshot(self.store, plan)
        with self._lock:
            self._older[key] = older
            while len(self._older) > self.settings.cached_plans:
                self._older.popitem(last=False)
        return older

    async def current_async(self, plan: str | None = None) -> Snapshot:
        """:meth:`current` for async routes: loading another plan (seconds for a large one) runs in a thread."""
        snap = self.snapshot
        if snap is not None and (plan is None or plan == snap.plan.name):
            return snap
        return await run_in_threadpool(self.current, plan)

    def env_keys(self) -> dict[str, str]:
        """token -> role of the GRIDGIS_API_KEYS keys (parsed once per value of the setting)."""
        source = self.settings.api_keys
        cached = getattr(self, "_env_keys", None)
        if cached is None or cached[0] != source:
            cached = self._env_keys = (source, self.settings.env_keys())
        return cached[1]

    def caller_of(self, token: str) -> Caller | None:
        """The caller holding key ``token`` (from GRIDGIS_API_KEYS or the store), None when unknown or revoked."""
        env = self.env_keys()
        if token in env:
            return Caller(env[token], token[:10])
        key = self.store.lookup_key(token)
        return Caller(key["role"], key["prefix"], key["grids"]) if key else None

    def role_of(self, token: str | None) -> str | None:
        caller = self.caller_of(token) if token else None
        return caller.role if caller else None


def state_of(request: Request) -> ServiceState:
    """The worker's state (what ``StateDep`` injects; called directly on the hottest path, /v1/locate)."""
    return request.app.state.gridgis


# cheap dependencies are async: sync ones would each cost a trip through the thread pool
async def get_state(request: Request) -> ServiceState:
    return state_of(request)


StateDep = Annotated[ServiceState, Depends(get_state)]


async def get_store(state: StateDep) -> Store:
    return state.store


StoreDep = Annotated[Store, Depends(get_store)]

PlanQuery = Annotated[
    str | None, Query(description="Plan name; default: the published plan. Older plans stay queryable.")
]


async def get_snapshot(state: StateDep, plan: PlanQuery = None) -> Snapshot:
    return await state.current_async(plan)


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


async def get_locator(snap: SnapshotDep) -> GridIndex:
    return snap.locator


LocatorDep = Annotated[GridIndex, Depends(get_locator)]

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (gridgis key create --role ...)")


def key_token(request: Request) -> str | None:
    """The API key of a request: the X-API-Key header, else ``Authorization: Bearer``."""
    key = request.headers.get("x-api-key")
    if not key:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    return key or None


def caller_from(request: Request, state: ServiceState) -> Caller:
    """The caller of ``request`` (anonymous without a key); 401 for an unknown or revoked key.

    What :data:`CallerDep` injects, callable directly from another dependency (it looks the key up
    in the store: call it from a sync dependency, which FastAPI runs in its thread pool).
    """
    key = key_token(request)
    if key is None:
        return Caller()
    caller = state.caller_of(key)
    if caller is None:
        raise APIError(
            401,
            "bad_key",
            f"The API key {key[:10]!r}... is unknown or revoked.",
            fix="ask an admin for a key (gridgis key create --role ROLE).",
        )
    return caller


async def caller_from_async(request: Request, state: ServiceState) -> Caller:
    """:func:`caller_from` for async dependencies: a GRIDGIS_API_KEYS key (or none) is resolved in the event
    loop; only a key to look up in the store costs a trip through the thread pool."""
    key = key_token(request)
    if key is None:
        return Caller()
    role = state.env_keys().get(key)
    if role is not None:
        return Caller(role, key[:10])
    return await run_in_threadpool(caller_from, request, state)


def get_caller(
    request: Request, state: StateDep, key: Annotated[str | None, Depends(_key_header)] = None
) -> Caller:  # ``key`` documents the header in OpenAPI; caller_from reads it (or the Bearer token)
    return caller_from(request, state)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_role(caller: CallerDep) -> str | None:
    return caller.role


RoleDep = Annotated[str | None, Depends(get_role)]


def require(role: str) -> Any:
    """A dependency rejecting callers whose role ranks below ``role`` (401 without a key, 403 when too low)."""
    need = ROLES.index(role)

    def check(have: RoleDep) -> str:
        if have is None:
            raise APIError(
                401,
                "key_required",
                f"This request changes data and needs an API key with role {role!r} or higher.",
                fix="send it in the X-API-Key header (create one with gridgis key create --role ROLE).",
                details={"required_role": role},
            )
        if ROLES.index(have) < need:
            raise APIError(
                403,
                "forbidden",
                f"Role {have!r} may not do this; it needs {role!r} or higher.",
                fix=f"use a key with one of the roles {list(ROLES[need:])}.",
                details={"required_role": role, "role": have},
            )
        return have

    return Depends(check)
