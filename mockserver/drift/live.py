"""Live drift: ``mockserver drift live --provider P [--base-url URL] --api-key-env VAR``.

Free probes first: calls that cannot start a paid job, each with the
situation it provokes and the error the contract gives that situation
(``errors.cases`` and per-endpoint overrides such as Apikley's ``poll.unknown_job``):

============== ================================================ ===============
probe          call                                             needs the key
============== ================================================ ===============
missing_auth   poll an unknown id with no credentials           no
invalid_auth   poll an unknown id with a bogus key              no
unknown_job    poll an unknown id                               yes
validation     create with an input that breaks the model schema yes
unknown_model  create for a model that does not exist           yes
balance        read the balance/credits (when the contract has one) yes
============== ================================================ ===============

Every response goes through the ``exchange`` rules: HTTP status and error
transport (status vs code in a 200 body), envelope schema, status words.

``--spend-limit AMOUNT`` opts in to ONE real job: the cheapest configuration
of the cheapest model (priced with :mod:`mockserver.domain.billing` from the
contract's pricing), refused when it costs more than the limit (the price is
printed, nothing is sent). The create response, every poll (each status word
must be in the contract's vocabulary) and, with ``--webhook-url``, the
webhook delivery are checked. Every loop is bounded: polls by
``--poll-timeout`` (and a maximum count), the webhook wait by
``--webhook-timeout``.

The API key is only ever put in a request header; it is registered with the
:class:`~.redact.Redactor` that masks every rendered report.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from mockserver.contracts import (
    ContractError,
    ModelContract,
    ProviderContract,
    load_contracts,
    sample_input,
)
from mockserver.domain.billing import BillingPolicy, PricingError, Quote, format_amount
from mockserver.drift.context import Exchange, ExchangeContext, Where
from mockserver.drift.exchange import check, parse_body
from mockserver.drift.findings import Report
from mockserver.drift.receiver import Delivery, Receiver
from mockserver.drift.redact import Redactor
from mockserver.drift.rules import RULES, Hit, rule
from mockserver.progress import Progress

__all__ = ["LiveOptions", "Plan", "cheapest_plan", "run_live"]

#: An id no provider has issued (a v4 UUID of zeros).
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
#: Sent as the key of the invalid_auth probe; the mock treats ``invalid…`` keys as invalid.
BOGUS_KEY = "invalid-drift-probe-key"
#: Value put in an enum input to make the validation probe fail.
INVALID_VALUE = "drift-probe-invalid-value"
#: Stand-in for a required file input when the model's example has none.
SAMPLE_IMAGE = (
    "https://upload.wikimedia.org/wikipedia/commons/4/47/PNG_transparency_demonstration_1.png"
)
#: Stand-in for a required text input the model's example lacks.
SAMPLE_PROMPT = "A calm lake at sunrise, gentle camera pan (drift check)"
#: Configurations priced at most (a cartesian product can grow fast).
MAX_CONFIGURATIONS = 512


@dataclass(frozen=True)
class LiveOptions:
    """What ``drift live`` was asked to do."""

    provider: str
    base_url: str | None = None
    api_key: str | None = None
    spend_limit: str | None = None
    model: str | None = None
    webhook_url: str | None = None
    webhook_listen: str | None = None
    poll_timeout: float = 600.0
    poll_interval: float = 5.0
    webhook_timeout: float = 60.0
    timeout: float = 30.0


@dataclass(frozen=True)
class Plan:
    """The one paid job: which model, which inputs, what it costs."""

    model: ModelContract
    inputs: dict[str, Any]
    quote: Quote
    #: The inputs the price depends on (resolution, duration...).
    priced_by: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# Job-level rules (what a whole paid job showed, not one exchange)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRun:
    """Context of the ``job`` rules: what polling and the webhook showed."""

    where: Where
    words: tuple[str, ...]
    finished: bool
    poll_timeout: float
    webhook_expected: bool
    webhook_checked: bool
    deliveries: int
    webhook_timeout: float


@rule("job-not-finished", "behaviour", "job", "the paid job did not finish within --poll-timeout")
def _job_not_finished(run: JobRun) -> Iterator[Hit]:
    if not run.finished:
        yield Hit(
            "",
            "a terminal status word",
            list(run.words),
            f"no terminal status within {run.poll_timeout:g} s (seen: {', '.join(run.words)})",
        )


@rule("webhook-not-delivered", "breaking", "job", "no webhook arrived for a finished job")
def _webhook_not_delivered(run: JobRun) -> Iterator[Hit]:
    if run.webhook_expected and run.webhook_checked and run.deliveries == 0:
        yield Hit(
            "",
            "one delivery",
            0,
            f"the job finished but no webhook arrived within {run.webhook_timeout:g} s",
        )


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------


def _auth_headers(contract: ProviderContract, key: str | None) -> dict[str, str]:
    """Credentials the way the contract's first auth scheme sends them."""
    if key is None:
        return {}
    header, value = contract.spec.auth_header(key)
    return {header: value}


