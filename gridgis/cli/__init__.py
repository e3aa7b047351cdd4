"""The ``gridgis`` command line: one module per command, loaded on demand."""

from __future__ import annotations

import importlib
import sys
import warnings

import click

from gridgis import __version__
from gridgis.errors import GridgisError, GridgisWarning

#: command name -> module under gridgis.cli holding a click command named ``cli``
COMMANDS = {
    "demo": "demo",
    "inspect": "inspect",
    "partition": "partition",
    "quality": "quality",
    "assign": "assign",
    "coverage": "coverage",
    "export": "export",
    "plan": "plan",
    "layer": "layer",
    "serve": "serve",
    "map": "map",
    "cases": "cases",
    "roster": "roster",
    "key": "key",
}


class LazyGroup(click.Group):
    """A group whose commands are imported only when called (fast ``--help``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        try:
            module = importlib.import_module(f"gridgis.cli.{COMMANDS[name]}")
        except ModuleNotFoundError as exc:
            if exc.name == f"gridgis.cli.{COMMANDS[name]}":
                return None
            raise
        return module.cli

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GridgisError as exc:
            raise click.ClickException(one_line(exc)) from exc


#: characters of a message printed before its fix (messages quote bounded excerpts; this is the last guard)
MESSAGE_LIMIT = 600


def one_line(exc: GridgisError) -> str:
    """The error as one line of at most about :data:`MESSAGE_LIMIT` characters, its ``Fix:`` always kept."""
    message = " ".join(exc.message.split())
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + "..."
    return f"{message} Fix: {' '.join(exc.fix.split())}" if exc.fix else message


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, GridgisWarning):
        text = " ".join(str(message).split())
        cut = "..." if len(text) > MESSAGE_LIMIT else ""
        click.secho(f"Warning: {text[:MESSAGE_LIMIT]}{cut}", fg="yellow", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="gridgis")
def main() -> None:
    """gridgis: redraw communities into balanced grids, assign features to grids, serve them."""
    warnings.showwarning = _show_warning
