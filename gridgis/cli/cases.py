"""``gridgis cases``: escalate overdue cases (for cron) and export the ledger."""

from __future__ import annotations

from datetime import datetime

import click

from gridgis.cli.options import db_opt, output_opt
from gridgis.errors import InputError


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--now {value!r} is not an ISO 8601 time.", fix="e.g. --now 2026-11-23T08:00:00+08:00"
        ) from None
    if when.tzinfo is None:
        raise InputError(f"--now {value!r} has no time zone.", fix="add one, e.g. +08:00 or Z.")
    return when


@click.group(name="cases")
def cli() -> None:
    """Cases: escalation, the ledger and the configuration."""


@cli.command()
@db_opt
@click.option("--now", default=None, help="Take this ISO 8601 time as now (default: the clock).")
def escalate(db: str | None, now: str | None) -> None:
    """Escalate every overdue case one level (grid -> community -> town); run it from cron."""
    from gridgis.cases import open_case_store

    when = _when(now)
    cases = open_case_store(db)
    try:
        done = cases.escalate_overdue(when)
    finally:
        cases.close()
        cases.store.close()
    click.echo(f"{len(done)} case(s) escalated" + (f": {', '.join(map(str, done))}" if done else "."))


@cli.command()
@db_opt
@output_opt
@click.option("--status", multiple=True, help="Only cases in this status (repeatable).")
@click.option("--grid", "grid_id", default=None, help="Only the cases of this grid.")
@click.option("--town", "town_id", default=None, help="Only the cases of this town.")
@click.option("--lang", default="zh", show_default=True, type=click.Choice(["zh", "en"]), help="Header language.")
def export(
    db: str | None, output: str, status: tuple[str, ...], grid_id: str | None, town_id: str | None, lang: str
) -> None:
    """Write the case ledger (台账) as CSV or XLSX (by the output's extension), atomically: Chinese headers
    and statuses (--lang en: English), Beijing time, codes as text, unit names."""
    from gridgis.cases import CaseFilter, open_case_store
    from gridgis.cases.categories import check_lang
    from gridgis.cases.ledger import unit_names, write_ledger
    from gridgis.errors import NotFoundError
    from gridgis.store.snapshot import load_snapshot

    f = CaseFilter(status=status, grid_id=grid_id, town_id=town_id)
    cases = open_case_store(db)
    try:
        try:
            names = unit_names(load_snapshot(cases.store))
        except NotFoundError:
            names = None
        n = write_ledger(cases, output, f, names=names, lang=check_lang(lang))
    finally:
        cases.close()
        cases.store.close()
    click.echo(f"{n} case(s) written to {output}.")


@cli.command()
@db_opt
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def config(db: str | None, path: str | None) -> None:
    """Load the configuration (categories, deadlines, warnings, departments, escalation, routes) from a
    JSON file; without PATH, print the current one."""
    import json

    from gridgis.cases import open_case_store
    from gridgis.cases.config import read_config_file

    cases = open_case_store(db)
    try:
        if path is not None:
            doc, parsed = read_config_file(path)
            cases.set_config(doc, actor="cli", source=path)
            click.echo(
                f"Configuration loaded from {path}: {len(parsed.categories)} categories, "
                f"{len(parsed.departments)} departments, escalation {' -> '.join(parsed.escalation_levels)}."
            )
            return
        doc = cases.config().as_dict()
        doc["routes"] = [r.as_dict() for r in cases.rules().values()]
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    finally:
        cases.close()
