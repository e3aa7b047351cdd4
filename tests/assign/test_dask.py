"""The dask engine on a 2-worker LocalCluster gives exactly the local engine's result."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from gridgis.assign.cluster import assign_parquet_dask
from gridgis.assign.files import GRID_COLUMNS, assign_file
from gridgis.cli import main
from gridgis.errors import FileFormatError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def _points(rng, n, parts, tmp_path):
    """Random points over the toy city and beyond, with a few polygons, as partitioned GeoParquet."""
    x = rng.uniform(112.895, 112.985, n)
    y = rng.uniform(22.695, 22.725, n)
    geoms = gpd.points_from_xy(x, y)
    frame = gpd.GeoDataFrame({"pid": np.arange(n)}, geometry=geoms, crs="EPSG:4326")
    frame.loc[::97, "geometry"] = [
        box(a - 2e-4, b - 2e-4, a + 2e-4, b + 2e-4) for a, b in zip(x[::97], y[::97], strict=True)
    ]
    folder = tmp_path / "points.parquet"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(n), parts)):
        frame.iloc[part].to_parquet(folder / f"part.{i}.parquet")
    single = tmp_path / "points_single.parquet"
    frame.to_parquet(single)
    return folder, single


def test_dask_engine_equals_local_engine(cluster, toy_plan, rng, tmp_path):
    folder, single = _points(rng, 20_000, 4, tmp_path)
    local_out = tmp_path / "local.parquet"
    local = assign_file(toy_plan, single, local_out, chunk_size=6_000)
    dask_out = tmp_path / "dask.parquet"
    remote = assign_parquet_dask(toy_plan, folder, dask_out, scheduler=cluster.scheduler_address)
    assert (remote.features, remote.assigned, remote.outside) == (local.features, local.assigned, local.outside)
    assert 0 < local.outside < local.features  # points both inside and outside the plan
    want = gpd.read_parquet(local_out).set_index("pid")
    got = gpd.read_parquet(dask_out).set_index("pid").loc[want.index]
    for col in GRID_COLUMNS:
        assert got[col].astype("string").fillna("-").tolist() == want[col].astype("string").fillna("-").tolist()
    assert got.geometry.geom_equals(want.geometry).all()


def test_cli_dask_engine_and_non_parquet_input(cluster, toy_plan, rng, tmp_path):
    folder, _ = _points(rng, 3_000, 2, tmp_path)
    plan = tmp_path / "plan.gpkg"
    toy_plan.to_file(plan, layer="grids")
    out = tmp_path / "out.parquet"
    args = [
        "assign",
        str(plan),
        str(folder),
        "-o",
        str(out),
        "--engine",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "3,000 features" in result.output
    assert len(gpd.read_parquet(out)) == 3_000
    with pytest.raises(FileFormatError, match="reads partitioned GeoParquet"):
        assign_parquet_dask(toy_plan, plan, tmp_path / "x.parquet", scheduler=cluster.scheduler_address)
