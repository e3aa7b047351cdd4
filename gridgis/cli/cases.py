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
    """Cases: escalation and the ledger."""


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
def export(db: str | None, output: str, status: tuple[str, ...], grid_id: str | None, town_id: str | None) -> None:
    """Write the case ledger (台账) as CSV, atomically."""
    from gridgis.cases import CaseFilter, open_case_store
    from gridgis.cases.ledger import write_ledger

    f = CaseFilter(status=status, grid_id=grid_id, town_id=town_id)
    cases = open_case_store(db)
    try:
        n = write_ledger(cases, output, f)
    finally:
        cases.close()
        cases.store.close()
    click.echo(f"{n} case(s) written to {output}.")
