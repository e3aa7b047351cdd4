"""Scale: Heshan, 3x Heshan and Jiangmen side by side, every step run as a user runs it (the CLI).

Sizes (all synthetic, ``gridgis demo``; cached in --workdir):

- ``heshan``: ``gridgis demo heshan`` (1 county, about 54,000 buildings),
- ``3x``: ``gridgis demo jiangmen --counties 440784,440705,440704`` (Heshan, Xinhui, Jianghai:
  about 3x Heshan's buildings),
- ``jiangmen``: ``gridgis demo jiangmen`` (7 counties, about 455,000 buildings).

Steps, each a fresh subprocess measured from outside: wall seconds, CPU seconds (user + sys of the
process and every child it waited for, from ``getrusage(RUSAGE_CHILDREN)``) and the peak of the
summed proportional memory (PSS: pages shared by forked workers count once) of the process tree,
sampled every 0.2 s with psutil, so the workers of ``--jobs`` are counted together:

- partition: ``gridgis partition IN --households 300-500 --barriers roads,rivers --dedicated
  facilities --jobs 2`` (or ``--engine dask``, a LocalCluster of 2 workers),
- import + publish: ``gridgis plan import PLAN --name N --publish`` into a fresh SQLite file and into
  a fresh schema of the PostGIS at --pg,
- locate: ``gridgis serve --workers 2`` over the SQLite store, ``wrk`` GET /v1/locate at random
  building points (2 threads, --connections, --seconds); the snapshot's memory per worker is the
  resident memory of a worker serving the plan minus that of a worker serving an empty store.

The machine's load average is printed before and after: on a shared machine CPU seconds are the
figure to compare, wall seconds only an upper bound.

    .venv/bin/python benchmarks/scale.py [--sizes heshan,3x,jiangmen] [--engine local|dask]
        [--pg postgresql://...] [--seconds 10] [--connections 32] [--workdir data/work/scale]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import psutil
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.api import free_port, get_script, start, stop, wrk  # noqa: E402
from gridgis.io import read_layer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SIZES = {
    "heshan": ["demo", "heshan"],
    "3x": ["demo", "jiangmen", "--counties", "440784,440705,440704", "--jobs", "2"],
    "jiangmen": ["demo", "jiangmen", "--jobs", "2"],
}
PARTITION = ["--households", "300-500", "--barriers", "roads,rivers", "--dedicated", "facilities"]
GRIDGIS = [sys.executable, "-m", "gridgis.cli"]


@dataclass
class Run:
    """One measured command: wall and CPU seconds, peak summed PSS of its process tree (bytes), its output."""

    wall: float
    cpu: float
    peak_rss: int
    output: str


def measure(cmd: list[str], *, env: dict | None = None) -> Run:
    """Run ``cmd`` to completion, sampling the summed RSS of its process tree; exit on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(_pss(p) for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.2)
    output = proc.stdout.read()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{output[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall=wall, cpu=cpu, peak_rss=peak, output=output)


def _pss(proc: psutil.Process) -> int:
    """Proportional set size: a forked worker's pages shared with its parent count once over the tree."""
    try:
        return proc.memory_full_info().pss
    except psutil.Error:
        return 0


def worker_rss(server: subprocess.Popen, workers: int) -> list[int]:
    """Resident bytes of each uvicorn worker: the ``workers`` largest children of the serve process
    (the others are multiprocessing's small helpers)."""
    kids = psutil.Process(server.pid).children(recursive=True)
    return sorted(p.memory_info().rss for p in kids)[-workers:]


def serve(db: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [*GRIDGIS, "serve", "--db", db, "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    return start(cmd, {}, f"{base}/healthz"), base


def pg_schema_url(pg: str, schema: str) -> str:
    sep = "&" if "?" in pg else "?"
    return f"{pg}{sep}options={quote(f'-csearch_path={schema},public')}"


def bench_size(size: str, args) -> dict:
    import psycopg

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    city = work / f"{size}.gpkg"
    row: dict = {"size": size}
    if not city.exists():
        print(f"[{size}] demo ...", flush=True)
        run = measure([*GRIDGIS, *SIZES[size], "-o", str(city)])
        row["demo"] = run
        print(f"[{size}] {run.output.strip().splitlines()[-1]}", flush=True)
    buildings = read_layer(city, "buildings")
    row["buildings"], row["households"] = len(buildings), int(buildings["households"].sum())

    plan = work / f"{size}-{args.engine}-plan.gpkg"
    engine = ["--jobs", str(args.jobs)] if args.engine == "local" else ["--engine", "dask"]
    print(f"[{size}] partition {' '.join(PARTITION + engine)} ...", flush=True)
    run = measure([*GRIDGIS, "partition", str(city), *PARTITION, *engine, "-o", str(plan)])
    row["partition"] = run
    row["grids"] = len(read_layer(plan, "grids"))
    print(f"[{size}] partition: {row['grids']:,} grids, {run.wall:.0f} s wall, {run.cpu:.0f} s CPU, "
          f"peak {run.peak_rss / 2**30:.2f} GiB", flush=True)  # fmt: skip

    db = work / f"{size}.db"
    db.unlink(missing_ok=True)
    sqlite_url = f"sqlite:///{db}"
    row["import_sqlite"] = measure(
        [*GRIDGIS, "plan", "import", str(plan), "--name", size, "--publish", "--db", sqlite_url]
    )
    print(f"[{size}] import+publish SQLite: {row['import_sqlite'].wall:.1f} s", flush=True)
    if args.pg:
        schema = f"scale_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        try:
            url = pg_schema_url(args.pg, schema)
            row["import_postgis"] = measure([*GRIDGIS, "plan", "import", str(plan), "--name", size, "--publish",
                                             "--db", url])  # fmt: skip
            print(f"[{size}] import+publish PostGIS: {row['import_postgis'].wall:.1f} s", flush=True)
        finally:
            with psycopg.connect(args.pg, autocommit=True) as con:
                con.execute(f"DROP SCHEMA {schema} CASCADE")

    rng = np.random.default_rng(0)
    pts = shapely.get_coordinates(buildings.geometry.representative_point().to_numpy())
    pick = pts[rng.choice(len(pts), 2000, replace=False)]
    server, base = serve(sqlite_url, args.workers)
    try:
        answer = httpx.get(f"{base}/v1/locate", params={"lon": pick[0, 0], "lat": pick[0, 1]}, timeout=30).json()
        assert answer.get("grid"), answer
        wrk(f"{base}/v1/locate", get_script(*pick.T), 3, args.connections)  # warm-up
        row["locate"] = wrk(f"{base}/v1/locate", get_script(*pick.T), args.seconds, args.connections)
        row["worker_rss"] = worker_rss(server, args.workers)
    finally:
        stop(server)
    print(f"[{size}] locate: {row['locate']['rps']:,.0f} req/s, p99 {row['locate']['p99']:.1f} ms; "
          f"worker RSS {[f'{r / 2**20:.0f} MiB' for r in row['worker_rss']]}", flush=True)  # fmt: skip
    return row


def empty_worker_rss(args) -> list[int]:
    """Resident bytes of the workers of a server over an empty store (no plan): the baseline."""
    db = Path(args.workdir) / "empty.db"
    db.unlink(missing_ok=True)
    server, base = serve(f"sqlite:///{db}", args.workers)
    try:
        httpx.get(f"{base}/v1/locate", params={"lon": 112.9, "lat": 22.7}, timeout=30)
        return worker_rss(server, args.workers)
    finally:
        stop(server)


def table(rows: list[dict], empty: list[int]) -> str:
    base = float(np.mean(empty)) if empty else 0.0

    def cell(row, key, fmt):
        return fmt(row[key]) if key in row else "-"

    lines = [
        ("buildings", lambda r: f"{r['buildings']:,}"),
        ("households", lambda r: f"{r['households']:,}"),
        ("grids", lambda r: f"{r['grids']:,}"),
        ("demo wall s / CPU s", lambda r: cell(r, "demo", lambda m: f"{m.wall:.0f} / {m.cpu:.0f}")),
        ("partition wall s", lambda r: f"{r['partition'].wall:.0f}"),
        ("partition CPU s", lambda r: f"{r['partition'].cpu:.0f}"),
        ("partition peak GiB (tree PSS)", lambda r: f"{r['partition'].peak_rss / 2**30:.2f}"),
        ("import+publish SQLite s", lambda r: f"{r['import_sqlite'].wall:.1f}"),
        ("import+publish PostGIS s", lambda r: cell(r, "import_postgis", lambda m: f"{m.wall:.1f}")),
        ("GET /v1/locate req/s", lambda r: f"{r['locate']['rps']:,.0f}"),
        ("locate p99 ms", lambda r: f"{r['locate']['p99']:.1f}"),
        ("worker RSS MiB", lambda r: "/".join(f"{v / 2**20:.0f}" for v in r["worker_rss"])),
        ("snapshot MiB per worker", lambda r: f"{np.mean(r['worker_rss']) / 2**20 - base / 2**20:.0f}"),
    ]
    width = 32
    out = [f"{'':<{width}}" + "".join(f"{r['size']:>14}" for r in rows)]
    for label, fmt in lines:
        out.append(f"{label:<{width}}" + "".join(f"{fmt(r):>14}" for r in rows))
    out.append(f"{'empty-store worker RSS MiB':<{width}}{base / 2**20:>14.0f}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="heshan,3x,jiangmen")
    ap.add_argument("--engine", choices=("local", "dask"), default="local")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--pg", default=os.environ.get("GRIDGIS_TEST_PG_URL"), help="PostGIS URL (a schema is made)")
    ap.add_argument("--workdir", default=str(REPO / "data" / "work" / "scale"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")
    sizes = [s.strip() for s in args.sizes.split(",")]
    unknown = set(sizes) - set(SIZES)
    if unknown:
        sys.exit(f"unknown sizes {sorted(unknown)}; use some of {', '.join(SIZES)}")
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    rows = [bench_size(size, args) for size in sizes]
    empty = empty_worker_rss(args)
    print()
    print(table(rows, empty))
    print(f"\nload average after: {os.getloadavg()} (other work on the machine inflates wall seconds)")


if __name__ == "__main__":
    main()
