"""The dask engine on a 2-worker LocalCluster gives exactly the local engine's plan; bad clusters are named."""

from __future__ import annotations

import socket
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from gridgis.cli import main
from gridgis.cluster import dask_client, local_cluster
from gridgis.errors import InputError
from gridgis.io import read_layers, write_layers
from gridgis.partition import partition

pytestmark = pytest.mark.slow

#: the toy city's 4 communities into 9 grids, along roads and rivers, the school a dedicated grid
OPTIONS = {"n_grids": 9, "barriers": ("roads", "rivers"), "dedicated": "facilities"}


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(n_workers=2) as cluster:
        yield cluster


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_same_plan(got_grids, got_buildings, want_grids, want_buildings):
    pd.testing.assert_frame_equal(got_grids.drop(columns="geometry"), want_grids.drop(columns="geometry"))
    assert got_grids.geometry.geom_equals_exact(want_grids.geometry, tolerance=0).all()
    assert got_buildings["grid_id"].tolist() == want_buildings["grid_id"].tolist()


def test_dask_engine_gives_the_local_plan(cluster, toy_city):
    local = partition(toy_city, **OPTIONS)
    remote = partition(toy_city, **OPTIONS, engine="dask", scheduler=cluster.scheduler_address)
    # the case is not trivial: several communities, a dedicated grid, every building placed
    assert remote.grids["community_id"].nunique() == 4 and (remote.grids["kind"] == "dedicated").any()
    assert remote.buildings["grid_id"].notna().all()
    assert_same_plan(remote.grids, remote.buildings, local.grids, local.buildings)
    assert remote.report["quality"] == local.report["quality"]
    assert (remote.report["request"]["engine"], local.report["request"]["engine"]) == ("dask", "local")


def test_cli_dask_engine_writes_the_local_plan(cluster, toy_city, tmp_path):
    city = tmp_path / "city.gpkg"
    write_layers(toy_city, city)
    out = tmp_path / "plan.gpkg"
    args = ["partition", str(city), "--grids", "9", "--barriers", "roads,rivers", "--dedicated", "facilities",
            "--engine", "dask", "--scheduler", cluster.scheduler_address, "-o", str(out)]  # fmt: skip
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "plan OK" in res.output
    local = partition(read_layers(city), **OPTIONS)
    plan = read_layers(out)
    assert_same_plan(plan["grids"], plan["buildings"], local.grids, local.buildings)


def test_unreachable_scheduler_is_one_clear_line_and_writes_nothing(toy_city, tmp_path):
    city = tmp_path / "city.gpkg"
    write_layers(toy_city, city)
    out = tmp_path / "plan.gpkg"
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.perf_counter()
    res = CliRunner().invoke(main, ["partition", str(city), "--grids", "9", "--engine", "dask", "--scheduler", address,
                                    "-o", str(out)])  # fmt: skip
    # a hang guard, not a speed target: distributed's own default would wait 30 s
    assert time.perf_counter() - started < 20
    assert res.exit_code == 1
    assert f"Cannot reach the Dask scheduler '{address}'" in res.output and "Traceback" not in res.output
    assert not out.exists() and not (tmp_path / "plan.report.json").exists()


def test_scheduler_without_workers_is_named():
    with local_cluster(n_workers=0) as empty:
        raises = pytest.raises(InputError, match="has no worker after 1 s")
        with raises, dask_client(empty.scheduler_address, timeout=1):
            pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"engine": "spark"}, "Unknown engine 'spark'"),
        ({"scheduler": "tcp://10.0.0.5:8786"}, "needs the dask engine"),
        ({"engine": "dask", "jobs": 2}, "jobs=2 is for the local engine"),
    ],
)
def test_bad_engine_options_are_named_before_any_work(toy_city, options, message):
    with pytest.raises(InputError, match=message):
        partition(toy_city, n_grids=9, **options)
