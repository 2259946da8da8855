"""The import graph of itemlib against the README's code-layout table.

Run ``python tests/import_graph.py`` to print the layers, every import that goes up a layer and
every cycle (both should be none); ``tests/test_layout.py`` asserts the same.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "itemlib"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The itemlib modules ``name`` imports anywhere in its file, in functions too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def layers(readme: Path = ROOT / "README.md") -> list[tuple[str, list[str]]]:
    """The README's layout table: (layer, module names as written) from top to bottom."""
    text = readme.read_text(encoding="utf-8").split("## Code layout", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] not in ("layer", "") and not set(cells[0]) <= set("-: "):
            rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1])))
    return rows


def layer_of(module: str, table: list[tuple[str, list[str]]]) -> int | None:
    """Index of the layer listing ``module`` (``name/`` lists a package and everything in it)."""
    relative = module.removeprefix("itemlib").lstrip(".") or "__init__"
    for index, (_, names) in enumerate(table):
        for entry in names:
            entry = entry.removesuffix(".py")
            if relative == entry.rstrip("/") or (entry.endswith("/") and relative.startswith(entry[:-1] + ".")):
                return index
    return None


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def report() -> dict[str, list]:
    """Unlisted modules, upward imports (module, its layer, imported, that layer) and cycles."""
    edges, table = graph(), layers()
    unlisted = [m for m in edges if layer_of(m, table) is None]
    upward = [
        (m, table[layer_of(m, table)][0], t, table[layer_of(t, table)][0])
        for m, targets in sorted(edges.items())
        for t in sorted(targets)
        if m not in unlisted and t not in unlisted and layer_of(t, table) > layer_of(m, table)
    ]
    return {"unlisted": unlisted, "upward": upward, "cycles": cycles(edges), "modules": sorted(edges)}


if __name__ == "__main__":
    found = report()
    table = layers()
    print(f"{len(found['modules'])} modules, {sum(len(t) for t in graph().values())} imports between them")
    for layer, names in table:
        print(f"  {layer}: {' '.join(names)}")
    print(f"unlisted modules: {len(found['unlisted'])} {found['unlisted'] or ''}")
    print(f"upward imports: {len(found['upward'])}")
    for module, layer, target, target_layer in found["upward"]:
        print(f"  {module} ({layer}) imports {target} ({target_layer})")
    print(f"cycles: {len(found['cycles'])} {found['cycles'] or ''}")