def _fill(path: str, values: Mapping[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _poll_request(contract: ProviderContract, job_id: str) -> tuple[str, dict[str, str]]:
    """(path, query) of a poll for ``job_id``."""
    poll = contract.spec.endpoints["poll"]
    selector = poll.job_id or {}
    path = poll.paths[0]
    if selector.get("in") == "query":
        return path, {str(selector["name"]): job_id}
    return _fill(path, {"id": job_id}), {}


def _create_request(
    contract: ProviderContract, model_id: str, inputs: Mapping[str, Any], webhook: str | None
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(path, query, body) of a create for ``model_id`` with ``inputs``."""
    create = contract.spec.endpoints["create"]
    selector = create.model_id or {}
    pointer = create.model_input_pointer
    body: dict[str, Any] = dict(inputs) if pointer == "" else {}
    if pointer:
        body[pointer.lstrip("/")] = dict(inputs)
    path = create.paths[0]
    if selector.get("in") == "path":
        path = _fill(path, {str(selector.get("param", "model_id")): model_id})
    else:
        body[str(selector.get("pointer", "/model")).lstrip("/")] = model_id
    query: dict[str, str] = {}
    if webhook:
        registration = next(iter(contract.spec.webhook.registration), None)
        if registration is not None and registration.location == "query":
            query[str(registration.name)] = webhook
        elif registration is not None and registration.field:
            body[registration.field] = webhook
    return path, query, body


def _exchange(response: httpx.Response, path: str) -> Exchange:
    body, is_json = parse_body(response.content, response.headers.get("content-type", ""))
    request = response.request
    return Exchange(
        method=request.method,
        path=path,
        query=dict(request.url.params),
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        body=body,
        body_is_json=is_json,
    )


# ---------------------------------------------------------------------------
# The cheapest configuration
# ---------------------------------------------------------------------------


def _example_input(contract: ProviderContract, model: ModelContract) -> dict[str, Any]:
    example = model.example_request or {}
    create = contract.spec.endpoints["create"]
    pointer = create.model_input_pointer
    if pointer:
        found = example.get(pointer.lstrip("/"), {}) if isinstance(example, Mapping) else {}
        return dict(found) if isinstance(found, Mapping) else {}
    transport = set(create.transport_fields)
    return {k: v for k, v in dict(example).items() if k not in transport}


def valid_input(contract: ProviderContract, model: ModelContract) -> dict[str, Any]:
    """The document's example input, with required fields it lacks filled in."""
    inputs = _example_input(contract, model)
    properties = model.input_schema.get("properties") or {}
    urls = [v for v in inputs.values() if isinstance(v, str) and v.startswith("https://")]
    for name in model.input_schema.get("required") or ():
        if name not in inputs and isinstance(properties.get(name), Mapping):
            inputs[name] = sample_input(properties[name], name,
                                        image=urls[0] if urls else SAMPLE_IMAGE,
                                        text=SAMPLE_PROMPT)
    return inputs


def _pricing_fields(pricing: Mapping[str, Any] | None) -> list[str]:
    if not pricing:
        return []
    if pricing.get("kind") == "table":
        return [str(d) for d in pricing.get("dimensions") or ()]
    fields = [str(r["when"]["field"]) for r in pricing.get("rules") or () if r.get("when")]
    quantity = (pricing.get("quantity") or {}).get("field")
    if quantity:
        fields.append(str(quantity))
    return list(dict.fromkeys(fields))


def _candidates(schema: Mapping[str, Any]) -> list[Any]:
    """Values worth pricing for one pricing-relevant input."""
    if schema.get("enum"):
        return list(schema["enum"])
    values = []
    if "minimum" in schema:
        values.append(schema["minimum"])
    if "default" in schema:
        values.append(schema["default"])
    return values


def cheapest_plan(contract: ProviderContract, model_id: str | None = None) -> Plan:
    """The cheapest (model, inputs) of the provider, or of ``model_id``.

    Tries every combination of the values of the inputs the pricing depends
    on (enums; minimum and default of numbers), bounded by
    :data:`MAX_CONFIGURATIONS`; prices each with the provider's billing
    policy after applying the schema's defaults, as the mock does.
    """
    policy = BillingPolicy.from_spec(contract.spec.billing)
    models = list(contract.models.values())
    if model_id is not None:
        chosen = contract.model(model_id) or contract.model_by_slug(model_id)
        if chosen is None:
            raise ValueError(f"no model {model_id!r} in the {contract.name} contract")
        models = [chosen]
    if not models:
        raise ValueError(f"the {contract.name} contract has no models")
    best: Plan | None = None
    for model in models:
        base = valid_input(contract, model)
        pricing = model.pricing
        properties = model.input_schema.get("properties") or {}
        fields = [f for f in _pricing_fields(policy_pricing(policy, model)) if f in properties]
        options = [_candidates(properties[f]) or [base.get(f)] for f in fields]
        for combination in itertools.islice(itertools.product(*options), MAX_CONFIGURATIONS):
            inputs = dict(base)
            inputs.update({f: v for f, v in zip(fields, combination, strict=True) if v is not None})
            if model.validate_input(inputs):
                continue
            try:
                quote = policy.price(
                    pricing, model.with_defaults(inputs), model=(model.slug, model.model_id)
                )
            except PricingError:
                continue
            if best is None or quote.amount < best.quote.amount:
                best = Plan(model, inputs, quote, tuple(fields))
    if best is None:
        raise ValueError(f"no valid, priceable configuration for {contract.name}")
    return best


def policy_pricing(policy: BillingPolicy, model: ModelContract) -> Mapping[str, Any] | None:
    """The pricing object that applies to ``model`` (its own, else the provider's)."""
    own = model.pricing
    if own:
        return dict(own)
    for name in (model.slug, model.model_id):
        if name in policy.prices:
            return policy.prices[name]
    return policy.fallback


def invalid_input(contract: ProviderContract, model: ModelContract) -> dict[str, Any]:
    """A valid input with one enum value replaced by nonsense (or a required field dropped)."""
    inputs = valid_input(contract, model)
    properties = model.input_schema.get("properties") or {}
    for name, schema in properties.items():
        if isinstance(schema, Mapping) and schema.get("enum"):
            inputs[name] = INVALID_VALUE
            return inputs
    for name in model.input_schema.get("required") or ():
        inputs.pop(name, None)
        return inputs
    inputs["prompt"] = 12345  # a type error for the common prompt field
    return inputs


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


class _Prober:
    """Sends probes, checks each response, collects findings in one report."""

    def __init__(
        self,
        contract: ProviderContract,
        client: httpx.Client,
        base_url: str,
        key: str | None,
        report: Report,
        redactor: Redactor,
        progress: Progress | None = None,
    ) -> None:
        self.progress = progress
        self.contract = contract
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.report = report
        self.redactor = redactor

    def where(self, subject: str, url: str | None = None) -> Where:
        location = self.redactor.url(url) if url else None
        return Where("live", self.contract.name, subject, None, location)

    def send(
        self,
        subject: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        key: str | None = None,
        endpoint: str | None = None,
        expect_case: str | None = None,
    ) -> tuple[Exchange, ExchangeContext] | None:
        """One request; its findings go to the report. None when it could not be sent."""
        headers = {"Accept": "application/json", **_auth_headers(self.contract, key)}
        url = self.base_url + path
        if self.progress is not None:
            self.progress.update(f"{subject}: {method} {self.redactor.url(url)}", stage=subject)
        try:
            response = self.client.request(
                method, url, params=dict(query or {}), json=body, headers=headers
            )
        except httpx.HTTPError as error:
            self.report.errors.append(
                f"{subject}: {method} {self.redactor.url(url)} failed: {type(error).__name__}: "
                f"{self.redactor.text(str(error))}"
            )
            return None
        exchange = _exchange(response, path)
        self.report.add_subject(subject)
        findings, context = check(
            self.contract,
            exchange,
            self.where(subject, str(response.request.url)),
            endpoint=endpoint,
            expect_case=expect_case,
        )
        self.report.extend(findings)
        return exchange, context


def _listen_address(options: LiveOptions) -> tuple[str, int] | None:
    if options.webhook_listen:
        host, sep, port = options.webhook_listen.rpartition(":")
        return (host if sep and host else "127.0.0.1"), int(port)
    if options.webhook_url:
        parts = urlsplit(options.webhook_url)
        if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port:
            return parts.hostname, parts.port
    return None


def _job_id(contract: ProviderContract, body: Any) -> str | None:
    """The job id in a create response: where the template puts ``{id}``, else data.id / id."""
    template = contract.spec.endpoints["create"].template("200")

    def find(node: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
        if node == "{id}":
            return path
        if isinstance(node, Mapping):
            for k, v in node.items():
                found = find(v, (*path, str(k)))
                if found is not None:
                    return found
        return None

    candidates = [find(template, ())] if template else []
    candidates += [("data", "id"), ("data", "taskId"), ("id",), ("predictionID",)]
    for path in candidates:
        node = body
        for part in path or ():
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node:
            return node
    return None


def _probes(prober: _Prober, contract: ProviderContract, report: Report) -> None:
    """The free probes."""
    poll_path, poll_query = _poll_request(contract, UNKNOWN_ID)
    prober.send(
        "probe missing_auth",
        "GET",
        poll_path,
        query=poll_query,
        endpoint="poll",
        expect_case="missing_auth",
    )
    prober.send(
        "probe invalid_auth",
        "GET",
        poll_path,
        query=poll_query,
        key=BOGUS_KEY,
        endpoint="poll",
        expect_case="invalid_auth",
    )
    keyed = ["probe unknown_job", "probe validation", "probe unknown_model"]
    if "balance" in contract.spec.endpoints:
        keyed.append("probe balance")
    if prober.key is None:
        for subject in keyed:
            report.add_subject(subject)
            report.skipped[subject] = "needs an API key (--api-key-env)"
        return
    prober.send(
        "probe unknown_job",
        "GET",
        poll_path,
        query=poll_query,
        key=prober.key,
        endpoint="poll",
        expect_case="unknown_job",
    )
    models = list(contract.models.values())
    if models:
        model = models[0]
        path, query, body = _create_request(
            contract, model.model_id, invalid_input(contract, model), None
        )
        prober.send(
            "probe validation",
            "POST",
            path,
            query=query,
            body=body,
            key=prober.key,
            endpoint="create",
            expect_case="validation",
        )
        path, query, body = _create_request(
            contract, "drift-probe/no-such-model", valid_input(contract, model), None
        )
        prober.send(
            "probe unknown_model",
            "POST",
            path,
            query=query,
            body=body,
            key=prober.key,
            endpoint="create",
            expect_case="unknown_model",
        )
    else:
        for subject in ("probe validation", "probe unknown_model"):
            report.add_subject(subject)
            report.skipped[subject] = "the contract has no model contracts"
    balance = contract.spec.endpoints.get("balance")
    if balance is not None:
        prober.send(
            "probe balance", "GET", balance.paths[0], key=prober.key, endpoint="balance"
        )


def _spend(
    prober: _Prober,
    contract: ProviderContract,
    options: LiveOptions,
    report: Report,
    stderr: TextIO,
) -> None:
    """The one opt-in paid job."""
    assert options.spend_limit is not None
    try:
        limit = Decimal(options.spend_limit)
    except InvalidOperation:
        report.errors.append(f"--spend-limit {options.spend_limit!r} is not a number")
        return
    try:
        plan = cheapest_plan(contract, options.model)
    except ValueError as error:
        report.errors.append(f"spend: {error}")
        return
    cost = format_amount(plan.quote.amount, plan.quote.currency)
    priced = ", ".join(f"{k}={plan.inputs[k]}" for k in plan.priced_by if k in plan.inputs)
    described = f"{plan.model.model_id} ({priced})" if priced else plan.model.model_id
    if plan.quote.amount > limit:
        message = (
            f"spend refused: one job of {described} costs {cost}, over --spend-limit "
            f"{options.spend_limit} ({plan.quote.currency}); nothing was sent"
        )
        stderr.write(message + "\n")
        report.errors.append(message)
        return
    if prober.key is None:
        report.errors.append("spend: a paid job needs an API key (--api-key-env)")
        return
    stderr.write(f"drift live: spending {cost} on one {described} job (limit {limit})\n")
    report.notes.append(f"paid job: {described}, cheapest configuration, {cost}")

    listen = _listen_address(options)
    receiver: Receiver | None = None
    if options.webhook_url and listen is not None:
        receiver = Receiver(*listen).start()
    try:
        _run_job(prober, contract, options, plan, report, receiver)
    finally:
        if receiver is not None:
            receiver.stop()


def _run_job(
    prober: _Prober,
    contract: ProviderContract,
    options: LiveOptions,
    plan: Plan,
    report: Report,
    receiver: Receiver | None,
) -> None:
    path, query, body = _create_request(
        contract, plan.model.model_id, plan.inputs, options.webhook_url
    )
    sent = prober.send(
        "job create", "POST", path, query=query, body=body, key=prober.key, endpoint="create"
    )
    if sent is None:
        return
    exchange, context = sent
    job_id = _job_id(contract, exchange.body) if not context.is_error else None
    if job_id is None:
        report.errors.append("job create: no job id in the response; cannot poll")
        return
    words: list[str] = []
    finished = False
    poll_path, poll_query = _poll_request(contract, job_id)
    deadline = time.monotonic() + options.poll_timeout
    interval = max(options.poll_interval, 0.0)
    # Bounded twice: by the deadline and by a count, so a clock jump cannot spin.
    for attempt in range(math.ceil(options.poll_timeout / max(interval, 0.05)) + 2):
        if attempt and time.monotonic() + interval > deadline:
            break
        if attempt:
            time.sleep(interval)
        polled = prober.send(
            "job poll", "GET", poll_path, query=poll_query, key=prober.key, endpoint="poll"
        )
        if polled is None:
            return
        _, poll_context = polled
        word = poll_context.status_word
        if isinstance(word, str):
            if not words or words[-1] != word:
                words.append(word)
            if word in contract.spec.statuses.terminal:
                finished = True
                break
        if poll_context.is_error:
            break
    report.notes.append(f"job poll: status words seen {', '.join(words) or '(none)'}")
    webhook_expected = bool(options.webhook_url) and finished and _fires(contract, words)
    deliveries: list[Delivery] = []
    if receiver is not None and webhook_expected:
        deliveries = receiver.wait(1, timeout=options.webhook_timeout)
        for number, delivery in enumerate(deliveries):
            payload, is_json = parse_body(delivery.body, delivery.headers.get("content-type", ""))
            hook = Exchange(
                method=delivery.method,
                path=delivery.path,
                status=None,
                headers=delivery.headers,
                body=payload,
                body_is_json=is_json,
            )
            subject = "job webhook" + (f" #{number + 1}" if number else "")
            report.add_subject(subject)
            findings, _ = check(contract, hook, prober.where(subject), kind="webhook")
            report.extend(findings)
    elif options.webhook_url and receiver is None:
        report.skipped["job webhook"] = (
            "registered, but not received here: the URL is not loopback; pass --webhook-listen"
        )
    run = JobRun(
        prober.where("job"),
        tuple(words),
        finished,
        options.poll_timeout,
        webhook_expected,
        receiver is not None,
        len(deliveries),
        options.webhook_timeout,
    )
    report.add_subject("job")
    report.extend(RULES.run("job", run))


def _fires(contract: ProviderContract, words: list[str]) -> bool:
    """Whether the contract sends a webhook for the job's final word."""
    if not words:
        return False
    neutral = contract.neutral_of(words[-1])
    return neutral in contract.spec.webhook.fires_on


def run_live(options: LiveOptions, root: Path, redactor: Redactor, stderr: TextIO) -> Report:
    """Probe the API (and optionally run one paid job); findings in one report."""
    report = Report("live")
    redactor.add(options.api_key)
    try:
        contract = load_contracts(root).provider(options.provider)
    except ContractError as error:
        report.errors.append(str(error))
        return report
    base_url = options.base_url or contract.spec.base_url
    report.notes.append(f"probed {redactor.url(base_url)}")
    progress = Progress(stderr, f"drift live {options.provider}")
    with httpx.Client(timeout=options.timeout, follow_redirects=False) as client:
        prober = _Prober(contract, client, base_url, options.api_key, report, redactor, progress)
        _probes(prober, contract, report)
        if options.spend_limit is not None and not report.errors:
            _spend(prober, contract, options, report, stderr)
    progress.done()
    return report
