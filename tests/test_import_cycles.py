"""The packages import without cycles.

A cycle between modules works only as long as the import order happens to suit it, and hides
which module depends on which. This walks every ``import`` in ``gridgis`` and ``api``, those inside
functions included (a lazy import that closes a cycle is still a cycle), but not those under
``if TYPE_CHECKING:`` (annotations only), and fails naming each cycle found.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gridgis", "api")


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _top_level(body: list[ast.stmt]):
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                yield from _top_level(node.body)
                yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _top_level(node.body)
            for handler in node.handlers:
                yield from _top_level(handler.body)


def _all_imports(tree: ast.Module):
    """Every import, lazy ones inside functions included, except under ``if TYPE_CHECKING:``."""
    yield from _top_level(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner


def _import_graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        for node in _all_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def test_walker_sees_the_packages_imports():
    graph = _import_graph()
    assert graph.number_of_nodes() > 50
    assert graph.has_edge("api.routes.cases", "api.routes.addresses")  # a router using another
    assert graph.has_edge("gridgis.partition.report", "gridgis.quality")
    assert graph.has_edge("gridgis.io.stream", "gridgis.io.read")  # a submodule, not the package


def test_no_import_cycles():
    cycles = [c for c in nx.simple_cycles(_import_graph()) if len(c) > 1]
    shown = sorted(" -> ".join([*c, c[0]]) for c in cycles)[:20]
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(shown)
