"""Partition benchmark: gridgis next to pymetis, GerryChain, spopt and a k-d bisection, on the same instances.

An instance is one community (a square with a notch, in metres) holding N buildings in
clusters, with skewed household loads (mostly houses, some walk-ups, 2 % high-rises),
to be cut into k grids. Every method gets the same building adjacency graph (the
Voronoi tessellation gridgis builds); every result is measured the same way: its
labels are dissolved over the same cells into polygons, then

- max deviation: max |load - target| / target over the grids (target = total / k),
- contiguous: every grid connected in the adjacency graph (= one polygon); for gridgis's own
  polygons also one piece each and holding every building of theirs,
- PP: mean Polsby-Popper of the method's grid polygons: gridgis draws its own (the cells
  dissolved, then the shared edges smoothed, see gridgis.partition.smooth); the peers give
  labels only, so theirs are the dissolved cells,
- PP cells: the same, every method's labels dissolved over the same cells (no smoothing),
- seconds: gridgis includes tessellation, dissolving and smoothing; the peers get the graph for free.

Peers optimise other things (spopt: attribute homogeneity, here of x and y, the best
chance it has at compact regions; METIS: edge cut; GerryChain: samples balanced plans),
so their balance and shape are what they give when asked for k regions. Each peer run
is a separate process killed after --timeout seconds; a peer that times out is skipped
on the larger instances. Not part of the test suite.

Real footprints (``--real``): pyrosm's ``test.osm.pbf`` (a Finnish town centre from OpenStreetMap,
its streets and 1,410 buildings inside the area they enclose) and momepy's Bubeneč (Prague, perimeter
blocks), put into the data model by tests/partition/real_cases.py; every method gets the same
footprint tessellation with street blocks, and is measured also by

- on streets: share of the inner grid edges (cut cell edges) lying on a street,
- at most: the share the street blocks allow for that cut: 1 - (inner edge length inside blocks whose load
  alone exceeds the target by more than the 10 % tolerance, so that some edge must cross them) / (inner edge
  length); "on streets 33 %, at most 45 %" means 55 % of that plan's edges had to lie inside such blocks,
- fp inside: share of the footprints no street crosses lying wholly inside their grid's polygon.

Run::

    .venv/bin/python benchmarks/partition.py                 # all, about 10-15 minutes
    .venv/bin/python benchmarks/partition.py --real-only --peers gridgis,kd,pymetis,gerrychain
    .venv/bin/python benchmarks/partition.py --sizes 500,2000 --peers gridgis,kd,pymetis
    .venv/bin/python benchmarks/partition.py --heshan-only   # the Heshan demo into 379 grids
    .venv/bin/python benchmarks/partition.py --peers gridgis --no-heshan --seed 1   # other instances
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
import warnings
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridgis.partition.bisect import recursive_bisection
from gridgis.partition.community import CommunityTask, partition_community
from gridgis.partition.report import polsby_popper
from gridgis.partition.tessellate import Tessellation, dissolve, tessellate

INSTANCES = ((500, 4), (2000, 8), (10000, 30), (50000, 120))
#: real extracts and their grid counts (the issue's 10 and 40; Bubenec's 1,925 households in 5 and 10)
REAL = (("kouvola", 10), ("kouvola", 40), ("bubenec", 5), ("bubenec", 10))
#: the partition's default tolerance, for the street share the blocks allow
TOLERANCE = 0.10
PEERS = ("gridgis", "kd", "pymetis", "pymetis-contig", "gerrychain", "skater", "ward", "regionkmeans", "azp", "maxp")


@dataclass
class Instance:
    n: int
    k: int
    area: shapely.Geometry
    xy: np.ndarray
    w: np.ndarray
    tess: Tessellation
    graph: sparse.csr_matrix
    barriers: shapely.Geometry | None = None
    shapes: np.ndarray | None = None


def make_instance(n: int, k: int, seed: int = 0) -> Instance:
    rng = np.random.default_rng(seed)
    side = np.sqrt(n) * 25.0
    area = shapely.Polygon([(0, 0), (side, 0), (side, 0.6 * side), (0.7 * side, side), (0, side)])
    centres = rng.uniform(0.1 * side, 0.9 * side, (max(4, n // 250), 2))
    xy = centres[rng.integers(0, len(centres), 3 * n)] + rng.normal(0, side / 14, (3 * n, 2))
    xy = np.unique(np.round(xy, 2), axis=0)
    xy = xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]
    xy = xy[rng.permutation(len(xy))[:n]]
    kind = rng.random(len(xy))
    w = np.where(
        kind < 0.85, rng.integers(1, 13, len(xy)), np.where(kind < 0.98, rng.integers(20, 61, len(xy)), 0)
    ).astype(float)
    towers = kind >= 0.98
    w[towers] = rng.integers(150, 401, towers.sum())
    tess = tessellate(area, xy)
    return Instance(len(xy), k, area, xy, w, tess, tess.graph(len(xy)))


def real_instance(name: str, k: int) -> Instance:
    """One real extract (see tests/partition/real_cases.py) as an instance: its sites, footprints and streets."""
    import sys
    from pathlib import Path

    from gridgis.partition.inputs import PartitionInput

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests/partition
    from tests.partition import real_cases

    layers = getattr(real_cases, name)()
    inp = PartitionInput.build(layers, {"households": 1.0}, ("roads",))
    sites = inp.sites[0]
    area = inp.areas[0]
    barriers = shapely.intersection(inp.barriers, area)
    tess = tessellate(area, sites.xy, barriers, sites.shapes)
    return Instance(
        len(sites.xy), k, area, sites.xy, sites.load, tess, tess.graph(len(sites.xy)), barriers, sites.shapes
    )


def evaluate(inst: Instance, labels: np.ndarray, geoms: np.ndarray | None = None) -> dict:
    """Balance, contiguity and compactness of a labelling (``geoms``: the method's own polygons, if it draws any)."""
    labels = np.asarray(labels)
    _, labels = np.unique(labels, return_inverse=True)
    parts = int(labels.max()) + 1
    target = inst.w.sum() / inst.k
    load = np.bincount(labels, weights=inst.w, minlength=parts)
    coo = inst.graph.tocoo()
    same = labels[coo.row] == labels[coo.col]
    inner = sparse.coo_matrix((np.ones(same.sum()), (coo.row[same], coo.col[same])), shape=inst.graph.shape)
    n_comp, comp = connected_components(inner, directed=False)
    contiguous = n_comp == parts
    cells = dissolve(inst.tess.pieces, labels[inst.tess.site], parts)
    if geoms is not None:  # the polygons must still hold every building of theirs, one piece each
        ok = shapely.covers(geoms[labels], shapely.points(inst.xy)).all()
        contiguous = contiguous and ok and (shapely.get_num_geometries(geoms) == 1).all()
    out = {
        "regions": parts,
        "max_dev": float(np.abs(load - target).max() / target),
        "contiguous": bool(contiguous),
        "pp": float(polsby_popper(cells if geoms is None else geoms).mean()),
        "pp_cells": float(polsby_popper(cells).mean()),
    }
    if inst.barriers is not None:
        total, on, forced = inst.tess.cut_lengths(labels, inst.w, (1 + TOLERANCE) * target)
        out["on_streets"] = on / total if total else None
        out["possible"] = 1 - forced / total if total else None
        polys = geoms if geoms is not None else cells
        has = np.flatnonzero(~(shapely.is_missing(inst.shapes) | shapely.is_empty(inst.shapes)))
        has = has[~shapely.intersects(inst.shapes[has], inst.barriers)]
        has = has[shapely.covers(shapely.buffer(inst.area, 0.001), inst.shapes[has])]
        inside = shapely.covers(shapely.buffer(polys[labels[has]], 0.001), inst.shapes[has])
        out["fp_inside"] = float(inside.mean()) if len(has) else 1.0
    return out


# ---------------------------------------------------------------- methods (each returns labels)


def run_gridgis(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    # from the raw points, as in a real run: tessellation, bisection, repair, balance, smoothed polygons
    task = CommunityTask("440784101001", inst.area, inst.xy, inst.w, inst.k, inst.barriers, shapes=inst.shapes)
    res = partition_community(task)
    return res.site_grid, np.array(res.geoms, dtype=object)


def run_kd(inst: Instance) -> np.ndarray:
    """k-d weighted median bisection: axis-aligned cuts, no graph, no repair."""
    return recursive_bisection(inst.xy, inst.w, inst.k, n_directions=2)


def run_pymetis(inst: Instance, contiguous: bool = False) -> np.ndarray:
    import pymetis

    g = inst.graph
    _, membership = pymetis.part_graph(
        inst.k,
        xadj=g.indptr.tolist(),
        adjncy=g.indices.tolist(),
        vweights=np.maximum(inst.w, 1).astype(int).tolist(),
        contiguous=contiguous or None,
    )
    return np.asarray(membership)


def run_gerrychain(inst: Instance, steps: int = 10) -> np.ndarray:
    from functools import partial

    import networkx as nx
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.partition import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally

    nxg = nx.Graph()
    nxg.add_nodes_from((i, {"households": float(v)}) for i, v in enumerate(inst.w))
    nxg.add_edges_from(inst.tess.edges.tolist())
    graph = Graph.from_networkx(nxg)
    target = inst.w.sum() / inst.k
    seed_plan = recursive_tree_part(graph, range(inst.k), target, "households", 0.01)
    initial = Partition(graph, seed_plan, updaters={"population": Tally("households", alias="population")})
    chain = MarkovChain(
        proposal_fn=partial(recom, pop_col="households", pop_target=target, epsilon=0.01),
        constraints=[within_percent_of_ideal_population(initial, 0.01)],
        acceptance_fn=always_accept,
        initial_partition=initial,
        total_steps=steps,
    )
    for state in chain:
        last = state
    return np.array([last.assignment[i] for i in range(inst.n)])


def _spopt_inputs(inst: Instance):
    import geopandas as gpd
    from libpysal.weights import W

    coo = sparse.triu(inst.graph, k=1).tocoo()
    neighbours = {i: [] for i in range(inst.n)}
    for a, b in zip(coo.row.tolist(), coo.col.tolist(), strict=True):
        neighbours[a].append(b)
        neighbours[b].append(a)
    xy = (inst.xy - inst.xy.mean(axis=0)) / inst.xy.std()
    gdf = gpd.GeoDataFrame({"x": xy[:, 0], "y": xy[:, 1], "households": inst.w}, geometry=shapely.points(inst.xy))
    return gdf, W(neighbours, silence_warnings=True)


def run_spopt(inst: Instance, which: str) -> np.ndarray:
    from spopt.region import AZP, MaxPHeuristic, RegionKMeansHeuristic, Skater, WardSpatial

    gdf, w = _spopt_inputs(inst)
    attrs = ["x", "y"]
    if which == "skater":
        model = Skater(gdf, w, attrs, n_clusters=inst.k)
    elif which == "ward":
        model = WardSpatial(gdf, w, attrs, n_clusters=inst.k)
    elif which == "regionkmeans":
        model = RegionKMeansHeuristic(gdf[attrs].to_numpy(), inst.k, w)
    elif which == "azp":
        model = AZP(gdf, w, attrs, n_clusters=inst.k, random_state=0)
    else:  # max-p: regions of at least 90 % of the target load; their number follows
        model = MaxPHeuristic(gdf, w, attrs, "households", 0.9 * inst.w.sum() / inst.k, top_n=2)
    model.solve()
    return np.asarray(model.labels_)


METHODS = {
    "gridgis": run_gridgis,
    "kd": run_kd,
    "pymetis": run_pymetis,
    "pymetis-contig": lambda inst: run_pymetis(inst, contiguous=True),
    "gerrychain": run_gerrychain,
    "skater": lambda inst: run_spopt(inst, "skater"),
    "ward": lambda inst: run_spopt(inst, "ward"),
    "regionkmeans": lambda inst: run_spopt(inst, "regionkmeans"),
    "azp": lambda inst: run_spopt(inst, "azp"),
    "maxp": lambda inst: run_spopt(inst, "maxp"),
}


# ---------------------------------------------------------------- harness


def _child(name: str, inst: Instance, queue) -> None:
    warnings.simplefilter("ignore")
    try:
        start = time.perf_counter()
        labels = METHODS[name](inst)
        queue.put(("ok", time.perf_counter() - start, labels))
    except Exception as exc:  # a peer failing is a result to report, not a crash
        queue.put(("error", 0.0, f"{type(exc).__name__}: {exc}"[:80]))


def run(name: str, inst: Instance, timeout: float) -> dict:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, inst, queue))
    proc.start()
    try:
        status, seconds, payload = queue.get(timeout=timeout)
    except Exception:
        proc.kill()
        proc.join()
        return {"status": "timeout", "note": f"did not finish in {timeout:.0f} s"}
    proc.join()
    if status != "ok":
        return {"status": "error", "note": payload}
    labels, geoms = payload if isinstance(payload, tuple) else (payload, None)
    return {"status": "ok", "seconds": seconds, **evaluate(inst, labels, geoms)}


