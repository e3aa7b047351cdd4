"""Load test of the grid service on 127.0.0.1: GET /v1/locate (full answer from the in-memory snapshot) next to
the same answer computed by PostGIS per request, and POST /v1/locate points/s, in one run.

Plan: the Heshan demo (gridgis.demo.build_heshan, 379 grids by gridgis.partition; built once and cached in
data/bench/), with staff on every grid and a 24-area extra layer. Store: a fresh schema in the PostGIS given
by --pg (default $GRIDGIS_TEST_PG_URL), dropped at the end. Servers: uvicorn, httptools + uvloop, --workers 2.
Load: wrk (Debian's wrk), 32 connections, --seconds each, random points inside the grids.
Goal (issue 5): GET >= 4,000 requests/s with p99 < 15 ms and >= 2x the PostGIS path; POST >= 500,000 points/s.

    .venv/bin/python benchmarks/api.py [--seconds 20] [--connections 32] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import httpx
import numpy as np
import psycopg
import shapely

from gridgis.io import read_layers, write_layers
from gridgis.store import open_store

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "data" / "work" / "bench" / "heshan_plan.gpkg"


def heshan_plan() -> dict[str, gpd.GeoDataFrame]:
    if not CACHE.exists():
        from gridgis.demo import build_heshan
        from gridgis.partition import partition

        print("building the Heshan demo plan (once; cached in data/work/bench/) ...", flush=True)
        layers = build_heshan(seed=0)
        result = partition(layers, n_grids=379)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        write_layers(
            {
                "grids": result.grids,
                "buildings": result.buildings,
                "towns": layers["towns"],
                "communities": layers["communities"],
            },
            CACHE,
        )
    return read_layers(CACHE, ["grids", "buildings", "towns", "communities"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, url: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                sys.exit(f"server failed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    sys.exit(f"server did not start: {' '.join(cmd)}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wrk(url: str, script: str, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    os.unlink(f.name)

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def get_script(lon: np.ndarray, lat: np.ndarray) -> str:
    pts = ",".join(f"{{{x:.6f},{y:.6f}}}" for x, y in zip(lon, lat, strict=True))
    return f"""
local pts = {{{pts}}}
local i = 0
request = function()
  i = i + 1
  local p = pts[(i % #pts) + 1]
  return wrk.format("GET", "/v1/locate?lon=" .. p[1] .. "&lat=" .. p[2])
end
"""


def post_script(lon: np.ndarray, lat: np.ndarray) -> str:
    body = json.dumps({"lon": np.round(lon, 6).tolist(), "lat": np.round(lat, 6).tolist()})
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pg", default=os.environ.get("GRIDGIS_TEST_PG_URL"), help="PostGIS URL (a schema is made)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")
    if not args.pg:
        sys.exit("needs a PostGIS URL: --pg postgresql://... (scripts/pg start prints one)")

    layers = heshan_plan()
    grids = layers["grids"]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in args.pg else "?"
    url = f"{args.pg}{sep}options={quote(f'-csearch_path={schema},public')}"
    procs = []
    try:
        store = open_store(url)
        store.import_plan("heshan", layers)
        store.publish_plan("heshan")
        for i, gid in enumerate(grids["grid_id"]):
            store.set_staff(
                gid,
                {
                    "leader": {"name": f"网格长{i}", "phone": f"138{i:08d}"},
                    "workers": [{"name": f"网格员{i}a"}, {"name": f"网格员{i}b", "on_duty": False}],
                },
            )
        x0, y0, x1, y1 = grids.total_bounds
        xs, ys = np.linspace(x0, x1, 7), np.linspace(y0, y1, 5)
        beats = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(6) for j in range(4)]
        store.import_layer(
            "police_beats",
            gpd.GeoDataFrame({"name": [f"警区{k}" for k in range(24)]}, geometry=beats, crs=4326),
            name_field="name",
        )
        store.close()

        rng = np.random.default_rng(0)
        pts = shapely.get_coordinates(layers["buildings"].geometry.representative_point().values)
        pick = pts[rng.choice(len(pts), 2000, replace=False)]
        batch = pts[rng.choice(len(pts), 10_000, replace=False)]
        print(
            f"plan: {len(grids)} grids, {len(layers['buildings']):,} buildings; {args.connections} connections, "
            f"{args.seconds} s each, {args.workers} uvicorn workers, {os.cpu_count()} cores; "
            f"load average before: {os.getloadavg()[0]:.1f}",
            flush=True,
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [
            sys.executable,
            "-c",
            "from gridgis.cli import main; main()",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ]
        proc = start(serve, {}, f"{base}/healthz")
        procs.append(proc)
        time.sleep(2)
        check = httpx.get(f"{base}/v1/locate", params={"lon": pick[0, 0], "lat": pick[0, 1]}).json()
        assert check["grid"] and check["staff"]["leader"], check
        wrk(f"{base}/v1/locate", get_script(*pick.T), 3, args.connections)  # warm-up
        memory = wrk(f"{base}/v1/locate", get_script(*pick.T), args.seconds, args.connections)
        post = wrk(f"{base}/v1/locate", post_script(*batch.T), args.seconds, 4)
        stop(proc)
        procs.remove(proc)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        baseline = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(REPO / "benchmarks"),
            "api_postgis_baseline:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        proc = start(baseline, {"GRIDGIS_DATABASE_URL": url}, f"{base}/v1/locate?lon=0&lat=0")
        procs.append(proc)
        time.sleep(2)
        r = httpx.get(f"{base}/v1/locate", params={"lon": pick[0, 0], "lat": pick[0, 1]})
        assert r.status_code == 200, r.text
        check_pg = r.json()
        assert check_pg["grid"]["grid_id"] == check["grid"]["grid_id"], (check_pg, check)
        wrk(f"{base}/v1/locate", get_script(*pick.T), 3, args.connections)
        pg = wrk(f"{base}/v1/locate", get_script(*pick.T), args.seconds, args.connections)
    finally:
        for proc in procs:
            stop(proc)
        with psycopg.connect(args.pg, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")

    print(f"\n{'path':<46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in [
        ("GET /v1/locate, in-memory snapshot (gridgis)", memory),
        ("GET /v1/locate, PostGIS per request", pg),
    ]:
        print(f"{name:<46} {r['rps']:>9,.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['non2xx']:>8}  {r['socket_errors']}")
    print(
        f"{'POST /v1/locate, 10,000 points a call, 4 conn.':<46} {post['rps']:>9,.1f} {post['p50']:>8.1f} "
        f"{post['p99']:>8.1f} {post['non2xx']:>8}  -> {post['rps'] * 10_000:,.0f} points/s"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine inflates p99)")
    print(
        f"\nspeed-up of the snapshot over PostGIS per request: {memory['rps'] / pg['rps']:.1f}x "
        "(goal >= 2x; GET goal >= 4,000/s, p99 < 15 ms; POST goal >= 500,000 points/s)"
    )


if __name__ == "__main__":
    main()
