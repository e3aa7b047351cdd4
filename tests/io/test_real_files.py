"""Files like the ones planners and departments hand over: read right, or refused with a fix that works."""

from __future__ import annotations

import math
import re
import tracemalloc
import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from shapely.geometry import Point, Polygon

from gridgis.cli import main
from gridgis.errors import CRSError, CRSWarning, FileFormatError, FileWarning
from gridgis.io import read_layer, write_layer, write_layers
from gridgis.io.encoding import detect_encoding
from tests.conftest import _toy_city, _toy_plan
from tests.io.files import (
    GBK_NAMES,
    PRJ_CM_114E,
    PRJ_ZONE_38,
    areas,
    chinese_lonlat_csv,
    gauss_kruger_shapefile,
    gbk_shapefile,
    listing_of,
    metres_geojson,
    null_geometry_geojson,
    shops,
    surveyor_csv,
)
from tests.io.test_corpus import COMMANDS, check_fix_options, command_options


def _run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def plan(tmp_path):
    city = _toy_city()
    path = tmp_path / "plan.gpkg"
    write_layers({"grids": _toy_plan(city), "buildings": city["buildings"], "communities": city["communities"]}, path)
    return path


# --- 1. encodings: what the file declares wins, then a reported guess; --encoding always wins -------------------


def test_dbf_code_page_wins_over_a_utf8_guess(tmp_path):
    path = gbk_shapefile(tmp_path)  # GBK bytes that are valid UTF-8 too; .dbf byte 29 = 0x4D, no .cpg
    with warnings.catch_warnings():
        warnings.simplefilter("error", FileWarning)  # declared: no guess to report
        warnings.simplefilter("ignore", CRSWarning)
        assert read_layer(path)["name"].tolist() == GBK_NAMES
    result = _run("inspect", path, "--json")
    assert "guessed" not in result.output


def test_an_undeclared_encoding_is_guessed_with_a_warning_naming_it(tmp_path):
    path = gbk_shapefile(tmp_path, ldid=None)
    with pytest.warns(FileWarning, match=r"text read as GB18030, guessed from its bytes.*--encoding"):
        assert read_layer(path)["name"].tolist() == GBK_NAMES


def test_cpg_wins_over_the_code_page_and_encoding_overrides_both(tmp_path):
    path = gbk_shapefile(tmp_path)
    assert detect_encoding(path) == "CP936"
    path.with_suffix(".cpg").write_text("UTF-8")
    assert detect_encoding(path) == "UTF-8"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CRSWarning)
        assert read_layer(path)["name"].tolist() == ["ɳƺ", "ƺɽ", "ƽɳ"]  # the .cpg lies; it was declared
        assert read_layer(path, encoding="GBK")["name"].tolist() == GBK_NAMES
        csv = tmp_path / "names.csv"
        csv.write_bytes("name,lon,lat\n沙坪,112.9,22.7\n".encode("gbk"))
        assert read_layer(csv, encoding="UTF-8", crs="EPSG:4326")["name"].tolist() == ["ɳƺ"]


# --- 2. --crs always wins; Gauss-Krüger flavours; metres in a GeoJSON; surveyors' X/Y ------------------------------


@pytest.mark.parametrize(
    ("zone_in_easting", "prj", "read_as"), [(True, PRJ_CM_114E, "EPSG:4526"), (False, PRJ_ZONE_38, "EPSG:4547")]
)
def test_gauss_kruger_prj_of_the_other_flavour_is_understood(tmp_path, zone_in_easting, prj, read_as):
    path = gauss_kruger_shapefile(tmp_path, zone_in_easting=zone_in_easting, prj=prj)
    with pytest.warns(CRSWarning, match=f"eastings {'carry' if zone_in_easting else 'lack'} the zone number; "
                      f"read as {read_as}"):  # fmt: skip
        out = read_layer(path)
    assert out.geometry.geom_equals_exact(shops(3).geometry, 1e-7).all()


def test_crs_overrides_what_the_file_declares_with_a_warning_naming_both(tmp_path):
    path = gauss_kruger_shapefile(tmp_path, zone_in_easting=True, prj=PRJ_CM_114E)
    result = _run("inspect", path, "--crs", "EPSG:4526", "--json")
    assert "declares EPSG:4547" in result.output and "--crs EPSG:4526" in result.output
    assert '"problems": []' in result.output


