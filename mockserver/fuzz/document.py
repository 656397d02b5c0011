"""The OpenAPI document the fuzzer loads: ``build_openapi`` plus fuzz-only facts.

:func:`mockserver.openapi.build_openapi` describes what the contracts say; a
few facts the contracts hold are not expressible in its JSON Schemas yet, and
schemathesis needs them to fuzz without false alarms. This module adds them to
a copy of the document, never to the exported one:

- **links** from every create operation's 200 response to the poll (and
  cancel) operations, with the job id's JSON pointer in the create response,
  so schemathesis' stateful phase walks the create -> poll chain explicitly
  instead of guessing it;
- **file-URL fields** (``x-file-url: {schemes: [https], public: true}``) get a
  pattern: HTTPS and a host name with an alphabetic top-level domain, which is
  what the providers (and the mock's ``public_https_problem``) accept; without
  it schemathesis sends ``http://`` or IP-literal URLs as "valid" data;
- **webhook URLs** are pinned to :data:`WEBHOOK_SINK`, a host under the
  reserved ``.invalid`` TLD (RFC 2606) that never resolves, so a fuzzed create
  can never make a provider (or a served mock) deliver to a random host.

It also knows which operations cost money (:func:`create_operations`) so the
runner can drop them for a real API without ``--allow-spend``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mockserver.contracts import ProviderContract

__all__ = [
    "FILE_URL_FORMAT",
    "FILE_URL_PATTERN",
    "WEBHOOK_SINK",
    "create_operations",
    "fuzz_document",
    "job_id_pointer",
    "register_formats",
    "without_operations",
]

#: Where fuzzed creates ask for their webhook: reserved TLD, never resolves.
WEBHOOK_SINK = "https://webhook.genmock.invalid/fuzz"

#: HTTPS with a dotted host name ending in letters (no IP literal, no bare
#: ``localhost``): the public-URL rule of the contracts in regex form. The
#: mock also refuses ``.local``/``.internal`` names; the negative lookahead
#: keeps generated hosts off them.
FILE_URL_PATTERN = (
    r"^https://(?!localhost\b)[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
    r"(\.[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?)*\.(com|org|net|io|ai|dev)(/[A-Za-z0-9._~-]{0,30})*$"
)

#: Custom string format of public HTTPS file URLs (see :func:`register_formats`).
FILE_URL_FORMAT = "genmock-public-https-url"

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_PATH_PARAM = re.compile(r"\{([^}/]+)\}")


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                yield path, method, item[method]


def _tag(operation: Mapping[str, Any]) -> str:
    tags = operation.get("tags") or [""]
    return str(tags[0])


def create_operations(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(METHOD, path)`` of every operation that creates a (billed) job."""
    return sorted(
        (method.upper(), path)
        for path, method, operation in _operations(document)
        if _tag(operation) == "create"
    )


def without_operations(document: dict[str, Any], tag: str) -> dict[str, Any]:
    """A copy of ``document`` without the operations tagged ``tag`` (and empty paths)."""
    result = copy.deepcopy(document)
    for path in list(result.get("paths", {})):
        item = result["paths"][path]
        for method in _METHODS:
            if method in item and _tag(item[method]) == tag:
                del item[method]
        if not any(method in item for method in _METHODS):
            del result["paths"][path]
    return result


def _pointer_to(value: Any, wanted: str, prefix: str = "") -> str | None:
    """JSON pointer of the first string equal to ``wanted`` inside a template."""
    if isinstance(value, str):
        return prefix if value == wanted else None
    if isinstance(value, Mapping):
        for key in sorted(value):
            found = _pointer_to(value[key], wanted, f"{prefix}/{key}")
            if found is not None:
                return found
    return None


def _id_property(schema: Mapping[str, Any], prefix: str = "") -> str | None:
    """Pointer of the job-id property in a response schema (``id``, ``taskId``...)."""
    properties = schema.get("properties") or {}
    for name in sorted(properties):
        lowered = name.lower()
        if lowered in ("id", "taskid", "predictionid", "jobid", "requestid"):
            return f"{prefix}/{name}"
    for name in sorted(properties):
        sub = properties[name]
        if isinstance(sub, Mapping) and sub.get("type") == "object":
            found = _id_property(sub, f"{prefix}/{name}")
            if found is not None:
                return found
    return None


