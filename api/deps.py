"""What a router needs, as FastAPI dependencies: the service, its store, the plan snapshot, the locator, the caller.

How a router uses them::

    from fastapi import APIRouter
    from api.deps import CallerDep, StoreDep, SnapshotDep, require

    router = APIRouter(prefix="/v1/things", tags=["things"])

    @router.get("/{thing_id}")
    def get_thing(thing_id: str, store: StoreDep, snap: SnapshotDep): ...

    @router.post("", dependencies=[require("dispatcher")])  # writes need a key
    def create_thing(body: ThingIn, store: StoreDep, caller: CallerDep): ...

- ``ServiceDep``: the worker's :class:`gridgis.service.Service` (store, snapshot, case tables;
  ``refresh()`` after a write that changes answers). ``SettingsDep``: the :class:`api.settings.Settings`.
- ``StoreDep``: the :class:`gridgis.store.Store` (one per worker; thread-safe). A component keeps its own
  tables with ``store.migrate_component(NAME, [step1_sql, ...])`` and queries with ``with store.connect()``.
- ``SnapshotDep``: the immutable :class:`gridgis.store.snapshot.Snapshot` of the published plan (or of
  ``?plan=NAME``). Take one snapshot per request and use only it: answers are never mixed.
- ``LocatorDep``: the plan's :class:`gridgis.assign.GridIndex`.
- ``CallerDep``: the :class:`gridgis.access.Caller` (``.role``, ``.key_id``, ``.prefix`` to name it,
  ``.grids`` of a worker, ``.scope``); anonymous (role None) without a key, 401 for an unknown or revoked key.
  A caller is identified by its API key (systems) or, without one, by the staff console's session cookie
  (:data:`SESSION_COOKIE`, see :mod:`gridgis.console.sessions`); a request that changes data with the
  cookie must carry the session's CSRF token (``X-CSRF-Token`` header or ``csrf`` form field) and, when
  the browser sends an ``Origin``, come from this site: else 403 ``csrf``.
- ``require(role)``: the caller, rejected with 401 without a key and 403 below ``role``
  (``require()``: any key). ``KeyDep``, ``StaffDep`` (worker and above), ``DispatcherDep`` are the
  usual ones as types. The rules themselves are :mod:`gridgis.access`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from api.settings import Settings
from gridgis.access import ANONYMOUS, Caller, require_role, unknown_key
from gridgis.assign import GridIndex
from gridgis.cases import CaseStore
from gridgis.console.logins import Logins, caller_of_person
from gridgis.console.photos import PhotoStore
from gridgis.console.sessions import SessionStore
from gridgis.errors import ForbiddenError
from gridgis.geocode import Geocoder
from gridgis.georeport import GeoReportStore
from gridgis.service import Service
from gridgis.store import Store, open_store
from gridgis.store.snapshot import Snapshot
from gridgis.times import utc_now


def service_of(request: Request) -> Service:
    """The worker's service (what ``ServiceDep`` injects; called directly on the hottest path, /v1/locate)."""
    return request.app.state.gridgis


def settings_of(request: Request) -> Settings:
    """The service's settings (what ``SettingsDep`` injects)."""
    return request.app.state.settings


# cheap dependencies are async: sync ones would each cost a trip through the thread pool
async def get_service(request: Request) -> Service:
    """What ``ServiceDep`` injects."""
    return service_of(request)


ServiceDep = Annotated[Service, Depends(get_service)]


# Dependencies are ``async def`` (or one sync function doing all the blocking work): FastAPI runs
# every sync dependency in the thread pool, a hop that costs more than the work itself here.
async def get_cases(service: ServiceDep) -> CaseStore:
    """What ``CasesDep`` injects: the service's case tables."""
    return service.cases


CasesDep = Annotated[CaseStore, Depends(get_cases)]


async def get_clock() -> Callable[[], datetime]:
    """The clock of intake and escalation (tests override this dependency)."""
    return utc_now


ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


def clock_of(request: Request) -> Callable[[], datetime]:
    """What ``ClockDep`` injects, for a route that reads its own request (:mod:`api.inputs`): a test's override
    of :func:`get_clock` (a plain function) counts as for the dependency."""
    override = request.app.dependency_overrides.get(get_clock)
    return override() if override is not None else utc_now


def georeport_of(request: Request) -> GeoReportStore:
    """The service's Open311 side table (fields beyond the case: address, attributes, device, reporter)."""
    return service_of(request).georeport


def geocoder_of(request: Request) -> Geocoder:
    """The service's geocoder: address layers and the queue of reports no address matched."""
    return service_of(request).geocoder


async def get_settings(request: Request) -> Settings:
    """What ``SettingsDep`` injects."""
    return settings_of(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]


def make_service(settings: Settings, store: Store | None = None) -> Service:
    """The service of ``settings`` over ``store`` (default: opened from ``settings.database_url`` and
    closed by :meth:`Service.stop`)."""
    return Service(
        store or open_store(settings.database_url),
        env_keys=settings.env_keys(),
        poll_seconds=settings.poll_seconds,
        cached_plans=settings.cached_plans,
        escalate_seconds=settings.cases_escalate_seconds,
        owns_store=store is None,
    )


