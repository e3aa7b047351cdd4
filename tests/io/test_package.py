"""gridgis.io is a package of named modules: ``__init__`` only re-exports (cycles: tests/test_import_cycles.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import gridgis.io

IO = Path(gridgis.io.__file__).parent


def test_init_only_reexports():
    tree = ast.parse((IO / "__init__.py").read_text(encoding="utf-8"))
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}, kinds
    assert all(isinstance(n.targets[0], ast.Name) and n.targets[0].id == "__all__" for n in tree.body
               if isinstance(n, ast.Assign))  # fmt: skip
