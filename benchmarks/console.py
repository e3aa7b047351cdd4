"""The staff console at scale: 100,000 cases, a filtered page and its map, beside the JSON API's page.

For each store (SQLite; PostGIS when a URL is given) 100,000 cases are written straight into the case
tables (spread over 90 days, the 64 grids of ``benchmarks/cases.py``'s territory, every status and
level, a third overdue), then each request below is sent ``--repeat`` times to the app in this process
(the ASGI app called directly, no socket): what is timed is the server's work, routing, the dependency
chain (a console session cookie, looked up in the store like a browser's), the queries and the JSON.
Printed: median and p95 in ms.

- ``console page+map``: ``GET /console/api/cases`` with a filter, 50 rows and every matching point
  (at most 5,000, the newest) for the map;
- ``console page``: the same without the map (``map=false``, the worker's view);
- ``JSON API page``: ``GET /v1/cases`` with the same filter where it has one (it has no overdue, level,
  assignee or search filter), 50 rows, an API key.

Goal (issue 16): a filtered page and its map in < 300 ms on the server with 100,000 cases.

    .venv/bin/python benchmarks/console.py [--cases 100000] [--repeat 15] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import territory  # noqa: E402
from gridgis.cases import CATEGORIES, open_case_store  # noqa: E402
from gridgis.cases.lifecycle import STATUSES  # noqa: E402
from gridgis.store import open_store  # noqa: E402

KEY = "ggk_console-bench-dispatcher"
NOW = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def seed(url: str, n: int, rng: np.random.Generator) -> list[str]:
    """Publish the territory and write ``n`` cases with their two first events; return the grid ids."""
    store = open_store(url)
    layers = territory()
    store.import_plan(f"bench-{uuid.uuid4().hex[:6]}", layers)
    store.publish_plan(store.list_plans()[-1].name)
    cases = open_case_store(store)
    grids = layers["grids"]
    pick = rng.integers(0, len(grids), n)
    bounds = np.array([g.bounds for g in grids.geometry])
    lon = rng.uniform(bounds[pick, 0], bounds[pick, 2])
    lat = rng.uniform(bounds[pick, 1], bounds[pick, 3])
    created = [NOW - timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, 90 * 86400, n))[::-1]]
    statuses = rng.choice(STATUSES, n, p=[0.05, 0.2, 0.15, 0.1, 0.35, 0.1, 0.05])
    levels = np.where(statuses == "escalated", rng.integers(1, 3, n), 0)
    cats = rng.choice(list(CATEGORIES), n)
    words = ["垃圾", "路灯", "占道", "噪音", "积水", "消防通道", "违建", "井盖", "油污", "纠纷"]
    ts = store.dialect.ts
    rows = []
    for i in range(n):
        g = grids.iloc[pick[i]]
        due = created[i] + timedelta(hours=72) if rng.random() < 0.66 else NOW - timedelta(hours=1)
        final = statuses[i] in ("closed", "rejected")
        rows.append(
            (
                str(statuses[i]),
                str(cats[i]),
                "app",
                f"{words[i % len(words)]} 第{i}号",
                float(lon[i]),
                float(lat[i]),
                "wgs84",
                "[]",
                "{}",
                g.grid_id,
                g.community_id,
                g.town_id,
                f"worker-{pick[i] % 17}" if levels[i] == 0 else f"community:{g.community_id}",
                "person" if levels[i] == 0 else "community",
                None,
                int(levels[i]),
                store.dialect.bool(False),
                "ggk_app",
                "app-id",
                ts(created[i]),
                ts(created[i]),
                ts(due),
                ts(created[i] + timedelta(hours=30)) if final else None,
            )
        )
    cols = (
        "status, category, channel, description, lon, lat, source_crs, photo_urls, contact, grid_id, community_id, "
        "town_id, assignee, assignee_kind, department, level, outside_coverage, submitted_by, submitter_id, "
        "created_at, updated_at, due_at, closed_at"
    )
    sql = store.dialect.q(f"INSERT INTO cases ({cols}) VALUES ({', '.join('?' * 23)})")

    def work(cur):
        for start in range(0, n, 5000):
            cur.executemany(sql, rows[start : start + 5000])
        cur.execute(
            "INSERT INTO case_events (case_id, at, actor, from_status, to_status, assignee, note) "
            "SELECT id, created_at, 'ggk_app', NULL, 'reported', NULL, 'via app' FROM cases"
        )
        if store.kind == "postgis":
            cur.execute("ANALYZE cases")
            cur.execute("ANALYZE case_events")

    store.write(work)
    cases.close()
    store.close()
    return list(grids["grid_id"])


def timed(client, url: str, repeat: int, **kw) -> tuple[float, float, int, int]:
    """(median ms, p95 ms, total matching, points) of ``repeat`` GETs after one warm-up."""
    r = client.get(url, **kw)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    body = r.json()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(url, **kw)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95, body["total"], len(body.get("points", []))


def bench_store(kind: str, url: str, args, tmp: Path) -> list[str]:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    rng = np.random.default_rng(16)
    t0 = time.perf_counter()
    grids = seed(url, args.cases, rng)
    seeded = time.perf_counter() - t0
    settings = Settings(
        database_url=url, api_keys=f"{KEY}:dispatcher", upload_dir=str(tmp / "up"), cases_escalate_seconds=0
    )
    filters = [
        ("no filter", {}, {}),
        ("status=assigned", {"status": "assigned"}, {"status": "assigned"}),
        ("grid", {"grid_id": grids[5]}, {"grid_id": grids[5]}),
        (
            "community+open, by deadline",
            {"community_id": grids[5][:12], "status": "assigned,in_progress", "sort": "due_at"},
            {"community_id": grids[5][:12], "status": "assigned,in_progress"},
        ),
        ("overdue", {"overdue": "true"}, None),
        ("level=community", {"level": "community"}, None),
        ("search '路灯'", {"q": "路灯"}, None),
        (
            "since 7 days, category",
            {"since": (NOW - timedelta(days=7)).isoformat(), "category": "fire"},
            {"since": (NOW - timedelta(days=7)).isoformat(), "category": "fire"},
        ),
        ("no filter, page 100", {"offset": "4950"}, {"offset": "4950"}),
    ]
    out = [f"{kind}: {args.cases:,} cases written in {seeded:.1f} s"]
    head = f"{'page+map ms':>13}  {'page ms':>11}  {'JSON API ms':>13}"
    out.append(f"  {'filter':30} {'matching':>9} {'points':>7}  {head}")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        r = client.post("/console/sign-in", data={"secret": KEY})
        assert r.status_code == 200 and re.search(r'"csrf"', r.text)
        for name, console_q, api_q in filters:
            qs = "&".join(f"{k}={v}" for k, v in {"limit": 50, **console_q}.items()).replace("+", "%2B")
            med, p95, total, points = timed(client, f"/console/api/cases?{qs}", args.repeat)
            pmed, pp95, _, _ = timed(client, f"/console/api/cases?{qs}&map=false", args.repeat)
            api = "—"
            if api_q is not None:
                aqs = "&".join(f"{k}={v}" for k, v in {"limit": 50, **api_q}.items()).replace("+", "%2B")
                amed, ap95, _, _ = timed(
                    client, f"/v1/cases?{aqs}", args.repeat, headers={"X-API-Key": KEY}, cookies={}
                )
                api = f"{amed:5.0f} / {ap95:4.0f}"
            out.append(
                f"  {name:30} {total:9,} {points:7,}  {med:5.0f} / {p95:5.0f}  {pmed:4.0f} / {pp95:4.0f}  {api:>13}"
            )
    out.append("  (median / p95 of each; page+map = 50 rows and every matching point, at most 5,000)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--pg", default=os.environ.get("GRIDGIS_TEST_PG_URL"), help="PostGIS URL (a scratch database)")
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="gridgis-console-bench-") as tmp:
        lines += bench_store("SQLite", f"sqlite:///{tmp}/bench.db", args, Path(tmp))
        if args.pg:
            import psycopg

            from tests.api.conftest import schema_url

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as con:
                con.execute(f"CREATE SCHEMA {schema}")
            try:
                lines += bench_store("PostGIS", schema_url(args.pg, schema), args, Path(tmp))
            finally:
                with psycopg.connect(args.pg, autocommit=True) as con:
                    con.execute(f"DROP SCHEMA {schema} CASCADE")
    print("\n".join(lines))
    print(json.dumps({"cases": args.cases, "repeat": args.repeat}))


if __name__ == "__main__":
    main()
