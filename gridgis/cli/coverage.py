"""``gridgis coverage GRIDS FEATURES``: counts and sums per grid, community and town; uncovered features."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from gridgis.assign.files import read_grids
from gridgis.cli.options import chunk_size_opt, grids_layer_opt, input_options, json_opt, show_opt
from gridgis.coverage import COUNTED_LAYERS, CoverageReport, coverage
from gridgis.errors import FileFormatError, InputError
from gridgis.io import DEFAULT_CHUNK, file_format, iter_features, list_layers
from gridgis.io.formats import check_readable
from gridgis.listing import listing

#: layers of a plan/city GeoPackage that are not features to count
_NOT_FEATURES = ("grids", "towns", "communities", "roads", "rivers")


def _feature_layers(path: str, layers: tuple[str, ...]) -> list[str | None]:
    if layers:
        return list(layers)
    if file_format(path) != "GeoPackage":
        return [None]
    names = list_layers(path)
    counted = [n for n in names if n in COUNTED_LAYERS] or [n for n in names if n not in _NOT_FEATURES]
    if not counted:
        raise FileFormatError(
            f"{path} holds no feature layers to count; it has {listing(names)}.", fix="name one with --layer."
        )
    return counted


def _print_report(report: CoverageReport, show: int) -> None:
    console = Console(width=max(Console().width, 120))
    measures = [c for c in report.towns.columns if c not in ("town_id", "communities", "grids")]
    table = Table(title="Coverage by town")
    for col in ("town", "communities", "grids", *measures):
        table.add_column(col, justify="left" if col == "town" else "right")
    for row in report.towns.itertuples(index=False):
        values = row._asdict()
        table.add_row(str(values["town_id"]), *(f"{values[c]:,}" for c in ("communities", "grids", *measures)))
    console.print(table)
    for t in report.totals.itertuples(index=False):
        share = "" if t.features == 0 else f" ({t.covered_share:.1%})"
        console.print(
            f"{t.layer}: {t.covered:,} of {t.features:,} covered{share}, {t.uncovered:,} not", highlight=False
        )
    if len(report.uncovered) and show:
        table = Table(title=f"Not covered (first {min(show, len(report.uncovered))} of {len(report.uncovered):,})")
        for col in ("layer", "row", "id", "lon", "lat", "nearest grid", "distance m"):
            table.add_column(col, justify="right" if col in ("row", "distance m") else "left")
        for r in report.uncovered.head(show).itertuples(index=False):
            table.add_row(
                r.layer, str(r.row), str(r.id), f"{r.lon:.6f}", f"{r.lat:.6f}",
                str(r.nearest_grid_id), f"{r.distance_m:,.1f}",
            )  # fmt: skip
        console.print(table)


@click.command("coverage")
@click.argument("grids_path", metavar="GRIDS", type=click.Path(dir_okay=False))
@click.argument("features_path", metavar="FEATURES", type=click.Path(dir_okay=False))
@input_options(
    layer=click.option(
        "--layer",
        "layer",
        multiple=True,
        help="Feature layer(s) to count (repeatable); default: buildings, shops, facilities/units found in FEATURES. "
        "For a single-layer file, what it holds (buildings, shops, units).",
    )
)
@grids_layer_opt
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the grid/community/town table here.")
@chunk_size_opt(DEFAULT_CHUNK)
@show_opt
@json_opt
def cli(
    grids_path: str,
    features_path: str,
    layer: tuple[str, ...],
    lon: str,
    lat: str,
    crs: str | None,
    encoding: str | None,
    grids_layer: str,
    csv_path: str | None,
    chunk_size: int,
    show: int,
    as_json: bool,
) -> None:
    """What the grids of GRIDS cover in FEATURES: per grid, community and town the number of
    buildings (with households and population), shops and units, and every feature outside
    all grids with the distance to the nearest grid.

    For a single-layer file, --layer names what it holds (buildings, shops, units).
    """
    grids = read_grids(grids_path, grids_layer)
    check_readable(features_path)
    chosen = _feature_layers(features_path, layer)
    single = file_format(features_path) != "GeoPackage"
    streams = {
        (name or Path(features_path).stem): iter_features(
            features_path,
            None if single else name,
            chunk_size=chunk_size,
            crs=crs,
            encoding=encoding,
            lon=lon,
            lat=lat,
        )
        for name in chosen
    }
    report = coverage(streams, grids)
    if not report.totals["features"].sum():
        raise InputError(
            f"{features_path} has no features to count (none with a geometry in {listing(report.totals['layer'])}).",
            fix="check the file (gridgis inspect) and the --layer.",
        )
    if csv_path:
        report.to_csv(csv_path)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        _print_report(report, show)
