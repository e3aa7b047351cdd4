"""``gridgis plan edit``: apply a planner's edits (moves, locks, rebalances...) to a plan GeoPackage."""

from __future__ import annotations

import json

import click

from gridgis.cli.options import input_options, json_opt, output_opt


@click.command("edit")
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False))
@click.argument("edits_path", metavar="[EDITS.json]", required=False, type=click.Path(dir_okay=False))
@click.option("--names", "names_path", type=click.Path(dir_okay=False),
              help="A .csv or .xlsx table of grid_id, name and/or note: renames and notes in bulk "
              "(applied after EDITS.json).")  # fmt: skip
@output_opt
@input_options(plan=True)
@json_opt
def edit(plan_path, edits_path, names_path, output, crs, encoding, as_json) -> None:
    """Apply EDITS.json (a list of operations, in order) to PLAN and write the result to OUTPUT.

    \b
    Operations:
      {"op": "move", "buildings": [ids], "to": GRID}   or "block": BLOCK_ID (plan with a blocks layer)
      {"op": "lock", "grids": [GRID...]}   {"op": "unlock", "grids": [GRID...]}
      {"op": "rebalance", "community": COMMUNITY}   only its unlocked grids change
      {"op": "merge", "grids": [A, B]}   {"op": "split", "grid": GRID, "into": 2}
      {"op": "rename", "grid": GRID, "name": "..."}   {"op": "note", "grid": GRID, "text": "..."}

    An edit that would break a hard rule (a grid in two pieces, across a community boundary, a
    building not touching its new grid, a locked grid changed) is refused with the reason and
    nothing is written. OUTPUT is written atomically and checked by the quality rules first.
    """
    from gridgis.errors import InputError, PartitionError
    from gridgis.planedit import apply_edits, edits_from_table, load_edits, read_plan, write_plan
    from gridgis.quality import check_plan

    if not edits_path and not names_path:
        raise InputError("Nothing to apply: give EDITS.json, --names TABLE, or both.",
                         fix="gridgis plan edit PLAN EDITS.json -o NEW.gpkg")  # fmt: skip
    edits = load_edits(edits_path) if edits_path else []
    if names_path:
        edits += edits_from_table(names_path, encoding=encoding)
    plan = read_plan(plan_path, crs=crs, encoding=encoding)
    result = apply_edits(plan, edits)
    quality = check_plan(result.plan.grids, result.plan.buildings, result.plan.layers.get("communities"))
    broken = quality.failures()
    if broken:
        raise PartitionError("The edited plan breaks a hard rule, so nothing was written: " + "; ".join(broken),
                             fix="report this with the plan and the edits; it is a bug.")  # fmt: skip
    write_plan(result.plan, output)
    summary = {"operations": len(edits), "changed": result.changed, "added": result.added,
               "removed": result.removed, "distribution": result.report, "output": output}  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    r = result.report
    click.echo(f"applied {len(edits)} operation(s): {len(result.changed)} grid(s) changed, "
               f"{len(result.added)} added, {len(result.removed)} removed")  # fmt: skip
    if "mean" in r:
        click.echo(f"county-wide: {r['grids']} grids, mean {r['mean']:g} {r['column']}, "
                   f"min {r['min']:g}, max {r['max']:g}, CV {r['cv']}")  # fmt: skip
    click.echo(f"wrote {output}")
