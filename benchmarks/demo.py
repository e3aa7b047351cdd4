"""Build time of the synthetic Heshan demo (goal, issue 2: well under a minute), for a few seeds in one run.

Prints, per seed: wall and CPU seconds of ``build_heshan`` and of writing the GeoPackage with
``gridgis.io.write_layers``, and the figures ``gridgis inspect`` shows (buildings, households,
residents, shops), so a slower build or drifting totals show up side by side.

    .venv/bin/python benchmarks/demo.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gridgis.demo import build_heshan
from gridgis.io import write_layers


def _timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    header = f"{'seed':>4} {'build s':>8} {'cpu s':>6} {'write s':>8} {'buildings':>10} {'households':>11} "
    print(header + f"{'residents':>10} {'shops':>6} {'communities':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            layers, wall, cpu = _timed(build_heshan, seed)
            _, write_wall, _ = _timed(write_layers, layers, Path(tmp) / f"heshan-{seed}.gpkg")
            b = layers["buildings"]
            households, residents = int(b["households"].sum()), int(b["population"].sum())
            print(
                f"{seed:>4} {wall:>8.1f} {cpu:>6.1f} {write_wall:>8.1f} {len(b):>10,} {households:>11,} "
                f"{residents:>10,} {len(layers['shops']):>6,} {len(layers['communities']):>12}"
            )


if __name__ == "__main__":
    main()