def test_geojson_in_metres_names_the_zone_and_crs_overrides_the_driver_default(tmp_path):
    path = metres_geojson(tmp_path / "shops.geojson")
    with pytest.raises(CRSError, match=r"WGS84 lon/lat by default.*are metres; .*zone 38 \(EPSG:4526\)") as info:
        read_layer(path)
    assert "--crs (EPSG:4526)" in info.value.fix
    with pytest.warns(CRSWarning, match=r"defaults to EPSG:4326 .*--crs EPSG:4526"):
        out = read_layer(path, crs="EPSG:4526")
    assert out.geometry.geom_equals_exact(shops(3).geometry, 1e-7).all()


def test_surveyor_table_with_x_as_northing_is_recognised(tmp_path):
    path = surveyor_csv(tmp_path / "survey.csv")
    with pytest.raises(CRSError, match="x and y look swapped") as info:
        read_layer(path, lon="X", lat="Y", crs="EPSG:4526")
    assert "--lon" in info.value.fix and "--lat" in info.value.fix
    out = read_layer(path, lon="Y", lat="X", crs="EPSG:4526")
    assert out.geometry.geom_equals_exact(shops(3).geometry, 1e-7).all()


# --- 3. one set of input options on every command that reads features -------------------------------------------


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_reading_command_has_the_input_options(command):
    args = COMMANDS[command](Path("F"), Path("O"), "DB", Path("P"))
    options = command_options([str(a) for a in args])
    plan_kind = command in ("partition", "plan import", "map plan", "quality")
    wanted = {"--crs", "--encoding"} if plan_kind else {"--layer", "--lon", "--lat", "--crs", "--encoding"}
    assert wanted <= options


def test_assign_and_coverage_take_lon_lat(tmp_path, plan):
    path = chinese_lonlat_csv(tmp_path / "shops.csv")
    out = tmp_path / "shops-with-grids.gpkg"
    _run("assign", plan, path, "-o", out, "--lon", "经度", "--lat", "纬度")
    assert read_layer(out, validate=False)["grid_id"].notna().sum() == 3
    result = _run("coverage", plan, path, "--layer", "shops", "--lon", "经度", "--lat", "纬度", "--json")
    assert '"covered": 3' in result.stdout
    result = _run("assign", plan, path, "-o", out, ok=False)
    assert result.exit_code == 1
    check_fix_options(["assign"], result.output)
    assert "--lon" in result.output


