"""Schema-valid but adversarial response bodies (pure: a body, a validator, a Random).

:func:`mutate` takes a JSON body that satisfies its contract schema and
returns a copy a tolerant client must still handle: unknown fields added (at
the top and in nested objects), optional fields left out, unusual but valid
values (empty, very long and non-ASCII strings, numbers at their bounds,
floats where a number is allowed, nulls where null is allowed) and keys in
another order. Every single change is checked against the schema at once and
undone if it breaks validity, so the result always validates.

What a client needs to function is never touched: :data:`SEMANTIC_FIELDS`
names them for every provider and each provider kit adds its own (ids,
status words, codes, output and other URLs, the request echo). A semantic
field keeps its value and its place; only a semantic field that is null and
optional may be left out (an ``output`` that is not there yet). Strings
that are URLs are never changed either.

Everything random comes from the ``random.Random`` given, so one seed gives
one body.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mockserver.contracts import json_type
from mockserver.providers import registry

__all__ = [
    "EXTRA_FIELDS",
    "SEMANTIC_FIELDS",
    "UNUSUAL_STRINGS",
    "Mutation",
    "SchemaValidator",
    "mutate",
    "semantic_fields",
]

#: Field names (at any depth) whose value and presence chaos never changes, for
#: every provider; each provider kit adds its own (``ProviderKit.semantic_fields``).
SEMANTIC_FIELDS: frozenset[str] = frozenset(
    {"id", "status", "code", "output", "outputs", "urls", "model", "input", "webhook"}
)

#: Unusual but valid strings: empty, long, emoji (ZWJ sequences, flags), RTL with an
#: override mark, combining marks.
UNUSUAL_STRINGS: tuple[tuple[str, str], ...] = (
    ("empty", ""),
    ("long", "ø" * 2048 + "…" + "x" * 2048),
    ("emoji", "🎬 готово 👩‍👩‍👧‍👦🏳️‍🌈🇺🇦 ✅"),
    ("rtl", "مرحبا بالعالم \u202eevil\u202c שלום"),
    ("combining", "Z̷̢͉a̴̛l̸g̶o̵ n̈o͂ e\u0301\u0302"),
)

#: Unknown fields chaos adds: name, value (a provider may add fields at any time).
EXTRA_FIELDS: tuple[tuple[str, Any], ...] = (
    ("x_request_id", "req_01HZX3N7Q9"),
    ("_debug", {"node": "gpu-7", "trace": [1, 2.5, None, {"deep": {"er": "✓"}}]}),
    ("deprecated", True),
    ("nextGenField", None),
    ("meta", {}),
    ("tags", []),
    ("priority", 0.75),
    ("ñandú_🦤", "unicode key"),
    ("retries", 3),
)

_URL_PREFIXES = ("http://", "https://", "data:", "s3://", "gs://")


class SchemaValidator(Protocol):
    """What :func:`mutate` needs of a compiled jsonschema validator."""

    def is_valid(self, instance: Any) -> bool: ...


@dataclass(frozen=True)
class Mutation:
    """One change chaos made to a body: its kind, where (a JSON pointer), what."""

    kind: str  # "extra_field" | "dropped" | "value" | "reordered"
    pointer: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.pointer or '/'}{': ' + self.detail if self.detail else ''}"


def semantic_fields(provider: str | None) -> frozenset[str]:
    """The field names chaos leaves alone for ``provider`` (the common ones and its kit's)."""
    kit = registry.kits().get(provider or "")
    return SEMANTIC_FIELDS if kit is None else SEMANTIC_FIELDS | kit.semantic_fields


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _pointer(path: tuple[str | int, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _subschemas(node: Any) -> Iterator[Mapping[str, Any]]:
    """``node`` and the members of its allOf/anyOf/oneOf (one level is what contracts use)."""
    if not isinstance(node, Mapping):
        return
    yield node
    for keyword in ("allOf", "anyOf", "oneOf"):
        for member in node.get(keyword) or ():
            if isinstance(member, Mapping):
                yield member


def _properties(node: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for sub in _subschemas(node):
        props = sub.get("properties")
        if isinstance(props, Mapping):
            for name, schema in props.items():
                found.setdefault(str(name), schema)
    return found


def _required(node: Any) -> set[str]:
    """Every name any branch requires (conservative: anyOf's alternatives count too)."""
    names: set[str] = set()
    for sub in _subschemas(node):
        names.update(str(n) for n in sub.get("required") or ())
    return names


def _types(node: Any, value: Any) -> set[str]:
    types: set[str] = set()
    for sub in _subschemas(node):
        declared = sub.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(str(t) for t in declared)
    if not types:  # no type: the value's own kind
        types.add(json_type(value))
    return types


def _constrained(node: Any) -> bool:
    """An enum, a const or a format: a value a client may switch on; left alone."""
    return any(
        key in sub for sub in _subschemas(node) for key in ("enum", "const", "format", "pattern")
    )


def _bounds(node: Any) -> list[float]:
    found: list[float] = []
    for sub in _subschemas(node):
        for key in ("minimum", "maximum"):
            bound = sub.get(key)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                found.append(bound)
    return found


def _candidates(node: Any, value: Any) -> list[tuple[str, Any]]:
    """Unusual replacements for a scalar ``value`` whose schema is ``node``."""
    types = _types(node, value)
    options: list[tuple[str, Any]] = []
    if isinstance(value, str):
        if value.startswith(_URL_PREFIXES) or _constrained(node):
            return []
        options += [(name, text) for name, text in UNUSUAL_STRINGS if text != value]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if _constrained(node):
            return []
        for bound in _bounds(node):
            options.append(("bound", int(bound) if "integer" in types else bound))
        if not _bounds(node):
            options += [("zero", 0), ("large", 2**31 - 1 if "integer" in types else 1e12)]
        if "number" in types and isinstance(value, int):
            options += [("float", float(value)), ("fraction", value + 0.25)]
    if value is not None and "null" in types:
        options.append(("null", None))
    return [(name, new) for name, new in options if new != value or type(new) is not type(value)]


@dataclass
class _Site:
    kind: str  # "object" | "drop" | "value"
    path: tuple[str | int, ...]
    parent: Any
    key: str | int | None
    node: Any


def _walk(
    value: Any, node: Any, path: tuple[str | int, ...], semantic: frozenset[str],
    sites: list[_Site], depth: int = 0,
) -> None:
    if depth > 16:
        return
    if isinstance(value, dict):
        props, required = _properties(node), _required(node)
        sites.append(_Site("object", path, value, None, node))
        for key, child in value.items():
            child_path = (*path, key)
            if key in semantic:
                if child is None and key not in required:
                    sites.append(_Site("drop", child_path, value, key, None))
                continue
            child_node = props.get(key, {})
            if key not in required and not _holds_semantic(child, semantic):
                sites.append(_Site("drop", child_path, value, key, None))
            if isinstance(child, dict | list):
                _walk(child, child_node, child_path, semantic, sites, depth + 1)
            else:
                sites.append(_Site("value", child_path, value, key, child_node))
    elif isinstance(value, list):
        items = node.get("items", {}) if isinstance(node, Mapping) else {}
        for index, child in enumerate(value):
            child_path = (*path, index)
            if isinstance(child, dict | list):
                _walk(child, items, child_path, semantic, sites, depth + 1)
            else:
                sites.append(_Site("value", child_path, value, index, items))


def _holds_semantic(value: Any, semantic: frozenset[str], depth: int = 0) -> bool:
    """Whether a semantic field with a value sits somewhere inside ``value``."""
    if depth > 16:
        return True
    if isinstance(value, dict):
        return any(
            (key in semantic and child is not None) or _holds_semantic(child, semantic, depth + 1)
            for key, child in value.items()
        )
    if isinstance(value, list):
        return any(_holds_semantic(child, semantic, depth + 1) for child in value)
    return False


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def mutate(
    body: Any,
    validator: SchemaValidator,
    rng: random.Random,
    *,
    schema: Mapping[str, Any] | None = None,
    semantic: frozenset[str] = SEMANTIC_FIELDS,
    intensity: float = 0.5,
    max_mutations: int = 24,
) -> tuple[Any, list[Mutation]]:
    """A mutated copy of ``body`` that still satisfies ``validator``, and what was changed.

    ``schema`` is the schema ``validator`` checks (default: ``validator.schema``);
    it guides which fields are optional and which values are allowed. Each
    opportunity is taken with probability ``intensity`` (0..1), at most
    ``max_mutations`` times. A body that does not validate to begin with is
    returned unchanged (nothing can be proved about it).
    """
    if schema is None:
        found = getattr(validator, "schema", {})
        schema = found if isinstance(found, Mapping) else {}
    if not isinstance(body, dict | list) or not validator.is_valid(body):
        return body, []
    work = _copy(body)
    sites: list[_Site] = []
    _walk(work, schema, (), semantic, sites)
    applied: list[Mutation] = []
    dropped: list[tuple[str | int, ...]] = []
    for site in sites:
        if len(applied) >= max_mutations:
            break
        if any(site.path[: len(gone)] == gone for gone in dropped):
            continue  # inside a field already left out
        if rng.random() >= intensity:
            continue
        if site.kind == "drop":
            mutation = _drop(work, validator, site)
            if mutation is not None:
                dropped.append(site.path)
        elif site.kind == "value":
            mutation = _replace(work, validator, site, rng)
        else:
            mutation = _extend(work, validator, site, rng)
        if mutation is not None:
            applied.append(mutation)
    # Key order is free in JSON: shuffle every object chaos reached (always valid).
    for site in sites:
        if site.kind == "object" and len(site.parent) > 1 and rng.random() < intensity:
            if any(site.path[: len(gone)] == gone for gone in dropped):
                continue
            items = list(site.parent.items())
            rng.shuffle(items)
            site.parent.clear()
            site.parent.update(items)
            applied.append(Mutation("reordered", _pointer(site.path)))
    return work, applied


def _drop(work: Any, validator: SchemaValidator, site: _Site) -> Mutation | None:
    parent: dict[str, Any] = site.parent
    items = list(parent.items())
    old = parent.pop(str(site.key))
    if validator.is_valid(work):
        return Mutation("dropped", _pointer(site.path), f"was {_describe(old)}")
    parent.clear()
    parent.update(items)
    return None


def _replace(
    work: Any, validator: SchemaValidator, site: _Site, rng: random.Random
) -> Mutation | None:
    parent = site.parent
    assert site.key is not None
    old = parent[site.key]
    options = _candidates(site.node, old)
    if not options:
        return None
    name, new = options[rng.randrange(len(options))]
    parent[site.key] = new
    if validator.is_valid(work):
        return Mutation("value", _pointer(site.path), f"{name} {_describe(new)}")
    parent[site.key] = old
    return None


def _extend(
    work: Any, validator: SchemaValidator, site: _Site, rng: random.Random
) -> Mutation | None:
    parent: dict[str, Any] = site.parent
    free = [(name, value) for name, value in EXTRA_FIELDS if name not in parent]
    if not free:
        return None
    name, value = free[rng.randrange(len(free))]
    parent[name] = _copy(value)
    if validator.is_valid(work):
        return Mutation("extra_field", _pointer((*site.path, name)), _describe(value))
    del parent[name]
    return None
