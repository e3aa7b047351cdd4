"""``gridgis plan edit`` on a real partition written by ``gridgis partition``; names in bulk from CSV/XLSX."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gridgis.cli import main
from gridgis.io import read_layers, write_layers
from tests.workbench.conftest import COMMUNITY, EAST, WEST, toy_layers


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def plan_gpkg(toy_city, toy_plan, tmp_path):
    path = tmp_path / "plan.gpkg"
    write_layers(toy_layers(toy_city, toy_plan), path)
    return path


def write_edits(tmp_path, edits) -> str:
    path = tmp_path / "edits.json"
    path.write_text(json.dumps(edits, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_partition_then_edit_then_quality(toy_city, tmp_path):
    city = tmp_path / "city.gpkg"
    write_layers(toy_city, city)
    plan = tmp_path / "plan.gpkg"
    assert run("partition", city, "--grids", 12, "-o", plan).exit_code == 0
    grids = read_layers(plan)["grids"]
    ids = sorted(grids.loc[grids["community_id"] == COMMUNITY, "grid_id"])
    edits = write_edits(tmp_path, [
        {"op": "lock", "grids": [ids[0]]}, {"op": "rebalance", "community": COMMUNITY},
        {"op": "rename", "grid": ids[1], "name": "沙坪一网格"},
    ])  # fmt: skip
    out = tmp_path / "new.gpkg"
    res = run("plan", "edit", plan, edits, "-o", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["operations"] == 3 and summary["distribution"]["grids"] == 12
    new = read_layers(out)
    assert {"grids", "buildings", "towns", "communities", "shops", "roads", "rivers"} <= set(new)
    g = new["grids"].set_index("grid_id")
    assert g.loc[ids[1], "name"] == "沙坪一网格" and bool(g.loc[ids[0], "locked"])
    res = run("quality", out, "--grids", 12)
    assert res.exit_code == 0 and "plan OK" in res.output, res.output


def test_refused_edit_writes_nothing(plan_gpkg, tmp_path):
    out = tmp_path / "new.gpkg"
    edits = write_edits(tmp_path, [{"op": "note", "grid": WEST, "text": "x"},
                                   {"op": "move", "buildings": [30], "to": WEST}])  # fmt: skip
    res = CliRunner().invoke(main, ["plan", "edit", str(plan_gpkg), edits, "-o", str(out)])
    assert res.exit_code == 1
    assert res.output.startswith("Error: operation 1 (move): building(s) [30] do not touch grid")
    assert "Fix:" in res.output and "Traceback" not in res.output and len(res.output.splitlines()) == 1
    assert not out.exists()


def test_move_prints_the_county_wide_figures(plan_gpkg, tmp_path):
    out = tmp_path / "new.gpkg"
    edits = write_edits(tmp_path, [{"op": "move", "buildings": [18, 19, 20, 21, 22, 23], "to": WEST}])
    res = run("plan", "edit", plan_gpkg, edits, "-o", out)
    assert res.exit_code == 0, res.output
    assert "2 grid(s) changed" in res.output and "mean 72 households, min 48, max 96" in res.output
    g = read_layers(out)["grids"].set_index("grid_id")
    assert (g.loc[WEST, "households"], g.loc[EAST, "households"]) == (96, 48)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_names_and_notes_in_bulk(plan_gpkg, tmp_path, suffix):
    table = pd.DataFrame({"grid_id": [WEST, EAST], "name": ["西片网格", ""], "note": ["", "含菜市场"]})
    path = tmp_path / f"names{suffix}"
    if suffix == ".csv":
        table.to_csv(path, index=False, encoding="gbk")
    else:
        table.to_excel(path, index=False)
    out = tmp_path / "new.gpkg"
    res = run("plan", "edit", plan_gpkg, "--names", path, "-o", out)
    assert res.exit_code == 0, res.output
    g = read_layers(out)["grids"].set_index("grid_id")
    assert g.loc[WEST, "name"] == "西片网格" and g.loc[EAST, "note"] == "含菜市场"
    assert g.loc[EAST, "name"] == "雅瑶东社区第2网格"  # an empty cell keeps the name


def test_names_table_errors_name_the_row(plan_gpkg, tmp_path):
    path = tmp_path / "names.csv"
    path.write_text(f"grid_id,name\n{WEST},a\n{WEST},b\n", encoding="utf-8")
    res = CliRunner().invoke(
        main, ["plan", "edit", str(plan_gpkg), "--names", str(path), "-o", str(tmp_path / "o.gpkg")]
    )
    assert res.exit_code == 1 and "row 3: grid 440784101001001 already named on row 2" in res.output
    path.write_text("grid_id,name,colour\n1,a,red\n", encoding="utf-8")
    res = CliRunner().invoke(
        main, ["plan", "edit", str(plan_gpkg), "--names", str(path), "-o", str(tmp_path / "o.gpkg")]
    )
    assert res.exit_code == 1 and "unknown column(s) ['colour']" in res.output
