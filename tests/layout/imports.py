"""The import graph of Faucon's packages, read from the source (no import is executed).

Examples
--------
>>> graph = module_graph()
>>> "broker.core.errors" in graph
True
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("broker", "streams", "classifiers")

#: Rooms from the bottom up: a room may import only rooms listed before it (and itself).
ROOMS: tuple[str, ...] = (
    "broker.core",
    "broker.catalogs",
    "classifiers",
    "broker.filters",
    "broker.pipeline",
    "broker.kafka",
    "broker.spark",
    "broker.ops",
    "broker.registry",
    "streams",
    "broker.archive",
    "broker.portal",
    "broker.bench",
    "broker.demo",
    "broker.cli",
)


def module_name(path: Path) -> str:
    """Dotted module name of a source file of the repository."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(path: Path, modules: set[str]) -> set[str]:
    """Faucon modules imported anywhere in ``path`` (functions included, TYPE_CHECKING not)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking(node):
            skip.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in PACKAGES:
                found.add(name)
    return found


def module_graph() -> dict[str, set[str]]:
    """Module -> the Faucon modules it imports (package ``__init__`` imports excluded)."""
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    modules = {module_name(p) for p in files}
    graph = {}
    for p in files:
        name = module_name(p)
        deps = imported(p, modules) - {name}
        # importing broker.x.y runs broker/__init__ and broker/x/__init__: not a dependency edge
        graph[name] = {d for d in deps if not name.startswith(d + ".")}
    return graph


def room_of(module: str) -> str:
    """The room (layer) of a module (``broker/__init__.py``, only ``__version__``, is core)."""
    if module == "broker":
        return "broker.core"
    for room in sorted(ROOMS, key=len, reverse=True):
        if module == room or module.startswith(room + "."):
            return room
    return module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out
