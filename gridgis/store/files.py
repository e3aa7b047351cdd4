"""Import files into a store: plan GeoPackages (from ``gridgis partition``) and extra layers."""

from __future__ import annotations

from pathlib import Path

from gridgis.errors import InputError
from gridgis.io import list_layers, read_layer, read_layers
from gridgis.store.base import PLAN_LAYERS, LayerInfo, PlanInfo, Store, check_name


def import_plan_file(store: Store, path: str | Path, name: str) -> PlanInfo:
    """Import the plan GeoPackage ``path`` (layers grids, buildings, towns, communities) as draft ``name``.

    Every layer is read and checked by :func:`gridgis.io.read_layers`; other layers (roads...) are ignored.

    Examples
    --------
    With a plan written by ``gridgis partition``::

        import_plan_file(open_store(), "plan.gpkg", "2026-heshan")
    """
    check_name(name, "plan")
    present = list_layers(path)
    if "grids" not in present:
        raise InputError(
            f"{path} has no 'grids' layer (it has {present}).",
            fix="import a plan written by `gridgis partition INPUT.gpkg -o plan.gpkg`.",
        )
    layers = read_layers(path, [n for n in PLAN_LAYERS if n in present])
    return store.import_plan(name, layers, source=str(path))


def import_layer_file(
    store: Store,
    path: str | Path,
    name: str,
    *,
    layer: str | None = None,
    name_field: str | None = None,
    title: str | None = None,
) -> LayerInfo:
    """Import polygons of ``path`` as extra layer ``name`` reported by locate (replaces a layer of that name).

    ``name_field`` (default: ``name`` when the file has that column) labels each area in locate answers.
    """
    check_name(name, "layer")
    frame = read_layer(path, layer, validate=False)
    if name_field is None and "name" in frame.columns:
        name_field = "name"
    return store.import_layer(name, frame, title=title, name_field=name_field)
