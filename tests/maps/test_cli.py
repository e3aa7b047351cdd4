"""``gridgis map plan|compare|cases``: files written whole, or a clear error and no file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gridgis.cli import main
from gridgis.io import write_layers

from .helpers import assign_buildings, north_south_plan


@pytest.fixture
def plan_gpkg(plan_layers, tmp_path):
    path = tmp_path / "plan.gpkg"
    write_layers(plan_layers, path)
    return path


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_map_plan_writes_an_offline_page(plan_gpkg, plan_layers, tmp_path):
    out = tmp_path / "maps" / "plan.html"
    result = run("map", "plan", plan_gpkg, "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert all(code in html for code in plan_layers["grids"]["grid_code"])
    assert "cdn." not in html and "openstreetmap" not in html
    assert f"wrote {out}" in result.output


def test_map_plan_english_with_amap(plan_gpkg, tmp_path):
    out = tmp_path / "plan.html"
    assert run("map", "plan", plan_gpkg, "-o", out, "--lang", "en", "--basemap", "amap").exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "autonavi.com" in html and "Load deviation from target" in html


def test_map_plan_without_load_columns_fails_cleanly(plan_layers, tmp_path):
    plan_layers["grids"] = plan_layers["grids"].drop(columns=["load", "target", "deviation"])
    write_layers(plan_layers, tmp_path / "old.gpkg")
    out = tmp_path / "plan.html"
    result = run("map", "plan", tmp_path / "old.gpkg", "-o", out)
    assert result.exit_code == 1
    assert "load column(s) ['load', 'target']" in result.output and "old.gpkg" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--basemap", "google"], "Unknown base map 'google'"),
        (["--basemap", "tianditu"], "--tianditu-key"),
    ],
)
def test_map_plan_bad_base_map(plan_gpkg, tmp_path, args, message, monkeypatch):
    monkeypatch.delenv("GRIDGIS_TIANDITU_KEY", raising=False)
    out = tmp_path / "plan.html"
    result = run("map", "plan", plan_gpkg, "-o", out, *args)
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()


def test_map_compare(plan_gpkg, plan_layers, toy_city, tmp_path):
    new = dict(plan_layers, grids=north_south_plan(toy_city))
    new["buildings"] = assign_buildings(toy_city["buildings"], new["grids"])
    write_layers(new, tmp_path / "new.gpkg")
    out = tmp_path / "compare.html"
    result = run("map", "compare", plan_gpkg, tmp_path / "new.gpkg", "-o", out)
    assert result.exit_code == 0, result.output
    assert "gridgis-old-grid" in out.read_text(encoding="utf-8")


def test_map_cases_of_a_store(plan_layers, tmp_path):
    from gridgis.store import open_store

    url = f"sqlite:///{tmp_path / 'gridgis.db'}"
    store = open_store(url)
    store.import_plan("toy", {k: plan_layers[k] for k in ("towns", "communities", "grids", "buildings")})
    store.publish_plan("toy")
    store.close()
    out = tmp_path / "cases.html"
    result = run("map", "cases", "--db", url, "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "gridgisMaps.cases(" in html and "gridgis-grid" in html
    result = run("map", "cases", "--db", url, "--plan", "nope", "-o", tmp_path / "x.html")
    assert result.exit_code == 1 and "nope" in result.output