def fmt(name: str, r: dict, real: bool = False) -> str:
    extra = f" {'-':>10} {'-':>8} {'-':>9}" if real else ""
    if r["status"] != "ok":
        return f"  {name:<15} {'-':>7} {'-':>9} {'-':>10} {'-':>6} {'-':>8}{extra} {'-':>9}  {r['note']}"
    if real:
        streets = "-" if r.get("on_streets") is None else f"{r['on_streets']:.1%}"
        possible = "-" if r.get("possible") is None else f"{r['possible']:.1%}"
        extra = f" {streets:>10} {possible:>8} {r['fp_inside']:>9.1%}"
    return (
        f"  {name:<15} {r['regions']:>7} {r['max_dev']:>9.1%} {'yes' if r['contiguous'] else 'NO':>10} "
        f"{r['pp']:>6.2f} {r['pp_cells']:>8.2f}{extra} {r['seconds']:>9.3f}"
    )


def real(peers: list[str], timeout: float) -> None:
    for name, k in REAL:
        inst = real_instance(name, k)
        target = inst.w.sum() / k
        print(
            f"\n{name}: {inst.n:,} sites (real footprints), {len(np.unique(inst.tess.site_block))} street blocks, "
            f"k={k} grids, target {target:,.0f} households, heaviest building {inst.w.max() / target:.0%} of it"
        )
        print(
            f"  {'method':<15} {'regions':>7} {'max dev':>9} {'contiguous':>10} {'PP':>6} {'PP cells':>8} "
            f"{'on streets':>10} {'at most':>8} {'fp inside':>9} {'seconds':>9}"
        )
        for peer in peers:
            print(fmt(peer, run(peer, inst, timeout), real=True), flush=True)


