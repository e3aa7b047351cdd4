"""Against a real uvicorn server (2 workers): GDAL's OGC API client reads every collection; a publish during a
load run gives no error and no mixed answer."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import httpx
import pytest
from shapely.geometry import box

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(store, store_url, settings):
    port = _free_port()
    env = {**os.environ, "GRIDGIS_API_KEYS": settings.api_keys, "GRIDGIS_POLL_SECONDS": "0.2"}
    cmd = [sys.executable, "-c", "from gridgis.cli import main; main()", "serve", "--db", store_url]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gridgis serve did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _published_everywhere(url: str, name: str) -> None:
    """Wait until both workers answer with plan ``name`` (each polls the store every 0.2 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        plans = {httpx.get(f"{url}/healthz").json()["plan"] for _ in range(20)}
        if plans == {name}:
            return
        time.sleep(0.1)
    pytest.fail(f"workers did not switch to {name}: {plans}")


@pytest.fixture
def ogrinfo() -> str:
    path = shutil.which("ogrinfo")
    if not path:
        if IN_CI:
            pytest.fail("ogrinfo is not installed in CI: scripts/system-deps installs gdal-bin.")
        pytest.skip("no ogrinfo (Debian's gdal-bin)")
    return path


def test_gdal_oapif_reads_every_collection(server, store, toy_layers, ogrinfo):
    store.import_plan("ogr", toy_layers)
    store.publish_plan("ogr")
    beats = gpd.GeoDataFrame({"name": ["一中队"]}, geometry=[box(112.9, 22.7, 112.94, 22.72)], crs=4326)
    store.import_layer("police_beats", beats, name_field="name")
    _published_everywhere(server, "ogr")
    out = subprocess.run(
        [ogrinfo, "-ro", "-so", "-al", f"OAPIF:{server}/ogc"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    names = [line.split(":", 1)[1].strip() for line in out.stdout.splitlines() if line.startswith("Layer name:")]
    counts = [int(line.split(":")[1]) for line in out.stdout.splitlines() if line.startswith("Feature Count:")]
    assert dict(zip(names, counts, strict=True)) == {
        "towns": 2,
        "communities": 4,
        "grids": 8,
        "buildings": 144,
        "police_beats": 1,
    }
    # read every building through the paging links, 50 a page
    out = subprocess.run(
        [ogrinfo, "-ro", "-al", "-oo", "PAGE_SIZE=50", f"OAPIF:{server}/ogc", "buildings"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("OGRFeature(buildings)") == 144
    assert "households (Integer" in out.stdout or "households (Integer64" in out.stdout


def test_publish_during_load_no_error_no_mixed_answer(server, store, toy_layers, toy_layers_b, auth, rng):
    store.import_plan("load-a", toy_layers)
    store.import_plan("load-b", toy_layers_b)
    store.publish_plan("load-a")
    _published_everywhere(server, "load-a")
    grid_ids = {"load-a": set(toy_layers["grids"]["grid_id"]), "load-b": set(toy_layers_b["grids"]["grid_id"])}
    lon = rng.uniform(112.901, 112.979, 400)
    lat = rng.uniform(22.701, 22.719, 400)
    answers: list[tuple[float, int, str | None, str | None]] = []

    stop = [time.monotonic() + 60]  # moved to 2.5 s after the publish: a loaded machine still sees both sides
    published = [float("inf")]

    def late() -> int:  # answers later than a second after the publish, the ones the last checks read
        return sum(t > published[0] + 1.0 for t, *_ in answers)

    async def worker(client: httpx.AsyncClient, k: int) -> None:
        i = k
        while time.monotonic() < stop[0] or (late() < 40 and time.monotonic() < stop[0] + 30):
            r = await client.get("/v1/locate", params={"lon": lon[i % 400], "lat": lat[i % 400]})
            body = r.json()
            answers.append((time.monotonic(), r.status_code, body.get("plan"), body.get("grid", {}).get("grid_id")))
            i += 16

    async def run() -> float:
        async with httpx.AsyncClient(base_url=server, timeout=10) as client:
            tasks = [asyncio.create_task(worker(client, k)) for k in range(16)]
            await asyncio.sleep(1.5)
            r = await client.post("/v1/plans/load-b/publish", headers=auth["planner"])
            assert r.status_code == 200, r.text
            published_at = published[0] = time.monotonic()
            stop[0] = published_at + 2.5
            await asyncio.gather(*tasks)
            return published_at

    # in a thread of its own: the session's Playwright (sync API) keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        published_at = pool.submit(asyncio.run, run()).result()
    assert len(answers) > 100 and late() >= 40  # however loaded the machine, enough on both sides to judge
    assert all(status == 200 for _, status, _, _ in answers), {s for _, s, _, _ in answers}
    for _, _, plan, grid in answers:
        assert grid in grid_ids[plan]  # a grid of the plan the answer names: never half of each
    plans = [plan for _, _, plan, _ in answers]
    assert "load-a" in plans and "load-b" in plans
    # within a second of the publish, every worker answers with the new plan
    assert {plan for t, _, plan, _ in answers if t > published_at + 1.0} == {"load-b"}
    # and the old plan stays queryable
    old = httpx.get(f"{server}/v1/locate", params={"lon": 112.905, "lat": 22.71, "plan": "load-a"}).json()
    assert old["plan"] == "load-a" and old["grid"]["grid_id"] in grid_ids["load-a"]


def test_metrics_merge_the_workers(server):
    for _ in range(20):
        httpx.get(f"{server}/v1/locate", params={"lon": 112.905, "lat": 22.71})
    text = httpx.get(f"{server}/metrics").text
    line = next(ln for ln in text.splitlines() if ln.startswith("gridgis_http_requests_total{") and "/v1/locate" in ln)
    assert float(line.rsplit(" ", 1)[1]) >= 20  # summed over both workers' files
