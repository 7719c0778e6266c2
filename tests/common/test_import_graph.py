"""Wiring goes one way: no cycle among the project's modules, lazy imports included.

Every import statement of every module under packages/*/src counts, at module level or inside a
function: an import done late still means that neither module can be understood (or changed)
without the other. A cycle fails the test with its path printed, e.g.
`http_monitor.server -> http_monitor.watch -> http_monitor.server`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Edges known to close a cycle, each with why it is tolerated and what would remove it.
ALLOWED_EDGES: set[tuple[str, str]] = set()  # none: every cycle is a failure


def project_modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of every package's src."""
    modules: dict[str, Path] = {}
    for src in sorted(ROOT.glob("packages/*/src")):
        for path in sorted(src.rglob("*.py")):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Every module name `module` imports anywhere in its body (absolute, `from x import y` as x.y too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {name for name in imported_names(module, path) if name in modules and name != module}
        graph[module] = {t for t in targets if (module, t) not in ALLOWED_EDGES}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (Tarjan, then a path inside it)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)

    cycles: list[list[str]] = []
    for component in components:
        start = min(component)
        # Breadth-first from start back to start inside the component: the shortest cycle through it.
        paths = {start: [start]}
        queue = [start]
        found: list[str] | None = None
        while queue and found is None:
            node = queue.pop(0)
            for target in sorted(graph[node] & component):
                if target == start:
                    found = [*paths[node], start]
                    break
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    queue.append(target)
        assert found is not None
        cycles.append(found)
    return cycles


def test_finds_a_cycle_and_prints_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_lazy_imports_count(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from .other import x\n    import pkg.third\n", encoding="utf-8")
    assert {"pkg.other", "pkg.other.x", "pkg.third"} <= imported_names("pkg.mod", path)


def test_project_modules_import_each_other_one_way() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the walk found too few modules: has the layout changed?"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (lazy imports count):\n" + "\n".join(" -> ".join(c) for c in cycles)
