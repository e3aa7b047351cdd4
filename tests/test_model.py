"""The data model's checks, on the toy city."""

import pytest

from gridgis.errors import CRSError, GeometryError, SchemaError
from gridgis.model import LAYERS, validate_layer


def test_toy_city_and_plan_are_valid(toy_city, toy_plan):
    for name, gdf in toy_city.items():
        assert validate_layer(gdf, name) is gdf
    validate_layer(toy_plan, "grids")
    assert toy_plan["households"].tolist() == [72] * 8


def test_missing_column_names_layer_and_fix(toy_city):
    b = toy_city["buildings"].drop(columns="households")
    with pytest.raises(SchemaError, match=r"'buildings'.*\['households'\]") as exc:
        validate_layer(b, "buildings", source="x.gpkg")
    assert "x.gpkg" in str(exc.value) and exc.value.fix


def test_duplicate_ids_name_rows_and_values(toy_city):
    b = toy_city["buildings"]
    b.loc[5, "building_id"] = 3
    with pytest.raises(SchemaError, match=r"duplicate 'building_id' values \['3'\] at row\(s\) 3, 5"):
        validate_layer(b, "buildings")


def test_negative_households_and_bad_choice(toy_city):
    b = toy_city["buildings"]
    b.loc[7, "households"] = -2
    with pytest.raises(SchemaError, match=r"'households'.*-2.*row\(s\) 7"):
        validate_layer(b, "buildings")
    c = toy_city["communities"]
    c.loc[1, "kind"] = "suburb"
    with pytest.raises(SchemaError, match=r"suburb.*use one of \['urban', 'village'\]"):
        validate_layer(c, "communities")


def test_empty_geometry_and_wrong_type_and_crs(toy_city):
    s = toy_city["shops"]
    s.loc[2, "geometry"] = None
    with pytest.raises(GeometryError, match=r"row\(s\) 2"):
        validate_layer(s, "shops")
    roads = toy_city["roads"]
    with pytest.raises(SchemaError, match="LineString"):
        validate_layer(roads.rename(columns={"road_id": "shop_id"}), "shops")
    with pytest.raises(CRSError, match="no CRS"):
        validate_layer(toy_city["towns"].set_crs(None, allow_override=True), "towns")
    with pytest.raises(CRSError, match="EPSG:3857"):
        validate_layer(toy_city["towns"].to_crs(3857), "towns")
    assert validate_layer(toy_city["towns"].set_crs(4490, allow_override=True), "towns") is not None


def test_unknown_layer():
    with pytest.raises(SchemaError, match="Unknown layer 'parks'"):
        validate_layer(None, "parks")
    assert "grids" in LAYERS
