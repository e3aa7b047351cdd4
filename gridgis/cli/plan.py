"""``gridgis plan``: import, list and publish plans in the store."""

from __future__ import annotations

import json

import click

from gridgis.cli.options import db_opt, input_options, json_opt, progress_opt


@click.group("plan")
def cli() -> None:
    """Plans kept in the store (versioned like MapIt generations: one published at a time)."""


@cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Plan name, e.g. 2026-heshan.")
@click.option("--publish", is_flag=True, help="Publish it right after the import.")
@input_options(plan=True)
@db_opt
@progress_opt
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
            _publish(store, name, {}, force=False, dry_run=False, as_json=False)
        else:
            click.echo(f"Publish it with: gridgis plan publish {name}")
    finally:
        store.close()


map_opt = click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="OLD=NEW",
    help="Send the staff, worker keys and open cases of retired grid OLD to grid NEW (repeatable).",
)
map_file_opt = click.option(
    "--map-file",
    default=None,
    type=click.Path(dir_okay=False),
    help="CSV of OLD,NEW grid ids (header old,new), as --map.",
)


def _show(report, as_json: bool) -> None:
    from gridgis.store.replan import table_text

    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    t = report.totals
    click.echo(
        f"{report.plan} against {report.previous or 'nothing published'}: grids {t['kept']} kept, {t['new']} new, "
        f"{t['retired']} retired; {t['buildings_moved']:,} buildings moved; staff {t['staff_moved']} moved, "
        f"{t['staff_unattached']} left unattached; worker keys {t['keys_moved']} moved, {t['keys_unattached']} left; "
        f"open cases {t['cases_rerouted']} re-routed, {t['cases_unrouted']} left"
    )
    if report.previous:  # a first publish: every grid is new
        click.echo(table_text(report))
    for item in report.unattached[:50]:
        click.echo(f"unattached  {item['kind']:<10} {item['id']:<16} on retired grid {item['grid_id']}")
    if report.reused_codes:
        click.echo(f"codes published before and retired, used again: {report.reused_codes[:20]}")


@cli.command("publish")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Show what the publish would do (per community), change nothing.")
@map_opt
@map_file_opt
@click.option("--force", is_flag=True, help="Publish even if staff or open cases stay on retired grids unmapped.")
@json_opt
@db_opt
def publish(name: str, dry_run: bool, pairs: tuple[str, ...], map_file: str | None, force: bool, as_json: bool,
            db: str | None) -> None:  # fmt: skip
    """Publish plan NAME; the previous one is retired (kept, queryable with ?plan=).

    In the same transaction staff, worker keys and open cases follow the grids that continue theirs; a
    publish that would leave staff or open cases on retired grids without a mapping is refused with the
    per-community table (exit code 1). Running servers switch to it within about a second.
    """
    from gridgis.store import open_store
    from gridgis.store.replan import parse_map

    mapping = parse_map(pairs, map_file)
    store = open_store(db)
    try:
        _publish(store, name, mapping, force=force, dry_run=dry_run, as_json=as_json)
    finally:
        store.close()


def _publish(store, name: str, mapping: dict, *, force: bool, dry_run: bool, as_json: bool) -> None:
    """Publish (or dry-run) ``name`` and print the per-community table; a refusal prints it, then fails."""
    from gridgis.store.replan import PublishRefused, PublishReport
    from gridgis.store.replan import publish as run

    try:
        report = run(store, name, mapping=mapping, force=force, dry_run=dry_run, actor="planner:cli")
    except PublishRefused as exc:
        _show(PublishReport(**_from_dict(exc.details)), as_json)
        raise
    _show(report, as_json)
    if dry_run:
        refused = " Publishing would be refused (see above)." if report.refused else ""
        click.echo("Dry run: nothing changed." + refused)
        return
    info = store.get_plan(name)
    click.echo(f"Published {info.name!r} from {info.valid_from:%Y-%m-%d %H:%M:%S %Z}.")


def _from_dict(d: dict) -> dict:
    return {
        "plan": d["plan"],
        "previous": d["previous"],
        "dry_run": d["dry_run"],
        "forced": d["forced"],
        "published": d["published"],
        "table": d["communities"],
        "totals": d["totals"],
        "unattached": d["unattached"],
        "blocking": d["blocking"],
        "reused_codes": d["reused_codes"],
    }


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@json_opt
@db_opt
def diff(old: str, new: str, as_json: bool, db: str | None) -> None:
    """Compare stored plans OLD and NEW per community: grids kept/new/retired, buildings moved and, when OLD is
    the published plan, the staff, worker keys and open cases publishing NEW would move (a dry run)."""
    from gridgis.store import open_store
    from gridgis.store.replan import publish as run

    store = open_store(db)
    try:
        _show(run(store, new, against=old, actor="planner:cli"), as_json)
    finally:
        store.close()


@cli.command("unattached")
@json_opt
@db_opt
def unattached_(as_json: bool, db: str | None) -> None:
    """Staff and worker-key scopes left on grids the published plan no longer has (map them: gridgis plan map)."""
    from gridgis.store import open_store
    from gridgis.store.replan import unattached

    store = open_store(db)
    try:
        items = unattached(store)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("Nothing is left on retired grids.")
    for item in items:
        click.echo(f"{item['kind']:<10} {item['id']:<16} on retired grid {item['grid_id']}")


@cli.command("map")
@map_opt
@map_file_opt
@json_opt
@db_opt
def map_(pairs: tuple[str, ...], map_file: str | None, as_json: bool, db: str | None) -> None:
    """Attach the staff, worker keys and open cases of retired grids to grids of the published plan."""
    from gridgis.store import open_store
    from gridgis.store.replan import parse_map
    from gridgis.store.replan import publish as run

    mapping = parse_map(pairs, map_file)
    if not mapping:
        raise click.UsageError("Give at least one --map OLD=NEW or a --map-file.")
    store = open_store(db)
    try:
        _show(run(store, store.get_plan(None).name, mapping=mapping, force=True, actor="planner:cli"), as_json)
    finally:
        store.close()


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
