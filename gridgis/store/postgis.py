"""The PostgreSQL + PostGIS store: psycopg 3 with a connection pool, geometry columns with a GiST index.

Many stateless API workers can share one database. Tests isolate themselves in
a schema through the URL (``?options=-csearch_path%3Dmyschema,public``).
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import psycopg_pool
import shapely
from psycopg_pool import ConnectionPool

from gridgis.errors import StoreError
from gridgis.store.base import FeaturePage, Store, core_migrations
from gridgis.store.dialect import POSTGIS

#: core schema, one step per version (never edit a released step: append a new one)
MIGRATIONS = core_migrations(
    POSTGIS,
    """
    CREATE EXTENSION IF NOT EXISTS postgis;
    CREATE TABLE features (id BIGSERIAL PRIMARY KEY, plan_id BIGINT NOT NULL, layer TEXT NOT NULL,
        fid TEXT NOT NULL, props JSONB NOT NULL, geom geometry(Geometry, 4326) NOT NULL,
        UNIQUE (plan_id, layer, fid));
    CREATE INDEX features_geom ON features USING GIST (geom);
    """,
)


class PostGISStore(Store):
    """Store in PostgreSQL with PostGIS."""

    dialect = POSTGIS

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8):
        self.url = url
        try:
            psycopg.connect(url, connect_timeout=10).close()  # fail fast and clearly, before the pool retries
            self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True, timeout=30)
            self.pool.wait(timeout=30)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreError(
                f"Cannot connect to PostGIS at {_redact(url)}: {str(exc).strip().rstrip('.?')}.",
                fix="check GRIDGIS_DATABASE_URL / --db and that the server runs.",
            ) from exc
        self.migrate_component("core", MIGRATIONS)

    @contextmanager
    def connect(self, *, readonly: bool = False):
        """A pooled connection in a transaction: commits on success, rolls back on error."""
        try:
            with self.pool.connection() as con:
                yield con
        except psycopg.OperationalError as exc:
            raise StoreError(f"PostGIS at {_redact(self.url)} failed: {exc}.", fix="check the server.") from exc

    def _lock_schema(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(7160001)")

    def _lock_plans(self, cur) -> None:
        cur.execute("LOCK TABLE plans IN SHARE ROW EXCLUSIVE MODE")

    def _insert_features(self, cur, plan_id, layer, ids, props, geoms) -> None:
        ewkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
        with cur.copy("COPY features (plan_id, layer, fid, props, geom) FROM STDIN") as copy:
            for fid, p, g in zip(ids, props, ewkb, strict=True):
                copy.write_row((plan_id, layer, fid, p, g))

    def features(self, plan_id, layer, *, bbox=None, limit=100, offset=0, fid=None) -> FeaturePage:
        """See :meth:`Store.features`; the bbox test runs in PostGIS (GiST index)."""
        where, params = "plan_id = %s AND layer = %s", [plan_id, layer]
        if fid is not None:
            where += " AND fid = %s"
            params.append(fid)
        if bbox is not None:
            where += " AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"
            params += [float(v) for v in bbox]
        page = " LIMIT %s OFFSET %s" if limit is not None else ""
        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute(f"SELECT COUNT(*) FROM features WHERE {where}", params)
            total = cur.fetchone()[0]
            cur.execute(
                f"SELECT fid, props, ST_AsBinary(geom) FROM features WHERE {where} ORDER BY id{page}",
                params + ([limit, offset] if limit is not None else []),
            )
            rows = cur.fetchall()
        return FeaturePage.from_rows(rows, total)

    def tile(self, plan_id, layer, z, x, y) -> bytes:
        """See :meth:`Store.tile`: ``ST_AsMVT`` of ``ST_AsMVTGeom`` in ``ST_TileEnvelope``, the features found through
        the GiST index with the buffered tile's WGS84 box (a Mercator rectangle is one)."""
        from gridgis.tiles import BUFFER, EXTENT, SIMPLIFY, tile_bounds

        with self.connect(readonly=True) as con:
            cur = con.cursor()
            cur.execute(
                "WITH t AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS box, "
                "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326) AS wgs84) "
                "SELECT ST_AsMVT(m, %(layer)s, %(extent)s, 'geom') FROM ("
                "  SELECT f.props, ST_AsMVTGeom(ST_SimplifyPreserveTopology("
                "    ST_Simplify(ST_Transform(f.geom, 3857), %(unit)s), %(tolerance)s), t.box, %(extent)s, %(buffer)s)"
                "    AS geom"
                "  FROM features f, t WHERE f.plan_id = %(plan)s AND f.layer = %(layer)s AND f.geom && t.wgs84"
                "  ORDER BY f.id) m WHERE m.geom IS NOT NULL",
                {
                    "z": z,
                    "x": x,
                    "y": y,
                    "margin": BUFFER / EXTENT,
                    "layer": layer,
                    "plan": plan_id,
                    "extent": EXTENT,
                    "buffer": BUFFER,
                    # SIMPLIFY grid units, and one, in this tile's metres (as gridgis.tiles.encode_tile simplifies)
                    "tolerance": SIMPLIFY * (tile_bounds(z, x, y)[2] - tile_bounds(z, x, y)[0]) / EXTENT,
                    "unit": (tile_bounds(z, x, y)[2] - tile_bounds(z, x, y)[0]) / EXTENT,
                },
            )
            row = cur.fetchone()
        return bytes(row[0]) if row and row[0] is not None else b""

    def close(self) -> None:
        """Close the connection pool (again: nothing)."""
        if not self.pool.closed:
            self.pool.close()


def _redact(url: str) -> str:
    """The URL without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "<unparsable URL>"
    info.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in info.items())
