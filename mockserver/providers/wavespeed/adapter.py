"""WaveSpeed: ``POST /api/v3/{model-id}``, the result poll, sync mode and signed webhooks.

Wire facts (contracts/wavespeed/provider.yaml, with provenance there):

* create ``POST /api/v3/wavespeed-ai/wan-2.2/image-to-video``: the body *is*
  the model input (no ``input`` wrapper) plus transport fields
  (``enable_sync_mode``, ``enable_base64_output``, ``webhook_url``); the
  webhook may also come as ``?webhook=<url>``;
* every answer is ``{code: 200, message: "success", data: <prediction>}``
  where the prediction is ``{id, model, outputs, urls: {get},
  has_nsfw_contents, status, created_at, error, timings: {inference}}``;
* poll ``GET /api/v3/predictions/{id}/result`` (and ``/api/v3/predictions/{id}``),
  words ``created`` / ``processing`` / ``completed`` / ``failed``;
* the webhook is the flat prediction, signed Standard-Webhooks style
  (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v3,<hex>``)
  with the account's webhook secret;
* errors ``{code, message, data: null}`` with the HTTP status.

Media uploads: ``POST /api/v3/media/upload/binary`` (multipart ``file``)
[DOC], and the SDK's two steps [CLIENT]: ``POST /api/v3/media/uploads``
``{filename, size, content_type}`` answers with a PUT URL and a download URL,
both on the mock (``/_mock/uploads/...``), and the bytes put there are served
back at the download URL, so a client can upload, then pass the URL as an input.

Sync mode (``enable_sync_mode: true``) answers when the job has ended or the
sync wait (``endpoints.create.sync_mode.wait_seconds``) has run out; then
``data.status`` stays ``processing`` and ``data.code`` is 5004 [CLIENT].
With a manual clock the mock lets the wait's mock time pass itself (see
:meth:`AdapterBase.finish_within`); with a real clock the handler sleeps
the (sped-up) wall time the job still needs, capped by the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any

from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import Job, State
from mockserver.domain.service import dumps
from mockserver.domain.uploads import UploadError
from mockserver.domain.webhooks import WebhookMessage
from mockserver.providers.base import Route, WireRequest, WireResponse
from mockserver.providers.common import (
    DEFAULT_WEBHOOK_SECRET,
    AdapterBase,
    earlier_snapshot,
    iso_ms,
    parse_json_object,
    run_seconds,
    seconds_to_ms,
)
from mockserver.providers.forms import parse_form_data
from mockserver.providers.uploads import download_url, media_type_of, put_url
from mockserver.providers.wavespeed.signing import sign_standard_webhooks_v3

_POLL = "/endpoints/poll/responses/200/by_status/{word}/schema"
_CREATE = "/endpoints/create/responses/200/schema"

#: Job failure kinds shared with the other providers' catalogues -> WaveSpeed
#: job-level codes ([DOC] 1200 moderation, 1402 media access, 5004 timeout).
#: A failure already named by its code ("1200") is used as is.
_KIND_CODES = {
    "content_moderation": "1200",
    "invalid_input_media": "1402",
    "generation_failed": "1403",
    "timeout": "5004",
}


#: Wall seconds added to each re-wait, over the event loop's timer granularity.
_TIMER_SLACK_SECONDS = 0.002
#: Re-waits at most after the first sleep of a real-clock sync create.
_SYNC_REWAITS = 50


class WaveSpeedAdapter(AdapterBase):
    """WaveSpeed wire shapes over the neutral :class:`MockService`."""

    name = "wavespeed"
    # Signed with the account's secret, or this documented default [GUESS].
    default_webhook_secret = DEFAULT_WEBHOOK_SECRET

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Sleeps a real-clock sync wait (replaceable in tests).
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def routes(self) -> list[Route]:
        """poll, balance and uploads, then create as the catch-all ``/api/v3/{model_id:path}``.

        The others come first so ``/api/v3/predictions/...`` or
        ``/api/v3/media/...`` is never taken for a model id; the HTTP layer
        matches routes in order.
        """
        routes = self.bind("poll", "balance", "signing_secret", "upload", "upload_ticket",
                           "create",
                           path_params={"model_id": "{model_id:path}"})
        # Any path matches the create catch-all; for another method only a
        # model's path exists (405), anything else is unknown (404).
        return [replace(route, exists=self._names_a_model) if route.name == "create" else route
                for route in routes]

    def _names_a_model(self, params: dict[str, str]) -> bool:
        return self.contract.model(params.get("model_id", "").strip("/")) is not None

    # --- handlers ----------------------------------------------------------
    def create(self, request: WireRequest) -> WireResponse | Awaitable[WireResponse]:
        """Validate the inputs of the model in the path, store the job, answer with it."""
        key = self.authenticate(request)
        status = self.case_code("validation", 400)
        model = self.model_or_error(request.path_params.get("model_id", "").strip("/"))
        body = parse_json_object(request, status)
        spec = self.endpoint("create")
        transport = spec.transport_fields  # a few names
        inputs = self.service.validate_input(
            model, {k: v for k, v in body.items() if k not in transport}, status=status
        )
        sync_field = spec.raw.get("sync_mode", {}).get("field", "enable_sync_mode")
        sync = body.get(sync_field, False)
        if not isinstance(sync, bool):
            raise MockError(status, f"{sync_field} must be a boolean", field=sync_field,
                            rule="type")
        # A present ?webhook= wins, even empty (then it is refused as no URL).
        url = request.query["webhook"] if "webhook" in request.query else body.get("webhook_url")
        webhook = self.webhook_target(url, field="webhook", status=status)
        job = self.create_job(
            request,
            key=key,
            model=model,
            inputs=inputs,
            job_id=self.service.world.new_hex(32),
            webhook=webhook,
            validation_status=status,
        )
        if not sync:
            return WireResponse(200, self.envelope(self.prediction(job, self.word(job))),
                                schema=_CREATE)
        if job.effects.get("sync_timeout"):
            return self.sync_answer(job)
        limit = float(spec.raw.get("sync_mode", {}).get("wait_seconds", 60))
        job = self.finish_within(job, limit)  # manual clock: time passes here
        pause = self.wall_wait_seconds(job, limit)
        if pause > 0 and not job.terminal:
            # Real clock: answer later without holding up the event loop.
            return self.answer_after(pause, job.id, self.service.clock.now() + limit)
        return self.sync_answer(job)

    async def answer_after(
        self, pause: float, job_id: str, deadline: float | None = None
    ) -> WireResponse:
        """The sync-mode answer once the job has ended or the sync wait has run out.

        Event-loop timers are coarse (uvloop rounds to milliseconds and measures
        from a cached loop time), so a sleeper can wake before the job's planned
        end on the sped-up clock: it then sleeps the rest, padded, until the
        job ends or mock time passes ``deadline``; the loop is bounded.
        """
        await self.sleep(pause)
        job = self.service.get(self.name, job_id)
        for _ in range(_SYNC_REWAITS):
            if job.terminal or deadline is None or self.service.clock.now() >= deadline:
                break
            rest = self.wall_wait_seconds(job, deadline - self.service.clock.now())
            await self.sleep(rest + _TIMER_SLACK_SECONDS)
            job = self.service.get(self.name, job_id)
        return self.sync_answer(job)

    def sync_answer(self, job: Job) -> WireResponse:
        """A sync-mode create's answer: the finished job, or 5004 when the wait ran out."""
        spec = self.endpoint("create")
        data = self.prediction(job, self.word(job))
        if not job.terminal:
            # [CLIENT] a sync wait that runs out: still processing, data.code 5004.
            data["code"] = int(spec.raw["sync_mode"].get("timeout_code", 5004))
            # [CLIENT] the timed-out answer says processing even if the
            # job is still queued: the SDK keys on status + code 5004.
            data["status"] = "processing"
            data["error"] = (
                "Sync mode timed out waiting for the result; "
                f"query it later at {data['urls']['get']}"
            )
        return WireResponse(200, self.envelope(data), schema=_CREATE)

    def poll(self, request: WireRequest) -> WireResponse:
        """The prediction with its current status word."""
        key = self.authenticate(request)
        job = self.service.poll(self.name, request.path_params["id"], key)
        word = self.word(job)
        return WireResponse(200, self.envelope(self.prediction(job, word)),
                            schema=_POLL.format(word=word))

    def balance(self, request: WireRequest) -> WireResponse:
        """``{code: 200, message: "success", data: {balance}}``: what the key can still spend.

        The balance minus open reservations (running jobs), in USD.
        """
        account = self.account(request)
        body = {"code": 200, "message": "success",
                "data": {"balance": float(account.available)}}
        return WireResponse(200, body, schema="/endpoints/balance/responses/200/schema")

    def signing_secret(self, request: WireRequest) -> WireResponse:
        """``GET /api/v3/webhook/secret``: the secret this key's webhooks are signed with.

        ``data.secret`` as most clients read it, and a top-level ``secret``
        for those that read it flat (``endpoints.signing_secret``).
        """
        key = self.authenticate(request)
        secret = (self.webhook_secrets(key) if self.webhook_secrets else None) or (
            self.accounts.get(self.name, key).webhook_secret or DEFAULT_WEBHOOK_SECRET)
        body = {"code": 200, "message": "success", "data": {"secret": secret}, "secret": secret}
        return WireResponse(200, body, schema="/endpoints/signing_secret/responses/200/schema")

    def upload(self, request: WireRequest) -> WireResponse:
        """A file in one multipart request (field ``file``): its download URL on the mock."""
        self.authenticate(request)
        status = self.case_code("validation", 400)
        content_type = request.headers.get("content-type", "")
        fields = parse_form_data(content_type, request.body)
        if fields is None:
            raise MockError(status, "expected a multipart/form-data body with a `file` field",
                            field="file", rule="content_type",
                            details=f"Content-Type was {content_type or 'absent'!r}")
        part = fields.get("file")
        if part is None:
            raise MockError(status, "missing the multipart field `file`", field="file",
                            rule="required")
        filename = part.filename or "upload"
        try:
            upload = self.service.uploads.add(
                filename, media_type_of(part.content_type, filename), part.data)
        except UploadError as error:  # over the store's bound
            raise MockError(error.status, error.message, rule="upload_size") from None
        data = {"type": upload.content_type.partition("/")[0], "filename": upload.filename,
                "size": upload.size, "download_url": download_url(request, upload)}
        return WireResponse(200, {"code": 200, "message": "success", "data": data},
                            schema="/endpoints/upload/responses/200/schema")

    def upload_ticket(self, request: WireRequest) -> WireResponse:
        """Announce a file: where to PUT its bytes, and where they will be served."""
        self.authenticate(request)
        status = self.case_code("validation", 400)
        body = parse_json_object(request, status)
        problems = self.contract.validate("/endpoints/upload_ticket/request/schema", body)
        if problems:
            raise MockError(status, f"invalid upload request: {problems[0]}", rule="schema")
        filename = str(body["filename"])
        declared = body.get("content_type")
        content_type = media_type_of(declared if isinstance(declared, str) else None, filename)
        upload = self.service.uploads.announce(filename, content_type, body["size"])
        data = {
            "upload": {"method": "PUT", "url": put_url(request, upload),
                       "headers": {"Content-Type": content_type}},
            "download_url": download_url(request, upload),
        }
        return WireResponse(200, {"code": 200, "message": "success", "data": data},
                            schema="/endpoints/upload_ticket/responses/200/schema")

    # --- shapes --------------------------------------------------------------
    @staticmethod
    def envelope(data: dict[str, Any]) -> dict[str, Any]:
        """``{code: 200, message: "success", data}`` around a prediction."""
        return {"code": 200, "message": "success", "data": data}

    def prediction(self, job: Job, word: str) -> dict[str, Any]:
        """The prediction object (``data``; also the flat webhook payload)."""
        outputs = self.outputs(job)
        inference = run_seconds(job) if job.state is State.SUCCEEDED else None
        data: dict[str, Any] = {
            "id": job.id,
            "model": job.model_id,
            "outputs": outputs,
            "urls": {"get": f"{self.base_url(job)}/api/v3/predictions/{job.id}/result"},
            # One boolean per output; the mock's file is never flagged.
            "has_nsfw_contents": [False] * len(outputs),
            "status": word,
            "created_at": iso_ms(job.created_at),
            "error": "",  # [SEED] empty if no error occurred
            # [SEED] an integer (ms); 0 until the job has finished running [GUESS].
            "timings": {"inference": 0 if inference is None else seconds_to_ms(inference)},
        }
        if job.state is State.FAILED:
            code, message = self.failure(job)
            data["error"] = message
            data["code"] = code
        elif job.state is State.CANCELLED:
            data["error"] = "Task cancelled"
        return data

    def failure(self, job: Job) -> tuple[int, str]:
        """Job-level failure code and message ([DOC] ``data.code`` 1200 ... 5004)."""
        failures = self.spec.errors.job_failures
        codes = failures.table
        failure = job.failure or ""
        code = failure if failure in codes else _KIND_CODES.get(failure, "")
        if code not in codes:
            code = failures.default
        return int(code), str(codes[code]["message"])

    # --- webhook -------------------------------------------------------------
    def webhook(self, job: Job) -> WebhookMessage | None:
        """The flat prediction, signed with the account's webhook secret."""
        target = job.webhook
        if target is None or job.state not in (State.SUCCEEDED, State.FAILED):
            return None
        # One message per job: the job id is a stable webhook-id across
        # retries, as Standard Webhooks asks (receivers dedupe on it).
        return self._message(job, target.url, self.prediction(job, self.word(job)), job.id)

    def stale_webhook(self, job: Job) -> WebhookMessage | None:
        """The flat prediction as it was while running (``processing``), its own webhook-id."""
        target = job.webhook
        if target is None or job.state not in (State.SUCCEEDED, State.FAILED):
            return None
        snapshot = earlier_snapshot(job)
        data = self.prediction(snapshot, self.word(snapshot))
        # Another event than the final one: a receiver deduping on webhook-id sees it.
        return self._message(job, target.url, data, f"{job.id}-processing")

    def _message(
        self, job: Job, url: str, data: dict[str, Any], message_id: str
    ) -> WebhookMessage:
        body = dumps(data)
        secret = self.webhook_secret(job)
        sign = partial(_sign, message_id, body, secret) if secret else None
        return WebhookMessage(
            url=url, body=body, headers={"Content-Type": "application/json"}, sign=sign
        )


def _sign(message_id: str, body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    return sign_standard_webhooks_v3(message_id, timestamp, body, secret)
