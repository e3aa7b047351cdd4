"""The service object: one store, the plan snapshot holder and its poller, the case desk, the escalation job,
Open311's side table and the geocoder.

The web service (``api.main``) creates one :class:`Service` per worker in its lifespan, calls
:meth:`Service.start` and, at stop, :meth:`Service.stop`; nothing in here knows about HTTP.

Examples
--------
>>> import tempfile
>>> from gridgis.store import open_store
>>> service = Service(open_store(f"sqlite:///{tempfile.mkdtemp()}/s.db"), env_keys={"ggk_app-secret": "reader"},
...                   owns_store=True)
>>> service.start(); service.identify("ggk_app-secret").role; service.stop()
'reader'
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping

from gridgis.access import Caller, identify
from gridgis.cases.desk import router_for, run_escalation
from gridgis.cases.store import CaseStore, open_case_store
from gridgis.errors import NotFoundError
from gridgis.geocode import Geocoder
from gridgis.georeport import GeoReportStore
from gridgis.store import Store
from gridgis.store.snapshot import Snapshot, load_snapshot

log = logging.getLogger("gridgis.service")


class Service:
    """One worker's state over ``store``: the published plan's snapshot, swapped by a single assignment,
    the case tables and the escalation job.

    Parameters
    ----------
    store
        The open store; closed by :meth:`stop` only when ``owns_store``.
    env_keys
        token -> role of the keys given by the environment (GRIDGIS_API_KEYS), besides the store's.
    poll_seconds
        Seconds between two checks of the store's revision: when it changed (a publish, a staff or
        layer edit, by any worker) a new snapshot is built while the old one keeps answering.
    cached_plans
        Snapshots of older plans (``?plan=``) kept in memory.
    escalate_seconds
        Seconds between two runs of the escalation job (0: no job; cron runs ``gridgis cases escalate``).
    """

    def __init__(
        self,
        store: Store,
        *,
        env_keys: Mapping[str, str] | None = None,
        poll_seconds: float = 1.0,
        cached_plans: int = 4,
        escalate_seconds: float = 60.0,
        owns_store: bool = False,
    ):
        self.store = store
        self.poll_seconds = poll_seconds
        self.cached_plans = cached_plans
        self.escalate_seconds = escalate_seconds
        self._owns_store = owns_store
        self.env_callers: dict[str, Caller] = {t: Caller.of_key(t, r) for t, r in (env_keys or {}).items()}
        self.cases: CaseStore = open_case_store(store)
        #: Open311's side table and the offline geocoder (address layers, the queue of unplaced reports)
        self.georeport = GeoReportStore(store)
        self.geocoder = Geocoder(store)
        self.snapshot: Snapshot | None = None
        self._older: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        #: the escalation job's thread while it runs
        self.escalation_thread: threading.Thread | None = None
        self.refresh()

    # --- life -------------------------------------------------------------------------------
    def start(self) -> None:
        """Prepare case routing for the current plan, start the snapshot poller and the escalation job."""
        if self.snapshot is not None:  # rather than on the first report
            router_for(self.snapshot, self.store)
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="gridgis-snapshot", daemon=True)
            self._poller.start()
        if self.escalate_seconds > 0 and self.escalation_thread is None:
            self.escalation_thread = run_escalation(self.cases, interval_s=self.escalate_seconds, stop=self._stop)

    def stop(self) -> None:
        """Stop the threads (waiting for an escalation round in progress), close the case tables and,
        when this service opened it, the store."""
        self._stop.set()
        for thread in (self._poller, self.escalation_thread):
            if thread is not None:
                thread.join(timeout=30)
        self._poller = self.escalation_thread = None
        self.cases.close()
        if self._owns_store:
            self.store.close()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # keep serving the old snapshot; the next poll retries
                log.exception("snapshot refresh failed")

    # --- callers ------------------------------------------------------------------------------
    def identify(self, token: str | None) -> Caller | None:
        """The caller holding ``token`` (see :func:`gridgis.access.identify`); may query the store."""
        return identify(token, self.env_callers, self.store.lookup_key)

    # --- snapshots ----------------------------------------------------------------------------
    def refresh(self) -> Snapshot | None:
        """Rebuild the snapshot if the store's revision changed; return the current one (None: nothing published)."""
        with self._lock:
            revision = self.store.revision()
            current = self.snapshot
            if current is not None and current.revision == revision:
                return current
            try:
                self.snapshot = load_snapshot(self.store, previous=current)  # the atomic swap
            except NotFoundError:
                self.snapshot = None
            self._older.clear()
            return self.snapshot

    def current(self, plan: str | None = None) -> Snapshot:
        """The published snapshot, or the one of plan ``plan`` (kept in a small cache).

        Raises :class:`NotFoundError` when nothing is published or no plan has that name.
        """
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
            while len(self._older) > self.cached_plans:
                self._older.popitem(last=False)
        return older

    async def current_async(self, plan: str | None = None) -> Snapshot:
        """:meth:`current` for an event loop: loading another plan (seconds for a large one) runs in a thread."""
        snap = self.snapshot
        if snap is not None and (plan is None or plan == snap.plan.name):
            return snap
        return await asyncio.to_thread(self.current, plan)
