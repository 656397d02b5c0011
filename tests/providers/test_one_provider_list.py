"""The provider registry is the only list of provider names (issue 19).

Scans the package, ``noxfile.py`` and ``tests/`` for a literal list, tuple
or set of provider names, or a string enumerating them (``"a, b or c"``),
that names every bundled provider: each is a second list that a new provider
would have to be added to by hand. Allowed: the registry itself, each
provider's own folder, docstrings (prose, not a list code reads), and dicts
keyed by provider in tests (tables of facts about named providers: the
expected price or status word of each, test data rather than a list).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from mockserver.providers import registry

ROOT = Path(__file__).resolve().parents[2]
NAMES = frozenset(registry.names())
#: Where naming several providers is the point.
ALLOWED = {
    ROOT / "mockserver" / "providers" / "registry.py",
    *(ROOT / "mockserver" / "providers" / name for name in NAMES),
}
_NAME = "|".join(sorted(NAMES))
#: ``a, b or c`` / ``a, b, c`` / ``a and b``: names enumerated in prose.
_ENUMERATION = re.compile(rf"\b({_NAME})\b(?:(?:,\s*|\s+or\s+|\s+and\s+|,\s*or\s+)\b({_NAME})\b)+")


def _files() -> Iterator[Path]:
    yield ROOT / "noxfile.py"
    for folder in (ROOT / "mockserver", ROOT / "tests"):
        for path in sorted(folder.rglob("*.py")):
            if not any(path == a or a in path.parents for a in ALLOWED):
                yield path


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _enumerated(text: str) -> set[str]:
    """Provider names listed one after the other in ``text``."""
    named: set[str] = set()
    for match in _ENUMERATION.finditer(text.lower()):
        named |= set(re.findall(_NAME, match.group(0)))
    return named


def provider_lists(source: str) -> list[tuple[int, str]]:
    """(line, code) of each literal that lists every provider."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    hits: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            values = [i.value if isinstance(i, ast.Constant) else None for i in node.elts]
            if not values or not all(v in NAMES for v in values):
                continue
            named = set(values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            named = _enumerated(node.value)
        else:
            continue
        if named == NAMES:
            hits.append((node.lineno, ast.get_source_segment(source, node) or ""))
    return hits


def test_the_registry_is_the_only_list_of_provider_names() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {code[:80]}"
        for path in _files()
        for line, code in provider_lists(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "provider names listed outside the registry:\n" + "\n".join(found)


def test_the_scan_finds_a_hand_written_choices_list() -> None:
    """The scan itself: the lists a command or a test might grow are caught, docstrings not."""
    first, *middle, last = registry.names()
    code = "\n".join([
        f"parser.add_argument('--provider', choices={[first, *middle, last]!r})",
        f"for p in {(last, *middle, first)!r}: pass",
        f"KNOWN = {set(registry.names())!r}",
        f"help_text = {', '.join([first, *middle]) + ' or ' + last!r}",
        f"message = 'known: {', '.join(sorted(registry.names()))}'",
        f"one = [{first!r}]",
        f"price = {{{first!r}: 1, {last!r}: 2}}",
        f"def f():\n    {', '.join(registry.names())!r}",
    ])
    assert sorted(line for line, _ in provider_lists(code)) == [1, 2, 3, 4, 5]
