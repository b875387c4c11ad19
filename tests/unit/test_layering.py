"""Imports point one way: layers in data-flow order, no cycles, and the leaves stay leaves.

The graph is read from the sources (imports inside functions count), so a lazy import that
hides a cycle from Python's import machinery does not hide it from this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "trialsim"


def module_graph() -> dict[str, set[str]]:
    """Module name -> trialsim modules it imports (anywhere in its source)."""
    files = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    graph = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t in files and t != name:
                    graph[name].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(module_graph())
    assert not found, "import cycles (a lower layer imports an upper one): " + "; ".join(
        " <-> ".join(c) for c in found
    )


@pytest.mark.parametrize(
    "module, allowed",
    [
        ("trialsim.config.vocab", set()),  # the names every layer shares: a leaf
        ("trialsim.core.jit", set()),
        ("trialsim.model.instruments", {"trialsim.core.jit", "trialsim.config.vocab"}),
        ("trialsim.model.protocol", {"trialsim.core.jit"}),
    ],
)
def test_leaves_import_only_below_them(module, allowed):
    assert module_graph()[module] <= allowed, module_graph()[module] - allowed


#: the layers, lowest first: a module may import its own layer and the ones before it
LAYERS = ("core", "errors", "config", "model", "analysis", "run", "summarize", "report",
          "experiments", "qualify", "cli", "__main__")


def layer_of(module: str) -> int | None:
    """Index in LAYERS of a trialsim module (None for the package root)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return LAYERS.index(parts[1])


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    out = []
    for mod, targets in graph.items():
        lm = layer_of(mod)
        if lm is None:
            continue
        for t in targets:
            lt = layer_of(t)
            if lt is not None and lt > lm:
                out.append((mod, t))
    return sorted(out)


def test_every_module_is_in_a_layer():
    for mod in module_graph():
        if mod != "trialsim":
            assert mod.split(".")[1] in LAYERS, f"{mod} is in no layer of {LAYERS}"


def test_no_upward_imports():
    found = upward_imports(module_graph())
    assert not found, "a lower layer imports an upper one: " + "; ".join(
        f"{a} -> {b}" for a, b in found
    )


def test_the_upward_import_finder_finds_one():
    graph = {"trialsim.model.course": {"trialsim.run.trial"}, "trialsim.run.trial": set(),
             "trialsim": {"trialsim.cli.main"}}
    assert upward_imports(graph) == [("trialsim.model.course", "trialsim.run.trial")]


def test_the_jit_cache_hash_skips_only_layers_above_every_kernel():
    """core.jit keys numba's cache on the sources a kernel can reach and skips the layers
    above them; that is sound only while no module of those layers compiles a kernel and
    every layer that does lies below them."""
    from trialsim.core.jit import ABOVE_KERNELS

    compiling = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ImportFrom) and node.module == "trialsim.core.jit"
                    and any(a.name == "jit" for a in node.names)) or (
                    isinstance(node, ast.Name) and node.id in ("njit", "vectorize")):
                compiling.add(path.relative_to(PACKAGE).parts[0])
    assert compiling and not compiling & set(ABOVE_KERNELS), compiling
    highest = max(LAYERS.index(p) for p in compiling if p in LAYERS)
    assert all(LAYERS.index(layer) > highest for layer in ABOVE_KERNELS)