# --- 5. memory stays bounded on absurd input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"name,lon,lat\n" + b"\x00" * (16 << 20), b"x" * (16 << 20), b"name,lon,lat\n" + b"a" * (16 << 20)],
    ids=["NUL bytes after a header", "one 16 MiB line", "a 16 MiB row"],
)
def test_absurd_csv_is_refused_with_bounded_memory_and_a_short_message(tmp_path, monkeypatch, content):
    """The mechanism that refuses a 200 MB file of NULs (or one absurd line) fast, on a 16 MiB file: memory
    stays near the 1 MiB blocks the file is checked in, not the file's size."""
    monkeypatch.setattr("gridgis.io.lonlat_csv.MAX_LINE", 4 << 20)  # 32 MiB in use; the same check
    path = tmp_path / "big.csv"
    path.write_bytes(content)
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_layer(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 6 << 20, f"peak {peak:,} bytes for an {len(content):,}-byte file"
    assert len(str(info.value)) < 400 and "big.csv" in str(info.value)


# --- 7. nothing replaces existing data with less unless asked --------------------------------------------------------


def test_layer_import_never_replaces_with_less_unless_asked(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    two = tmp_path / "beats.gpkg"
    write_layer(areas(2), two, "beats")
    _run("layer", "import", two, "--name", "beats", "--db", db)
    nulls = null_geometry_geojson(tmp_path / "nulls.geojson")
    result = _run("layer", "import", nulls, "--name", "beats", "--db", db, ok=False)
    assert result.exit_code == 1 and "layer 'beats' was not changed" in result.output
    one = tmp_path / "one.gpkg"
    write_layer(areas(1), one, "beats")
    result = _run("layer", "import", one, "--name", "beats", "--db", db, ok=False)
    assert result.exit_code == 1 and "holds 2 areas and" in result.output and "--replace" in result.output
    assert re.search(r"beats\s+2 areas", _run("layer", "list", "--db", db).output)
    result = _run("layer", "import", one, "--name", "beats", "--db", db, "--replace")
    assert "its 2 areas are replaced by the 1" in result.output and "(1 fewer)" in result.output
    assert re.search(r"beats\s+1 areas", _run("layer", "list", "--db", db).output)


# --- 8. outputs complete or not at all ------------------------------------------------------------------------------


def test_failed_assign_leaves_no_output_and_keeps_an_existing_one(tmp_path, plan):
    nulls = null_geometry_geojson(tmp_path / "nulls.geojson")
    out = tmp_path / "out" / "out.gpkg"
    result = _run("assign", plan, nulls, "-o", out, ok=False)
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert not out.parent.exists() or listing_of(out.parent) == {}
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(b"previous result")
    _run("assign", plan, nulls, "-o", out, ok=False)
    assert out.read_bytes() == b"previous result" and len(listing_of(out.parent)) == 1


# --- 9. Shapefile column names: cut on characters, unique, mapped, read back ----------------------------------------


def test_shapefile_names_cut_on_characters_with_a_mapping_and_read_back(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"所属社区编码": ["440784101001"], "所属社区名称": ["沙坪社区"], "households": [3]},
        geometry=[Point(112.9, 22.7)],
        crs="EPSG:4326",
    )
    path = tmp_path / "cn.shp"
    with pytest.warns(FileWarning, match=r"2 cut \(所属社区编码 -> 所属社, 所属社区名称 -> 所属_1\).*cn\.fields\.csv"):
        write_layer(gdf, path)
    raw = pyogrio.read_info(path, encoding="ISO-8859-1")["fields"].tolist()
    names = [n.encode("latin-1").decode("utf-8") for n in raw]  # valid UTF-8: no character cut in two
    assert names == ["所属社", "所属_1", "households"] and all(len(n.encode()) <= 10 for n in names)
    assert list(read_layer(path).columns) == ["所属社区编码", "所属社区名称", "households", "geometry"]
    assert '"problems": []' in _run("inspect", path, "--json").stdout


def test_shapefile_cut_inside_a_character_elsewhere_is_read_with_a_warning(tmp_path):
    gdf = gpd.GeoDataFrame({"所属社区编码": ["1"]}, geometry=[Point(112.9, 22.7)], crs="EPSG:4326")
    path = tmp_path / "gdal.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.write_dataframe(gdf, path, encoding="UTF-8")  # GDAL cuts at 10 bytes, inside 社
    with pytest.warns(FileWarning, match="cut inside a character"):
        assert list(read_layer(path).columns) == ["所属社", "geometry"]


# --- 10. export ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["shp", "gpkg", "geojson", "kml", "xlsx", "csv"])
def test_export_writes_every_format(tmp_path, plan, suffix):
    out = tmp_path / "x" / f"grids.{suffix}"
    result = _run("export", plan, "-o", out)
    assert "8 features of layer 'grids'" in result.output
    if suffix == "xlsx":
        sheet = load_workbook(out).active
        header = [c.value for c in sheet[1]]
        assert header[:4] == ["网格编号", "单元网格编码", "社区（村）代码", "镇（街道）代码"]
        codes = [c for c in sheet[2][:4]]
        assert all(isinstance(c.value, str) and c.number_format == "@" for c in codes)
        assert codes[0].value == "440784101001001" and sheet.max_row == 9
        return
    back = read_layer(out, "grids" if suffix == "gpkg" else None, validate=False)
    assert len(back) == 8
    if suffix == "kml":
        assert "440784101001001" in out.read_text(encoding="utf-8")
    else:
        assert back["grid_code"].tolist()[0] == "440784101001001"
        assert "community_id" in back.columns  # the Shapefile's community_ mapped back
    if suffix == "shp":
        assert (out.parent / "grids.fields.csv").exists()


def test_write_layers_takes_one_layer_in_any_format_and_refuses_several(tmp_path):
    g = shops(2)
    write_layers({"shops": g}, tmp_path / "shops.shp")
    assert len(read_layer(tmp_path / "shops.shp")) == 2
    with pytest.raises(FileFormatError, match="holds one layer, not 2") as info:
        write_layers({"a": g, "b": g}, tmp_path / "two.kml")
    assert "--layer" in info.value.fix
    assert not (tmp_path / "two.kml").exists()


def test_xlsx_refuses_shapes_a_cell_cannot_hold(tmp_path):
    ring = [(112.9 + 0.01 * math.cos(i / 500), 22.7 + 0.01 * math.sin(i / 500)) for i in range(3200)]
    gdf = gpd.GeoDataFrame({"grid_id": ["1"]}, geometry=[Polygon(ring)], crs="EPSG:4326")
    with pytest.raises(FileFormatError, match="an Excel cell holds 32,767") as info:
        write_layer(gdf, tmp_path / "g.xlsx")
    assert ".gpkg" in info.value.fix and not (tmp_path / "g.xlsx").exists()
