"""gridgis.io is a package of named modules: ``__init__`` only re-exports, and no module imports in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import gridgis.io

IO = Path(gridgis.io.__file__).parent


def _imports(path: Path) -> set[str]:
    """The gridgis.io modules (or the package itself) that ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gridgis.io"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gridgis.io"))
    return found


def test_init_only_reexports():
    tree = ast.parse((IO / "__init__.py").read_text(encoding="utf-8"))
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}, kinds
    assert all(isinstance(n.targets[0], ast.Name) and n.targets[0].id == "__all__" for n in tree.body
               if isinstance(n, ast.Assign))  # fmt: skip


def test_no_import_cycle_in_gridgis_io():
    graph = {("gridgis.io" if p.stem == "__init__" else f"gridgis.io.{p.stem}"): _imports(p) for p in IO.glob("*.py")}
    for module, deps in graph.items():
        if module != "gridgis.io":
            assert "gridgis.io" not in deps, f"{module} imports the package gridgis.io (a hidden cycle)"
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError(f"import cycle: {' -> '.join([*trail, node])}")
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in graph.get(node, ()):
            visit(dep, [*trail, node])
        state[node] = 2

    for module in graph:
        visit(module, [])
