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
  a fresh schema of the PostGIS at --pg (with the PostgreSQL server's CPU seconds over the import: its
  processes' times, read with psutil from the postmaster named in the data directory),
- locate: ``gridgis serve --workers 2`` over the SQLite store, ``wrk`` GET /v1/locate at random
  building points (2 threads, --connections, --seconds), with the workers' CPU microseconds per request
  (the figure that holds under load); the snapshot's memory per worker is the resident memory of a worker
  serving the plan minus that of a worker serving an empty store.

Inputs already made are not made again: the demo of a size is ``WORKDIR/SIZE.gpkg`` (or ``--city
SIZE=PATH``), and ``--plan SIZE=PATH`` takes a partitioned plan as it is (the partition step is then not
run, and shows as ``-``).

The machine's load average is printed before and after: on a shared machine CPU seconds are the
figure to compare, wall seconds only an upper bound.

    .venv/bin/python benchmarks/scale.py [--sizes heshan,3x,jiangmen] [--engine local|dask]
        [--pg postgresql://...] [--seconds 10] [--connections 32] [--workdir data/work/scale]
        [--city jiangmen=/path/jiangmen.gpkg] [--plan jiangmen=/path/plan.gpkg]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
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


def worker_processes(server: subprocess.Popen, workers: int) -> list[psutil.Process]:
    """The uvicorn workers: the ``workers`` largest children of the serve process (the others are
    multiprocessing's small helpers)."""
    kids = psutil.Process(server.pid).children(recursive=True)
    return sorted(kids, key=lambda p: p.memory_info().rss)[-workers:]


def worker_rss(server: subprocess.Popen, workers: int) -> list[int]:
    """Resident bytes of each uvicorn worker."""
    return sorted(p.memory_info().rss for p in worker_processes(server, workers))


def serve(db: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [*GRIDGIS, "serve", "--db", db, "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    return start(cmd, {}, f"{base}/healthz"), base


def pg_schema_url(pg: str, schema: str) -> str:
    sep = "&" if "?" in pg else "?"
    return f"{pg}{sep}options={quote(f'-csearch_path={schema},public')}"


def postgres_cpu(pg: str) -> Callable[[], float]:
    """A function giving the CPU seconds (user + sys) the PostgreSQL server at ``pg`` has used so far: its
    postmaster, the children it reaped and the live backends (needs this machine's server and the right to read
    its processes; else 0)."""
    import psycopg

    with psycopg.connect(pg, autocommit=True) as con:
        folder = con.execute("SHOW data_directory").fetchone()[0]
    try:
        postmaster = psutil.Process(int(Path(folder, "postmaster.pid").read_text().split()[0]))
    except (OSError, ValueError, psutil.Error):
        return lambda: 0.0

    def seconds() -> float:
        t = postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in postmaster.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                c = child.cpu_times()
                total += c.user + c.system
        return total

    return seconds


def locate_load(server: subprocess.Popen, base: str, pick: np.ndarray, args) -> dict:
    """wrk GET /v1/locate (after a 3 s warm-up), with the workers' CPU microseconds per request."""
    wrk(f"{base}/v1/locate", get_script(*pick.T), 3, args.connections)  # warm-up
    workers = worker_processes(server, args.workers)
    before = sum(sum(p.cpu_times()[:2]) for p in workers)
    out = wrk(f"{base}/v1/locate", get_script(*pick.T), args.seconds, args.connections)
    cpu = sum(sum(p.cpu_times()[:2]) for p in workers) - before
    out["cpu_us"] = cpu / max(out["rps"] * args.seconds, 1) * 1e6
    return out


def bench_size(size: str, args) -> dict:
    import psycopg

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    city = Path(args.city.get(size, work / f"{size}.gpkg"))
    row: dict = {"size": size}
    if not city.exists():
        print(f"[{size}] demo ...", flush=True)
        run = measure([*GRIDGIS, *SIZES[size], "-o", str(city)])
        row["demo"] = run
        print(f"[{size}] {run.output.strip().splitlines()[-1]}", flush=True)
    buildings = read_layer(city, "buildings")
    row["buildings"], row["households"] = len(buildings), int(buildings["households"].sum())

    if size in args.plan:
        plan = Path(args.plan[size])
        print(f"[{size}] plan {plan} (given: not partitioned here)", flush=True)
    else:
        plan = work / f"{size}-{args.engine}-plan.gpkg"
        engine = ["--jobs", str(args.jobs)] if args.engine == "local" else ["--engine", "dask"]
        print(f"[{size}] partition {' '.join(PARTITION + engine)} ...", flush=True)
        run = measure([*GRIDGIS, "partition", str(city), *PARTITION, *engine, "-o", str(plan)])
        row["partition"] = run
        print(f"[{size}] partition: {run.wall:.0f} s wall, {run.cpu:.0f} s CPU, peak {run.peak_rss / 2**30:.2f} GiB",
              flush=True)  # fmt: skip
    row["grids"] = len(read_layer(plan, "grids"))

    db = work / f"{size}.db"
    db.unlink(missing_ok=True)
    sqlite_url = f"sqlite:///{db}"
    row["import_sqlite"] = measure(
        [*GRIDGIS, "plan", "import", str(plan), "--name", size, "--publish", "--db", sqlite_url]
    )
    m = row["import_sqlite"]
    print(f"[{size}] import+publish SQLite: {m.wall:.1f} s wall, {m.cpu:.1f} s CPU", flush=True)
    if args.pg:
        schema = f"scale_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.pg, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        server_cpu = postgres_cpu(args.pg)
        try:
            url = pg_schema_url(args.pg, schema)
            before = server_cpu()
            m = row["import_postgis"] = measure([*GRIDGIS, "plan", "import", str(plan), "--name", size, "--publish",
                                                 "--db", url])  # fmt: skip
            row["import_postgis_server"] = server_cpu() - before
            print(f"[{size}] import+publish PostGIS: {m.wall:.1f} s wall, {m.cpu:.1f} s CPU client, "
                  f"{row['import_postgis_server']:.1f} s CPU server", flush=True)  # fmt: skip
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
        row["locate"] = locate_load(server, base, pick, args)
        row["worker_rss"] = worker_rss(server, args.workers)
    finally:
        stop(server)
    print(f"[{size}] locate: {row['locate']['rps']:,.0f} req/s, p99 {row['locate']['p99']:.1f} ms, "
          f"{row['locate']['cpu_us']:.0f} us worker CPU per request; "
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
        ("partition wall s", lambda r: cell(r, "partition", lambda m: f"{m.wall:.0f}")),
        ("partition CPU s", lambda r: cell(r, "partition", lambda m: f"{m.cpu:.0f}")),
        ("partition peak GiB (tree PSS)", lambda r: cell(r, "partition", lambda m: f"{m.peak_rss / 2**30:.2f}")),
        ("import+publish SQLite s", lambda r: f"{r['import_sqlite'].wall:.1f}"),
        ("  CPU s", lambda r: f"{r['import_sqlite'].cpu:.1f}"),
        ("import+publish PostGIS s", lambda r: cell(r, "import_postgis", lambda m: f"{m.wall:.1f}")),
        (
            "  CPU s client / server",
            lambda r: cell(r, "import_postgis", lambda m: f"{m.cpu:.1f} / {r['import_postgis_server']:.1f}"),
        ),
        ("GET /v1/locate req/s", lambda r: f"{r['locate']['rps']:,.0f}"),
        ("locate p99 ms", lambda r: f"{r['locate']['p99']:.1f}"),
        ("locate worker CPU us/request", lambda r: f"{r['locate']['cpu_us']:.0f}"),
        ("worker RSS MiB", lambda r: "/".join(f"{v / 2**20:.0f}" for v in r["worker_rss"])),
        ("snapshot MiB per worker", lambda r: f"{np.mean(r['worker_rss']) / 2**20 - base / 2**20:.0f}"),
    ]
    width = 32
    out = [f"{'':<{width}}" + "".join(f"{r['size']:>14}" for r in rows)]
    for label, fmt in lines:
        out.append(f"{label:<{width}}" + "".join(f"{fmt(r):>14}" for r in rows))
    out.append(f"{'empty-store worker RSS MiB':<{width}}{base / 2**20:>14.0f}")
    return "\n".join(out)


def _size_paths(values: list[str], option: str) -> dict[str, Path]:
    out = {}
    for value in values:
        size, _, path = value.partition("=")
        if size not in SIZES or not path or not Path(path).is_file():
            sys.exit(f"{option} {value}: use SIZE=PATH with SIZE one of {', '.join(SIZES)} and an existing file")
        out[size] = Path(path)
    return out


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
    ap.add_argument("--city", action="append", default=[], metavar="SIZE=PATH", help="a demo already made")
    ap.add_argument("--plan", action="append", default=[], metavar="SIZE=PATH", help="a plan already partitioned")
    args = ap.parse_args()
    args.city, args.plan = _size_paths(args.city, "--city"), _size_paths(args.plan, "--plan")
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
