"""``gridgis partition`` and ``gridgis quality`` on the toy city written to a GeoPackage."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gridgis.cli import main
from gridgis.io import read_layers, write_layers


@pytest.fixture
def city_gpkg(toy_city, tmp_path):
    path = tmp_path / "city.gpkg"
    write_layers(toy_city, path)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_partition_writes_plan_and_report_and_quality_passes(city_gpkg, tmp_path):
    out = tmp_path / "plan.gpkg"
    res = run("partition", city_gpkg, "--grids", 9, "--barriers", "roads,rivers", "--dedicated", "facilities",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "plan OK" in res.output and "balance" in res.output
    layers = read_layers(out)
    assert {"grids", "buildings", "towns", "communities", "shops", "roads", "rivers"} <= set(layers)
    assert len(layers["grids"]) == 9 and layers["buildings"]["grid_id"].notna().all()
    # the street blocks the grids were cut from, for the workbench's block moves: every basic-grid building in one
    basic = layers["grids"].loc[layers["grids"]["kind"] == "basic", "grid_id"]
    assert layers["blocks"]["buildings"].sum() == layers["buildings"]["grid_id"].isin(basic).sum()
    report = json.loads((tmp_path / "plan.report.json").read_text(encoding="utf-8"))
    assert report["quality"]["ok"] and report["grids"] == 9

    res = run("quality", out, "--grids", 9, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ok"] is True


def test_partition_error_is_one_clear_line_and_writes_nothing(city_gpkg, tmp_path):
    out = tmp_path / "plan.gpkg"
    res = CliRunner().invoke(main, ["partition", str(city_gpkg), "--grids", "3", "-o", str(out)])
    assert res.exit_code != 0
    assert "3 grids are fewer than the 4 needed" in res.output and "Traceback" not in res.output
    assert not out.exists() and not (tmp_path / "plan.report.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--households", "300to500"], "is not LOW-HIGH"),
        (["--grids", "8", "--weights", "households:1"], "is not COLUMN=WEIGHT"),
    ],
)
def test_bad_options_are_named(city_gpkg, tmp_path, args, message):
    res = CliRunner().invoke(main, ["partition", str(city_gpkg), *args, "-o", str(tmp_path / "p.gpkg")])
    assert res.exit_code == 2 and message in res.output


def test_quality_fails_on_a_broken_plan(city_gpkg, toy_plan, tmp_path):
    broken = toy_plan.copy()
    broken.loc[1, "grid_code"] = broken.loc[0, "grid_code"]
    path = tmp_path / "broken.gpkg"
    write_layers({"grids": broken}, path)
    res = CliRunner().invoke(main, ["quality", str(path)])
    assert res.exit_code == 1
    assert "[FAIL] codes" in res.output
