"""``gridgis quality PLAN.gpkg``: check a plan against the hard rules and measure it."""

from __future__ import annotations

import click

from gridgis.cli.options import input_options, json_opt
from gridgis.errors import SchemaError


@click.command("quality")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--grids", "n_grids", type=int, default=None, help="Grid count the plan must have.")
@input_options(plan=True)
@json_opt
def cli(plan_path, n_grids, crs, encoding, as_json):
    """Check PLAN (layers grids, buildings, communities): tiling, contiguity, buildings, count, codes.

    Exits with status 1 when a hard rule is broken.
    """
    from gridgis.io import list_layers, read_layers
    from gridgis.io.formats import check_geopackage
    from gridgis.quality import check_plan

    present = list_layers(check_geopackage(plan_path, "a plan"))
    if "grids" not in present:
        raise SchemaError(
            f"{plan_path} has no 'grids' layer; it has {', '.join(present)}.",
            fix="pass a plan GeoPackage written by gridgis partition.",
        )
    wanted = [n for n in ("grids", "buildings", "communities") if n in present]
    layers = read_layers(plan_path, wanted, crs=crs, encoding=encoding)
    report = check_plan(layers["grids"], layers.get("buildings"), layers.get("communities"), n_grids=n_grids)
    click.echo(report.to_json() if as_json else report.summary())
    if not report.ok:
        raise SystemExit(1)
