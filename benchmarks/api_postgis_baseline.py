"""The comparison path of benchmarks/api.py: the same full locate answer, computed by PostGIS on every request.

A minimal FastAPI app (async psycopg pool, one SQL statement per request) over the tables of
:class:`gridgis.store.postgis.PostGISStore`. Run by benchmarks/api.py with
``uvicorn --app-dir benchmarks api_postgis_baseline:create_app --factory``; settings from
GRIDGIS_DATABASE_URL (the published plan is looked up at start).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from psycopg_pool import AsyncConnectionPool

SQL = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS pt)
SELECT json_build_object(
    'plan', %(plan)s::text,
    'grid', g.props,
    'community', c.props,
    'town', t.props,
    'staff', s.doc,
    'layers', (SELECT coalesce(json_agg(json_build_object('layer', l.layer, 'id', l.fid::int,
                                                          'name', l.props->>'name')), '[]')
               FROM features l WHERE l.plan_id = 0 AND ST_Intersects(l.geom, p.pt)))::text
FROM p
JOIN features g ON g.plan_id = %(plan_id)s AND g.layer = 'grids' AND ST_Intersects(g.geom, p.pt)
LEFT JOIN features c ON c.plan_id = g.plan_id AND c.layer = 'communities' AND c.fid = g.props->>'community_id'
LEFT JOIN features t ON t.plan_id = g.plan_id AND t.layer = 'towns' AND t.fid = g.props->>'town_id'
LEFT JOIN staff s ON s.grid_id = g.fid
ORDER BY g.id LIMIT 1
"""


def create_app() -> FastAPI:
    pool = AsyncConnectionPool(os.environ["GRIDGIS_DATABASE_URL"], min_size=8, max_size=16, open=False)
    plan: dict = {}

    @asynccontextmanager
    async def lifespan(app):
        await pool.open(wait=True)
        async with pool.connection() as con:
            cur = await con.execute("SELECT plan_id, name FROM plans WHERE status = 'published'")
            plan["plan_id"], plan["plan"] = await cur.fetchone()
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/locate")
    async def locate(lon: float, lat: float) -> Response:
        async with pool.connection() as con:
            cur = await con.execute(SQL, {"lon": lon, "lat": lat, **plan})
            row = await cur.fetchone()
        if row is None:
            return JSONResponse({"error": {"code": "outside_coverage"}}, status_code=404)
        return Response(row[0], media_type="application/json")

    return app