def heshan(jobs: int) -> None:
    from gridgis.demo import build_heshan
    from gridgis.partition import partition

    start = time.perf_counter()
    layers = build_heshan(seed=0)
    built = time.perf_counter() - start
    start = time.perf_counter()
    result = partition(layers, n_grids=379, barriers=("roads", "rivers"), dedicated="facilities", jobs=jobs)
    seconds = time.perf_counter() - start
    r, b = result.report, result.report["balance"]
    basic = result.grids[result.grids["kind"] == "basic"]
    county, a, blocks = r["county"], r["apportionment"], r["street_blocks"]
    print(
        f"\nHeshan demo ({len(layers['buildings']):,} buildings, {len(layers['communities'])} communities) "
        f"into 379 grids, --jobs {jobs}: {seconds:.1f} s (demo build {built:.1f} s, not counted); "
        f"hard rules {'OK' if r['quality']['ok'] else 'BROKEN'}; in community: max deviation "
        f"{b['max_deviation']:.1%}, mean {b['mean_deviation']:.2%}, within the {b['tolerance']:.0%} tolerance "
        f"{b['within_tolerance']:.1%}, within 1 %: {(basic['deviation'].abs() <= 0.01).mean():.0%}; county: grids "
        f"hold {county['min']:,.0f}-{county['max']:,.0f} households-load (std {county['std']:,.0f}), "
        f"{county['outside_range']} outside the mean +-10 %; largest community mean {a['largest_community_mean']:,.1f} "
        f"= {a['largest_community_mean'] / a['bound']:.3f} x the bound {a['bound']:,.1f}; "
        f"mean Polsby-Popper {r['compactness']['mean_polsby_popper']:.2f} (the communities themselves "
        f"{r['compactness']['communities_mean_polsby_popper']:.2f}); "
        f"footprints inside their grid {r['footprints_inside_grid']['share_inside']:.2%}; "
        f"edges on barriers {r['barriers']['share_on_barriers']:.1%} "
        f"({r['barriers']['basic_share_on_barriers']:.1%} between basic grids, dedicated grids' outlines left out); "
        f"{blocks['whole_block_grids']} of {blocks['grids']} grids whole street blocks, "
        f"{blocks['split_blocks']} of {blocks['blocks']} blocks split; {len(result.blocks):,} blocks in the plan"
    )
    for key, label in (("all", "all communities"), ("street_networks", "communities with a street network")):
        f = blocks if key == "all" else blocks[key]
        count = len(layers["communities"]) if key == "all" else f["communities"]
        print(
            f"  over the cells, {label} ({count}): {f['share_on_barriers_cells']:.1%} of inner edges on "
            f"barriers, of at most {f['possible_share']:.1%} ({f['inside_oversized_blocks_m']:,.0f} of "
            f"{f['inner_edge_m']:,.0f} m inside blocks heavier than one grid may be)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n, _ in INSTANCES), help="N of the instances to run")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"methods among {', '.join(PEERS)}")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per peer run")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the Heshan run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the instances (layout and loads)")
    parser.add_argument("--heshan-only", action="store_true")
    parser.add_argument("--no-heshan", action="store_true")
    parser.add_argument("--real-only", action="store_true", help="only the real footprints (and Heshan)")
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    if not args.heshan_only and not args.no_real:
        real([p for p in peers if p in ("gridgis", "kd", "pymetis", "pymetis-contig", "gerrychain")], args.timeout)
    if not args.heshan_only and not args.real_only:
        sizes = {int(s) for s in args.sizes.split(",")}
        gave_up: dict[str, int] = {}
        for n, k in INSTANCES:
            if n not in sizes:
                continue
            inst = make_instance(n, k, args.seed)
            target = inst.w.sum() / k
            print(
                f"\nN={inst.n:,} buildings, k={k} grids, target {target:,.0f} households, "
                f"heaviest building {inst.w.max() / target:.0%} of the target"
            )
            print(
                f"  {'method':<15} {'regions':>7} {'max dev':>9} {'contiguous':>10} {'PP':>6} {'PP cells':>8} "
                f"{'seconds':>9}"
            )
            for name in peers:
                if name in gave_up:
                    print(fmt(name, {"status": "skip", "note": f"skipped: timed out at N={gave_up[name]:,}"}))
                    continue
                result = run(name, inst, args.timeout)
                if result["status"] == "timeout":
                    gave_up[name] = inst.n
                print(fmt(name, result), flush=True)
    if not args.no_heshan:
        heshan(args.jobs)


if __name__ == "__main__":
    main()
