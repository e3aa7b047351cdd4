"""Extra layers (police beats, river-chief sections, school districts...) that locate reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from api.deps import ServiceDep, StoreDep, require
from api.geojson import feature_collection, parse_bbox
from api.schemas import LayerOut
from api.uploads import with_upload
from gridgis.store.base import EXTRA_PLAN_ID, LayerInfo
from gridgis.store.files import import_layer_file
from gridgis.times import shown

router = APIRouter(prefix="/v1/layers", tags=["layers"])


def _out(info: LayerInfo) -> dict:
    return {**info.__dict__, "created_at": shown(info.created_at).isoformat()}


@router.get("", response_model=list[LayerOut], summary="Extra layers")
def list_layers(store: StoreDep) -> list[dict]:
    """Every extra layer. 200."""
    return [_out(i) for i in store.list_layers()]


@router.get("/{name}", summary="An extra layer as GeoJSON; bbox= filters")
def get_layer(name: str, store: StoreDep, bbox: str | None = None) -> Response:
    """The layer's features as a GeoJSON FeatureCollection (WGS84), ``bbox=minx,miny,maxx,maxy`` filters. 404:
    no such layer; 422: bad bbox."""
    store.get_layer(name)
    page = store.features(EXTRA_PLAN_ID, name, bbox=parse_bbox(bbox), limit=None)
    return feature_collection(page.ids, page.properties, page.geometries, numberMatched=page.number_matched)


@router.post(
    "",
    response_model=LayerOut,
    status_code=201,
    dependencies=[require("planner")],
    summary="Import (or replace) an extra polygon layer (key: planner)",
)
def import_layer(
    service: ServiceDep,
    name: Annotated[str, Query(description="Layer name, e.g. police_beats.")],
    file: Annotated[UploadFile, File(description="GeoPackage, GeoJSON, zipped... any file gridgis.io reads.")],
    name_field: Annotated[str | None, Query(description="Column naming each area (default: name).")] = None,
    title: str | None = None,
    layer: Annotated[str | None, Query(description="Layer to import from a multi-layer GeoPackage.")] = None,
    replace: Annotated[bool, Query(description="Replace an existing layer of that name even by fewer areas.")] = False,
) -> dict:
    """Import (or replace) a polygon layer from an uploaded file. 201; 401/403: no planner key; 409: the layer
    holds more areas than the file and replace is false (nothing changed); 413: too large; 422: unreadable file,
    no areas, or not polygons."""
    info = with_upload(
        file,
        "layer.geojson",
        lambda path: import_layer_file(
            service.store, path, name, layer=layer, name_field=name_field, title=title, replace=replace
        ),
        cli="gridgis layer import PATH --name NAME",
    )
    service.refresh()
    return _out(info)


@router.delete("/{name}", status_code=204, dependencies=[require("planner")], summary="Delete an extra layer")
def delete_layer(name: str, service: ServiceDep) -> Response:
    """Delete a layer. 204; 401/403: no planner key; 404: no such layer."""
    service.store.delete_layer(name)
    service.refresh()
    return Response(status_code=204)
