"""The embedded SQLite store (the default): one file, WAL mode, geometries as WKB with an R*Tree index.

No SpatiaLite is needed: bounding boxes go into SQLite's built-in R*Tree module
and exact tests run in shapely after the box filter.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import shapely

from gridgis.errors import StoreError
from gridgis.store.base import FeaturePage, Store, _json, core_migrations
from gridgis.store.dialect import SQLITE

T = TypeVar("T")

#: core schema, one step per version (never edit a released step: append a new one)
MIGRATIONS = core_migrations(
    SQLITE,
    """
    CREATE TABLE features (id INTEGER PRIMARY KEY, plan_id INTEGER NOT NULL, layer TEXT NOT NULL,
        fid TEXT NOT NULL, props TEXT NOT NULL, geom BLOB NOT NULL,
        minx REAL NOT NULL, miny REAL NOT NULL, maxx REAL NOT NULL, maxy REAL NOT NULL,
        UNIQUE (plan_id, layer, fid));
    CREATE VIRTUAL TABLE features_rtree USING rtree (id, minx, maxx, miny, maxy);
    CREATE TRIGGER features_ins AFTER INSERT ON features BEGIN
        INSERT INTO features_rtree VALUES (new.id, new.minx, new.maxx, new.miny, new.maxy); END;
    CREATE TRIGGER features_del AFTER DELETE ON features BEGIN
        DELETE FROM features_rtree WHERE id = old.id; END;
    """,
)

#: the connection settings, the same for every connection. ``synchronous=FULL``: in WAL mode each commit
#: fsyncs the log, so a commit that returned survives a power cut or an OS crash, not only a killed
#: process (``NORMAL`` may lose the last commits then). An acknowledged case or key must not be lost; the
#: cost is one fsync per write transaction, and intake batches its writes (see :meth:`SQLiteStore.write`).
#: page cache (KiB) while a layer is inserted: enough for the R*Tree of a prefecture's 455,000 buildings
IMPORT_CACHE_KIB = 256 * 1024
#: a bbox query starts from the R*Tree when fewer of its boxes than this meet the box
RTREE_FIRST = 20_000
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON")


class SQLiteStore(Store):
    """Store in one SQLite file (WAL mode: readers never wait for the writer).

    Reads run on one connection per thread. :meth:`write` hands its work to one writer thread, which
    runs the jobs waiting in its queue in one transaction (each in a savepoint, so a failing job leaves
    the others alone) and commits them with one fsync: group commit, the way PostgreSQL batches
    concurrent commits. Each caller gets its answer only after that commit returned. The answers of a
    batch's :meth:`awrite` callers go back to their event loop in one callback per loop (a wake-up of
    the loop per job cost more CPU than the job's SQL).
    """

    dialect = SQLITE
    #: most write jobs in one transaction
    MAX_BATCH = 256
    #: seconds without writes after which the writer thread ends (the next write starts one)
    IDLE_SECONDS = 10.0

    def __init__(self, path: str | Path, url: str | None = None):
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder of {self.path}: {exc}.", fix="choose a writable path.") from exc
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._writer_thread: threading.Thread | None = None
        self._writer_con: sqlite3.Connection | None = None
        self._start_lock = threading.Lock()
        self.migrate_component("core", MIGRATIONS)

    def _open(self) -> sqlite3.Connection:
        """A new connection with :data:`PRAGMAS` (closed by :meth:`close`)."""
        try:
            con = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            for pragma in PRAGMAS:
                con.execute(pragma)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open SQLite store {self.path}: {exc}.", fix="check the path and rights.") from exc
        with self._opened_lock:
            self._opened.append(con)
        return con

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._open()
        return con

    @contextmanager
    def connect(self, *, readonly: bool = False):
        """This thread's connection in a transaction (``BEGIN IMMEDIATE`` to write); commits on success."""
        con = self._connection()
        try:
            con.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path} is not usable: {exc}.", fix="check the file.") from exc
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")

    # --- group commit ---------------------------------------------------------------------
    def write(self, work: Callable[[Any], T]) -> T:
        """Run ``work(cursor)`` on the writer thread; return its result once committed (fsynced)."""
        job: Future = Future()
        self._enqueue((work, job, None))
        return job.result()

    async def awrite(self, work: Callable[[Any], T]) -> T:
        """:meth:`write` for an event loop: awaits the commit without blocking the loop."""
        loop = asyncio.get_running_loop()
        job = loop.create_future()
        self._enqueue((work, job, loop))
        return await job

    def _enqueue(self, item: tuple[Callable, Any, asyncio.AbstractEventLoop | None]) -> None:
        """Queue ``(work, future, loop)``: a concurrent future (``loop`` None) or an asyncio future of ``loop``."""
        self._jobs.put(item)
        with self._start_lock:  # after the put: an idle writer that just left cannot miss this job
            if self._writer_thread is None:
                if self._writer_con is None:
                    self._writer_con = self._open()
                self._writer_thread = threading.Thread(target=self._run_writer, name="gridgis-writer", daemon=True)
                self._writer_thread.start()

    def _run_writer(self) -> None:
        while True:
            try:
                item = self._jobs.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._start_lock:
                    if self._jobs.empty():  # idle: leave; the next write starts a new writer
                        self._writer_thread = None
                        return
                continue
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            _answer(self._commit(batch))
            if stop:
                return

    def _commit(self, batch: list[tuple[Callable, Any, Any]]) -> list[tuple[Any, Any, Any, BaseException | None]]:
        """Run ``batch`` in one transaction; the answers ``(future, loop, value, error)`` to give once it ended."""
        con = self._writer_con
        cur = con.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            error = StoreError(f"SQLite store {self.path} is not writable: {exc}.", fix="check the database file.")
            return [(job, loop, None, error) for _, job, loop in batch]
        answers: list[tuple[Any, Any, Any, BaseException | None]] = []
        done = []
        for work, job, loop in batch:
            cur.execute("SAVEPOINT job")
            try:
                value = work(cur)
            except BaseException as exc:  # this job fails alone
                cur.execute("ROLLBACK TO job")
                cur.execute("RELEASE job")
                answers.append((job, loop, None, exc))
            else:
                cur.execute("RELEASE job")
                done.append((job, loop, value, None))
        try:
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            error = StoreError(f"Committing to {self.path} failed: {exc}.", fix="check the disk and retry.")
            done = [(job, loop, None, error) for job, loop, _, _ in done]
        return answers + done

    # --- features ---------------------------------------------------------------------------
    def _insert_features(self, cur, plan_id, layer, ids, props, geoms) -> None:
        wkb = shapely.to_wkb(geoms).tolist()
        bounds = shapely.bounds(geoms).tolist()
        # a plan's R*Tree outgrows the default 2 MiB page cache: spilled pages are written and read back
        (cache,) = cur.execute("PRAGMA cache_size").fetchone()
        cur.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
        try:
            cur.executemany(
                "INSERT INTO features (plan_id, layer, fid, props, geom, minx, miny, maxx, maxy) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((plan_id, layer, fid, p, g, *b) for fid, p, g, b in zip(ids, props, wkb, bounds, strict=True)),
            )
        finally:
            cur.execute(f"PRAGMA cache_size = {int(cache)}")

    def features(self, plan_id, layer, *, bbox=None, limit=100, offset=0, fid=None) -> FeaturePage:
        """See :meth:`Store.features`; the bbox test is the R*Tree's box filter, then shapely's exact test."""
        where, params = "f.plan_id = ? AND f.layer = ?", [plan_id, layer]
        if fid is not None:
            where += " AND f.fid = ?"
            params.append(fid)
        with self.connect(readonly=True) as con:
            if bbox is None:
                (total,) = con.execute(f"SELECT COUNT(*) FROM features f WHERE {where}", params).fetchone()
                page = " LIMIT ? OFFSET ?" if limit is not None else ""
                rows = con.execute(
                    f"SELECT f.fid, f.props, f.geom FROM features f WHERE {where} ORDER BY f.id{page}",
                    params + ([limit, offset] if limit is not None else []),
                ).fetchall()
                return FeaturePage.from_rows(rows, total)
            x0, y0, x1, y1 = bbox
            box = "r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
            # the R*Tree holds every layer of every plan: when few of its boxes meet the box (a street's tile of a
            # prefecture's 500,000 buildings) they lead, else SQLite reads the layer through its index
            (few,) = con.execute(
                f"SELECT COUNT(*) < {RTREE_FIRST} FROM (SELECT 1 FROM features_rtree r WHERE {box} LIMIT ?)",
                [x1, x0, y1, y0, RTREE_FIRST],
            ).fetchone()
            join = "features_rtree r CROSS JOIN features f" if few else "features f JOIN features_rtree r"
            rows = con.execute(
                f"SELECT f.fid, f.props, f.geom FROM {join} ON r.id = f.id WHERE {where} AND {box} ORDER BY f.id",
                params + [x1, x0, y1, y0],
            ).fetchall()
        geoms = shapely.from_wkb([r[2] for r in rows]) if rows else np.empty(0, dtype=object)
        keep = np.flatnonzero(shapely.intersects(geoms, shapely.box(x0, y0, x1, y1))) if rows else []
        end = None if limit is None else offset + limit
        chosen = keep[offset:end]
        return FeaturePage([rows[i][0] for i in chosen], [_json(rows[i][1]) for i in chosen], geoms[chosen], len(keep))

    def close(self) -> None:
        """Stop the writer (after the writes queued so far) and close every connection this store opened."""
        with self._start_lock:
            thread = self._writer_thread
        if thread is not None:
            self._jobs.put(None)
            thread.join(30)
            self._writer_thread = None
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for con in opened:
            con.close()
        self._local = threading.local()
        self._writer_con = None


def _answer(answers: list[tuple[Any, Any, Any, BaseException | None]]) -> None:
    """Give each write its answer: concurrent futures at once, asyncio ones in one callback per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for job, loop, value, error in answers:
        if loop is None:
            if error is None:
                job.set_result(value)
            else:
                job.set_exception(error)
        else:
            by_loop.setdefault(loop, []).append((job, value, error))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these answers any more
            loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    """In the event loop: resolve the futures of one batch (a caller that gave up has a cancelled one)."""
    for job, value, error in items:
        if job.done():
            continue
        if error is None:
            job.set_result(value)
        else:
            job.set_exception(error)
