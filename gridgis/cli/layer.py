"""``gridgis layer``: extra layers (police beats, school districts...) that locate reports."""

from __future__ import annotations

import warnings

import click

from gridgis.cli.options import db_opt, input_options
from gridgis.errors import FileWarning, InputError


@click.group("layer")
def cli() -> None:
    """Extra polygon layers reported by locate (MapIt-style areas)."""


@cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Layer name, e.g. police_beats.")
@click.option("--name-field", default=None, help="Column naming each area (default: 'name' when present).")
@click.option("--title", default=None, help="Human title (default: the name).")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace an existing layer NAME even with fewer areas (a warning says how many are lost).",
)
@input_options()
@db_opt
def import_(
    path: str,
    name: str,
    name_field: str | None,
    title: str | None,
    replace: bool,
    layer: str | None,
    lon: str,
    lat: str,
    crs: str | None,
    encoding: str | None,
    db: str | None,
) -> None:
    """Import the polygons of PATH as layer NAME (replacing a layer of that name, never with fewer areas
    unless --replace)."""
    from gridgis.io import read_layer
    from gridgis.store import open_store

    frame = read_layer(path, layer, crs=crs, encoding=encoding, lon=lon, lat=lat, validate=False)
    if not len(frame):
        raise InputError(
            f"{path} has no areas to import (none with a geometry); layer {name!r} was not changed.",
            fix="check the file (gridgis inspect) and the --layer.",
        )
    store = open_store(db)
    try:
        _check_replacement(store, name, len(frame), path, replace)
        if name_field is None and "name" in frame.columns:
            name_field = "name"
        info = store.import_layer(name, frame, title=title, name_field=name_field)
        click.echo(f"Imported layer {info.name!r}: {info.n_features} areas into {store.url}.")
    finally:
        store.close()


def _check_replacement(store, name: str, n_new: int, path: str, replace: bool) -> None:
    """Refuse to replace layer ``name`` by fewer areas unless ``replace``; then warn what is lost."""
    old = next((info for info in store.list_layers() if info.name == name), None)
    if old is None or n_new >= old.n_features:
        return
    if not replace:
        raise InputError(
            f"Layer {name!r} holds {old.n_features:,} areas and {path} only {n_new:,}; "
            "importing would replace it with less, so nothing was changed.",
            fix="add --replace to replace it anyway, or import it under another --name.",
        )
    warnings.warn(
        f"Layer {name!r}: its {old.n_features:,} areas are replaced by the {n_new:,} of {path} "
        f"({old.n_features - n_new:,} fewer).",
        FileWarning,
        stacklevel=2,
    )


@cli.command("list")
@db_opt
def list_(db: str | None) -> None:
    """List the extra layers."""
    from gridgis.store import open_store

    for info in open_store(db).list_layers():
        click.echo(f"{info.name:<24} {info.n_features:>7} areas  name field: {info.name_field or '-'}")


@cli.command("delete")
@click.argument("name")
@db_opt
def delete(name: str, db: str | None) -> None:
    """Delete layer NAME."""
    from gridgis.store import open_store

    open_store(db).delete_layer(name)
    click.echo(f"Deleted layer {name!r}.")
