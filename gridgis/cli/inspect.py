"""``gridgis inspect FILE``: layers, counts, CRS, bounds, totals and schema problems."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from gridgis.cli.options import input_options, json_opt
from gridgis.io.describe import describe_file


def _fmt_int(value) -> str:
    return "" if value is None else f"{value:,}"


def _fmt_counts(counts: dict, limit: int = 4) -> str:
    shown = ", ".join(f"{k} {v:,}" for k, v in list(counts.items())[:limit])
    return shown + (f", +{len(counts) - limit} more" if len(counts) > limit else "")


def _print_table(info: dict) -> None:
    console = Console(width=max(Console().width, 160))
    table = Table(title=f"{info['path']} ({info['format']})")
    for col in ("layer", "features", "geometry", "file CRS", "bounds (lon/lat)", "km²", "households", "population"):
        table.add_column(col, justify="right" if col in ("features", "km²", "households", "population") else "left")
    table.add_column("kinds")
    for lay in info["layers"]:
        bounds = lay.get("bounds")
        table.add_row(
            lay["layer"],
            _fmt_int(lay.get("features")),
            _fmt_counts(lay.get("geometry_types", {})),
            lay.get("file_crs") or "none",
            " ".join(f"{v:.4f}" for v in bounds) if bounds else "",
            "" if lay.get("area_km2") is None else f"{lay['area_km2']:,.1f}",
            _fmt_int(lay.get("totals", {}).get("households")),
            _fmt_int(lay.get("totals", {}).get("population")),
            _fmt_counts(lay.get("kinds", {})),
        )
    console.print(table)
    for lay in info["layers"]:
        for msg in lay.get("warnings", []):
            console.print(f"[yellow]warning[/yellow] {lay['layer']}: {msg}", highlight=False)
        for msg in lay.get("problems", []):
            console.print(f"[red]problem[/red] {lay['layer']}: {msg}", highlight=False)
    if not any(lay.get("problems") for lay in info["layers"]):
        console.print("[green]no schema problems[/green]")


@click.command("inspect")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@input_options()
@json_opt
def cli(path: str, layer: str | None, lon: str, lat: str, crs: str | None, encoding: str | None, as_json: bool) -> None:
    """Show what FILE holds: every layer's features, geometry types, CRS, bounds,
    area, household and population totals, kinds, and schema problems.

    Exits with status 1 when a layer has a problem (so scripts can check files).
    """
    info = describe_file(path, [layer] if layer else None, encoding=encoding, crs=crs, lon=lon, lat=lat)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        _print_table(info)
    if any(lay.get("problems") for lay in info["layers"]):
        raise SystemExit(1)
