"""Eachlabs: ``/v1/prediction`` create, poll and cancel, and its webhook.

Wire facts (contracts/eachlabs/provider.yaml, with provenance there):

* create ``POST /v1/prediction/`` (and without the slash), body
  ``{model, input, webhook_url?, webhook_secret?, version?}`` ->
  ``{"status": "success", "message": "Prediction created successfully", "predictionID"}``;
* poll ``GET /v1/prediction/{id}``: the SEED shape and the DOC live shape at
  once (both ``id`` and ``predictionID``), status words
  ``created``/``starting``/``processing``/``success``/``error``/``cancelled``;
* cancel ``POST /v1/prediction/{id}/cancel``; a cancelled job sends no webhook;
* webhook ``{exec_id, status: succeeded|failed, output, error, flow_id: null}``
  with the create's ``webhook_secret`` echoed in ``X-Webhook-Secret``;
* errors ``{status: "error", message, details}`` with the HTTP status
  (402 and 429 have their own DOC envelopes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State
from mockserver.domain.service import dumps
from mockserver.domain.webhooks import WebhookMessage
from mockserver.providers.base import Route, WireRequest, WireResponse
from mockserver.providers.common import (
    AdapterBase,
    earlier_snapshot,
    parse_json_object,
    run_seconds,
)
from mockserver.providers.eachlabs.signing import secret_header

_POLL = "/endpoints/poll/responses/200/by_status/{word}/schema"


@dataclass(frozen=True, slots=True)
class EachlabsJobFields:
    """What only Eachlabs keeps of a prediction: the ``version`` the create asked for."""

    version: Any = None


class EachlabsAdapter(AdapterBase):
    """Eachlabs wire shapes over the neutral :class:`MockService`."""

    name = "eachlabs"

    def routes(self) -> list[Route]:
        """create (both path spellings), poll and cancel."""
        return self.bind("create", "poll", "cancel")

    # --- handlers ----------------------------------------------------------
    def create(self, request: WireRequest) -> WireResponse:
        """Validate ``{model, input, ...}``, store the job, answer with its predictionID."""
        key = self.authenticate(request)
        status = self.case_code("validation", 400)
        body = parse_json_object(request, status)
        if "model" not in body:
            raise MockError(status, "model is required", field="model", rule="required")
        model = self.model_or_error(body["model"])
        if "input" not in body:
            raise MockError(status, "input is required", field="input", rule="required")
        if not isinstance(body["input"], dict):
            raise MockError(status, "input must be an object", field="input", rule="type")
        inputs = self.service.validate_input(model, body["input"], status=status, prefix="input.")
        webhook = self.webhook_target(
            body.get("webhook_url"), body.get("webhook_secret"),
            field="webhook_url", status=status,
        )
        job = self.create_job(
            request,
            key=key,
            model=model,
            inputs=inputs,
            job_id=self.service.world.new_uuid(),
            webhook=webhook,
            validation_status=status,
            provider_fields=EachlabsJobFields(version=body.get("version")),
        )
        response = self.endpoint("create").responses["200"]
        return WireResponse(
            200,
            self.templates.render(response["template"], {"id": job.id}),
            schema="/endpoints/create/responses/200/schema",
        )

    def poll(self, request: WireRequest) -> WireResponse:
        """The prediction in the superset shape, with the current status word."""
        key = self.authenticate(request)
        job = self.service.poll(self.name, request.path_params["id"], key)
        word = self.word(job)
        return WireResponse(200, self.prediction(job, word), schema=_POLL.format(word=word))

    def cancel(self, request: WireRequest) -> WireResponse:
        """Cancel a queued or running prediction (no webhook follows)."""
        key = self.authenticate(request)
        job_id = request.path_params["id"]
        self.service.get(self.name, job_id, key)  # 404 before the "already finished" check
        job = self.service.cancel(self.name, job_id, key)
        response = self.endpoint("cancel").responses["200"]
        return WireResponse(
            200,
            self.templates.render(response["template"], {"id": job.id}),
            schema="/endpoints/cancel/responses/200/schema",
        )

    # --- shapes --------------------------------------------------------------
    def prediction(self, job: Job, word: str) -> dict[str, Any]:
        """The poll body: SEED ``{status, predictionID, output, metrics}`` plus the DOC fields."""
        base = f"{self.base_url(job)}/v1/prediction/{job.id}"
        # predict_time is the running time, known once the job has ended
        # after starting; it equals finished_at - started_at on the mock clock.
        predict_time = run_seconds(job)
        body: dict[str, Any] = {
            "id": job.id,
            "predictionID": job.id,
            "status": word,
            "input": job.input,
            "output": None,
            "logs": None,
            "metrics": {
                "predict_time": None if predict_time is None else round(predict_time, 3),
                "cost": self.cost(job),
            },
            "urls": {"get": base, "cancel": f"{base}/cancel"},
        }
        if job.state is State.SUCCEEDED:
            body["output"] = self.outputs(job)[0]
        elif job.state is State.FAILED:
            failure = self.failure(job)
            body["output"] = failure
            # SEED: "Failed - read message / details"; DOC: output holds the detail.
            body["message"] = failure["error"]
            body["details"] = failure["error_message"]
        return body

    def failure(self, job: Job) -> dict[str, Any]:
        """DOC ``output`` of a failed prediction.

        ``{error, error_code, error_message, retryable}``, texts from the contract.
        """
        _, facts = self.failure_kind(job)
        return {
            "error": str(facts.get("error", "Prediction failed")),
            "error_code": str(facts.get("error_code", "GENERATION_FAILED")),
            "error_message": str(facts.get("error_message", "The prediction failed")),
            "retryable": bool(facts.get("retryable", False)),
        }

    # --- webhook -------------------------------------------------------------
    def webhook(self, job: Job) -> WebhookMessage | None:
        """``{exec_id, status, output, error, flow_id}`` for a finished job; none on cancel."""
        target = job.webhook
        if target is None or job.state not in (State.SUCCEEDED, State.FAILED):
            return None
        payloads = self.spec.webhook.payload
        if job.state is State.SUCCEEDED:
            body = self.templates.render(
                payloads["succeeded"]["template"], {"id": job.id, "output": self.outputs(job)[0]}
            )
        else:
            failure = self.failure(job)
            # DOC: on failure `output` is a list of {id, status, output, error}
            # (one entry per step of a flow; a single prediction has one).
            body = {
                "exec_id": job.id,
                "status": "failed",
                "output": [{"id": job.id, "status": "error", "output": None,
                            "error": failure["error_message"]}],
                "error": failure["error_message"],
                "flow_id": None,
            }
        return self._message(target, body)

    def stale_webhook(self, job: Job) -> WebhookMessage | None:
        """The job as it was while running: ``{exec_id, status: processing, output: null}``."""
        target = job.webhook
        if target is None or job.state not in (State.SUCCEEDED, State.FAILED):
            return None
        snapshot = earlier_snapshot(job)
        body = {"exec_id": job.id, "status": self.word(snapshot), "output": None,
                "error": "", "flow_id": None}
        return self._message(target, body)

    @staticmethod
    def _message(target: Any, body: dict[str, Any]) -> WebhookMessage:
        headers = {"Content-Type": "application/json"}
        if target.secret:
            headers.update(secret_header(target.secret))
        return WebhookMessage(url=target.url, body=dumps(body), headers=headers)
