"""Every malformed file of the corpus through every command that reads features: a clean refusal each time.

Exit status 1 or 2, one ``Error:`` line naming the file with a ``Fix:`` that names only options the command
has, no traceback, nothing written, the store unchanged. Commands run in-process (click's runner); one
subprocess run proves the installed entry point prints no traceback either.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gridgis.cli import main
from gridgis.io import write_layer, write_layers
from tests.conftest import _toy_city, _toy_plan
from tests.io.files import CORPUS, areas, listing_of

#: command -> arguments around the input file; OUT and DB are filled in per run
COMMANDS = {
    "inspect": lambda f, out, db, plan: ["inspect", f, "--json"],
    "assign": lambda f, out, db, plan: ["assign", plan, f, "-o", out / "assigned.gpkg"],
    "coverage": lambda f, out, db, plan: ["coverage", plan, f, "--csv", out / "coverage.csv"],
    "partition": lambda f, out, db, plan: ["partition", f, "--grids", "2", "-o", out / "plan.gpkg"],
    "plan import": lambda f, out, db, plan: ["plan", "import", f, "--name", "new-plan", "--db", db],
    "layer import": lambda f, out, db, plan: ["layer", "import", f, "--name", "beats", "--db", db],
    "map plan": lambda f, out, db, plan: ["map", "plan", f, "-o", out / "plan.html"],
    "quality": lambda f, out, db, plan: ["quality", f],
    "export": lambda f, out, db, plan: ["export", f, "-o", out / "grids.shp"],
}
#: a Fix: text longer than this, or an error line longer than MAX_LINE, is not "one clear line"
MAX_LINE = 1000
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def _slug(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The corpus (one folder per file), a plan to assign against, and a store holding a plan and a layer."""
    root = tmp_path_factory.mktemp("corpus")
    files = {}
    for name, build in CORPUS.items():
        folder = root / "files" / _slug(name)
        folder.mkdir(parents=True)
        files[name] = build(folder)
    city = _toy_city()
    plan = root / "plan.gpkg"
    write_layers({"grids": _toy_plan(city), "buildings": city["buildings"], "communities": city["communities"]}, plan)
    db = f"sqlite:///{root / 'store.db'}"
    runner = CliRunner()
    beats = root / "beats.gpkg"
    write_layer(areas(2), beats, "beats")
    imports = (["plan", "import", str(plan), "--name", "old-plan"], ["layer", "import", str(beats), "--name", "beats"])
    for args in imports:
        result = runner.invoke(main, [*args, "--db", db])
        assert result.exit_code == 0, result.output
    return {"files": files, "plan": plan, "db": db}


def _store_state(db: str) -> tuple:
    from gridgis.store import open_store

    store = open_store(db)
    try:
        plans = sorted((p.name, p.status, tuple(sorted(p.counts.items()))) for p in store.list_plans())
        layers = sorted((i.name, i.n_features) for i in store.list_layers())
    finally:
        store.close()
    return plans, layers


def command_options(args: list[str]) -> set[str]:
    """The long options of the (sub)command ``args`` invokes."""
    ctx = click.Context(main)
    cmd: click.Command = main
    for word in args:
        if not isinstance(cmd, click.Group):
            break
        sub = cmd.get_command(ctx, word)
        if sub is None:
            break
        cmd = sub
    return {opt for p in cmd.params for opt in p.opts if opt.startswith("--")} | {"--help"}


def check_fix_options(args: list[str], text: str) -> None:
    """Every ``--option`` a ``Fix:`` in ``text`` names exists on the command ``args`` runs."""
    options = command_options(args)
    for fix in re.findall(r"Fix: (.*)", text):
        named = set(_OPTION.findall(fix))
        assert named <= options, f"{args[:2]}: the fix {fix!r} names {named - options}, not options of the command"


def _error_lines(result, args) -> list[str]:
    if args[0] == "inspect" and result.exit_code == 1 and result.stdout.lstrip().startswith("{"):
        layers = json.loads(result.stdout)["layers"]
        return [problem for lay in layers for problem in lay["problems"]]
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", list(CORPUS))
def test_malformed_file_is_refused_cleanly(world, tmp_path, name, command):
    path = world["files"][name]
    out = tmp_path / "out"
    out.mkdir()
    args = [str(a) for a in COMMANDS[command](path, out, world["db"], world["plan"])]
    before_files = listing_of(path.parent)
    before_store = _store_state(world["db"]) if "--db" in args else None
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (1, 2), f"{command} {name}: exit {result.exit_code}\n{result.output[-2000:]}"
    assert isinstance(result.exception, SystemExit), f"{command} {name}: {result.exception!r}"
    assert "Traceback" not in result.output
    errors = _error_lines(result, args)
    assert errors, f"{command} {name}: no error line in\n{result.output[-2000:]}"
    assert any(path.name in e or path.stem in e for e in errors), f"{command} {name}: {errors}"
    for line in errors:
        assert "\n" not in line and len(line) <= MAX_LINE, line[:300]
    assert any("Fix:" in e for e in errors), errors
    check_fix_options(args, "\n".join(errors))
    assert listing_of(out) == {}, f"{command} {name} left {listing_of(out)}"
    assert listing_of(path.parent) == before_files
    if before_store is not None:
        assert _store_state(world["db"]) == before_store


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40


def test_no_traceback_from_the_entry_point(world, tmp_path):
    """Outside the test runner too: a damaged file gives one line on stderr and exit status 1."""
    path = world["files"]["random bytes parquet"]
    run = subprocess.run(
        [sys.executable, "-m", "gridgis.cli", "assign", str(world["plan"]), str(path), "-o", str(tmp_path / "o.gpkg")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = [x for x in run.stderr.splitlines() if x.strip()]
    assert line.startswith("Error:") and path.name in line and "Fix:" in line
    assert not (tmp_path / "o.gpkg").exists()
