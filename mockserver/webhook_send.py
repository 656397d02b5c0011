"""``mockserver webhook send``: one provider webhook, signed, to a receiver under test.

::

    mockserver webhook send --provider wavespeed --outcome succeeded \\
        --to http://127.0.0.1:3000/hooks/wavespeed --secret whsec_...

The payload is the mock's own: a throwaway in-process mock (manual clock)
takes a create of the model with the receiver's URL registered as the
provider registers it, runs the job to the outcome (``failed`` through the
``job_failed`` scenario) and renders the job's webhook as it would deliver
it; the body is then signed as the provider signs it, by the mock's signer,
with a wall-clock timestamp taken just before the POST, and posted.

The receiver is the user's own: any host, loopback and private addresses
included (the served mock's SSRF rule does not apply; redirects are not
followed; ``HTTP(S)_PROXY`` is ignored). Exit codes: 0 the receiver
answered 2xx; 1 it answered anything else; 2 it could not be reached, or
the payload could not be made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from mockserver import __version__
from mockserver.contracts import sample_input
from mockserver.provider_spec import Registration
from mockserver.providers import registry
from mockserver.redact import mask_headers

__all__ = ["Rendered", "register_webhook_command", "render_webhook", "send_webhook"]

OUTCOMES = ("succeeded", "failed")
#: The API key of the throwaway mock's job (it never leaves the process).
SEND_KEY = "genmock-webhook-send"
#: Characters of the receiver's answer printed (the JSON output has the same excerpt).
BODY_EXCERPT = 500
_PLACEHOLDER_IMAGE = "https://example.com/genmock-frame.png"


class SendError(Exception):
    """The payload could not be made (bad model, the mock refused the create)."""


@dataclass(frozen=True)
class Rendered:
    """One webhook as the mock would deliver it; :meth:`headers` signs it."""

    provider: str
    outcome: str
    model_id: str
    job_id: str
    url: str
    body: bytes
    static_headers: dict[str, str]
    signer: Any  # Callable[[int], dict[str, str]] | None: the provider's signer
    secret: str | None

    def headers(self, signed_at: int) -> dict[str, str]:
        """What the mock's sender sends: its base headers, the provider's, the signature."""
        headers = {"content-type": "application/json", "user-agent": "genmock-webhooks"}
        headers.update({k.lower(): v for k, v in self.static_headers.items()})
        if self.signer is not None:
            headers.update({k.lower(): v for k, v in self.signer(signed_at).items()})
        return headers

    def payload(self) -> Any:
        return json.loads(self.body)


def render_webhook(provider: str, outcome: str, url: str, *, secret: str | None = None,
                   model: str | None = None, job_id: str | None = None) -> Rendered:
    """The webhook of a ``provider`` job ending in ``outcome``, addressed to ``url``."""
    return asyncio.run(_render(provider, outcome, url, secret, model, job_id))


async def _render(provider: str, outcome: str, url: str, secret: str | None,
                  model: str | None, job_id: str | None) -> Rendered:
    from mockserver.domain.clock import ManualClock
    from mockserver.http.app import create_app
    from mockserver.testing._asgi import call_asgi

    app = create_app(clock=ManualClock(), validate_responses=True)
    state = app.state.mock
    adapter = state.adapters.get(provider)
    if adapter is None:
        raise SendError(f"unknown provider {provider!r} (known: {', '.join(state.adapters)})")
    contract = adapter.contract
    models = contract.models
    chosen = models.get(model) if model else next(iter(sorted(models.items())))[1]
    if chosen is None:
        raise SendError(f"unknown {provider} model {model!r} (known: {', '.join(sorted(models))})")
    registration = contract.spec.webhook.registration
    secret_field = next((r.field for r in registration if r.role == "secret"), None)
    if secret is not None and secret_field is None:
        state.accounts.update(SEND_KEY, {"webhook_secret": secret})
    path, query, body = _create_request(chosen, registration, url, secret, secret_field)
    header, value = contract.spec.auth_header(SEND_KEY)
    headers = {"content-type": "application/json", header: value}
    if outcome == "failed":
        headers["prefer"] = "scenario=job_failed"
    request = httpx.Request("POST", f"http://127.0.0.1/{provider}{path}", params=query,
                            headers=headers, json=body)
    try:
        answer = await call_asgi(app, request, request.read())
    finally:
        await state.sender.stop(grace=0)  # the throwaway mock delivers nothing itself
    job = next((job for _, job in state.world.jobs_from()), None)
    if job is None or answer.status_code >= 300:
        raise SendError(f"the mock refused the create ({answer.status_code}): "
                        f"{answer.text[:300]}")
    plan = job.plan
    state.advance(plan.queue_seconds + plan.run_seconds + 1)
    if job_id:
        # Renamed once its money is settled (the ledger knows the old id); its output
        # URLs are rendered again with the new one.
        job.id, job.outputs = job_id, ()
    message = adapter.webhook(job)
    if message is None or str(job.state) != outcome:
        raise SendError(f"the {provider} job ended {job.state}: no {outcome} webhook")
    return Rendered(provider, outcome, chosen.model_id, job.id, url, message.body,
                    dict(message.headers), message.sign, _secret_used(adapter, job, secret))


def _secret_used(adapter: Any, job: Any, given: str | None) -> str | None:
    """The secret the payload is signed with (the account's default for WaveSpeed)."""
    if given is not None:
        return given
    find = getattr(adapter, "webhook_secret", None)
    return find(job) if callable(find) else None


def _create_request(model: Any, registration: tuple[Registration, ...], url: str,
                    secret: str | None, secret_field: str | None,
                    ) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Path, query and body of a valid create of ``model`` with ``url`` registered."""
    example = dict(model.example_request or {})
    path = str(model.example_request_path or "/")
    for entry in registration:  # the document's own callback URL goes
        if entry.location == "body":
            example.pop(str(entry.field), None)
    nested = isinstance(example.get("input"), dict)
    inputs = dict(example["input"]) if nested else example
    schema = model.input_schema or {}
    for name in schema.get("required", []):
        if name not in inputs:
            inputs[name] = sample_input(schema.get("properties", {}).get(name, {}), name,
                                        image=_PLACEHOLDER_IMAGE, text="genmock webhook send")
    body = {**example, "input": inputs, "model": model.model_id} if nested else inputs
    query: dict[str, str] = {}
    where = registration[0]
    if where.location == "query":
        query[str(where.name)] = url
    else:
        body[str(where.field)] = url
    if secret is not None and secret_field is not None:
        body[secret_field] = secret
    return path, query, body


@dataclass
class Answer:
    """What the receiver did with the POST."""

    status: int | None
    latency_ms: float
    body: str
    error: str | None
    sent_headers: dict[str, str]


def send_webhook(rendered: Rendered, *, timeout: float = 30.0) -> Answer:
    """POST ``rendered`` to its URL, signed now; the receiver's answer or the failure."""
    signed_at = int(time.time())
    headers = rendered.headers(signed_at)
    started = time.perf_counter()
    try:
        with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
            response = client.post(rendered.url, content=rendered.body, headers=headers)
    except httpx.TimeoutException:
        return Answer(None, _since(started), "", f"no answer within {timeout:g} s", headers)
    except httpx.ConnectError as error:
        return Answer(None, _since(started), "", f"could not connect: {error or 'refused'}",
                      headers)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
        return Answer(None, _since(started), "", f"{type(error).__name__}: {error}", headers)
    text = response.content[:BODY_EXCERPT].decode("utf-8", "replace")
    return Answer(response.status_code, _since(started), text, None, headers)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


# --- command line --------------------------------------------------------------------


def register_webhook_command(commands: Any) -> None:
    """Add ``webhook send`` to the CLI's subparsers."""
    webhook: argparse.ArgumentParser = commands.add_parser(
        "webhook", help="send a provider's signed webhook to a receiver under test")
    actions = webhook.add_subparsers(dest="webhook_command", metavar="ACTION", required=True)
    send = actions.add_parser(
        "send",
        help="POST one provider webhook (succeeded or failed), signed, to --to",
        description=(
            "POST one webhook of a provider to a receiver under test: the payload the mock "
            "renders for a job of that provider ending in --outcome (it validates against "
            "the provider contract), signed as the provider signs it with a wall-clock "
            "timestamp (WaveSpeed: webhook-id/-timestamp/-signature v3 HMAC keyed by the "
            "secret without whsec_; Eachlabs: X-Webhook-Secret; Apikley: "
            "X-Webhook-Timestamp/-Signature, base64 HMAC of taskId.timestamp, only with a "
            "secret). Prints the receiver's status, latency and body. Any host may be the "
            "receiver, loopback and private ones included (it is yours; no SSRF rule), "
            "redirects are not followed and proxies from the environment are ignored. "
            "Exit 0 on a 2xx answer, 1 on another answer, 2 when the receiver could not "
            "be reached or the payload could not be made."
        ),
    )
    send.add_argument("--provider", required=True, choices=registry.names())
    send.add_argument("--outcome", required=True, choices=OUTCOMES)
    send.add_argument("--to", required=True, metavar="URL", help="the receiver's URL")
    send.add_argument("--secret", metavar="S", help=(
        "signing secret: WaveSpeed's whsec_ account secret (default: the mock's default "
        "secret for its key, printed), Eachlabs' webhook_secret (sent as X-Webhook-Secret), "
        "Apikley's key secret (without one Apikley sends no signature)"))
    send.add_argument("--model", metavar="M", help="model id (default: the provider's first)")
    send.add_argument("--job-id", metavar="ID", help="the job id the payload carries")
    send.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                      help="seconds to wait for the receiver (default 30, as the mock)")
    send.add_argument("--json", action="store_true", help="print one JSON object")
    send.set_defaults(handler=run_webhook_command)


