"""The partition package imports without cycles (every import, top-level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import gridgis.partition

PACKAGE = Path(gridgis.partition.__file__).parent


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gridgis.partition."):
            out.add(node.module.rsplit(".", 1)[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.rsplit(".", 1)[1] for a in node.names if a.name.startswith("gridgis.partition.")}
    return out


def test_no_import_cycle_between_partition_modules():
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert "refine" not in graph["refine"] and "bisect" in graph["keep"]

    def visit(node, path):
        for nxt in sorted(graph.get(node, ())):
            assert nxt not in path, f"import cycle: {' -> '.join([*path, nxt])}"
            visit(nxt, [*path, nxt])

    for module in graph:
        visit(module, [module])
