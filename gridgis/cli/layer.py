"""``gridgis layer``: extra layers (police beats, school districts...) that locate reports."""

from __future__ import annotations

import click

from gridgis.cli.options import db_opt, input_options


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
@click.option(
    "--address-field",
    default=None,
    help="An address layer: door plates or POIs (points) with their address in this column; it places "
    "address-only reports (the offline geocoder).",
)
@input_options()
@db_opt
def import_(
    path: str,
    name: str,
    name_field: str | None,
    title: str | None,
    replace: bool,
    address_field: str | None,
    layer: str | None,
    lon: str,
    lat: str,
    crs: str | None,
    encoding: str | None,
    db: str | None,
) -> None:
    """Import the polygons of PATH as layer NAME (replacing a layer of that name, never with fewer areas
    unless --replace), or with --address-field its address points into the geocoder."""
    from gridgis.store import open_store
    from gridgis.store.files import import_layer_file

    store = open_store(db)
    try:
        if address_field:
            from gridgis.geocode import Geocoder

            count = Geocoder(store).import_file(
                path, name, address_field, layer=layer, replace=replace, crs=crs, encoding=encoding, lon=lon, lat=lat
            )
            click.echo(f"Imported address layer {name!r}: {count} addresses into {store.url} (the geocoder uses them).")
            return
        info = import_layer_file(
            store,
            path,
            name,
            layer=layer,
            name_field=name_field,
            title=title,
            replace=replace,  # fmt: skip
            crs=crs,
            encoding=encoding,
            lon=lon,
            lat=lat,
        )
        click.echo(f"Imported layer {info.name!r}: {info.n_features} areas into {store.url}.")
    finally:
        store.close()


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
