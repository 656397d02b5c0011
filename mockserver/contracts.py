"""Load the contracts once and compile their validators once.

Two kinds of contract live under :func:`contracts_root` (see ARCHITECTURE.md):

``<provider>/provider.yaml``
    hand-written wire facts (auth, endpoints, statuses, errors, webhook, limits,
    billing), every fact tagged with provenance. Every JSON Schema in it sits
    under a key named ``schema``; :meth:`ProviderContract.validator` compiles the
    one at a JSON pointer, e.g. ``/endpoints/poll/responses/200/by_status/success/schema``.
``<provider>/models/<slug>.json``
    generated model contracts; :class:`ModelContract` validates a request's
    model input against its ``input_schema`` and applies defaults.

This module is pure: it must not import starlette, httpx, respx or uvicorn
(``tests/test_layering.py``), so the domain and the adapters can use it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlsplit

import jsonschema.exceptions
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.protocols import Validator

from mockserver.provider_spec import ProviderSpec

__all__ = [
    "PROVIDER_REQUIRED_KEYS",
    "ContractError",
    "ContractSet",
    "InputError",
    "ModelContract",
    "ProviderContract",
    "clear_cache",
    "contracts_root",
    "json_type",
    "load_contracts",
    "load_provider_folder",
    "resolve_pointer",
    "sample_input",
    "schema_pointers",
]

#: Top-level keys every provider.yaml must have (ARCHITECTURE.md).
PROVIDER_REQUIRED_KEYS = (
    "provider",
    "base_url",
    "hosts",
    "auth",
    "endpoints",
    "statuses",
    "errors",
    "webhook",
    "rate_limits",
    "limits",
    "billing",
)
#: Keys every generated model contract must have.
MODEL_REQUIRED_KEYS = ("contract", "provider", "slug", "model_id", "input_schema")
#: Under these keys sit payloads (schemas, wire templates), not contract structure.
_OPAQUE_KEYS = frozenset({"schema", "template"})


class ContractError(Exception):
    """A contract file is missing, unreadable or inconsistent."""


def contracts_root() -> Path:
    """Where the contracts live.

    ``$MOCKSERVER_CONTRACTS`` if set, else ``<package>/_contracts`` (the copy a
    wheel install carries), else ``<repo>/contracts`` (a source checkout).
    """
    override = os.environ.get("MOCKSERVER_CONTRACTS")
    if override:
        return Path(override)
    package = Path(__file__).resolve().parent
    bundled = package / "_contracts"
    if bundled.is_dir():
        return bundled
    return package.parent / "contracts"


# --- format checking --------------------------------------------------------


_WHITESPACE = re.compile(r"\s")


def _is_uri(instance: object) -> bool:
    """RFC 3986 absolute URI, loosely: a scheme and something after it.

    jsonschema only checks ``uri`` when the optional ``rfc3987`` package is
    installed; we do not depend on it, so a small check of our own keeps the
    result the same on every install.
    """
    if not isinstance(instance, str):
        return True  # formats only constrain strings
    return _is_uri_text(instance)


@functools.lru_cache(maxsize=1024)
def _is_uri_text(instance: str) -> bool:
    # Cached: clients send the same few image URLs over and over, and
    # urlsplit costs more than the rest of a model's fast check.
    if _WHITESPACE.search(instance):
        return False
    try:
        parts = urlsplit(instance)
    except ValueError:  # "https://[zz]/a": brackets around something not an IP address
        return False
    if not parts.scheme or not parts.scheme[0].isalpha():
        return False
    if parts.scheme in {"http", "https"}:
        return bool(parts.netloc)
    return bool(parts.netloc or parts.path)


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("uri")(_is_uri)
    return checker


_FORMAT_CHECKER = _format_checker()


def _compile(schema: Mapping[str, Any]) -> Validator:
    """A Draft 2020-12 validator with format checking (schema already checked)."""
    validator: Validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
    return validator


# --- fast path ------------------------------------------------------------------
#
# jsonschema walks a schema through its general machinery on every call (evolve,
# descend, keyword lookups): ~100 us for a small model input. Most requests are
# valid, so each model's schema is also compiled once into plain Python closures
# that answer one question: "is this instance *certainly* valid?". True means
# jsonschema would report no error; False means "not sure" and the caller runs
# jsonschema, which finds the errors and words them. The closures cover the
# keywords the model contracts use; a schema with any other keyword gets no
# fast path (None) and always goes through jsonschema.

FastCheck = Callable[[object], bool]

#: Keywords that never affect validity.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples",
     "deprecated", "readOnly", "writeOnly", "x-file-url"}
)
_TYPE_CHECKS: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    # bool is an int in Python but not in JSON Schema; 5.0 is an integer there,
    # which this path leaves to jsonschema ("not sure").
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# The closures below loop explicitly: on a request path a plain for-loop is
# about twice as fast as all()/any() over a generator.


def _all_of(checks: list[FastCheck]) -> FastCheck:
    if not checks:
        return lambda _v: True
    if len(checks) == 1:
        return checks[0]
    every = tuple(checks)

    def check_all(v: object) -> bool:
        for check in every:  # noqa: SIM110 - a loop, for speed (see above)
            if not check(v):
                return False
        return True

    return check_all


def _type_check(names: list[str]) -> FastCheck:
    tests = tuple(_TYPE_CHECKS[n] for n in names)
    if len(tests) == 1:
        return tests[0]

    def check_any(v: object) -> bool:
        for test in tests:  # noqa: SIM110 - a loop, for speed (see above)
            if test(v):
                return True
        return False

    return check_any


def _enum_check(options: tuple[object, ...]) -> FastCheck:
    # Same Python type and equal: never a false "valid" (1 vs True, 1 vs 1.0).
    try:
        typed = frozenset((type(e), e) for e in options)
    except TypeError:  # an object or array option: compare one by one
        return lambda v: any(type(e) is type(v) and e == v for e in options)

    def check_enum(v: object) -> bool:
        try:
            return (type(v), v) in typed
        except TypeError:  # an unhashable instance equals no scalar option
            return False

    return check_enum


def _length_check(bound: int, *, most: bool) -> FastCheck:
    if most:
        return lambda v: not isinstance(v, str) or len(v) <= bound
    return lambda v: not isinstance(v, str) or len(v) >= bound


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, b: bool(v >= b),
    "maximum": lambda v, b: bool(v <= b),
    "exclusiveMinimum": lambda v, b: bool(v > b),
    "exclusiveMaximum": lambda v, b: bool(v < b),
}


def _bound_check(keyword: str, bound: object) -> FastCheck:
    compare = _COMPARISONS[keyword]
    return lambda v: not _is_number(v) or compare(v, bound)


def _multiple_check(step: int) -> FastCheck:
    # Integers only; a float instance is left to jsonschema's own arithmetic.
    return lambda v: not _is_number(v) or (isinstance(v, int) and v % step == 0)


def _required_check(names: tuple[str, ...]) -> FastCheck:
    def check_required(v: object) -> bool:
        if isinstance(v, dict):
            for name in names:
                if name not in v:
                    return False
        return True

    return check_required


def _properties_check(subs: dict[str, FastCheck]) -> FastCheck:
    def check_properties(v: object) -> bool:
        if isinstance(v, dict):
            for key, item in v.items():
                sub = subs.get(key)
                if sub is not None and not sub(item):
                    return False
        return True

    return check_properties


def _closed_check(known: frozenset[str]) -> FastCheck:
    return lambda v: not isinstance(v, dict) or known.issuperset(v)


def _fast_check(schema: object) -> FastCheck | None:
    """Closures equivalent to (or stricter than) ``schema``; None if it uses other keywords."""
    if schema is True:
        return lambda _v: True
    if not isinstance(schema, Mapping):
        return None
    checks: list[FastCheck] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "type":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not all(n in _TYPE_CHECKS for n in names):
                return None
            checks.append(_type_check(names))
        elif keyword == "enum":
            if not isinstance(value, list):
                return None
            checks.append(_enum_check(tuple(value)))
        elif keyword == "format":
            if value != "uri":
                return None
            checks.append(_is_uri)
        elif keyword in ("maxLength", "minLength"):
            if not isinstance(value, int) or isinstance(value, bool):
                return None
            checks.append(_length_check(value, most=keyword == "maxLength"))
        elif keyword in _COMPARISONS:
            if not _is_number(value):
                return None
            checks.append(_bound_check(keyword, value))
        elif keyword == "multipleOf":
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                return None
            checks.append(_multiple_check(value))
        elif keyword == "required":
            if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
                return None
            checks.append(_required_check(tuple(value)))
        elif keyword == "properties":
            if not isinstance(value, Mapping):
                return None
            subs: dict[str, FastCheck] = {}
            for name, sub in value.items():
                compiled = _fast_check(sub)
                if compiled is None:
                    return None
                subs[str(name)] = compiled
            checks.append(_properties_check(subs))
        elif keyword == "additionalProperties":
            if value is True:
                continue
            properties = schema.get("properties", {})
            if value is not False or not isinstance(properties, Mapping):
                return None
            checks.append(_closed_check(frozenset(str(k) for k in properties)))
        else:
            return None
    return _all_of(checks)


# --- JSON pointers ------------------------------------------------------------


def _pointer_parts(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise KeyError(f"JSON pointer must start with '/': {pointer!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def resolve_pointer(document: object, pointer: str) -> object:
    """The value at RFC 6901 ``pointer`` in ``document``; KeyError when absent."""
    node = document
    for part in _pointer_parts(pointer):
        if isinstance(node, Mapping):
            if part not in node:
                raise KeyError(f"{pointer!r}: no key {part!r}")
            node = node[part]
        elif isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError) as exc:
                raise KeyError(f"{pointer!r}: bad index {part!r}") from exc
        else:
            raise KeyError(f"{pointer!r}: cannot descend into {type(node).__name__}")
    return node


def schema_pointers(document: object, pointer: str = "") -> Iterator[str]:
    """JSON pointers of every value stored under a key named ``schema``.

    Does not descend into schemas or templates, so a property that happens to
    be called ``schema`` inside a JSON Schema is not mistaken for one.
    """
    if isinstance(document, Mapping):
        for key, value in document.items():
            here = f"{pointer}/{_escape(str(key))}"
            if key == "schema":
                yield here
            elif key not in _OPAQUE_KEYS:
                yield from schema_pointers(value, here)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from schema_pointers(value, f"{pointer}/{index}")


# --- model contracts ------------------------------------------------------------


@dataclass(frozen=True)
class InputError:
    """One violation of a model's input schema.

    ``path`` is dotted and relative to the model input (``"prompt"``,
    ``"images.0"``; empty for the input as a whole); ``rule`` is the JSON
    Schema keyword that failed (``required``, ``maxLength``, ``enum``, ...).
    For ``required`` and ``additionalProperties`` the path names the missing
    or unexpected field, which is what a client needs to see.
    """

    path: str
    rule: str
    message: str


def _dotted(parts: Iterator[str | int] | list[str | int]) -> str:
    return ".".join(str(p) for p in parts)


def _input_errors(error: jsonschema.exceptions.ValidationError) -> list[InputError]:
    """Turn one jsonschema error into InputErrors that name the field."""
    base = list(error.absolute_path)
    rule = str(error.validator)
    instance = error.instance
    if rule == "required" and isinstance(instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        names = [n for n in required if n not in instance]
        # jsonschema reports one error per missing name; pick the one it means.
        named = [n for n in names if repr(n) in error.message] or names[:1]
        return [
            InputError(_dotted([*base, n]), rule, f"{n} is required") for n in named
        ] or [InputError(_dotted(base), rule, error.message)]
    if rule == "additionalProperties" and isinstance(instance, Mapping):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        known = set(schema.get("properties", {}))
        extra = sorted(str(k) for k in instance if k not in known)
        if extra:
            return [InputError(_dotted([*base, k]), rule, f"{k} is not allowed") for k in extra]
    return [InputError(_dotted(base), rule, error.message)]


def _json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars); ~10x cheaper than deepcopy."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return copy.deepcopy(value)


_Fill = Callable[[dict[str, Any]], dict[str, Any]]


def _defaults_plan(schema: Mapping[str, Any]) -> _Fill:
    """A function returning a deep copy of a payload with ``schema``'s defaults filled in.

    Defaults of absent properties are added, recursively into nested objects;
    the schema is walked once here, not on every call.
    """
    defaults: list[tuple[str, Any, bool]] = []  # name, value, needs a copy
    nested_plans: list[tuple[str, _Fill]] = []
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, sub in properties.items():
            if not isinstance(sub, Mapping):
                continue
            if "default" in sub:
                default = sub["default"]
                defaults.append((name, default, type(default) not in _JSON_SCALARS))
            if isinstance(sub.get("properties"), Mapping):
                nested_plans.append((name, _defaults_plan(sub)))

    def fill(payload: dict[str, Any]) -> dict[str, Any]:
        result = {
            key: value if type(value) in _JSON_SCALARS else _json_copy(value)
            for key, value in payload.items()
        }
        for name, default, needs_copy in defaults:
            if name not in result:
                result[name] = _json_copy(default) if needs_copy else default
        for name, nested in nested_plans:
            value = result.get(name)
            if isinstance(value, dict):
                result[name] = nested(value)
        return result

    return fill


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def sample_input(schema: Mapping[str, Any], name: str, *, image: str, text: str) -> Any:
    """A value a required input accepts when a document's example lacks it: its
    default, else its first enum value, else the least number, ``False``, ``image``
    for a file or URL input, ``text`` for any other string (None for other types).

    The console's trigger, ``webhook send`` and drift's live probes fill examples
    with it; each passes its own image URL and text.
    """
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind not in (None, "string"):
        return None
    if schema.get("format") == "uri" or "x-file-url" in schema or "url" in name or (
        "image" in name
    ):
        return image
    return text


class ModelContract:
    """One generated model contract (``contracts/<provider>/models/<slug>.json``)."""

    provider: str
    slug: str
    model_id: str
    data: dict[str, Any]
    file_url_fields: tuple[str, ...]
    #: The pricing object (``kind: rules`` or ``table``), or None when unpriced.
    pricing: Mapping[str, Any] | None
    #: The document's processing time estimate (seconds), or None.
    estimated_processing_seconds: float | None
    #: The document's example request body (None when it has none).
    example_request: Any
    #: Whether the document has an example request at all.
    has_example_request: bool
    #: The path the document's example request is sent to, or None.
    example_request_path: str | None
    #: JSON pointer into this contract -> where that fact came from.
    provenance: Mapping[str, str]
    #: The provider document this contract was derived from (``source.path``), or None.
    source_path: str | None

    def __init__(self, data: dict[str, Any], *, origin: str = "<memory>") -> None:
        missing = [k for k in MODEL_REQUIRED_KEYS if k not in data]
        if missing:
            raise ContractError(f"{origin}: model contract lacks {', '.join(missing)}")
        if data["contract"] != "model":
            raise ContractError(f"{origin}: 'contract' must be 'model', got {data['contract']!r}")
        schema = data["input_schema"]
        if not isinstance(schema, dict):
            raise ContractError(f"{origin}: input_schema must be an object")
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as exc:
            raise ContractError(f"{origin}: invalid input_schema: {exc.message}") from exc
        self.provider = str(data["provider"])
        self.slug = str(data["slug"])
        self.model_id = str(data["model_id"])
        self.data = data
        pricing = data.get("pricing")
        self.pricing = pricing if isinstance(pricing, Mapping) else None
        estimate = data.get("estimated_processing_seconds")
        self.estimated_processing_seconds = None if estimate is None else float(estimate)
        self.example_request = data.get("example_request")
        self.has_example_request = "example_request" in data
        path = data.get("example_request_path")
        self.example_request_path = None if path is None else str(path)
        provenance = data.get("provenance")
        self.provenance = MappingProxyType(
            {str(k): str(v) for k, v in provenance.items()} if isinstance(provenance, Mapping)
            else {}
        )
        source = data.get("source")
        source_path = source.get("path") if isinstance(source, Mapping) else None
        self.source_path = None if source_path is None else str(source_path)
        self._schema: dict[str, Any] = schema
        self._validator = _compile(schema)
        #: Plain-Python "certainly valid" check, or None (see _fast_check).
        self._fast = _fast_check(schema)
        self._fill_defaults = _defaults_plan(schema)
        self.file_url_fields = tuple(
            sorted(
                name
                for name, sub in schema.get("properties", {}).items()
                if isinstance(sub, Mapping) and ("x-file-url" in sub or sub.get("format") == "uri")
            )
        )

    def __repr__(self) -> str:
        return f"ModelContract({self.provider!r}, {self.model_id!r})"

    @property
    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the model input."""
        return self._schema

    def validate_input(self, payload: object) -> list[InputError]:
        """Every violation of the input schema, sorted by (path, rule, message)."""
        if self._fast is not None and self._fast(payload):
            return []  # certainly valid: jsonschema would find nothing
        errors: list[InputError] = []
        for error in self._validator.iter_errors(cast(Any, payload)):
            errors.extend(_input_errors(error))
        return sorted(set(errors), key=lambda e: (e.path, e.rule, e.message))

    def with_defaults(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``payload`` with the schema's defaults for absent fields."""
        return self._fill_defaults(payload)


# --- provider contracts -------------------------------------------------------


class ProviderContract:
    """One provider's hand-written contract plus its model contracts."""

    name: str
    data: dict[str, Any]
    spec: ProviderSpec
    models: Mapping[str, ModelContract]

    def __init__(
        self,
        data: dict[str, Any],
        models: Mapping[str, ModelContract] | None = None,
        *,
        origin: str = "<memory>",
    ) -> None:
        missing = [k for k in PROVIDER_REQUIRED_KEYS if k not in data]
        if missing:
            raise ContractError(f"{origin}: provider contract lacks {', '.join(missing)}")
        endpoints = data["endpoints"]
        if not isinstance(endpoints, Mapping) or not endpoints:
            raise ContractError(f"{origin}: 'endpoints' must be a non-empty mapping")
        for name, endpoint in endpoints.items():
            for key in ("method", "paths", "responses"):
                if not isinstance(endpoint, Mapping) or key not in endpoint:
                    raise ContractError(f"{origin}: endpoint {name!r} lacks {key!r}")
        self.name = str(data["provider"])
        self.data = data
        #: The contract as typed objects, built once (what code reads).
        self.spec = ProviderSpec.of(data)
        self.models = MappingProxyType(dict(models or {}))
        self._lock = threading.Lock()
        self._validators: dict[str, Validator] = {}
        # Check and compile every schema now: a broken contract fails at load,
        # and no request pays for compilation later.
        for pointer in schema_pointers(data):
            schema = resolve_pointer(data, pointer)
            if not isinstance(schema, (dict, bool)):
                raise ContractError(f"{origin}{pointer}: a schema must be an object")
            try:
                Draft202012Validator.check_schema(schema)
            except jsonschema.exceptions.SchemaError as exc:
                where = "/".join(str(p) for p in exc.path)
                raise ContractError(
                    f"{origin}{pointer}: invalid JSON Schema at {where or '(root)'}: {exc.message}"
                ) from exc
            self._validators[pointer] = _compile(schema) if isinstance(schema, dict) else (
                Draft202012Validator(schema)
            )

    def __repr__(self) -> str:
        return f"ProviderContract({self.name!r}, models={sorted(self.models)!r})"

    def model(self, model_id: str) -> ModelContract | None:
        """The model a client selects with ``model_id``, or None."""
        return self.models.get(model_id)

    def model_by_slug(self, slug: str) -> ModelContract | None:
        """The model whose contract file is ``models/<slug>.json``, or None."""
        return next((m for m in self.models.values() if m.slug == slug), None)

    def at(self, pointer: str) -> Any:
        """The value at a JSON pointer into provider.yaml (KeyError when absent)."""
        return resolve_pointer(self.data, pointer)

    def schema_pointers(self) -> tuple[str, ...]:
        """Pointers of every schema in provider.yaml, in document order."""
        return tuple(self._validators)

    def validator(self, pointer: str) -> Validator:
        """The compiled validator of the schema at ``pointer`` (cached)."""
        found = self._validators.get(pointer)
        if found is not None:
            return found
        schema = resolve_pointer(self.data, pointer)
        if not isinstance(schema, dict):
            raise KeyError(f"{self.name}: no schema object at {pointer!r}")
        Draft202012Validator.check_schema(schema)
        with self._lock:
            return self._validators.setdefault(pointer, _compile(schema))

    def validate(self, pointer: str, instance: object) -> list[str]:
        """Human-readable violations of the schema at ``pointer``; empty when valid."""
        messages = []
        for error in self.validator(pointer).iter_errors(cast(Any, instance)):
            where = "/".join(str(p) for p in error.absolute_path)
            messages.append(f"{where or '(root)'}: {error.message}")
        return sorted(messages)

    def neutral_of(self, word: str) -> str | None:
        """Neutral state of a wire status word, or None for an unknown word."""
        return self.spec.statuses.neutral_of(word)

    def status_words(self, neutral: str) -> tuple[str, ...]:
        """Wire words emitted for ``neutral``, in phase order (empty if none)."""
        return self.spec.statuses.words_for(neutral)


@dataclass(frozen=True)
class ContractSet:
    """All providers found under one contracts root."""

    providers: Mapping[str, ProviderContract]
    root: Path | None = field(default=None, compare=False)

    def provider(self, name: str) -> ProviderContract:
        """The named provider; ContractError when there is none."""
        try:
            return self.providers[name]
        except KeyError:
            known = ", ".join(sorted(self.providers)) or "none"
            raise ContractError(f"no provider contract {name!r} (known: {known})") from None


# --- loading ------------------------------------------------------------------

_CACHE: dict[Path, ContractSet] = {}
_FOLDER_CACHE: dict[Path, ProviderContract] = {}
_CACHE_LOCK = threading.Lock()


def _read_provider_file(folder: Path) -> tuple[dict[str, Any], str] | None:
    for name in ("provider.yaml", "provider.yml", "provider.json"):
        path = folder / name
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
                data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
            except (OSError, ValueError, yaml.YAMLError) as exc:
                raise ContractError(f"{path}: cannot read: {exc}") from exc
            if not isinstance(data, dict):
                raise ContractError(f"{path}: top level must be a mapping")
            return data, str(path)
    return None


def _read_models(folder: Path, provider: str) -> dict[str, ModelContract]:
    models: dict[str, ModelContract] = {}
    directory = folder / "models"
    if not directory.is_dir():
        return models  # the deriver has not written any yet: zero models is fine
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ContractError(f"{path}: cannot read: {exc}") from exc
        if not isinstance(data, dict):
            raise ContractError(f"{path}: top level must be an object")
        model = ModelContract(data, origin=str(path))
        if model.provider != provider:
            raise ContractError(f"{path}: provider {model.provider!r} in folder {provider!r}")
        if model.model_id in models:
            raise ContractError(f"{path}: duplicate model_id {model.model_id!r}")
        models[model.model_id] = model
    return models


def load_provider_folder(folder: Path) -> ProviderContract:
    """The provider contract in one folder (``provider.yaml`` plus ``models/``), once per folder.

    For a provider kept outside the contracts root (a provider kit's own
    ``contracts`` folder); ContractError when the folder has no provider file.
    """
    resolved = folder.resolve()
    with _CACHE_LOCK:
        cached = _FOLDER_CACHE.get(resolved)
        if cached is None:
            found = _read_provider_file(resolved)
            if found is None:
                raise ContractError(f"{folder}: no provider.yaml")
            data, origin = found
            name = str(data.get("provider"))
            cached = _FOLDER_CACHE[resolved] = ProviderContract(
                data, _read_models(resolved, name), origin=origin
            )
        return cached


def _load(root: Path) -> ContractSet:
    if not root.is_dir():
        raise ContractError(f"contracts root {root} is not a directory")
    providers: dict[str, ProviderContract] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        found = _read_provider_file(folder)
        if found is None:
            continue  # e.g. sources/
        data, origin = found
        if data.get("provider") != folder.name:
            raise ContractError(
                f"{origin}: 'provider' is {data.get('provider')!r}, folder is {folder.name!r}"
            )
        providers[folder.name] = ProviderContract(
            data, _read_models(folder, folder.name), origin=origin
        )
    if not providers:
        raise ContractError(f"no provider contracts under {root}")
    return ContractSet(MappingProxyType(providers), root)




def load_contracts(root: Path | None = None) -> ContractSet:
    """Load (once per root) every provider contract and model contract under ``root``.

    ``root`` defaults to :func:`contracts_root`. Raises :class:`ContractError`
    with the file and JSON pointer when something is missing or a schema is
    invalid. Later calls with the same root return the same object.
    """
    resolved = (root if root is not None else contracts_root()).resolve()
    with _CACHE_LOCK:
        cached = _CACHE.get(resolved)
        if cached is None:
            cached = _CACHE[resolved] = _load(resolved)
        return cached


def clear_cache() -> None:
    """Forget loaded contracts (tests that rewrite contract files call this)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _FOLDER_CACHE.clear()


def json_type(value: Any) -> str:
    """The JSON Schema type name of a Python value decoded from JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
