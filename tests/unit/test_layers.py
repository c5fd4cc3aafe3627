"""The package is one stack of layers: each imports only those below it, and no module
imports itself back through others (docs/DESIGN.md, "Layers").

Read from the source (every ``import`` statement, at module level or inside a function;
``if TYPE_CHECKING:`` blocks excepted, since they never run), so a new upward or
circular import fails here before it can fail at run time in some import order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import voicedesk

SRC = Path(voicedesk.__file__).resolve().parent

# bottom to top; a module's layer is its first package under voicedesk (or its own name)
STACK = [
    {"voicedesk", "errors", "tasks", "config", "plugins", "limits", "cores"},
    {"media"},
    {"speech"},
    {"rtc"},
    {"agent"},
    {"qa"},
    {"engine"},  # the window's media engine in its own process: a Call built from a CallSpec, no Qt
    {"gui"},
    {"load"},  # Locust users (voicedesk/load): above qa, whose caller they run; nothing below sees gevent
    {"cli", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(STACK) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The voicedesk modules ``path`` imports (the most specific known module of each name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = module_name(path).split(".")
    found: set[str] = set()

    def add(name: str) -> None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                for orelse in getattr(child, "orelse", []):
                    visit(orelse)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "voicedesk":
                        add(alias.name)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = here if is_package else here[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    target = child.module or ""
                if target.split(".")[0] == "voicedesk":
                    for alias in child.names:
                        add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
            visit(child)

    visit(tree)
    found.discard(module_name(path))
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(SRC.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def test_every_module_has_a_layer() -> None:
    unknown = sorted({layer(m) for m in import_graph()} - set(RANK))
    assert not unknown, f"put these in STACK (and docs/DESIGN.md): {unknown}"


def test_layers_import_only_downward() -> None:
    graph = import_graph()
    assert "voicedesk.rtc.call" in graph and "voicedesk.media.sources" in graph["voicedesk.rtc.call"]
    upward = sorted(
        f"{src} -> {dst}" for src, dsts in graph.items() for dst in dsts if RANK[layer(dst)] > RANK[layer(src)]
    )
    assert not upward, "imports that reach up the stack:\n" + "\n".join(upward)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_no_module_imports_itself_back() -> None:
    circles = strongly_connected(import_graph())
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_the_checker_sees_an_upward_import_and_a_circle() -> None:
    graph = {"voicedesk.rtc.a": {"voicedesk.agent.b"}, "voicedesk.agent.b": {"voicedesk.rtc.a"}}
    assert strongly_connected(graph) == [["voicedesk.agent.b", "voicedesk.rtc.a"]]
    assert RANK[layer("voicedesk.agent.b")] > RANK[layer("voicedesk.rtc.a")]
