"""``python -m gridgis.cli``: the ``gridgis`` command."""

from gridgis.cli import main

main(prog_name="gridgis")
