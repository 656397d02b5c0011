"""Which fault scenario applies to a request, and what it does to the response.

The faults module (pure) defines scenarios and parses their sources; this
module applies the order DESIGN.md fixes, strongest last so it wins in
:func:`~mockserver.domain.faults.combine`:

1. prompt markers ``[mock:<name>]``, then a magic API key ``scenario-<name>`` over them;
2. an entry queued with ``POST /_mock/scenarios`` that matches the call;
3. the request's ``Prefer`` header (``code=429``, ``scenario=job_failed``, ``delay=2``).

Effects on the job (fail, stick, sync timeout) and on its webhooks
(refused, timeout, duplicate) travel to the adapter as plan overrides
through its ``scenarios`` hook; effects on the response (a forced code, a
delay, a dropped connection, a malformed or truncated body) are applied here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mockserver.contracts import ProviderContract, resolve_pointer
from mockserver.domain.errors import MockError
from mockserver.domain.faults import (
    MAGIC_KEY_PREFIX,
    Scenario,
    ScenarioQueue,
    combine,
    parse_prefer,
    scenario_from_magic,
)
from mockserver.providers.base import WireRequest, WireResponse

__all__ = [
    "ConnectionDropped",
    "corrupt",
    "forced_error",
    "plan_overrides",
    "request_facts",
    "select_scenario",
]

#: Scenario-job keys the adapters read from ``job.extra["scenario"]`` or Plan fields.
_WEBHOOK_FLAGS = ("refused", "timeout", "duplicate", "out_of_order")


class ConnectionDropped(Exception):
    """Raised out of the app so the server drops the connection: before the status line
    (``drop_connection``; the server protocol closes it) or after the headers
    (``drop_after_headers``)."""


def request_facts(
    contract: ProviderContract, request: WireRequest, endpoint: str
) -> tuple[str | None, str | None, Any]:
    """The API key, model id and parsed JSON body of a call (each None when absent).

    Read leniently: a request that the handler will refuse (no key, bad JSON)
    simply matches fewer scenarios here.
    """
    key = request.api_key(contract.data.get("auth", {}).get("schemes", ()))
    body: Any = None
    if request.body:
        try:
            body = request.parsed_body()  # parsed once; the handler reuses it
        except (UnicodeDecodeError, ValueError):
            body = None
    model: str | None = None
    spec = contract.data.get("endpoints", {}).get(endpoint, {}).get("model_id")
    if isinstance(spec, Mapping):
        if spec.get("in") == "path":
            model = request.path_params.get(str(spec.get("param", "model_id")))
        elif spec.get("in") == "body" and body is not None:
            try:
                value = resolve_pointer(body, str(spec.get("pointer", "/model")))
            except KeyError:
                value = None
            model = value if isinstance(value, str) else None
    return key, model, body


def select_scenario(
    contract: ProviderContract,
    queue: ScenarioQueue,
    request: WireRequest,
    endpoint: str,
) -> Scenario | None:
    """The scenario for this call (ScenarioError, a 400, for a bad Prefer or magic value)."""
    header = request.headers.get("prefer")
    if not queue and (endpoint != "create" or not _may_hold_marker(request.body)):
        # Fast path (every poll, and every create without a marker, while
        # nothing is queued): without queued entries to match, neither the
        # model nor the body matters; only a magic key can select a scenario
        # (prompt markers count on creates only), or a Prefer.
        preference = parse_prefer(header, queue.registry) if header is not None else None
        key = request.api_key(contract.data.get("auth", {}).get("schemes", ()))
        magic = None
        if key is not None and key[: len(MAGIC_KEY_PREFIX)].lower() == MAGIC_KEY_PREFIX:
            magic = scenario_from_magic(key, None, queue.registry)
        return magic if preference is None else combine(magic, preference.effective())
    preference = parse_prefer(header, queue.registry)
    key, model, body = request_facts(contract, request, endpoint)
    queued = queue.take(contract.name, endpoint, model, key)
    inputs = body if endpoint == "create" and isinstance(body, Mapping) else None
    magic = scenario_from_magic(key, inputs, queue.registry)
    return combine(magic, queued, preference.effective())


def _may_hold_marker(body: bytes) -> bool:
    """Whether a raw JSON body could hold a prompt marker ``[mock:...]``.

    A plain byte search instead of walking every string of the parsed body;
    a ``\\u`` escape could spell the marker in other bytes, so such a body
    takes the full path.
    """
    return b"[mock:" in body or b"\\u" in body


def plan_overrides(scenario: Scenario | None) -> dict[str, Any]:
    """What the adapter's ``scenarios`` hook returns for a create under ``scenario``.

    Plan fields (``outcome``, ``failure``, ``stuck``) shape the lifecycle; the
    rest ride in ``job.extra["scenario"]`` (``sync_timeout``, ``webhook_*``,
    ``name``), where the service and the WaveSpeed adapter read them.
    """
    if scenario is None:
        return {}
    job, hooks = scenario.job, scenario.webhook
    overrides: dict[str, Any] = {"name": scenario.name}
    if job.outcome == "failed":
        overrides["outcome"] = "failed"
        if job.failure is not None:
            overrides["failure"] = job.failure
    if job.stuck:
        overrides["stuck"] = True
    if job.sync_timeout:
        overrides["sync_timeout"] = True
    if job.output_expired:
        overrides["output_expired"] = True
    for flag in _WEBHOOK_FLAGS:
        if getattr(hooks, flag):
            overrides[f"webhook_{flag}"] = True
    return overrides


def forced_error(scenario: Scenario, contract: ProviderContract) -> MockError | None:
    """The error a scenario forces instead of the handler's answer, if any."""
    status = scenario.response.status
    if status is None:
        return None
    catalogue = contract.data.get("errors", {}).get("catalogue", {}).get(str(status), {})
    message = str(catalogue.get("message") or f"error {status}")
    return MockError(
        status,
        message,
        details=f"forced by the mock scenario {scenario.name!r}",
        rule="scenario",
        # A client that honours Retry-After must not wait long in a test.
        retry_after=1.0 if status in (429, 503) else None,
    )


def corrupt(scenario: Scenario | None, response: WireResponse, body: bytes) -> WireResponse:
    """The response with a malformed or truncated body, when the scenario asks."""
    if scenario is None:
        return response
    effect = scenario.response
    if effect.malformed_body:
        return replace(response, raw=b'{"status": <not json>' + body[:32], schema=None)
    if effect.truncated_body:
        return replace(response, raw=body[: max(1, len(body) // 2)], schema=None)
    return response
