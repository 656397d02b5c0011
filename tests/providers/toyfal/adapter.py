"""The toy provider's wire adapter: fal's queue API over the neutral MockService.

``POST /{model}`` -> ``{request_id, status_url, response_url, cancel_url, queue_position}``;
``GET /{model}/requests/{id}/status`` -> ``{status, queue_position}``;
``GET /{model}/requests/{id}`` -> the result (400 while it is not ready);
``PUT /{model}/requests/{id}/cancel`` -> 202; the webhook URL is ``?fal_webhook=``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State
from mockserver.domain.service import dumps
from mockserver.domain.webhooks import WebhookMessage
from mockserver.providers.base import Route, WireRequest, WireResponse
from mockserver.providers.common import DEFAULT_WEBHOOK_SECRET, AdapterBase, parse_json_object

from .signing import sign


class ToyfalAdapter(AdapterBase):
    """fal-style queue: submit, status with a queue position, result, cancel."""

    name = "toyfal"
    default_webhook_secret = DEFAULT_WEBHOOK_SECRET

    def routes(self) -> list[Route]:
        return self.bind("create", "status", "result", "cancel")

    def create(self, request: WireRequest) -> WireResponse:
        key = self.authenticate(request)
        status = self.case_code("validation", 422)
        model = self.model_or_error(request.path_params["model_id"])
        body = parse_json_object(request, status)
        inputs = self.service.validate_input(model, body, status=status)
        webhook = self.webhook_target(request.query.get("fal_webhook"), field="fal_webhook",
                                      status=status)
        job = self.create_job(request, key=key, model=model, inputs=inputs,
                              job_id=self.service.world.new_uuid(), webhook=webhook,
                              validation_status=status)
        base = f"{self.base_url(job)}/{model.model_id}/requests/{job.id}"
        body_out = {"request_id": job.id, "status": "IN_QUEUE", "status_url": f"{base}/status",
                    "response_url": base, "cancel_url": f"{base}/cancel",
                    "queue_position": self.queue_position(job)}
        return WireResponse(200, body_out, schema="/endpoints/create/responses/200/schema")

    def status(self, request: WireRequest) -> WireResponse:
        job = self._job(request)
        body: dict[str, Any] = {"request_id": job.id, "status": self.word(job)}
        if job.state is State.QUEUED:
            body["queue_position"] = self.queue_position(job)
        if job.state is State.FAILED:
            body["error"] = self._failure(job)
        return WireResponse(200, body, schema="/endpoints/status/responses/200/schema")

    def result(self, request: WireRequest) -> WireResponse:
        job = self._job(request)
        if job.state is State.FAILED:
            raise MockError(422, self._failure(job), rule="failed")
        if job.state is not State.SUCCEEDED:
            raise MockError(400, "Request is still in progress", rule="not_ready")
        return WireResponse(200, self._payload(job),
                            schema="/endpoints/result/responses/200/schema")

    def cancel(self, request: WireRequest) -> WireResponse:
        job = self._job(request)
        self.service.cancel(self.name, job.id, job.key)
        return WireResponse(202, {"status": "CANCELLATION_REQUESTED"},
                            schema="/endpoints/cancel/responses/202/schema")

    def queue_position(self, job: Job) -> int:
        """Jobs of this provider queued ahead of ``job``, in creation order (a toy: a scan)."""
        ahead = 0
        for other in self.service.world.jobs():
            if other.id == job.id:
                break
            ahead += other.provider == self.name and other.state is State.QUEUED
        return ahead

    def webhook(self, job: Job) -> WebhookMessage | None:
        target = job.webhook
        if target is None or job.state not in (State.SUCCEEDED, State.FAILED):
            return None
        if job.state is State.SUCCEEDED:
            data = {"request_id": job.id, "status": "OK", "payload": self._payload(job),
                    "error": None}
        else:
            data = {"request_id": job.id, "status": "ERROR", "payload": None,
                    "error": self._failure(job)}
        body = dumps(data)
        secret = self.webhook_secret(job)
        signer = partial(sign, job.id, body=body, secret=secret) if secret else None
        return WebhookMessage(url=target.url, body=body,
                              headers={"Content-Type": "application/json"}, sign=signer)

    def _job(self, request: WireRequest) -> Job:
        key = self.authenticate(request)
        return self.service.poll(self.name, request.path_params["id"], key)

    def _payload(self, job: Job) -> dict[str, Any]:
        return {"video": {"url": self.outputs(job)[0]}}

    def _failure(self, job: Job) -> str:
        _, facts = self.failure_kind(job)
        return str(facts.get("message", "generation failed"))