async def get_store(service: ServiceDep) -> Store:
    """What ``StoreDep`` injects."""
    return service.store


StoreDep = Annotated[Store, Depends(get_store)]

PlanQuery = Annotated[
    str | None, Query(description="Plan name; default: the published plan. Older plans stay queryable.")
]


async def get_snapshot(service: ServiceDep, plan: PlanQuery = None) -> Snapshot:
    """What ``SnapshotDep`` injects: the published plan's snapshot, or ``plan``'s (404 when unknown)."""
    return await service.current_async(plan)


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


async def get_locator(snap: SnapshotDep) -> GridIndex:
    """What ``LocatorDep`` injects."""
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


async def caller_of(service: Service, token: str | None) -> Caller:
    """The caller holding ``token`` (anonymous for None); :class:`UnauthenticatedError` (401 ``bad_key``)
    for an unknown or revoked key. An environment key is resolved in the event loop; only a key to
    look up in the store costs a trip through the thread pool."""
    caller = service.env_callers.get(token) if token else ANONYMOUS
    if caller is None:
        caller = await run_in_threadpool(service.identify, token)
    if caller is None:
        raise unknown_key(token)
    return caller


#: the staff console's session cookie (HttpOnly, SameSite=Strict, expiring; see api.routes.console)
SESSION_COOKIE = "gridgis_session"
#: methods that never change data (no CSRF token needed)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class Console:
    """The console's components over the service's store: sessions, people's passwords and the sign-in
    attempt limit (``logins``), case photos (``upload_dir``)."""

    def __init__(self, service: Service, upload_dir: str):
        people = service.cases.people
        self.sessions = SessionStore(service.store, persons=lambda person_id: caller_of_person(people, person_id))
        self.logins = Logins(service.store, self.sessions)
        self.photos = PhotoStore(service.store, upload_dir)
        #: key id -> caller of the environment's keys (sessions name keys by id)
        self.env_by_id = {c.key_id: c for c in service.env_callers.values()}


async def get_console(request: Request) -> Console:
    """What ``ConsoleDep`` injects: the console's sessions and photos, made in the app's lifespan."""
    return request.app.state.console


ConsoleDep = Annotated[Console, Depends(get_console)]


def _csrf_refused(message: str) -> ForbiddenError:
    err = ForbiddenError(message, fix="reload the console page and try again (sign in again if it persists).")
    err.code = "csrf"
    return err


async def session_caller(request: Request) -> Caller:
    """The caller of the request's session cookie (anonymous without a live session); for a changing request,
    the CSRF token and the Origin are checked (403 ``csrf``)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return ANONYMOUS
    console: Console = request.app.state.console
    found = await run_in_threadpool(console.sessions.resolve, token, console.env_by_id)
    if found is None:
        return ANONYMOUS
    caller, csrf = found
    if request.method not in SAFE_METHODS:
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host", ""):
            raise _csrf_refused(f"A console request from {origin!r} is refused: it is not this site.")
        sent = request.headers.get("x-csrf-token")
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            sent = (await request.form()).get("csrf")
        if not isinstance(sent, str) or not secrets.compare_digest(sent, csrf):
            raise _csrf_refused("This console request has no valid CSRF token.")
    request.state.csrf = csrf
    return caller


async def get_caller(
    request: Request, service: ServiceDep, key: Annotated[str | None, Depends(_key_header)] = None
) -> Caller:  # ``key`` documents the header in OpenAPI; key_token reads it (or the Bearer token)
    """What ``CallerDep`` injects (see :func:`caller_of`); without a key, the console session's caller."""
    token = key_token(request)
    if token is None and SESSION_COOKIE in request.cookies:
        return await session_caller(request)
    return await caller_of(service, token)


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(role: str | None = None) -> Any:
    """A dependency giving the caller, rejected below ``role`` (any key when None): 401 without a key,
    403 when the role ranks too low (:func:`gridgis.access.require_role`)."""

    async def check(request: Request, caller: CallerDep) -> Caller:
        return _allowed(request, caller, role)

    return Depends(check)


def _allowed(request: Request, caller: Caller, role: str | None) -> Caller:
    if caller.role is not None and (role is None or caller.at_least(role)):
        return caller  # the common case, without building the message
    return require_role(caller, role, f"{request.method} {request.url.path}")


async def key_caller(request: Request) -> Caller:
    """What ``KeyDep`` injects, for a route that reads its own request (:mod:`api.inputs`): the caller holding
    any key (or a console session), 401 without one, 403 for a console request failing its CSRF check."""
    return _allowed(request, await get_caller(request, service_of(request)), None)


#: a caller holding any key / a grid worker or higher / a dispatcher or higher
KeyDep = Annotated[Caller, require()]
StaffDep = Annotated[Caller, require("worker")]
DispatcherDep = Annotated[Caller, require("dispatcher")]