def run_webhook_command(arguments: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``mockserver webhook send``: exit 0 on 2xx, 1 on another answer, 2 when unreachable."""
    try:
        url = httpx.URL(arguments.to)
        if url.scheme not in ("http", "https") or not url.host:
            raise httpx.InvalidURL("not an absolute http(s) URL")
    except httpx.InvalidURL as error:
        stderr.write(f"mockserver webhook send: --to {arguments.to!r}: {error}\n")
        return 2
    try:
        rendered = render_webhook(arguments.provider, arguments.outcome, arguments.to,
                                  secret=arguments.secret, model=arguments.model,
                                  job_id=arguments.job_id)
    except (SendError, ValueError) as error:
        stderr.write(f"mockserver webhook send: {error}\n")
        return 2
    answer = send_webhook(rendered, timeout=arguments.timeout)
    code = 0 if answer.status is not None and 200 <= answer.status < 300 else (
        1 if answer.status is not None else 2)
    if arguments.json:
        stdout.write(json.dumps({
            "provider": rendered.provider, "outcome": rendered.outcome,
            "model_id": rendered.model_id, "job_id": rendered.job_id, "url": rendered.url,
            "sent_headers": mask_headers(answer.sent_headers), "payload": rendered.payload(),
            "status": answer.status, "latency_ms": answer.latency_ms, "body": answer.body,
            "error": answer.error, "ok": code == 0, "version": __version__,
            "default_secret": rendered.secret if arguments.secret is None else None,
        }, ensure_ascii=False) + "\n")
    else:
        stdout.write(f"POST {rendered.url}: {rendered.provider} {rendered.outcome} webhook "
                     f"of job {rendered.job_id} ({rendered.model_id})\n")
        for name, value in mask_headers(answer.sent_headers).items():
            stdout.write(f"  {name}: {value}\n")
        if arguments.secret is None and rendered.secret:
            stdout.write(f"signed with the mock's default secret for its key: "
                         f"{rendered.secret} (pass --secret to use yours)\n")
        if answer.status is not None:
            stdout.write(f"receiver answered {answer.status} in {answer.latency_ms:.0f} ms\n")
            if answer.body:
                stdout.write(f"  {answer.body}\n")
    if code == 1:
        stderr.write(f"mockserver webhook send: the receiver answered {answer.status}, "
                     "not 2xx\n")
    elif code == 2:
        stderr.write(f"mockserver webhook send: {rendered.url}: {answer.error}\n")
    return code
