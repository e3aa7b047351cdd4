"""Case intake under load: 32 connections for 30 s against a real ``gridgis serve``, load from wrk.

For each store (SQLite; PostGIS when a URL is given) wrk (a C load generator, light on the
2 CPUs the server shares with it; ``benchmarks/wrk_cases.lua``) posts cases, each with its own
description and Idempotency-Key, twice:

- paced: ``--rate`` cases/s offered on a fixed schedule (default 510, a little over the goal's 500:
  the achieved rate counts wrk's whole run, start-up included). wrk times each request from its
  send; the sends are checked against the schedule and the p99 counted from each request's slot
  (what a client on the schedule waits) is bounded from that (see wrk_cases.lua);
- closed loop: every connection flat out (its next case as soon as the last is answered), so the
  rate is the server's capacity and the latency mostly queueing (Little: 32 / rate).

Each row prints the intake rate, p50/p99 as wrk measures them (request sent to answer read), the
server's CPU per case, the p99 inside the server (its Prometheus histogram) and the loss /
duplicate check: every 201 is in the store under the id it answered, no description is stored
twice (``stored`` also counts the warm-up and cases sent but unanswered when a run ended). Then a
sample of acknowledged cases is submitted again with the same key (a client retrying after a lost
answer) and must answer with the first case. Beside: GET /v1/locate (a read of the same service)
and the library alone (``gridgis.cases.submit`` from threads, no HTTP) on the same store.
Goal (issue 6): >= 500 cases/s on SQLite with p99 < 50 ms.

    .venv/bin/python benchmarks/cases.py [--connections 32] [--seconds 30] [--rate 510] [--pg postgresql://...]

Needs Debian's ``wrk`` (LuaJIT inside).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
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


# --- load: wrk -------------------------------------------------------------------------------
WRK_SCRIPT = Path(__file__).with_name("wrk_cases.lua")


@dataclass
class Run:
    """One wrk run: what it sent and got, latencies as wrk measured them (from each request's send)."""

    ok: int  # 201s (cases) or 200s (locate)
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # other statuses, socket errors and timeouts
    late: int  # paced runs: sends behind the schedule by more than 1 ms
    late_max_ms: float
    p99_schedule_ms: float | None  # paced runs: bound on the p99 counted from each request's slot
    acked: dict[str, int]  # description -> case id of every 201
    server_cpu: float  # CPU seconds of the server process during the run
    wrk_cpu: float  # CPU seconds of wrk
    machine_cpu: float  # CPU seconds the whole machine was busy (every process: others share it too)
    server_p99: str  # from the server's own histogram, for this run only

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


def wrk(
    base: str, pid: int, mode: str, tag: str, *, rate: float, connections: int, threads: int, seconds: float
) -> Run:
    """``connections`` connections on ``threads`` wrk threads for ``seconds``; ``rate`` 0: flat out."""
    out = Path(tempfile.mkdtemp(prefix=f"gridgis-wrk-{tag}-"))
    args = [mode, KEY, tag, str(rate), str(threads), str(out), str(X0), str(Y0), str(N * STEP), str(N * STEP)]
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(WRK_SCRIPT)]
    before, cpu0 = histogram(base, "/v1/cases" if mode == "cases" else "/v1/locate"), cpu_seconds(pid)
    children0, busy0 = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
    done = subprocess.run([*cmd, base, "--", *args, *CATEGORIES], capture_output=True, text=True, check=True)
    cpu, busy = cpu_seconds(pid) - cpu0, machine_busy() - busy0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
    after = histogram(base, "/v1/cases" if mode == "cases" else "/v1/locate")
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.split(" ", 1)[1])
    acked = {}
    for f in out.glob("acked-*.txt"):
        for row in f.read_text().splitlines():
            name, case_id = row.split(" ")
            acked[name] = int(case_id)
    shutil.rmtree(out)
    if mode == "cases" and len(acked) != r["created"]:
        raise SystemExit(f"wrk counted {r['created']:.0f} 201s but recorded {len(acked)} cases")
    errors = int(r["failed"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"])
    return Run(
        ok=int(r["created"]),
        seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        errors=errors,
        late=int(r["late_sends"]),
        late_max_ms=r["late_ms_max"],
        p99_schedule_ms=r["p99_schedule_max_us"] / 1000 if "p99_schedule_max_us" in r else None,
        acked=acked,
        server_cpu=cpu,
        wrk_cpu=wrk_cpu,
        machine_cpu=busy,
        server_p99=p99_bound([(le, n - dict(before).get(le, 0)) for le, n in after]),
    )


def retry_check(base: str, url: str, acked: dict[str, int], sample: int = 200) -> tuple[int, int]:
    """Submit ``sample`` acknowledged cases again, same Idempotency-Key and report (a client retrying after a
    lost answer): (answered with the first case and Idempotent-Replayed, answered otherwise)."""
    cases = open_case_store(url)
    names = sorted(acked)[:: max(1, len(acked) // sample)][:sample]
    stored = {c["description"]: c for c in cases.iter_cases(CaseFilter(ids=tuple(acked[n] for n in names)))}
    cases.close()
    cases.store.close()
    same = other = 0
    with httpx.Client(base_url=base, timeout=30) as client:
        for name in names:
            case = stored[name]
            payload = {k: case[k] for k in ("category", "description", "lon", "lat", "channel")}
            r = client.post("/v1/cases", json=payload, headers={"X-API-Key": KEY, "Idempotency-Key": name})
            replayed = r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"
            if replayed and r.json()["id"] == acked[name]:
                same += 1
            else:
                other += 1
    return same, other


# --- server --------------------------------------------------------------------------------
def serve(url: str, log: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRIDGIS_API_KEYS": f"{KEY}:reader", "GRIDGIS_CASES_ESCALATE_SECONDS": "0"}
    gridgis = str(Path(sys.executable).parent / "gridgis")
    proc = subprocess.Popen(
        [gridgis, "serve", "--db", url, "--port", str(port), "--log-level", "warning", "--workers", str(workers)],
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
    """User + system CPU seconds of a process and its worker processes (psutil): the server's cost, whatever else
    loads the machine."""
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def machine_busy() -> float:
    """CPU seconds all CPUs have been busy since boot (Linux /proc/stat: all but idle and iowait)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def histogram(base: str, route: str) -> list[tuple[float, float]]:
    """(upper bound in seconds, cumulative count) of ``route``'s latency histogram inside the server (request in
    the app to answer sent; Prometheus /metrics)."""
    buckets = []
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("gridgis_http_request_seconds_bucket") and f'route="{route}"' in line:
            buckets.append((float(line.split('le="')[1].split('"')[0]), float(line.rsplit(" ", 1)[1])))
    return buckets


def p99_bound(buckets: list[tuple[float, float]]) -> str:
    """The upper bound of the first bucket holding 99% of the requests. Clients see more: the time their request
    waits in the server's event loop before the app starts it."""
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


HEADS = ("cases", "cases/s", "p50 ms", "p99 ms", "errors", "stored", "lost", "dup")
WIDTHS = (8, 9, 8, 8, 7, 8, 5, 5)


def row(name: str, n: int, rate: float, p50: float, p99: float, errors, stored, lost, dup) -> str:
    cells = (n, f"{rate:.0f}", f"{p50:.1f}", f"{p99:.1f}", errors, stored, lost, dup)
    return f"{name:<26} " + " ".join(f"{c:>{w}}" for c, w in zip(cells, WIDTHS, strict=True))


def run_row(name: str, run: Run, check_: tuple[int, int, int] | None) -> str:
    stored, lost, dup = check_ or ("-", "-", "-")
    return row(name, run.ok, run.rate, run.p50_ms, run.p99_ms, run.errors, stored, lost, dup)


def cpu_line(run: Run) -> str:
    """Who used the machine's CPUs during a run: the server, wrk, and everything else (PostgreSQL, other jobs)."""
    available = run.seconds * os.cpu_count()
    rest = max(run.machine_cpu - run.server_cpu - run.wrk_cpu, 0.0)
    return (
        f"{'':<26} CPU used of {available:.0f} s: server {run.server_cpu:.1f} s, wrk {run.wrk_cpu:.1f} s, "
        f"rest of the machine {rest:.1f} s"
    )


def bench_store(kind: str, url: str, args, tmp: Path) -> dict[str, Run]:
    """The runs of one store: paced at --rate, then flat out (closed loop), then (SQLite) the locate peer."""
    prepare(url)
    proc, base = serve(url, tmp / f"{kind}.log", args.workers)
    runs: dict[str, Run] = {}
    acked: dict[str, int] = {}
    common = {"connections": args.connections, "threads": args.threads, "seconds": args.seconds}
    try:
        warm = wrk(base, proc.pid, "cases", f"{kind}-warm", rate=0, **{**common, "seconds": 3})  # no row
        acked.update(warm.acked)  # but its cases are checked with the others
        plan = [(f"paced {args.rate:g}/s", args.rate), ("closed loop", 0)]
        for label, rate in plan:
            run = runs[label] = wrk(base, proc.pid, "cases", f"{kind}-{label.split()[0]}", rate=rate, **common)
            acked.update(run.acked)
            print(run_row(f"{kind} {label}", run, check(url, acked)), flush=True)
            print(
                f"{'':<26} server CPU {run.server_cpu * 1000 / max(run.ok, 1):.2f} ms/case; "
                f"p99 inside the server {run.server_p99}",
                flush=True,
            )
            if rate:
                print(
                    f"{'':<26} offered {rate:g}/s: {run.late} sends > 1 ms behind the schedule (at most "
                    f"{run.late_max_ms:.1f} ms); p99 counted from the schedule <= {run.p99_schedule_ms:.1f} ms",
                    flush=True,
                )
            print(cpu_line(run), flush=True)
        same, other = retry_check(base, url, acked)
        print(f"{'':<26} retries (same Idempotency-Key and report): {same} answered with the first case, {other} not")
        if kind == "sqlite":
            run = runs["locate"] = wrk(base, proc.pid, "locate", "peer", rate=0, **common)
            print(run_row("peer: GET /v1/locate", run, None), flush=True)
            print(f"{'':<26} server CPU {run.server_cpu * 1000 / max(run.ok, 1):.2f} ms/request", flush=True)
            print(cpu_line(run), flush=True)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)
    lat, lib_acked, wall = library(url, args.connections, min(args.seconds, 10))
    stored, lost, dup = check(url, {**acked, **lib_acked})
    ms = np.percentile(np.asarray(lat) * 1000, [50, 99])
    print(row(f"{kind} library", len(lib_acked), len(lib_acked) / wall, *ms, 0, stored, lost, dup), flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=510, help="cases/s offered by the paced run")
    parser.add_argument("--pg", default=os.environ.get("GRIDGIS_TEST_PG_URL"), help="PostGIS URL (a scratch database)")
    parser.add_argument("--workers", type=int, default=1, help="gridgis serve worker processes")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("needs wrk: apt-get install wrk")
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
        f"wrk -t{args.threads} -c{args.connections}, {args.seconds:g} s a run, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; server: gridgis serve, {args.workers} worker(s); "
        "latencies as wrk measures them "
        "(request sent to answer read)"
    )
    print(f"{'run':<26} " + " ".join(f"{h:>{w}}" for h, w in zip(HEADS, WIDTHS, strict=True)))
    results = {}
    try:
        for kind, url in stores:
            results[kind] = bench_store(kind, url, args, tmp)
    finally:
        if args.pg:
            with psycopg.connect(args.pg, autocommit=True) as con:
                con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    paced, flat = results["sqlite"][f"paced {args.rate:g}/s"], results["sqlite"]["closed loop"]
    met = paced.rate >= 500 and max(paced.p99_ms, paced.p99_schedule_ms) < 50
    print(
        f"goal (issue 6) >= 500 cases/s on SQLite with p99 < 50 ms: {'met' if met else 'NOT met'} "
        f"(paced: {paced.rate:.1f} cases/s, p99 {paced.p99_ms:.1f} ms, from the schedule <= "
        f"{paced.p99_schedule_ms:.1f} ms; flat out: {flat.rate:.0f} cases/s, p99 {flat.p99_ms:.1f} ms)"
    )


if __name__ == "__main__":
    main()
