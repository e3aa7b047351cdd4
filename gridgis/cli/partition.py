"""``gridgis partition INPUT.gpkg --grids N -o plan.gpkg``: redraw communities into balanced grids."""

from __future__ import annotations

from pathlib import Path

import click

from gridgis.cli.options import (
    engine_opt,
    input_options,
    json_opt,
    output_opt,
    progress_opt,
    scheduler_opt,
    seed_opt,
)
from gridgis.errors import PartitionError

#: input layers copied into the plan when present
COPIED_LAYERS = ("towns", "communities", "shops", "roads", "rivers")


def _range(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value.split("-"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not LOW-HIGH, e.g. 300-500.", param_hint="--households") from None
    return lo, hi


def _weights(value: str | None) -> dict[str, float] | None:
    if not value:
        return None
    out = {}
    for item in value.split(","):
        name, _, number = item.partition("=")
        try:
            out[name.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(
                f"{item!r} is not COLUMN=WEIGHT, e.g. households=1,shops=0.2.", param_hint="--weights"
            ) from None
    return out


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


@click.command("partition")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--grids", "n_grids", type=int, default=None, help="Total number of grids (dedicated ones included).")
@click.option("--households", default=None, help="Load range per grid instead of --grids, e.g. 300-500.")
@click.option("--weights", default=None, help="Composite load, e.g. households=1,shops=0.2 (default households=1).")
@click.option("--barriers", default=None, help="Line layers grid edges should follow, e.g. roads,rivers.")
@click.option("--dedicated", default=None, help="Polygon layer whose features each get a dedicated grid.")
@click.option("--keep", "keep_path", default=None, type=click.Path(dir_okay=False),
              help="Old plan GeoPackage: move as few buildings as the balance allows; grids that continue old "
                   "ones keep their ids and codes, each community keeps its grid count unless its load leaves "
                   "the range.")  # fmt: skip
@click.option("--recount", is_flag=True, help="With --keep: apportion the grid counts afresh.")
@click.option("--tolerance", default=0.10, show_default=True, type=float,
              help="Deviation from the community mean a grid may keep to follow streets (0.1 = 10 %).")  # fmt: skip
@click.option("--jobs", default=1, show_default=True, type=int,
              help="Worker processes over communities (local engine).")  # fmt: skip
@engine_opt("this machine, --jobs processes", "one task per community on a dask.distributed cluster")
@scheduler_opt
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Quality report JSON (default: OUTPUT with .report.json).")  # fmt: skip
@seed_opt
@output_opt
@input_options(plan=True)
@json_opt
@progress_opt
def cli(input_path, n_grids, households, weights, barriers, dedicated, keep_path, recount, tolerance, jobs, engine,
        scheduler, report_path, seed, output, crs, encoding, as_json):  # fmt: skip
    """Cut every community of INPUT into balanced, contiguous, compact grids with 15-digit codes.

    Writes OUTPUT (a GeoPackage with layers grids, buildings and copies of the
    input's towns, communities, shops, roads, rivers), a quality report and the grids'
    lookup index for `gridgis assign` (OUTPUT with .gridindex.npz).
    Nothing is written when a hard rule (tiling, contiguity, one grid per
    building, count, codes) would be broken.
    """
    from gridgis.assign.files import read_grids
    from gridgis.assign.saved import kept_index
    from gridgis.io import atomic, read_layer, read_layers, write_layers
    from gridgis.io.formats import check_geopackage
    from gridgis.partition import partition
    from gridgis.partition.report import report_json, summary
    from gridgis.quality import QualityReport

    layers = read_layers(check_geopackage(input_path, "the input of partition"), crs=crs, encoding=encoding)
    keep = read_layer(check_geopackage(keep_path, "the --keep plan"), "grids") if keep_path else None
    result = partition(
        layers,
        n_grids=n_grids,
        households=_range(households),
        weights=_weights(weights),
        barriers=_names(barriers),
        dedicated=dedicated,
        keep=keep,
        recount=recount,
        tolerance=tolerance,
        seed=seed,
        jobs=jobs,
        engine=engine,
        scheduler=scheduler,
        check=False,  # the gate below says that nothing was written
    )
    quality = QualityReport(**{k: result.report["quality"][k] for k in ("checks", "metrics")})
    if not quality.ok:
        raise PartitionError(
            "The plan breaks a hard rule, so nothing was written: " + "; ".join(quality.failures()),
            fix="report this with the input file; it is a bug.",
        )
    out = {"grids": result.grids, "buildings": result.buildings, "blocks": result.blocks}
    out.update({name: layers[name] for name in COPIED_LAYERS if name in layers})
    write_layers(out, output)
    kept_index(read_grids(output), output)  # the grids as written: gridgis assign reads this index, not builds it
    report_path = Path(report_path) if report_path else Path(output).with_suffix(".report.json")
    text = report_json(result.report)
    with atomic.atomic_path(report_path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    if as_json:
        click.echo(text)
    else:
        click.echo(summary(result.report))
        click.echo(quality.summary())
        click.echo(f"wrote {output} and {report_path}")
