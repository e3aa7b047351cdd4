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
    from gridgis.io import write_layers
    from gridgis.progress import task

    path = Path(output)
    if path.suffix.lower() != ".gpkg":
        raise InputError(
            f"The demo is several layers; {output!r} is not a GeoPackage.",
            fix=f"write it to a .gpkg file, e.g. -o {path.with_suffix('.gpkg')}.",
        )
    start = time.perf_counter()
    with task("building the Heshan demo"):
        layers = build_heshan(seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_layers(layers, path)
    counts = ", ".join(f"{len(frame):,} {name}" for name, frame in layers.items())
    b = layers["buildings"]
    click.echo(
        f"Wrote {output}: {counts}; {int(b['households'].sum()):,} households, "
        f"{int(b['population'].sum()):,} residents (seed {seed}, {time.perf_counter() - start:.1f} s)."
    )
