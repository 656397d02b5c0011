"""Apikley (kie.ai Market API): createTask, recordInfo and the callback.

Wire facts (contracts/apikley/provider.yaml, with provenance there):

* create ``POST /api/v1/jobs/createTask`` ``{model, callBackUrl?, input}`` ->
  ``{code: 200, msg: "success", data: {taskId}}`` (``task_wan_1765172522239``);
* poll ``GET /api/v1/jobs/recordInfo?taskId=`` -> ``{code, msg, data: {taskId,
  model, state, param, resultJson, failCode, failMsg, costTime, completeTime,
  createTime, updateTime}}``: ``param`` is the create request as a JSON
  *string*, ``resultJson`` the JSON string ``{"resultUrls": [...]}`` (null
  until success), times in epoch milliseconds; states ``waiting`` ->
  ``queuing`` -> ``generating`` -> ``success`` | ``fail``;
* an unknown taskId is ``{"code": 422, "msg": "recordInfo is null", "data": null}`` [3P];
* the callback POSTs the recordInfo envelope to ``callBackUrl`` (code 200 on
  success, 501 on failure), signed ``X-Webhook-Timestamp`` /
  ``X-Webhook-Signature`` only when the account has a webhook secret
  (set :attr:`AdapterBase.webhook_secrets`); unsigned otherwise;
* errors travel as HTTP 200 with the code in the body, except 429 (a real
  HTTP 429) [3P]; ``error_transport = "http_status"`` sends real statuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from mockserver.domain.accounts import default_webhook_secret
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State
from mockserver.domain.service import dumps
from mockserver.domain.webhooks import WebhookMessage
from mockserver.providers.apikley.signing import sign_kie_hmac
from mockserver.providers.base import Route, WireRequest, WireResponse
from mockserver.providers.common import (
    AdapterBase,
    earlier_snapshot,
    epoch_ms,
    parse_json_object,
    run_seconds,
    seconds_to_ms,
)

_POLL = "/endpoints/poll/responses/200/by_status/{word}/schema"


@dataclass(frozen=True, slots=True)
class ApikleyJobFields:
    """What only Apikley renders of a task: the create request, as recordInfo's ``param``."""

    param: str


