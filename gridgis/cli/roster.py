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


@cli.command()
@db_opt
@click.argument("account")
@click.option("--clear", is_flag=True, help="Remove the password instead (the person can no longer sign in with one).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input (scripts)."
)
def password(db: str | None, account: str, clear: bool, password_stdin: bool) -> None:
    """Set the console password of a person (ACCOUNT: their phone number or person id); asked twice, hidden.

    Only an Argon2id hash is kept; the person's open console sessions end. They then sign in at /console
    with their phone number and this password.
    """
    import sys

    from gridgis.cases import open_case_store
    from gridgis.console.logins import Logins, account_of, find_person
    from gridgis.errors import NotFoundError

    cases = open_case_store(db)
    try:
        person_id = find_person(cases.people, account_of(account))
        if person_id is None:
            raise NotFoundError(
                f"No one person has the phone number or person id {account!r}.",
                fix="list people with gridgis roster export -o roster.csv (the person id is on GET /v1/people).",
            )
        name = cases.people.get(person_id).name
        logins = Logins(cases.store)
        if clear:
            if not logins.clear_password(person_id):
                raise NotFoundError(f"{name} ({person_id}) has no console password.", fix="nothing to clear.")
            click.echo(f"Password of {name} ({person_id}) removed; their console sessions ended.")
            return
        if password_stdin:
            secret = sys.stdin.readline().rstrip("\r\n")
        else:
            secret = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
        logins.set_password(person_id, secret, by="cli")
    finally:
        cases.close()
    click.echo(f"Password of {name} ({person_id}) set; they sign in at /console with their phone number.")
