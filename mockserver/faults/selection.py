"""Which fault scenario a call gets, and what it asks of the adapter and the error path.

Pure (no Starlette): the HTTP layer calls :func:`select_scenario` once per
provider call, puts :func:`plan_overrides` on the request for the adapter
and raises :func:`forced_error` through its one error path; it applies the
response effects (delay, drop, broken body) itself.

The precedence the README states, strongest first: the request's ``Prefer``
header (``code=429``, ``scenario=job_failed``, ``delay=2``), an entry queued
with ``POST /_mock/scenarios`` that matches the call, a magic API key
``scenario-<name>``, a prompt marker ``[mock:<name>]`` (later markers over
earlier ones). :func:`~mockserver.faults.effects.combine` lets the later
scenario win, so the sources are combined weakest first.

Effects on the job (fail, stick, sync timeout) and on its webhooks
(refused, timeout, duplicate) travel to the adapter on the request itself
(``WireRequest.scenario_overrides``), set before the handler runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from mockserver.contracts import ProviderContract, resolve_pointer
from mockserver.domain.errors import MockError
from mockserver.faults.effects import Scenario, combine
from mockserver.faults.magic import MAGIC_KEY_PREFIX, scenario_from_magic
from mockserver.faults.prefer import parse_prefer
from mockserver.faults.queue import ScenarioQueue
from mockserver.providers.base import WireRequest

__all__ = [
    "NO_OVERRIDES",
    "forced_error",
    "plan_overrides",
    "request_facts",
    "select_scenario",
]

#: Scenario-job keys the adapters read from ``job.effects`` or Plan fields.
_WEBHOOK_FLAGS = ("refused", "timeout", "duplicate", "out_of_order")
#: The overrides of a call without a scenario (shared: nobody writes to it).
NO_OVERRIDES: Mapping[str, Any] = MappingProxyType({})


def request_facts(
    contract: ProviderContract, request: WireRequest, endpoint: str
) -> tuple[str | None, str | None, Any]:
    """The API key, model id and parsed JSON body of a call (each None when absent).

    Read leniently: a request that the handler will refuse (no key, bad JSON)
    simply matches fewer scenarios here.
    """
    key = request.api_key(contract.spec.auth)
    body: Any = None
    if request.body:
        try:
            body = request.parsed_body()  # parsed once; the handler reuses it
        except (UnicodeDecodeError, ValueError):
            body = None
    model: str | None = None
    known = contract.spec.endpoints.get(endpoint)
    spec = known.model_id if known is not None else None
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
        key = request.api_key(contract.spec.auth)
        magic = None
        # is_magic_key, inlined: this runs on every poll.
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


def plan_overrides(scenario: Scenario | None) -> Mapping[str, Any]:
    """What a create under ``scenario`` asks of its job (``WireRequest.scenario_overrides``).

    Plan fields (``outcome``, ``failure``, ``stuck``) shape the lifecycle; the
    rest ride in ``job.effects`` (``sync_timeout``, ``webhook_*``,
    ``name``), where the service and the WaveSpeed adapter read them.
    """
    if scenario is None:
        return NO_OVERRIDES
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
    entry = contract.spec.errors.catalogue.get(str(status))
    message = (entry.message if entry is not None else None) or f"error {status}"
    return MockError(
        status,
        message,
        details=f"forced by the mock scenario {scenario.name!r}",
        rule="scenario",
        # A client that honours Retry-After must not wait long in a test.
        retry_after=1.0 if status in (429, 503) else None,
    )
