"""The Heshan plan page: size and time to draw in headless Chromium, gridgis maps next to a plain folium page.

Builds the Heshan demo and its 379-grid plan (or takes ``--plan``), scales the
buildings up to ``--buildings`` (copies shifted by ~5 m, same grid), then for
each page prints the HTML size, the seconds to build it, the milliseconds from
navigation to the first frame with every layer drawn, and the milliseconds to
switch the buildings layer on (medians of 3 loads), and the requests that left the file.

- ``gridgis``: :func:`gridgis.maps.plan_map` (grids simplified to 3 m, buildings as dots on one canvas).
- ``folium``: the same grids and building polygons as plain ``folium.GeoJson`` layers (SVG, unsimplified),
  rendered with the same vendored assets so it loads offline too.

    .venv/bin/python benchmarks/maps.py [--plan plan.gpkg] [--buildings 100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import folium
import numpy as np
import pandas as pd

from gridgis.io import read_layers
from gridgis.maps import plan_map, render_page, write_page
from gridgis.maps.page import Script, new_map

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TOGGLE = """async (name) => {
    const label = [...document.querySelectorAll('.leaflet-control-layers-overlays label')]
        .find(l => l.textContent.trim() === name);
    const t0 = performance.now();
    label.querySelector('input').click();
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0;
}"""


def heshan_plan(workdir: Path) -> Path:
    gridgis = str(Path(sys.executable).with_name("gridgis"))
    demo, plan = workdir / "heshan.gpkg", workdir / "plan.gpkg"
    subprocess.run([gridgis, "demo", "heshan", "-o", str(demo)], check=True)
    subprocess.run([gridgis, "partition", str(demo), "--grids", "379", "-o", str(plan)], check=True)
    return plan


def scale_buildings(buildings, n: int, seed: int = 0):
    if n <= len(buildings):
        return buildings
    rng = np.random.default_rng(seed)
    copies = [buildings]
    while sum(map(len, copies)) < n:
        extra = buildings.sample(min(len(buildings), n - sum(map(len, copies))), random_state=int(rng.integers(1e9)))
        shifted = extra.copy()
        shifted["geometry"] = extra.geometry.translate(*rng.normal(0, 5e-5, 2))
        shifted["building_id"] = [f"x{len(copies)}-{i}" for i in extra["building_id"]]
        copies.append(shifted)
    out = pd.concat(copies, ignore_index=True)
    out["building_id"] = out["building_id"].astype(str)
    return out


def plain_folium(layers) -> folium.Map:
    grids, buildings = layers["grids"], layers["buildings"]
    m = new_map(tuple(grids.total_bounds))
    folium.GeoJson(
        grids[["grid_code", "deviation", "geometry"]],
        name="网格",
        style_function=lambda f: {"fillColor": "#ef8a62", "color": "#555", "weight": 1},
    ).add_to(m)
    folium.GeoJson(buildings[["grid_id", "geometry"]], name="楼栋", show=False,
                   style_function=lambda f: {"color": "#1b9e77", "weight": 1}).add_to(m)  # fmt: skip
    folium.LayerControl(collapsed=False).add_to(m)
    Script("ready").add_to(m)
    return m


def measure(browser, path: Path, repeat: int = 3) -> tuple[float, float, int]:
    """Median ms to first full frame and to buildings on, over ``repeat`` fresh pages; requests that left the file."""
    drawn, toggle, outside = [], [], []
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("request", lambda r: r.url.startswith(("file:", "data:")) or outside.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_function("document.body.getAttribute('data-gridgis-ready') === '1'", timeout=120_000)
        drawn.append(page.evaluate("window.gridgisDrawnAt"))
        toggle.append(page.evaluate(TOGGLE, "楼栋"))
        page.close()
    return float(np.median(drawn)), float(np.median(toggle)), len(outside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, help="a plan GeoPackage (default: build the Heshan demo plan)")
    parser.add_argument("--buildings", type=int, default=100_000, help="scale the buildings up to this many")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        layers = read_layers(args.plan or heshan_plan(workdir))
        layers["buildings"] = scale_buildings(layers["buildings"], args.buildings)
        print(f"plan: {len(layers['grids'])} grids, {len(layers['buildings']):,} buildings, "
              f"{len(layers.get('shops', [])):,} shops")  # fmt: skip
        pages = {}
        for name, build in (("gridgis", plan_map), ("folium", plain_folium)):
            t0 = time.perf_counter()
            pages[name] = (write_page(render_page(build(layers)), workdir / f"{name}.html"), time.perf_counter() - t0)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            print(f"{'page':8} {'size MB':>8} {'build s':>8} {'drawn ms':>9} {'buildings on ms':>16} {'off-host':>9}")
            for name, (path, build_s) in pages.items():
                drawn, toggle, outside = measure(browser, path)
                size = path.stat().st_size / 1e6
                print(f"{name:8} {size:8.1f} {build_s:8.1f} {drawn:9.0f} {toggle:16.0f} {outside:9d}")
            browser.close()


if __name__ == "__main__":
    main()
