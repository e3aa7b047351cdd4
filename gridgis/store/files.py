"""Import files into a store: plan GeoPackages (from ``gridgis partition``) and extra layers.

The one import path for the command line and the API: the file is read and checked in full before
the store is touched, and an import never replaces stored data with less unless asked.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from gridgis.errors import ConflictError, FileWarning, InputError
from gridgis.io import list_layers, read_layer, read_layers
from gridgis.io.formats import check_geopackage
from gridgis.progress import task
from gridgis.store.base import PLAN_LAYERS, LayerInfo, PlanInfo, Store, check_name


def import_plan_file(
    store: Store, path: str | Path, name: str, *, crs: str | None = None, encoding: str | None = None
) -> PlanInfo:
    """Import the plan GeoPackage ``path`` (layers grids, buildings, towns, communities) as draft ``name``.

    Every layer is read and checked by :func:`gridgis.io.read_layers` before the store is touched;
    other layers (roads...) are ignored. ``crs``/``encoding`` override what the file declares.

    Raises
    ------
    FileFormatError
        ``path`` is not a readable GeoPackage.
    InputError
        it has no ``grids`` layer, or a layer breaks the schema.

    Examples
    --------
    With a plan written by ``gridgis partition``::

        import_plan_file(open_store(), "plan.gpkg", "2026-heshan")
    """
    check_name(name, "plan")
    check_geopackage(path, "a plan")
    present = list_layers(path)
    if "grids" not in present:
        raise InputError(
            f"{path} has no 'grids' layer (it has {', '.join(present) or 'none'}).",
            fix="import a plan written by `gridgis partition INPUT.gpkg -o plan.gpkg`.",
        )
    layers = read_layers(path, [n for n in PLAN_LAYERS if n in present], crs=crs, encoding=encoding)
    with task(f"storing plan {name}"):
        return store.import_plan(name, layers, source=str(path))


def import_layer_file(
    store: Store,
    path: str | Path,
    name: str,
    *,
    layer: str | None = None,
    name_field: str | None = None,
    title: str | None = None,
    replace: bool = False,
    **read_options,
) -> LayerInfo:
    """Import polygons of ``path`` as extra layer ``name`` reported by locate.

    An existing layer of that name is replaced, but never by fewer areas unless ``replace`` (then a
    :class:`~gridgis.errors.FileWarning` says how many are lost). ``name_field`` (default: ``name``
    when the file has that column) labels each area in locate answers. ``read_options`` (``crs``,
    ``encoding``, ``lon``, ``lat``) go to :func:`gridgis.io.read_layer`.

    Raises
    ------
    InputError
        the file has no area with a geometry (the layer is left as it was).
    ConflictError
        the layer holds more areas than the file and ``replace`` is false (nothing changed).
    """
    check_name(name, "layer")
    frame = read_layer(path, layer, validate=False, **read_options)
    if not len(frame):
        raise InputError(
            f"{path} has no areas to import (none with a geometry); layer {name!r} was not changed.",
            fix="check the file with `gridgis inspect` and its --layer.",
        )
    _check_replacement(store, name, len(frame), path, replace)
    if name_field is None and "name" in frame.columns:
        name_field = "name"
    return store.import_layer(name, frame, title=title, name_field=name_field)


def _check_replacement(store: Store, name: str, n_new: int, path: str | Path, replace: bool) -> None:
    """Refuse to replace layer ``name`` by fewer areas unless ``replace``; then warn what is lost."""
    old = next((info for info in store.list_layers() if info.name == name), None)
    if old is None or n_new >= old.n_features:
        return
    if not replace:
        raise ConflictError(
            f"Layer {name!r} holds {old.n_features:,} areas and {path} only {n_new:,}; "
            "importing would replace it with less, so nothing was changed.",
            fix="add --replace (API: replace=true) to replace it anyway, or import it under another name.",
            details={"layer": name, "stored": old.n_features, "imported": n_new},
        )
    warnings.warn(
        f"Layer {name!r}: its {old.n_features:,} areas are replaced by the {n_new:,} of {path} "
        f"({old.n_features - n_new:,} fewer).",
        FileWarning,
        stacklevel=3,
    )
