"""``gridgis roster``: import and export the people of the grid centre (花名册) as CSV or XLSX."""

from __future__ import annotations

from pathlib import Path

import click

from gridgis.cli.options import db_opt, output_opt


@click.group(name="roster")
def cli() -> None:
    """People: import and export the roster (编码, 姓名, 角色, 电话, 值班)."""


@cli.command(name="import")
@db_opt
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace every post, not only those of the units in the file.")
def import_(db: str | None, path: str, replace: bool) -> None:
    """Check a roster file (.csv or .xlsx) whole, then apply it in one transaction (nothing on any error)."""
    from gridgis.cases import open_case_store
    from gridgis.cases.roster import import_roster

    cases = open_case_store(db)
    try:
        counts = import_roster(cases.people, path, cases.config(), replace_all=replace)
    finally:
        cases.close()
    click.echo(f"{counts['people']} people, {counts['posts']} posts in {counts['units']} unit(s) imported from {path}.")


@cli.command()
@db_opt
@output_opt
@click.option("--lang", default="zh", show_default=True, type=click.Choice(["zh", "en"]), help="Header language.")
def export(db: str | None, output: str, lang: str) -> None:
    """Write the roster as CSV or XLSX (by the output's extension), one line per post; re-importable."""
    from gridgis.cases import open_case_store
    from gridgis.cases.roster import write_roster
    from gridgis.errors import FileFormatError
    from gridgis.io.atomic import atomic_path

    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise FileFormatError(f"{output}: the roster is written as .csv or .xlsx.", fix="name it roster.xlsx.")
    cases = open_case_store(db)
    try:
        with atomic_path(Path(output)) as tmp:
            n = write_roster(cases.people, Path(tmp), fmt=fmt, lang=lang)
    finally:
        cases.close()
    click.echo(f"{n} post(s) written to {output}.")