def job_id_pointer(contract: ProviderContract) -> str | None:
    """Where a create response carries the new job's id, as a JSON pointer.

    The create response template says it when it has one (``"{id}"``);
    otherwise the success schema's id-like property is used (WaveSpeed's
    ``/data/id``).
    """
    response = contract.spec.endpoints["create"].responses.get("200", {})
    template = response.get("template")
    if template is not None:
        found = _pointer_to(template, "{id}")
        if found is not None:
            return found
    schema = response.get("schema")
    if isinstance(schema, Mapping):
        return _id_property(schema)
    return None


def _id_parameter(contract: ProviderContract, endpoint: str, path: str) -> tuple[str, str] | None:
    """``(location, name)`` of the job-id parameter of a poll/cancel operation."""
    section = contract.spec.endpoints.get(endpoint)
    job_id = section.job_id if section is not None else None
    if job_id is not None and job_id.get("in") == "query":
        return "query", str(job_id["name"])
    params = _PATH_PARAM.findall(path)
    if params:
        return "path", params[0]
    return None


def _add_links(document: dict[str, Any], contract: ProviderContract) -> None:
    pointer = job_id_pointer(contract)
    if pointer is None:
        return
    targets: list[tuple[str, str]] = []
    for path, _method, operation in _operations(document):
        tag = _tag(operation)
        if tag in ("poll", "cancel"):
            parameter = _id_parameter(contract, tag, path)
            if parameter is not None:
                location, name = parameter
                targets.append((str(operation["operationId"]), f"{location}.{name}"))
    for _path, _method, operation in _operations(document):
        if _tag(operation) != "create" or "200" not in operation.get("responses", {}):
            continue
        response = operation["responses"]["200"]
        links = response.setdefault("links", {})
        for operation_id, expression in sorted(targets):
            links[f"{operation_id}ById"] = {
                "operationId": operation_id,
                "parameters": {expression: f"$response.body#{pointer}"},
                "description": "the job the create returned",
            }


def _walk_schemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_schemas(value)


def _pin_file_urls(document: dict[str, Any]) -> None:
    for schema in _walk_schemas(document.get("components", {}).get("schemas", {})):
        rule = schema.get("x-file-url")
        if isinstance(rule, Mapping) and list(rule.get("schemes", [])) == ["https"]:
            # The pattern is what validates (and keeps values harvested from
            # responses, such as the mock's own http:// URLs, out of "valid"
            # data); the format's registered strategy is what generates, since
            # drawing from the regex and filtering by ``uri`` is 3x slower.
            schema["pattern"] = FILE_URL_PATTERN
            schema["format"] = FILE_URL_FORMAT


def _pin_webhooks(document: dict[str, Any], contract: ProviderContract) -> None:
    body_fields: set[str] = set()
    query_names: set[str] = set()
    for registration in contract.spec.webhook.registration:
        if registration.role == "secret":
            continue
        if registration.location == "body":
            body_fields.add(str(registration.field))
        elif registration.location == "query":
            query_names.add(str(registration.name))
    sink = {"type": "string", "const": WEBHOOK_SINK}
    for _path, _method, operation in _operations(document):
        if _tag(operation) != "create":
            continue
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and parameter.get("name") in query_names:
                parameter["schema"] = dict(sink)
        for schema in _walk_schemas(operation.get("requestBody", {})):
            properties = schema.get("properties")
            if isinstance(properties, dict):
                for name in body_fields & set(properties):
                    properties[name] = dict(sink)


def fuzz_document(document: Mapping[str, Any], contract: ProviderContract) -> dict[str, Any]:
    """A copy of ``document`` (from ``build_openapi``) with the fuzz-only facts added."""
    result = copy.deepcopy(dict(document))
    _add_links(result, contract)
    _pin_file_urls(result)
    _pin_webhooks(result, contract)
    return result


def register_formats() -> None:
    """Register :data:`FILE_URL_FORMAT` with schemathesis (idempotent; global registry).

    Hosts are drawn from reserved example domains (RFC 2606) and a handful of
    path segments, so every value is public HTTPS by the contracts' rule and
    none points at anything real.
    """
    import schemathesis
    from hypothesis import strategies as st

    hosts = st.sampled_from(
        ["example.com", "cdn.example.org", "media.example.net", "files.example.com"]
    )
    segment = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)
    paths = st.lists(segment, max_size=3).map(lambda parts: "".join("/" + p for p in parts))
    strategy = st.builds(lambda host, path: f"https://{host}{path}", hosts, paths)
    schemathesis.openapi.format(FILE_URL_FORMAT, strategy.filter(
        lambda url: re.match(FILE_URL_PATTERN, url) is not None
    ))
