"""``gridgis demo``: build demo data sets."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gridgis.cli.options import output_opt, progress_opt, seed_opt
from gridgis.errors import InputError


@click.group("demo")
def cli() -> None:
    """Build synthetic demo data."""


@cli.command("heshan")
@output_opt
@seed_opt
@progress_opt
def heshan(output: str, seed: int) -> None:
    """A synthetic Heshan (鹤山市) inside its real outline, written to a GeoPackage.

    Layers: towns (the 10 real town-level divisions), communities (about 22
    urban and 137 village), buildings, shops, roads, rivers and facilities.
    Same seed, same file. The output's folder is created if needed.
    """
    from gridgis.demo import build_heshan

    _write(output, seed, "Heshan", lambda: build_heshan(seed=seed))


@cli.command("jiangmen")
@output_opt
@seed_opt
@click.option(
    "--counties",
    default=None,
    help="Comma-separated division codes to draw (default: all 7), e.g. 440704,440784.",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Multiply residents and shops (0-1]: a smaller prefecture with the same divisions.",
)
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1), help="Counties drawn at the same time.")
@progress_opt
def jiangmen(output: str, seed: int, counties: str | None, scale: float, jobs: int) -> None:
    """A synthetic Jiangmen (江门市) inside its 7 real county outlines, written to a GeoPackage.

    Heshan as `gridgis demo heshan` draws it; the six other counties with
    made-up towns. At full size about 500,000 buildings and 1.7 million
    households (a few minutes). Same seed, same file.
    """
    from gridgis.demo.jiangmen import COUNTIES, build_jiangmen

    codes = None
    if counties:
        codes = tuple(c.strip() for c in counties.split(",") if c.strip())
        unknown = [c for c in codes if c not in COUNTIES]
        if unknown:
            raise InputError(
                f"--counties: {', '.join(unknown)} is not a county of Jiangmen.",
                fix=f"use some of {', '.join(COUNTIES)}.",
            )
    _write(output, seed, "Jiangmen", lambda: build_jiangmen(seed, counties=codes, scale=scale, jobs=jobs))


def _write(output: str, seed: int, name: str, build) -> None:
    from gridgis.io import write_layers
    from gridgis.progress import task

    path = Path(output)
    if path.suffix.lower() != ".gpkg":
        raise InputError(
            f"The demo is several layers; {output!r} is not a GeoPackage.",
            fix=f"write it to a .gpkg file, e.g. -o {path.with_suffix('.gpkg')}.",
        )
    start = time.perf_counter()
    with task(f"building the {name} demo"):
        layers = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_layers(layers, path)
    counts = ", ".join(f"{len(frame):,} {name}" for name, frame in layers.items())
    b = layers["buildings"]
    click.echo(
        f"Wrote {output}: {counts}; {int(b['households'].sum()):,} households, "
        f"{int(b['population'].sum()):,} residents (seed {seed}, {time.perf_counter() - start:.1f} s)."
    )