class ApikleyAdapter(AdapterBase):
    """Apikley wire shapes over the neutral :class:`MockService`."""

    name = "apikley"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_id_ms = 0

    def routes(self) -> list[Route]:
        """createTask, recordInfo, the credit balance and kie's download-url."""
        return self.bind("create", "poll", "balance", "download_url")

    # --- handlers ----------------------------------------------------------
    def create(self, request: WireRequest) -> WireResponse:
        """Validate ``{model, callBackUrl?, input}``, store the task, answer with its taskId."""
        key = self.authenticate(request)
        status = self.case_code("validation", 422)
        body = parse_json_object(request, status)
        if "model" not in body:
            raise MockError(status, "model is required", field="model", rule="required")
        model = self.model_or_error(body["model"])
        raw_input = body.get("input", {})
        if not isinstance(raw_input, dict):
            raise MockError(status, "input must be an object", field="input", rule="type")
        inputs = self.service.validate_input(model, raw_input, status=status, prefix="input.")
        webhook = self.webhook_target(body.get("callBackUrl"), field="callBackUrl", status=status)
        job = self.create_job(
            request,
            key=key,
            model=model,
            inputs=inputs,
            job_id=self.new_task_id(model.model_id),
            webhook=webhook,
            validation_status=status,
            # [DOC] recordInfo's `param` is the create request as a JSON string.
            provider_fields=ApikleyJobFields(param=self.json_text(body)),
        )
        response = self.endpoint("create").responses["200"]
        return WireResponse(
            200,
            self.templates.render(response["template"], {"id": job.id}),
            schema="/endpoints/create/responses/200/schema",
        )

    def poll(self, request: WireRequest) -> WireResponse:
        """The task record, wrapped in ``{code: 200, msg: "success", data}``."""
        key = self.authenticate(request)
        endpoint = self.endpoint("poll")
        name = str((endpoint.job_id or {}).get("name", "taskId"))
        task_id = request.query.get(name, "")
        if not task_id:
            status = self.case_code("validation", 422)
            raise MockError(status, f"{name} is required", field=name, rule="required")
        try:
            job = self.service.poll(self.name, task_id, key)
        except MockError as error:
            if error.status != 404:
                raise
            # [3P] an unknown taskId is {"code": 422, "msg": "recordInfo is null"}.
            unknown = endpoint.cases.get("unknown_job")
            case = self.case("unknown_job")
            raise MockError(
                unknown.code if unknown is not None and unknown.code is not None
                else case.code or 422,
                unknown.message if unknown is not None and unknown.message is not None
                else case.message or "recordInfo is null",
                field=name,
                rule="exists",
            ) from error
        word = self.word(job)
        # kie's pages say "msg", Apikley's task-detail page "message": both.
        body = {"code": 200, "msg": "success", "message": "success",
                "data": self.record(job, word)}
        return WireResponse(200, body, schema=_POLL.format(word=word))

    def balance(self, request: WireRequest) -> WireResponse:
        """``GET /api/v1/chat/credit``: ``{code: 200, msg: "success", data: <credits>}``.

        Whole credits the key can still spend (balance minus open reservations).
        """
        account = self.account(request)
        body = {"code": 200, "msg": "success", "data": int(account.available)}
        return WireResponse(200, body, schema="/endpoints/balance/responses/200/schema")

    def download_url(self, request: WireRequest) -> WireResponse:
        """``POST /api/v1/common/download-url`` ``{url}``: a 20-minute link to a generated file.

        Only an output URL of one of this mock's Apikley tasks is accepted
        (kie: "only supports files generated by kie.ai services"); anything
        else is the documented 422. The link is the same file with its own
        expiry, ``link_expires_seconds`` from now on the mock clock.
        """
        self.authenticate(request)
        endpoint = self.endpoint("download_url")
        status = self.case_code("validation", 422)
        body = parse_json_object(request, status)
        problems = self.contract.validate("/endpoints/download_url/request/schema", body)
        if problems:
            raise MockError(status, f"invalid request: {problems[0]}", field="url",
                            rule="schema")
        job = self._generated_by_us(str(body["url"]))
        if job is None:
            external = endpoint.cases["unknown_job"]
            raise MockError(int(external.code or 422), str(external.message), field="url",
                            rule="generated_file")
        # Apikley's own key (no other provider has it): read from the section as written.
        expires = self.service.clock.now() + float(endpoint.raw["link_expires_seconds"])
        link = self.media_url(request.media_base_url, job.id, expires)
        return WireResponse(200, {"code": 200, "msg": "success", "data": link},
                            schema="/endpoints/download_url/responses/200/schema")

    def _generated_by_us(self, url: str) -> Job | None:
        """The succeeded task whose output ``url`` is (any host, any expiry), or None."""
        path = urlsplit(url).path
        if "/_mock/media/" not in path or not path.endswith(".mp4"):
            return None
        name = path.rsplit("/", 1)[-1].removesuffix(".mp4")
        job = self.service.world.get(name)
        if job is None or job.provider != self.name or job.state is not State.SUCCEEDED:
            return None
        return job

    def webhook_secret(self, job: Job) -> str | None:
        """A secret only when one was set for the key: signing is opt-in at Apikley.

        Every account has a computed default secret (WaveSpeed signs with it);
        Apikley signs only with a secret configured for the key (config file,
        ``PUT /_mock/accounts/{key}``) or given by :attr:`webhook_secrets`.
        """
        if self.webhook_secrets is not None:
            secret = self.webhook_secrets(job.key)
            if secret:
                return secret
        secret = self.accounts.get(self.name, job.key).webhook_secret
        if secret and secret != default_webhook_secret(job.key):
            return secret
        return None

    # --- shapes --------------------------------------------------------------
    def new_task_id(self, model_id: str) -> str:
        """``task_<family>_<13-digit ms>`` as in the document, unique per world.

        The document's id is the creation time in ms; two creates in the same
        millisecond (always, with a manual clock) get the next free
        millisecond, so ids keep the documented shape and never repeat.
        """
        family = re.sub(r"[^a-z0-9]+", "", model_id.split("/", 1)[0].lower()) or "task"
        millis = max(epoch_ms(self.service.clock.now()), self._last_id_ms + 1)
        while self.service.world.get(f"task_{family}_{millis}") is not None:
            millis += 1
        self._last_id_ms = millis
        return f"task_{family}_{millis}"

    def record(self, job: Job, word: str) -> dict[str, Any]:
        """recordInfo ``data``: strings where the API embeds JSON, times in epoch ms."""
        spent = run_seconds(job)
        # [DOC, Apikley task detail] "" on success, where kie's examples show null.
        fail_code = fail_msg = ""
        if job.state is State.FAILED or job.state is State.CANCELLED:
            fail_code, fail_msg = self.failure(job)
        result = dumps({"resultUrls": self.outputs(job)}).decode() if (
            job.state is State.SUCCEEDED) else None
        return {
            "taskId": job.id,
            "model": job.model_id,
            "state": word,
            "param": fields.param if isinstance(fields := job.provider_fields,
                                                ApikleyJobFields) else "{}",
            "resultJson": result,
            "failCode": fail_code,
            "failMsg": fail_msg,
            "costTime": None if spent is None else seconds_to_ms(spent),
            "completeTime": None if job.finished_at is None else epoch_ms(job.finished_at),
            "createTime": epoch_ms(job.created_at),
            "updateTime": epoch_ms(job.updated_at),
        }

    def failure(self, job: Job) -> tuple[str, str]:
        """``failCode`` / ``failMsg`` of a failed task, from ``errors.job_failures``."""
        if job.state is State.CANCELLED:
            # No cancellation exists at Apikley; a job cancelled by a mock
            # scenario is shown as a failed task.
            return "cancelled", "Task was cancelled"
        _, facts = self.failure_kind(job)
        return str(facts.get("failCode", "500")), str(facts.get("failMsg", "Generation failed"))

    # --- webhook -------------------------------------------------------------
    def webhook(self, job: Job) -> WebhookMessage | None:
        """The recordInfo envelope: code 200 on success, 501 on failure."""
        target = job.webhook
        if target is None or job.state not in (State.SUCCEEDED, State.FAILED):
            return None
        if job.state is State.SUCCEEDED:
            code, msg = 200, "success"
        else:
            code = 501
            msg = self.catalogue(501).message or "Generation failed"
        return self._message(job, target.url, code, msg, self.record(job, self.word(job)))

    def stale_webhook(self, job: Job) -> WebhookMessage | None:
        """The recordInfo envelope as it was while the task was ``generating``."""
        target = job.webhook
        if target is None or job.state not in (State.SUCCEEDED, State.FAILED):
            return None
        snapshot = earlier_snapshot(job)
        return self._message(job, target.url, 200, "success",
                             self.record(snapshot, self.word(snapshot)))

    def callback_body(
        self, job: Job, code: int, msg: str, record: dict[str, Any]
    ) -> dict[str, Any]:
        """The superset of kie's and Apikley's callback shapes (``webhook.callback``).

        The recordInfo envelope (``data.taskId`` and the record, ``msg`` and
        ``message``) plus what kie's webhook-verification page shows and its
        sample verifiers read: a top-level ``taskId``, ``data.task_id`` and
        ``data.callbackType``.
        """
        callback = self.spec.webhook.callback
        data = {**record, "task_id": job.id, "callbackType": str(callback["callback_type"])}
        return {"code": code, "msg": msg, "message": msg, "taskId": job.id, "data": data}

    def _message(
        self, job: Job, url: str, code: int, msg: str, data: dict[str, Any]
    ) -> WebhookMessage:
        body = dumps(self.callback_body(job, code, msg, data))
        secret = self.webhook_secret(job)
        sign = partial(_sign, job.id, secret) if secret else None
        return WebhookMessage(
            url=url, body=body, headers={"Content-Type": "application/json"}, sign=sign
        )


def _sign(task_id: str, secret: str, timestamp: int) -> dict[str, str]:
    return sign_kie_hmac(task_id, timestamp, secret)
