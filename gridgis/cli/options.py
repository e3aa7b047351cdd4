"""Options shared by several commands (declared once here)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click

layer_opt = click.option(
    "--layer",
    "layer",
    default=None,
    help="Layer name inside a multi-layer file (GeoPackage); for a single-layer file, the data-model layer it "
    "holds (e.g. buildings), checked against the schema.",
)
encoding_opt = click.option(
    "--encoding",
    default=None,
    help="Attribute encoding of a Shapefile/CSV, always used when given (default: what the file declares in its "
    ".cpg or .dbf code page, else detected with a warning; e.g. UTF-8, GBK, GB18030).",
)
crs_opt = click.option(
    "--crs",
    "crs",
    default=None,
    help="CRS of the input coordinates; overrides what the file declares (with a warning): EPSG:4326, EPSG:4490, "
    "gcj02 (Amap/Tencent/WeChat), bd09 (Baidu) or any EPSG code such as EPSG:4526 (Gauss-Krüger zone 38).",
)
lon_opt = click.option("--lon", default="lon", show_default=True, help="Longitude (or easting) column of a CSV file.")
lat_opt = click.option("--lat", default="lat", show_default=True, help="Latitude (or northing) column of a CSV file.")
#: the options of every command that reads features, in this order
INPUT_OPTIONS = (layer_opt, lon_opt, lat_opt, crs_opt, encoding_opt)


def input_options(*, layer: Callable | None = layer_opt, plan: bool = False) -> Callable:
    """Decorator adding the input options ``--layer --lon --lat --crs --encoding`` to a command.

    ``layer`` replaces ``--layer`` (e.g. a repeatable one); ``plan=True`` gives a command that reads
    every layer of a GeoPackage (a plan, a city) only ``--crs --encoding``, the options that apply to it.
    The command receives them as the keyword arguments ``layer, lon, lat, crs, encoding``.
    """
    chosen = (crs_opt, encoding_opt) if plan else (layer, lon_opt, lat_opt, crs_opt, encoding_opt)

    def decorate(command: Callable) -> Callable:
        for option in reversed(chosen):
            command = option(command)
        return command

    return decorate


output_opt = click.option(
    "-o", "--output", "output", required=True, type=click.Path(dir_okay=False), help="Output file (written atomically)."
)
json_opt = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
seed_opt = click.option("--seed", default=0, show_default=True, type=int, help="Random seed (same seed, same result).")
db_opt = click.option(
    "--db",
    "db",
    default=None,
    envvar="GRIDGIS_DATABASE_URL",
    help="Store URL: sqlite:///path.db (default data/gridgis.db) or postgresql://user@host/db.",
)
grids_layer_opt = click.option(
    "--grids-layer", default="grids", show_default=True, help="Layer of GRIDS holding the grids."
)
show_opt = click.option(
    "--show", default=20, show_default=True, type=click.IntRange(min=0), help="Features outside every grid to list."
)


def chunk_size_opt(default: int) -> Callable:
    """``--chunk-size``: features held in memory at a time, defaulting to ``default``."""
    return click.option(
        "--chunk-size",
        default=default,
        show_default=True,
        type=click.IntRange(min=1),
        help="Features held in memory at a time (bounds memory use).",
    )


def engine_opt(local: str, dask: str) -> Callable:
    """``--engine local|dask``, with what each engine does for this command."""
    return click.option(
        "--engine",
        type=click.Choice(["local", "dask"]),
        default="local",
        show_default=True,
        help=f"local: {local}; dask: {dask} (see --scheduler).",
    )


scheduler_opt = click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address tcp://HOST:PORT, its workers having gridgis installed "
    "(default with --engine dask: a local cluster of 2 worker processes).",
)


def progress_opt(command: Callable) -> Callable:
    """``--quiet``, and the progress display (:mod:`gridgis.progress`) open while the command runs.

    Put it right above the command's function (below its other options); the function does not
    receive ``quiet``.
    """

    @click.option(
        "--quiet",
        "-q",
        "quiet",
        is_flag=True,
        help="No progress bars (none are drawn either when stderr is not a terminal).",
    )
    @functools.wraps(command)
    def run(*args, quiet: bool, **kwargs):
        from gridgis.progress import shown

        with shown(quiet=quiet):
            return command(*args, **kwargs)

    return run
