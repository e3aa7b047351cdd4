"""gridgis.io against the bare readers and writers it wraps, on a Heshan-sized buildings layer.

Prints, per format, the seconds of ``write_layer`` (atomic) and ``read_layer``
(CRS checks, repair, validation) next to the bare library calls (pyogrio /
geopandas / pandas) on the same file, so the cost of the checks is visible.

    .venv/bin/python benchmarks/file_io.py [--rows 180000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridgis.io import read_layer, write_layer


def _buildings(rows: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(112.5, 113.0, rows)
    y = rng.uniform(22.5, 22.85, rows)
    return gpd.GeoDataFrame(
        {
            "building_id": np.arange(rows),
            "community_id": [f"440784101{i % 150:03d}" for i in range(rows)],
            "households": rng.integers(1, 4, rows),
            "population": rng.integers(1, 10, rows),
        },
        geometry=shapely.box(x, y, x + 1e-4, y + 1e-4),
        crs="EPSG:4326",
    )


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _bare_write(gdf: gpd.GeoDataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        gdf.to_parquet(path)
    elif path.suffix == ".csv":
        pd.DataFrame(gdf.drop(columns="geometry")).assign(wkt=shapely.to_wkt(gdf.geometry.values)).to_csv(path)
    else:
        pyogrio.write_dataframe(gdf, path)


def _bare_read(path: Path) -> None:
    if path.suffix == ".parquet":
        gpd.read_parquet(path)
    elif path.suffix == ".csv":
        frame = pd.read_csv(path)
        gpd.GeoDataFrame(frame, geometry=shapely.from_wkt(frame["wkt"]), crs="EPSG:4326")
    else:
        pyogrio.read_dataframe(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=180_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gdf = _buildings(args.rows)
    warnings.simplefilter("ignore")
    print(f"{args.rows:,} building polygons, best of {args.repeat} (seconds)")
    print(f"{'format':10s} {'write_layer':>12s} {'bare write':>11s} {'read_layer':>11s} {'bare read':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".gpkg", ".parquet", ".shp", ".geojson", ".csv"):
            ours, bare = Path(tmp) / f"buildings{suffix}", Path(tmp) / f"bare{suffix}"
            w_ours = _best(lambda ours=ours: write_layer(gdf, ours, "buildings"), args.repeat)
            w_bare = _best(lambda bare=bare: _bare_write(gdf, bare), args.repeat)
            r_ours = _best(lambda ours=ours: read_layer(ours, "buildings"), args.repeat)
            r_bare = _best(lambda ours=ours: _bare_read(ours), args.repeat)
            print(f"{suffix[1:]:10s} {w_ours:12.2f} {w_bare:11.2f} {r_ours:11.2f} {r_bare:10.2f}")


if __name__ == "__main__":
    main()
