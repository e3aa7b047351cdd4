"""``gridgis demo``: build demo data sets."""

from __future__ import annotations

import time

import click

from gridgis.cli.options import output_opt, seed_opt


@click.group("demo")
def cli() -> None:
    """Build synthetic demo data."""


@cli.command("heshan")
@output_opt
@seed_opt
def heshan(output: str, seed: int) -> None:
    """A synthetic Heshan (鹤山市) inside its real outline, written to a GeoPackage.

    Layers: towns (the 10 real town-level divisions), communities (about 22
    urban and 137 village), buildings, shops, roads, rivers and facilities.
    Same seed, same file.
    """
    from gridgis.demo import build_heshan
    from gridgis.io import write_layers

    start = time.perf_counter()
    layers = build_heshan(seed=seed)
    write_layers(layers, output)
    counts = ", ".join(f"{len(frame):,} {name}" for name, frame in layers.items())
    b = layers["buildings"]
    click.echo(
        f"Wrote {output}: {counts}; {int(b['households'].sum()):,} households, "
        f"{int(b['population'].sum()):,} residents (seed {seed}, {time.perf_counter() - start:.1f} s)."
    )
