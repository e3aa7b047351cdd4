"""``gridgis plan``: import, list and publish plans in the store."""

from __future__ import annotations

import json

import click

from gridgis.cli.options import db_opt, input_options, json_opt


@click.group("plan")
def cli() -> None:
    """Plans kept in the store (versioned like MapIt generations: one published at a time)."""


@cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Plan name, e.g. 2026-heshan.")
@click.option("--publish", is_flag=True, help="Publish it right after the import.")
@input_options(plan=True)
@db_opt
def import_(path: str, name: str, publish: bool, crs: str | None, encoding: str | None, db: str | None) -> None:
    """Import PATH, a plan GeoPackage written by `gridgis partition`, as a draft plan.

    Its layers grids (required), buildings, towns and communities are read and checked
    before the store is touched; other layers (roads...) are ignored.
    """
    from gridgis.store import open_store
    from gridgis.store.files import import_plan_file

    store = open_store(db)
    try:
        info = import_plan_file(store, path, name, crs=crs, encoding=encoding)
        counts = ", ".join(f"{n} {k}" for k, n in info.counts.items())
        click.echo(f"Imported plan {info.name!r} ({counts}) into {store.url}.")
        if publish:
            info = store.publish_plan(name)
            click.echo(f"Published {info.name!r} from {info.valid_from:%Y-%m-%d %H:%M:%S %Z}.")
        else:
            click.echo(f"Publish it with: gridgis plan publish {name}")
    finally:
        store.close()


@cli.command("publish")
@click.argument("name")
@db_opt
def publish(name: str, db: str | None) -> None:
    """Publish plan NAME; the previous one is retired (kept, queryable with ?plan=).

    Running servers switch to it within about a second.
    """
    from gridgis.store import open_store

    info = open_store(db).publish_plan(name)
    click.echo(f"Published {info.name!r} from {info.valid_from:%Y-%m-%d %H:%M:%S %Z}.")


@cli.command("list")
@db_opt
@json_opt
def list_(db: str | None, as_json: bool) -> None:
    """List the plans with their status and validity period."""
    from gridgis.store import open_store

    plans = open_store(db).list_plans()
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in plans], ensure_ascii=False, indent=2))
        return
    if not plans:
        click.echo("No plans yet: gridgis plan import PLAN.gpkg --name NAME")
    for p in plans:
        until = f"{p.valid_to:%Y-%m-%d %H:%M}" if p.valid_to else "now"
        since = f"{p.valid_from:%Y-%m-%d %H:%M} .. {until}" if p.valid_from else "never published"
        click.echo(f"{p.name:<24} {p.status:<10} {since:<36} grids={p.counts.get('grids', 0)}")

from gridgis.cli.plan_edit import edit  # noqa: E402

cli.add_command(edit)
