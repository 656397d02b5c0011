"""The import rule of ARCHITECTURE.md, checked on the source.

Nothing under mockserver/derive, mockserver/domain, mockserver/providers, nor
mockserver/contracts.py imports an HTTP framework or client: the domain and
the adapters must run without a server, and adding a provider must not drag
HTTP into them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "mockserver"
PURE = [PACKAGE / "derive", PACKAGE / "domain", PACKAGE / "providers", PACKAGE / "contracts.py",
        PACKAGE / "store"]
FORBIDDEN = {"starlette", "httpx", "respx", "uvicorn"}


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
