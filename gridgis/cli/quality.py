"""``gridgis quality PLAN.gpkg``: check a plan against the hard rules and measure it."""

from __future__ import annotations

import click

from gridgis.cli.options import json_opt


@click.command("quality")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.option("--grids", "n_grids", type=int, default=None, help="Grid count the plan must have.")
@json_opt
def cli(plan_path, n_grids, as_json):
    """Check PLAN (layers grids, buildings, communities): tiling, contiguity, buildings, count, codes.

    Exits with status 1 when a hard rule is broken.
    """
    from gridgis.quality import check_plan_file

    report = check_plan_file(plan_path, n_grids=n_grids)
    click.echo(report.to_json() if as_json else report.summary())
    if not report.ok:
        raise SystemExit(1)
