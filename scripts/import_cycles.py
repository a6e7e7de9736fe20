"""Finds import cycles among the modules of `app/`, lazy (function-level) imports included.

A lazy import only hides a cycle from Python's loader; the two modules still depend on each
other, so it counts. Prints each cycle found and exits 1 if there is any.

    python scripts/import_cycles.py [ROOT]
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "app"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            # A package's own __init__ is one level deeper than a module's.
            keep = len(base) - node.level + (1 if is_package else 0)
            prefix = ".".join(base[:keep])
            target = f"{prefix}.{node.module}" if node.module else prefix
        else:
            target = node.module or ""
        yield target
        for alias in node.names:
            # `from app.services import datasets` imports the module app.services.datasets.
            yield f"{target}.{alias.name}"


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the `app` modules it imports (anywhere in its body, under TYPE_CHECKING too
    is left out: annotations make no run-time dependency)."""
    files = {module_name(root, p): p for p in (root / PACKAGE).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(tree):
            for target in _imported(node, name, is_package):
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    # Depth first by hand: ast.walk queues a node's children before yielding it, so blanking
    # an `if TYPE_CHECKING:` body there would come too late to leave it out.
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = [child for child in children if child not in node.body]
        todo.extend(children)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # Iterative, so a deep package cannot hit the recursion limit.
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found = cycles(import_graph(root))
    for component in found:
        print("import cycle: " + " <-> ".join(component))
    print(f"{len(found)} import cycles among the modules of {PACKAGE}/")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
