"""Case intake under load: 32 concurrent clients for 30 s against a real ``gridgis serve``.

Prints, for each store (SQLite; PostGIS when a URL is given), the intake rate, the
p50/p99 latency of ``POST /v1/cases`` as clients see it, and the loss / duplicate
check (every 201 is in the store once, no submission is stored twice), next to the
library alone (``gridgis.cases.submit`` from threads, no HTTP) on the same store.
Goal (issue 6): >= 500 cases/s on SQLite with p99 < 50 ms.

    .venv/bin/python benchmarks/cases.py [--clients 32] [--seconds 30] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import shapely

from gridgis.cases import CATEGORIES, CaseFilter, check_report, open_case_store, submit
from gridgis.store import open_store

KEY = "ggk_bench00000000000000"
X0, Y0, STEP, N = 112.80, 22.60, 0.01, 8  # an 8 x 8 lattice of grids, 2 x 2 per community


def territory() -> dict[str, gpd.GeoDataFrame]:
    grids, communities, towns = [], [], []
    for i in range(N):
        for j in range(N):
            town = f"4407841{(i // 4) * 2 + j // 4 + 1:02d}"
            com = f"{town}{(i % 4) // 2 * 2 + (j % 4) // 2 + 1:03d}"
            gid = f"{com}{(i % 2) * 2 + j % 2 + 1:03d}"
            grids.append(
                (
                    gid,
                    gid,
                    com,
                    town,
                    shapely.box(X0 + i * STEP, Y0 + j * STEP, X0 + (i + 1) * STEP, Y0 + (j + 1) * STEP),
                )
            )
    frame = gpd.GeoDataFrame(grids, columns=["grid_id", "grid_code", "community_id", "town_id", "geometry"], crs=4326)
    for com, g in frame.groupby("community_id"):
        communities.append((com, g["town_id"].iloc[0], com, shapely.union_all(g.geometry.values)))
    for town, g in frame.groupby("town_id"):
        towns.append((town, town, shapely.union_all(g.geometry.values)))
    return {
        "grids": frame,
        "communities": gpd.GeoDataFrame(communities, columns=["community_id", "town_id", "name", "geometry"], crs=4326),
        "towns": gpd.GeoDataFrame(towns, columns=["town_id", "name", "geometry"], crs=4326),
    }


def prepare(url: str) -> None:
    store = open_store(url)
    store.import_plan(f"bench-{uuid.uuid4().hex[:6]}", territory())
    store.publish_plan(store.list_plans()[-1].name)
    for gid in territory()["grids"]["grid_id"][::2]:
        store.set_staff(gid, {"leader": {"name": "leader"}, "workers": [{"name": "worker", "on_duty": True}]})
    store.close()


def body(rng: np.random.Generator, name: str) -> dict:
    return {
        "category": str(rng.choice(list(CATEGORIES))),
        "description": name,
        "lon": float(rng.uniform(X0, X0 + N * STEP)),
        "lat": float(rng.uniform(Y0, Y0 + N * STEP)),
        "channel": "app",
    }


# --- clients -------------------------------------------------------------------------------
async def _clients(
    base: str, n: int, start: float, seconds: float, tag: str, mode: str
) -> tuple[list[float], dict[str, int], int]:
    latencies: list[float] = []
    acked: dict[str, int] = {}
    errors = 0
    await asyncio.sleep(max(0.0, start - time.time()))  # every process starts at the same moment
    end = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one(c: int) -> None:
            nonlocal errors
            rng = np.random.default_rng(abs(hash((tag, c))) % 2**32)
            k = 0
            while time.perf_counter() < end:
                name = f"{tag}-{c}-{k}"
                payload = body(rng, name)
                headers = {"X-API-Key": KEY, "Idempotency-Key": name}
                for _attempt in range(3):  # retries are safe: same key, same case
                    t = time.perf_counter()
                    try:
                        if mode == "locate":  # the peer: a read of the same service, no write
                            params = {"lon": payload["lon"], "lat": payload["lat"]}
                            r = await client.get("/v1/locate", params=params)
                            r.status_code = 201 if r.status_code == 200 else r.status_code
                        else:
                            r = await client.post("/v1/cases", json=payload, headers=headers)
                    except httpx.TransportError:
                        errors += 1
                        continue
                    if r.status_code == 201:
                        latencies.append(time.perf_counter() - t)
                        acked[name] = r.json()["id"] if mode == "cases" else 0
                        break
                    errors += 1
                k += 1

        await asyncio.gather(*(one(c) for c in range(n)))
    return latencies, acked, errors


def _client_proc(base: str, n: int, start: float, seconds: float, tag: str, mode: str, out) -> None:
    out.put(asyncio.run(_clients(base, n, start, seconds, tag, mode)))


def load(
    base: str, clients: int, seconds: float, procs: int, mode: str = "cases"
) -> tuple[list[float], dict[str, int], int, float]:
    """``clients`` concurrent clients spread over ``procs`` processes (one Python process saturates first)."""
    queue = mp.get_context("spawn").Queue()
    per = [clients // procs + (i < clients % procs) for i in range(procs)]
    start = time.time() + 10  # every process starts its clients then, after its imports
    ps = [
        mp.get_context("spawn").Process(target=_client_proc, args=(base, n, start, seconds, f"p{i}", mode, queue))
        for i, n in enumerate(per)
    ]
    for p in ps:
        p.start()
    results = [queue.get() for _ in ps]
    wall = time.time() - start
    for p in ps:
        p.join()
    lat = [x for r in results for x in r[0]]
    acked = {k: v for r in results for k, v in r[1].items()}
    return lat, acked, sum(r[2] for r in results), wall


# --- server --------------------------------------------------------------------------------
def serve(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRIDGIS_API_KEYS": f"{KEY}:reader", "GRIDGIS_CASES_ESCALATE_SECONDS": "0"}
    gridgis = str(Path(sys.executable).parent / "gridgis")
    proc = subprocess.Popen(
        [gridgis, "serve", "--db", url, "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {log.read_text()[-2000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc): the server's cost, whatever else loads the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_p99(base: str, route: str = "/v1/cases") -> str:
    """The p99 of ``route`` inside the server (request in the app to answer sent), from its Prometheus histogram:
    the upper bound of the first bucket holding 99% of the requests. Clients see more: the time their request
    waits in the server's event loop before the app starts it, and their own CPU (they share the cores)."""
    buckets = []
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("gridgis_http_request_seconds_bucket") and f'route="{route}"' in line:
            buckets.append((float(line.split('le="')[1].split('"')[0]), float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return "n/a"
    total = buckets[-1][1]
    bound = next(le for le, count in buckets if count >= 0.99 * total)
    return f"<= {bound * 1000:g} ms"


def check(url: str, acked: dict[str, int]) -> tuple[int, int, int]:
    """(stored, lost acknowledged, duplicated submissions)."""
    cases = open_case_store(url)
    stored = list(cases.iter_cases(CaseFilter()))
    cases.close()
    cases.store.close()
    by_name = Counter(c["description"] for c in stored)
    ids = {c["description"]: c["id"] for c in stored}
    lost = sum(1 for n, i in acked.items() if ids.get(n) != i)
    return len(stored), lost, sum(1 for k in by_name.values() if k > 1)


def library(url: str, clients: int, seconds: float) -> tuple[list[float], dict[str, int], float]:
    """The same intake without HTTP: ``submit`` from ``clients`` threads."""
    from gridgis.store.snapshot import load_snapshot

    store = open_store(url)
    cases = open_case_store(store)
    snap = load_snapshot(store)
    lat: list[float] = []
    acked: dict[str, int] = {}
    end = time.perf_counter() + seconds

    def run(c: int) -> None:
        rng = np.random.default_rng(c)
        k = 0
        while time.perf_counter() < end:
            name = f"lib-{c}-{k}"
            t = time.perf_counter()
            case, _ = submit(cases, snap, check_report(**body(rng, name)), client="lib", idempotency_key=name)
            lat.append(time.perf_counter() - t)
            acked[name] = case["id"]
            k += 1

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cases.close()
    store.close()
    return lat, acked, wall


def row(name: str, lat: list[float], acked: dict, wall: float, errors: int, stored, lost, dup) -> str:
    ms = np.percentile(np.asarray(lat) * 1000, [50, 99]) if lat else [float("nan")] * 2
    return (
        f"{name:<22} {len(acked):>8} {len(acked) / wall:>9.0f} {ms[0]:>8.1f} {ms[1]:>8.1f} "
        f"{errors:>7} {stored:>8} {lost:>5} {dup:>5}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--pg", default=os.environ.get("GRIDGIS_TEST_PG_URL"), help="PostGIS URL (a scratch database)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gridgis-bench-cases-"))
    stores = [("sqlite", f"sqlite:///{tmp / 'bench.db'}")]
    if args.pg:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in args.pg else "?"
        stores.append(("postgis", f"{args.pg}{sep}options=-csearch_path%3D{schema},public"))
    print(
        f"{args.clients} clients, {args.seconds:g} s, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        "server: gridgis serve (1 worker)"
    )
    heads = ("cases", "cases/s", "p50 ms", "p99 ms", "retries", "stored", "lost", "dup")
    widths = (8, 9, 8, 8, 7, 8, 5, 5)
    print(f"{'run':<22} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    try:
        for kind, url in stores:
            prepare(url)
            proc, base = serve(url, tmp / f"{kind}.log")
            try:
                cpu0 = cpu_seconds(proc.pid)
                lat, acked, errors, wall = load(base, args.clients, args.seconds, args.procs)
                cpu = cpu_seconds(proc.pid) - cpu0
                inside = server_p99(base)
                if kind == "sqlite":
                    cpu1 = cpu_seconds(proc.pid)
                    floor = load(base, args.clients, min(args.seconds, 10), args.procs, mode="locate")
                    floor_cpu = cpu_seconds(proc.pid) - cpu1
            finally:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(30)
            stored, lost, dup = check(url, acked)
            print(row(f"{kind} HTTP", lat, acked, wall, errors, stored, lost, dup), flush=True)
            print(
                f"{'':<22} server CPU {cpu * 1000 / max(len(acked), 1):.2f} ms/case ({cpu:.1f} s); "
                f"p99 inside the server {inside}",
                flush=True,
            )
            if kind == "sqlite":
                flat, facked, ferrors, fwall = floor
                print(row("peer: GET /v1/locate", flat, facked, fwall, ferrors, "-", "-", "-"), flush=True)
                print(f"{'':<22} server CPU {floor_cpu * 1000 / max(len(facked), 1):.2f} ms/request", flush=True)
            lat, lib_acked, wall = library(url, args.clients, min(args.seconds, 10))
            stored, lost, dup = check(url, {**acked, **lib_acked})
            print(row(f"{kind} library", lat, lib_acked, wall, 0, stored, lost, dup), flush=True)
    finally:
        if args.pg:
            with psycopg.connect(args.pg, autocommit=True) as con:
                con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
