"""``gridgis key``: API keys for the service (stored hashed; the token is shown once)."""

from __future__ import annotations

import click

from gridgis.cli.options import db_opt
from gridgis.store.base import ROLES


@click.group("key")
def cli() -> None:
    """API keys with roles reader < worker < dispatcher < planner < admin; anything that writes needs one.

    A worker key (a grid worker's) carries the grids it covers: it reads and moves the cases of those grids only.
    """


@cli.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the key may do.")
@click.option("--name", default="", help="Who or what uses it (e.g. hotline).")
@click.option(
    "--grid",
    "grids",
    multiple=True,
    metavar="GRID_ID",
    help="A grid a worker key covers (repeat for several; required with --role worker).",
)
@db_opt
def create(role: str, name: str, grids: tuple[str, ...], db: str | None) -> None:
    """Create a key and print it (send it as the X-API-Key header).

    Example: gridgis key create --role worker --name 王五 --grid 440784101001001 --grid 440784101001002
    """
    from gridgis.store import open_store

    store = open_store(db)
    try:
        click.echo(store.create_key(role, name, grids=grids))
    finally:
        store.close()


@cli.command("list")
@db_opt
def list_(db: str | None) -> None:
    """List keys (prefix, role, name; the tokens themselves are not stored)."""
    from gridgis.store import open_store

    for row in open_store(db).list_keys():
        state = "revoked" if row["revoked_at"] else "active"
        grids = f"  grids: {' '.join(row['grids'])}" if row["grids"] else ""
        click.echo(f"{row['prefix']}...  {row['role']:<10} {state:<8} {row['name']}{grids}")


@cli.command("revoke")
@click.argument("prefix")
@db_opt
def revoke(prefix: str, db: str | None) -> None:
    """Revoke the key(s) starting with PREFIX (the first 10 characters shown by `gridgis key list`)."""
    from gridgis.store import open_store

    n = open_store(db).revoke_key(prefix)
    if not n:
        raise click.ClickException(f"No active key with prefix {prefix!r}. Fix: see gridgis key list.")
    click.echo(f"Revoked {n} key(s).")
