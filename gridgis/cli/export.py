"""``gridgis export PLAN -o grids.shp``: one layer of a plan (or of any file) in the format asked for."""

from __future__ import annotations

from pathlib import Path

import click

from gridgis.cli.options import input_options, output_opt, progress_opt
from gridgis.errors import InputError


@click.command("export")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@output_opt
@input_options(
    layer=click.option(
        "--layer",
        "layer",
        default=None,
        help="Layer to export (default: 'grids' of a plan GeoPackage, or the file's only layer).",
    )
)
@progress_opt
def cli(
    plan_path: str, output: str, layer: str | None, lon: str, lat: str, crs: str | None, encoding: str | None
) -> None:
    """Write one layer of PLAN (a plan GeoPackage, or any file gridgis reads) to OUTPUT, in the format of its
    suffix: .gpkg, .geojson, .shp, .kml, .xlsx or .csv (also .parquet).

    Written atomically (complete or not at all). Shapefile column names are cut to 10 bytes on
    character boundaries, kept unique, and the full names written beside (NAME.fields.csv, with a
    warning); the XLSX sheet has Chinese headers and codes as text; the CSV is UTF-8 with a
    byte-order mark (Excel shows Chinese), points as lon/lat, other shapes as WKT.
    """
    from gridgis.io import DEFAULT_CHUNK, file_format, list_layers, read_layer, write_chunks, write_layer
    from gridgis.progress import task

    file_format(output, writing=True)
    if Path(output).resolve() == Path(plan_path).resolve():
        raise InputError(f"{output} is the file being exported.", fix="write to another file (-o).")
    names = list_layers(plan_path)
    if layer is None:
        layer = "grids" if "grids" in names else names[0] if len(names) == 1 else None
        if layer is None:
            raise InputError(
                f"{plan_path} holds {len(names)} layers ({', '.join(names)}) and no 'grids'; which one?",
                fix="name it with --layer.",
            )
    with task(f"reading {Path(plan_path).name}"):
        frame = read_layer(plan_path, layer, crs=crs, encoding=encoding, lon=lon, lat=lat, validate=False)
    if not len(frame):
        raise InputError(
            f"{plan_path}: layer {layer!r} has no features with a geometry; nothing was written to {output}.",
            fix="check the file (gridgis inspect) and the --layer.",
        )
    if file_format(output, writing=True) == "GeoPackage":  # the layer joins the file's others: one call
        with task(f"writing {Path(output).name}"):
            write_layer(frame, output, layer)
    else:
        with task(f"writing {Path(output).name}", total=len(frame)) as bar:
            step = DEFAULT_CHUNK // 10

            def chunks():  # streamed to the writer, so that the bar can show the time left
                for start in range(0, len(frame), step):
                    yield frame.iloc[start : start + step]
                    bar.advance(min(step, len(frame) - start))

            write_chunks(chunks(), output, layer)
    click.echo(f"Wrote {output}: {len(frame):,} features of layer {layer!r} ({file_format(output, writing=True)}).")
