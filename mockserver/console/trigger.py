"""``POST /_mock/trigger``: start a job from the console, as ``stripe trigger`` starts an event.

The job is created by a real create request of the provider (its auth
header, its path, its body shape from the model contract's own example)
handed to the app itself: the same route, validation, rate limit, price,
scenario selection and journal entry as a client's create. Nothing here
knows a provider by name: auth, webhook registration and the example come
from the contracts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message

from mockserver.contracts import sample_input

__all__ = ["CreateCall", "TriggerError", "build_create", "call_app"]

#: The key a trigger uses when none is given.
DEFAULT_KEY = "console"
#: Sample values for required inputs the model's example lacks.
SAMPLE_IMAGE = "https://example.com/genmock/cat.png"
SAMPLE_PROMPT = "a cat walks across a sunny garden"


class TriggerError(ValueError):
    """A trigger body that cannot become a create (the message names the field)."""


@dataclass(frozen=True)
class CreateCall:
    """The provider request a trigger sends."""

    provider: str
    model: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


def build_create(contract: Any, body: Mapping[str, Any]) -> CreateCall:
    """The create request for a trigger body ``{"model", "scenario", "webhook_url",
    "key", "input"}`` against provider ``contract`` (a ProviderContract)."""
    model_id = body.get("model")
    models = contract.models
    if model_id is None and len(models) == 1:
        model_id = next(iter(models))
    if not isinstance(model_id, str) or model_id not in models:
        known = ", ".join(sorted(models)) or "none"
        raise TriggerError(f'"model" must be one of {contract.name}\'s models ({known})')
    model = models[model_id]
    key = body.get("key", DEFAULT_KEY)
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise TriggerError('"key" must be a non-empty string of at most 200 characters')
    extra_input = body.get("input", {})
    if not isinstance(extra_input, dict):
        raise TriggerError('"input" must be a JSON object (the model inputs to set)')
    example: dict[str, Any] = copy.deepcopy(model.example_request or {})
    registrations = contract.spec.webhook.registration
    for registration in registrations:  # the document's sample URL is nobody's receiver
        if registration.location == "body":
            example.pop(str(registration.field), None)
    holder = example.setdefault("input", {}) if "input" in example or "model" in example \
        else example
    if "model" in example:
        example["model"] = model_id
    schema = model.input_schema or {}
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in holder and name in properties:
            holder[name] = sample_input(properties[name], name, image=SAMPLE_IMAGE,
                                        text=SAMPLE_PROMPT)
    holder.update(extra_input)
    query = ""
    webhook = body.get("webhook_url")
    if webhook not in (None, ""):
        if not isinstance(webhook, str):
            raise TriggerError('"webhook_url" must be a URL string')
        registration = next(iter(registrations), None)
        if registration is None:
            raise TriggerError(f"{contract.name} has no webhook registration in its contract")
        if registration.location == "query":
            query = f"{registration.name}={quote(webhook, safe='')}"
        else:
            example[str(registration.field)] = webhook
    header, value = contract.spec.auth_header(key)
    headers = {header: value, "content-type": "application/json",
               "user-agent": "genmock-console-trigger"}
    scenario = body.get("scenario")
    if scenario not in (None, ""):
        if not isinstance(scenario, str) or len(scenario) > 200 or "\n" in scenario:
            raise TriggerError('"scenario" must be a scenario name (GET /_mock/scenarios)')
        headers["prefer"] = f"scenario={scenario}"
    path = str(model.example_request_path or "")
    if not path.startswith("/"):
        raise TriggerError(f"model {model_id!r} has no create path in its contract")
    return CreateCall(contract.name, model_id, "POST", f"/{contract.name}{path}", query,
                      headers, example)


async def call_app(app: ASGIApp, call: CreateCall, host: str) -> tuple[int, dict[str, str], bytes]:
    """Send ``call`` through ``app`` in process; its status, headers and body."""
    payload = json.dumps(call.body).encode()
    headers = {**call.headers, "host": host, "content-length": str(len(payload))}
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": call.method, "scheme": "http", "path": call.path,
        "raw_path": call.path.encode(), "root_path": "", "query_string": call.query.encode(),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in
                    headers.items()],
        "client": ("127.0.0.1", 0), "server": None, "state": {},
    }
    sent = False
    status = 500
    answer_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            answer_headers.update({k.decode("latin-1"): v.decode("latin-1")
                                   for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    return status, answer_headers, b"".join(chunks)
