"""The import rules of ARCHITECTURE.md, checked on the source (ast; nothing is imported).

1. Nothing under mockserver/derive, mockserver/domain, mockserver/providers, nor
   mockserver/contracts.py imports an HTTP framework or client: the domain and
   the adapters must run without a server, and adding a provider must not drag
   HTTP into them.
2. The layers, lowest first (``LAYERS``): a module imports only from its own
   layer or a lower one (no upward import), and no module imports itself
   through others (no import circle). Imports under ``if TYPE_CHECKING:``
   count: a type-only upward import still couples the layers. A deferred
   import (function-level, or type-only) is held to the same rules unless
   ``ALLOWED_DEFERRED`` lists it with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "mockserver"
PURE = [PACKAGE / "derive", PACKAGE / "domain", PACKAGE / "providers", PACKAGE / "contracts.py",
        PACKAGE / "store"]
FORBIDDEN = {"starlette", "httpx", "respx", "uvicorn"}

#: The layers, lowest first; a module belongs to the longest prefix listed. A
#: new package must be placed here (the test names it when it is not).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # core: pure pieces every other layer shares
    ("core", (
        "mockserver", "mockserver.contracts", "mockserver.wirejson", "mockserver.redact",
        "mockserver.config", "mockserver.domain", "mockserver.extras",
        "mockserver.logformat", "mockserver.progress", "mockserver.store",
        "mockserver.provider_spec",
    )),
    # the provider kit: documents -> contracts -> adapters and OpenAPI documents
    ("providers", (
        "mockserver.providers", "mockserver.derive", "mockserver.openapi",
        "mockserver.openapi_examples",
    )),
    # wings: faults (scenarios, selection, the chaos hook) and chaos' pure engine
    ("wings", (
        "mockserver.faults", "mockserver.chaos", "mockserver.chaos.engine",
        "mockserver.chaos.mutator",
    )),
    # the app every front end serves: Starlette routes, admin API, sender, serve
    ("app", ("mockserver.http", "mockserver.console")),
    # front ends driving the app: in-process/served mocks, pytest plugin, chaos
    # runner, fuzz, drift
    ("front ends", (
        "mockserver.testing", "mockserver.pytest_plugin", "mockserver.chaos.runner",
        "mockserver.fuzz", "mockserver.drift", "mockserver.webhook_send",
    )),
    ("cli", ("mockserver.cli", "mockserver.__main__")),
]

#: (importer, imported) -> why a deferred import (in a function, or under
#: ``if TYPE_CHECKING:``) that breaks a rule is allowed there.
ALLOWED_DEFERRED: dict[tuple[str, str], str] = {
    ("mockserver.chaos", "mockserver.chaos.runner"): (
        "the package re-exports run_chaos on first use (module __getattr__; typed for "
        "checkers under TYPE_CHECKING): the runner is a front end, the package's engine "
        "and mutator are a wing below the app, which the faults wing uses"
    ),
}


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int
    lazy: bool  # inside a function body
    type_only: bool = False  # under ``if TYPE_CHECKING:``

    @property
    def deferred(self) -> bool:
        return self.lazy or self.type_only

    def __str__(self) -> str:
        kind = "lazily imports" if self.lazy else (
            "imports for types" if self.type_only else "imports")
        return f"{self.importer}:{self.line} {kind} {self.imported}"


def _module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> Iterator[Edge]:
    """Every import of a mockserver module in ``path``, resolved to the module it names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, lazy: bool, typing: bool) -> Iterator[Edge]:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            types = typing or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield from _edge(alias.name, child.lineno, inner, types)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                for alias in child.names:
                    target = f"{base}.{alias.name}"  # a submodule, or a name in base
                    yield from _edge(
                        target if target in known else base, child.lineno, inner, types)
            yield from visit(child, inner, types)

    def _edge(name: str, line: int, lazy: bool, type_only: bool) -> Iterator[Edge]:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module and name.split(".")[0] == "mockserver":
            yield Edge(module, name, line, lazy, type_only)

    yield from visit(tree, False, False)


def _graph() -> list[Edge]:
    files = _module_files()
    known = set(files)
    return [edge for name, path in sorted(files.items()) for edge in _imports(name, path, known)]


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def _counted(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if not (e.deferred and (e.importer, e.imported) in ALLOWED_DEFERRED)]


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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
                    found.append(sorted(component))
    return found


# --- 1. no HTTP in the pure layers -------------------------------------------------


def _modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in
            {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _pure_files() -> list[Path]:
    files: list[Path] = []
    for target in PURE:
        files.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return [f for f in files if f.exists()]


def test_there_is_something_to_check() -> None:
    files = _pure_files()
    assert any(f.parent.name == "domain" for f in files)
    assert any(f.parent.name == "providers" for f in files)


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_layers_import_no_http_framework(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: imports {module}"
        for line, module in _modules(tree)
        if module.split(".")[0] in FORBIDDEN
    ]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_every_import_form() -> None:
    source = (
        "import httpx\nfrom starlette.routing import Route\n"
        "import importlib\nimportlib.import_module('uvicorn')\nfrom . import respx\n"
    )
    modules = {m for _, m in _modules(ast.parse(source))}
    assert {"httpx", "starlette.routing", "uvicorn"} <= modules


# --- 2. layers: no upward import, no circle ----------------------------------------


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in _module_files() if _layer(m) is None)
    assert not missing, f"place these in tests/test_layering.py LAYERS: {missing}"


def test_no_upward_import_between_layers() -> None:
    names = [name for name, _ in LAYERS]
    bad = []
    for edge in _counted(_graph()):
        low, high = _layer(edge.importer), _layer(edge.imported)
        assert low is not None and high is not None
        if high > low:
            bad.append(f"{edge} (layer {names[low]} -> {names[high]})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_import_circle() -> None:
    cycles = _cycles(_counted(_graph()))
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_every_allowed_deferred_import_exists_and_is_deferred() -> None:
    deferred = {(e.importer, e.imported) for e in _graph() if e.deferred}
    stale = sorted(set(ALLOWED_DEFERRED) - deferred)
    assert not stale, f"ALLOWED_DEFERRED lists imports that are gone: {stale}"


def test_the_graph_checker_finds_circles_and_resolves_imports(tmp_path: Path) -> None:
    edges = [Edge("a", "b", 1, False), Edge("b", "c", 1, True), Edge("c", "a", 1, False),
             Edge("c", "d", 1, False)]
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles(edges[:2]) == []
    source = tmp_path / "__init__.py"
    source.write_text(
        "from mockserver.http import media\nfrom . import state\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mockserver.cli\n"
        "def later():\n    from mockserver.faults.queue import ScenarioQueue\n"
    )
    known = {"mockserver.http", "mockserver.http.media", "mockserver.http.state",
             "mockserver.cli", "mockserver.faults.queue"}
    found = {(e.imported, e.lazy, e.type_only)
             for e in _imports("mockserver.http", source, known)}
    assert found == {("mockserver.http.media", False, False),
                     ("mockserver.http.state", False, False),
                     ("mockserver.cli", False, True), ("mockserver.faults.queue", True, False)}
    assert _layer("mockserver.chaos.runner") == 4 and _layer("mockserver.chaos.engine") == 2
