"""Progress of long commands: drawn with the time left on a terminal, never into pipes, files or with --quiet."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from rich.console import Console

from gridgis.cli import main
from gridgis.progress import shown, task, track
from tests.conftest import REPO

#: every long command (issue 19): demo, partition, import, export, assign
LONG_COMMANDS = (["demo", "heshan"], ["demo", "jiangmen"], ["partition"], ["plan", "import"], ["export"], ["assign"])
BAR = "━"


def drawn(quiet: bool = False, terminal: bool = True) -> str:
    screen = io.StringIO()
    with shown(quiet=quiet, console=Console(file=screen, force_terminal=terminal, width=100)):
        for _ in track(range(3), "counting grids"):
            time.sleep(0.01)
        with task("no total known") as bar:
            bar.advance()
    return screen.getvalue()


def test_the_display_shows_the_work_and_the_time_left_only_on_a_terminal():
    out = drawn()
    assert "counting grids" in out and BAR in out and "/3" in out and "left" in out
    assert drawn(quiet=True) == ""
    assert drawn(terminal=False) == ""


def test_work_outside_any_display_draws_nothing_and_still_runs(capsys):
    assert list(track([1, 2], "anything")) == [1, 2]
    with task("anything", total=2) as bar:
        bar.advance(2)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("command", LONG_COMMANDS, ids=" ".join)
def test_every_long_command_has_quiet(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "--quiet" in result.output and "No progress bars" in result.output


@pytest.fixture
def assign_files(tmp_path, toy_city, toy_plan):
    toy_plan.to_file(tmp_path / "plan.gpkg", layer="grids")
    toy_city["buildings"].to_file(tmp_path / "city.gpkg", layer="buildings")
    args = [tmp_path / "plan.gpkg", tmp_path / "city.gpkg", "--layer", "buildings", "--chunk-size", "50"]
    return tmp_path, ["assign", *map(str, args)]


def gridgis(args, *, terminal: bool) -> tuple[int, str]:
    """Run ``python -m gridgis.cli ARGS`` with stdout and stderr on a pseudo-terminal, or on pipes."""
    cmd = [sys.executable, "-m", "gridgis.cli", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"}
    env.pop("FORCE_COLOR", None)
    if not terminal:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
        return done.returncode, done.stdout + done.stderr
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, close_fds=True)
    os.close(child_fd)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main_fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(main_fd)
    return proc.wait(timeout=10), out.decode(errors="replace")


def test_assign_draws_progress_on_a_terminal_only(assign_files):
    tmp, args = assign_files
    code, out = gridgis([*args, "-o", str(tmp / "a.csv")], terminal=True)
    assert code == 0 and "assigning city.gpkg" in out and BAR in out and "left" in out
    assert "144 features: 144 assigned" in out
    code, out = gridgis([*args, "-o", str(tmp / "b.csv"), "--quiet"], terminal=True)
    assert code == 0 and "144 features: 144 assigned" in out and BAR not in out and "assigning" not in out
    code, out = gridgis([*args, "-o", str(tmp / "c.csv")], terminal=False)
    assert code == 0 and "144 features: 144 assigned" in out and BAR not in out and "\x1b[" not in out
    assert (tmp / "a.csv").read_bytes() == (tmp / "b.csv").read_bytes() == (tmp / "c.csv").read_bytes()


def test_colour_forced_into_a_log_is_still_not_a_terminal(assign_files):
    tmp, args = assign_files
    env = {**os.environ, "PYTHONPATH": str(REPO), "FORCE_COLOR": "1"}
    cmd = [sys.executable, "-m", "gridgis.cli", *args, "-o", str(tmp / "d.csv")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0 and BAR not in done.stderr and "assigning" not in done.stderr
