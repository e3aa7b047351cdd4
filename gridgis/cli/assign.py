"""``gridgis assign GRIDS FEATURES -o OUT``: add grid_id, grid_code, community_id, town_id to every feature."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from gridgis.assign.files import DEFAULT_CHUNK, AssignSummary, assign_file, read_grids
from gridgis.assign.saved import kept_index
from gridgis.cli.options import (
    chunk_size_opt,
    engine_opt,
    grids_layer_opt,
    input_options,
    json_opt,
    output_opt,
    progress_opt,
    scheduler_opt,
    show_opt,
)


def _print_summary(summary: AssignSummary, output: str) -> None:
    console = Console(width=max(Console().width, 120))
    share = summary.assigned / summary.features if summary.features else 0.0
    console.print(
        f"{summary.features:,} features: {summary.assigned:,} assigned ({share:.1%}), "
        f"{summary.outside:,} outside every grid -> {output}",
        highlight=False,
    )
    if summary.outside_rows:
        table = Table(title=f"Outside every grid (first {len(summary.outside_rows)} of {summary.outside:,})")
        for col in ("row", "id", "lon", "lat", "nearest grid", "distance m"):
            table.add_column(col, justify="right" if col in ("row", "distance m") else "left")
        for r in summary.outside_rows:
            table.add_row(
                str(r["row"]), str(r["id"]), f"{r['lon']:.6f}", f"{r['lat']:.6f}",
                str(r["nearest_grid_id"]), f"{r['distance_m']:,.1f}",
            )  # fmt: skip
        console.print(table)
    if summary.grid_overlaps:
        console.print(
            f"[red]broken plan[/red]: {len(summary.grid_overlaps)} pair(s) of grids overlap; "
            f"{summary.in_several:,} feature(s) lie in 2+ grids (each was given the first grid in file order).",
            highlight=False,
        )
        for o in summary.grid_overlaps[:20]:
            console.print(
                f"  grids {o['grid_id_a']} and {o['grid_id_b']} share {o['area_m2']:,.2f} m²", highlight=False
            )
        for r in summary.several_rows:
            console.print(f"  row {r['row']} (id {r['id']}) lies in grids {', '.join(r['grid_ids'])}", highlight=False)


@click.command("assign")
@click.argument("grids_path", metavar="GRIDS", type=click.Path(dir_okay=False))
@click.argument("features_path", metavar="FEATURES", type=click.Path())
@output_opt
@input_options()
@grids_layer_opt
@chunk_size_opt(DEFAULT_CHUNK)
@engine_opt("this process, in chunks", "a dask.distributed cluster over partitioned GeoParquet")
@scheduler_opt
@show_opt
@json_opt
@progress_opt
def cli(
    grids_path: str,
    features_path: str,
    output: str,
    layer: str | None,
    lon: str,
    lat: str,
    crs: str | None,
    encoding: str | None,
    grids_layer: str,
    chunk_size: int,
    engine: str,
    scheduler: str | None,
    show: int,
    as_json: bool,
) -> None:
    """Add grid_id, grid_code, community_id and town_id to every feature of FEATURES (any layer,
    any supported format) from the grid holding it, and write OUT (format from its suffix).

    Points go to the grid covering them (on a shared edge: the first such grid in GRIDS);
    polygons to the grid holding the largest part of their area. Features outside every
    grid are listed with the distance to the nearest grid; overlapping grids (a broken
    plan) and the features inside two or more of them are reported. The grids' lookup index is
    kept beside GRIDS (GRIDS.gridindex.npz) and rebuilt when GRIDS changes.
    """
    grids = read_grids(grids_path, grids_layer)
    index = kept_index(grids, grids_path)
    if engine == "dask":
        from gridgis.assign.cluster import assign_parquet_dask

        summary = assign_parquet_dask(grids, features_path, output, scheduler=scheduler, limit=show, index=index)
    else:
        if scheduler:
            raise click.UsageError("--scheduler needs --engine dask.")
        summary = assign_file(
            grids,
            features_path,
            output,
            layer=layer,
            chunk_size=chunk_size,
            crs=crs,
            encoding=encoding,
            lon=lon,
            lat=lat,
            limit=show,
            index=index,
        )
    if as_json:
        click.echo(json.dumps({"output": output, **summary.to_dict()}, ensure_ascii=False, indent=2, default=str))
    else:
        _print_summary(summary, output)
