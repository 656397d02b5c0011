"""A job's story, composed when it is read: ``GET /_mock/jobs/{id}/timeline``.

A read model, not new bookkeeping: every event comes from what the mock
already keeps for other reasons —

* the **journal** (each entry is linked to the job its request created or
  read): the create with its request and answer, every poll with the status
  word its answer carried, the client's cancel;
* the **job** itself: its plan and exact transition times (queued, running,
  and the end), its price record (reserve, then charge or release), the rate
  limiter's decision on its create, its scenario;
* the **webhook outbox**: each delivery and every attempt (mock time, wall
  time, status code or error, latency), with the signature headers it sent
  recomputed from the timestamp the attempt signed with, secrets masked.

Bounded: at most :data:`MAX_EVENTS` events (polls beyond it are dropped from
the middle, first and last kept) and :data:`JOURNAL_SCAN` journal entries
examined; ``truncated`` says when anything is missing, including polls the
journal's ring no longer holds (``job.polls`` counts them all).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from mockserver.domain.admission import unpack_counts
from mockserver.domain.lifecycle import Job, State
from mockserver.domain.webhooks import Attempt, Delivery, DeliveryState
from mockserver.faults import SCENARIOS, ScenarioError
from mockserver.faults.magic import scenario_from_magic
from mockserver.faults.prefer import parse_prefer
from mockserver.http.journal import exchange_entry, journal_body, response_value
from mockserver.redact import mask_headers, mask_secret, mask_value, redact_url

__all__ = ["JOURNAL_SCAN", "MAX_EVENTS", "job_timeline", "signature_headers", "status_word_in"]

#: Events one timeline answers at most; polls beyond it are left out (``truncated``).
MAX_EVENTS = 500
#: Journal entries one timeline examines at most, newest first.
JOURNAL_SCAN = 20_000

#: Order of events at the same instant: cause before effect.
_ORDER = {"create": 0, "scenario": 1, "rate_limit": 2, "credit": 3, "transition": 4,
          "output": 5, "poll": 6, "cancel": 6, "webhook_attempt": 7}


def _masked_key(job: Job) -> str:
    return mask_secret(job.key) if job.key else job.key


def _order(event: dict[str, Any]) -> tuple[float, float]:
    """Time, then cause before effect (a charge follows the transition that causes it)."""
    rank = float(_ORDER.get(event["kind"], 9))
    if event["kind"] == "credit" and event["detail"].get("action") != "reserve":
        rank = 4.5
    return event["at"], rank


def signature_headers(delivery: Delivery, signed_at: int | None) -> dict[str, str]:
    """The provider headers an attempt carried: static ones plus the signature made at
    ``signed_at`` (the mock's own signer, so the value is the one sent). Unmasked."""
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    if delivery.signer is not None and signed_at is not None:
        headers.update({k.lower(): v for k, v in delivery.signer(signed_at).items()})
    return headers


def status_word_in(body: Any, words: Mapping[str, Any]) -> str | None:
    """The provider status word an answer carried (``status``, ``state``, or under ``data``)."""
    for holder in (body, body.get("data") if isinstance(body, dict) else None):
        if not isinstance(holder, dict):
            continue
        for name in ("status", "state"):
            value = holder.get(name)
            if isinstance(value, str) and value in words:
                return value
    return None


def job_timeline(state: Any, job: Job, job_view: dict[str, Any]) -> dict[str, Any]:
    """``{"job", "events", "truncated"}`` for ``job`` (see the module doc)."""
    builder = _Timeline(state, job)
    builder.collect()
    events, truncated = builder.bounded()
    return {"job": job_view, "events": events, "truncated": truncated}


class _Timeline:
    def __init__(self, state: Any, job: Job) -> None:
        self.state = state
        self.job = job
        self.events: list[dict[str, Any]] = []
        self.truncated = False
        adapter = state.adapters.get(job.provider)
        contract = getattr(adapter, "contract", None)
        self.words: Mapping[str, Any] = (
            contract.spec.statuses.words if contract is not None else {})
        self._wall: Callable[[float], float | None] = getattr(
            state.clock, "wall_time", lambda _at: None)

    def add(self, kind: str, at: float, title: str, detail: dict[str, Any], *,
            wall: float | None = None, request_seq: int | None = None) -> None:
        self.events.append({"at": at, "wall": self._wall(at) if wall is None else wall,
                            "kind": kind, "title": title, "detail": detail,
                            "request_seq": request_seq})

    def collect(self) -> None:
        create_entry = self._journal()
        self._scenario(create_entry)
        self._admission()
        self._credits()
        self._transitions()
        self._webhooks()

    # --- journal: create, polls, cancel ----------------------------------------
    def _journal(self) -> dict[str, Any] | None:
        job = self.job
        kept, stopped = self.state.journal.of_job(job.id, budget=JOURNAL_SCAN)
        self.truncated |= stopped
        create_entry: dict[str, Any] | None = None
        polls = 0
        for exchange in kept:
            entry = exchange_entry(exchange)
            endpoint = entry["endpoint"]
            summary = {"method": entry["method"], "path": entry["path"], "endpoint": endpoint,
                       "status": entry["status"], "duration_ms": entry["duration_ms"],
                       "scenario": entry["scenario"]}
            if endpoint == "create" and create_entry is None:
                create_entry = entry
                self.add("create", entry["at"],
                         f"created by {entry['method']} {entry['path']} -> {entry['status']}",
                         {**summary, "model_id": job.model_id, "key": _masked_key(job),
                          "request": entry["body"], "response": entry["response"]},
                         wall=entry["wall"], request_seq=entry["seq"])
            elif endpoint == "cancel":
                self.add("cancel", entry["at"],
                         f"cancel requested: {entry['method']} {entry['path']} -> "
                         f"{entry['status']}", {**summary, "response": entry["response"]},
                         wall=entry["wall"], request_seq=entry["seq"])
            else:
                polls += endpoint == "poll"
                word = status_word_in(self._parsed(exchange), self.words)
                shown = f" {word}" if word else ""
                title = f"{endpoint or 'request'} -> {entry['status']}{shown}"
                self.add("poll", entry["at"], title,
                         {**summary, "status_word": word}, wall=entry["wall"],
                         request_seq=entry["seq"])
        if create_entry is None:
            self.add("create", job.created_at, "created (its request has left the journal)",
                     {"model_id": job.model_id, "key": _masked_key(job),
                      "input": mask_value(job.input), "journal": "not found"})
        if job.polls > polls:
            self.truncated = True  # the journal's ring no longer holds every poll
        return create_entry

    @staticmethod
    def _parsed(exchange: Any) -> Any:
        return response_value(exchange)

    # --- the job's own record ---------------------------------------------------
    def _scenario(self, create_entry: dict[str, Any] | None) -> None:
        job = self.job
        overrides = job.effects
        name = job.scenario or (overrides.get("name") if isinstance(overrides, Mapping) else None)
        if not name:
            return
        sources = self._scenario_sources(str(name), create_entry)
        registry = getattr(self.state.scenarios, "registry", None)
        known = registry.get(str(name).split(":", 1)[0]) if registry is not None else None
        self.add("scenario", job.created_at, f"scenario {name} (from {' + '.join(sources)})",
                 {"name": name, "sources": sources,
                  "description": getattr(known, "description", None),
                  "effects": mask_value(dict(overrides)) if isinstance(overrides, Mapping) else {}},
                 request_seq=create_entry["seq"] if create_entry else None)

    def _scenario_sources(self, name: str, create_entry: dict[str, Any] | None) -> list[str]:
        """Where the scenario came from, read off the create (strongest first) with
        the faults wing's own parsers, so the timeline names what selection used."""
        registry = getattr(self.state.scenarios, "registry", SCENARIOS)
        headers = create_entry["headers"] if create_entry else {}
        sources: list[str] = []
        with contextlib.suppress(ScenarioError):  # the create was answered: it parsed then
            if parse_prefer(headers.get("prefer"), registry).effective() is not None:
                sources.append("prefer")
        with contextlib.suppress(ScenarioError):
            if scenario_from_magic(self.job.key, None, registry) is not None:
                sources.append("magic_key")
        with contextlib.suppress(ScenarioError):
            if scenario_from_magic(None, self.job.input, registry) is not None:
                sources.append("marker")
        if name == "chaos" and not sources:
            sources.append("chaos")
        if not sources:
            # Neither the create's headers, its key nor its input name it: a queued entry
            # (or a Prefer whose journal entry is gone).
            sources.append("queue" if create_entry else "queue or prefer")
        return sources

    def _admission(self) -> None:
        job = self.job
        counts = unpack_counts(job.admitted)
        if counts is None:
            return
        place, in_flight = counts
        limits: dict[str, Any] = {}
        admission = getattr(self.state.service, "admission", None)
        if admission is not None:
            try:
                account = admission.accounts.get(job.provider, job.key)
                policy = admission.limiter.policy(job.provider, account.limits)
                limits = {"creates_per_window": policy.creates_per_window,
                          "window_seconds": policy.window_seconds,
                          "concurrent": policy.concurrent}
            except (ValueError, AttributeError):
                limits = {}
        queued = job.queued_since > job.created_at or job.held
        title = (f"rate limit: admitted, create {place} in its window, "
                 f"{in_flight} other job(s) in flight")
        if queued:
            title += "; waits for a free slot"
        self.add("rate_limit", job.created_at, title,
                 {"decision": "admitted", "action": "queue" if queued else "start",
                  "window_count": place, "in_flight": in_flight, "limits_now": limits})
        if job.queued_since > job.created_at:
            self.add("rate_limit", job.queued_since, "a slot freed: the job starts queueing",
                     {"decision": "slot_freed", "waited_seconds":
                      round(job.queued_since - job.created_at, 3)})

    def _credits(self) -> None:
        job = self.job
        price = job.price
        if not isinstance(price, Mapping):
            return
        amount, currency = price.get("amount"), price.get("currency")
        detail = {"amount": amount, "currency": currency, "label": price.get("label")}
        self.add("credit", job.created_at, f"reserved {amount} {currency}",
                 {**detail, "action": "reserve"})
        if job.finished_at is None:
            return
        if job.state is State.SUCCEEDED:
            self.add("credit", job.finished_at, f"charged {amount} {currency}",
                     {**detail, "action": "charge", "cost": job.cost})
        else:
            self.add("credit", job.finished_at,
                     f"released {amount} {currency} ({job.state})",
                     {**detail, "action": "release", "cost": job.cost})

    def _transitions(self) -> None:
        job = self.job
        plan = job.plan
        self.add("transition", job.created_at, "queued",
                 {"from": None, "to": "queued", "held": job.held,
                  "planned_queue_seconds": plan.queue_seconds})
        if job.started_at is not None:
            self.add("transition", job.started_at, "queued -> running",
                     {"from": "queued", "to": "running",
                      "planned_run_seconds": None if plan.stuck else plan.run_seconds,
                      "stuck": plan.stuck})
        if job.finished_at is not None:
            before = "running" if job.started_at is not None else "queued"
            detail: dict[str, Any] = {"from": before, "to": str(job.state)}
            if job.state is State.FAILED:
                detail["failure"] = job.failure
            self.add("transition", job.finished_at, f"{before} -> {job.state}", detail)
            if job.state is State.CANCELLED and not any(
                    e["kind"] == "cancel" for e in self.events):
                self.add("cancel", job.finished_at, "cancelled", {"by": "unknown"})
        if job.state is State.SUCCEEDED and job.outputs:
            self.add("output", job.finished_at or job.updated_at,
                     f"{len(job.outputs)} output(s)",
                     {"outputs": [redact_url(url) for url in job.outputs]})
        elif not job.terminal:
            due = job.next_due()
            if due is not None:
                self.add("transition", due, f"next: {job.state} -> "
                         f"{'running' if job.state is State.QUEUED else plan.outcome} (planned)",
                         {"planned": True, "from": str(job.state)})

    # --- webhooks -----------------------------------------------------------------
    def _webhooks(self) -> None:
        for delivery in self.state.outbox.deliveries():
            if delivery.job_id != self.job.id:
                continue
            for attempt in delivery.attempts:
                self._attempt(delivery, attempt)
            if delivery.state in (DeliveryState.PENDING, DeliveryState.IN_FLIGHT):
                self.add("webhook_attempt", delivery.due,
                         f"webhook {delivery.kind}: next attempt {delivery.state} "
                         f"(attempt {len(delivery.attempts) + 1}/{delivery.policy.attempts})",
                         {"delivery_id": delivery.id, "state": str(delivery.state),
                          "url": redact_url(delivery.url), "planned": True})

    def _attempt(self, delivery: Delivery, attempt: Attempt) -> None:
        code = f" {attempt.status_code}" if attempt.status_code is not None else ""
        error = f": {attempt.error}" if attempt.error else ""
        title = (f"webhook {delivery.kind} attempt {attempt.number}/{delivery.policy.attempts}: "
                 f"{attempt.outcome}{code} in {attempt.duration_ms:.0f} ms{error}")
        headers = mask_headers(signature_headers(delivery, attempt.signed_at))
        self.add("webhook_attempt", attempt.at, title[:300], {
            "delivery_id": delivery.id, "kind": delivery.kind, "attempt": attempt.number,
            "of": delivery.policy.attempts, "outcome": str(attempt.outcome),
            "status_code": attempt.status_code, "error": attempt.error,
            "duration_ms": round(attempt.duration_ms, 3), "url": redact_url(delivery.url),
            "headers": headers, "signed_at": attempt.signed_at,
            "resend_of": delivery.resend_of, "delivery_state": str(delivery.state),
            "body": journal_body(delivery.body),
        }, wall=attempt.wall)

    # --- order and bound ------------------------------------------------------------
    def bounded(self) -> tuple[list[dict[str, Any]], bool]:
        events = sorted(self.events, key=_order)
        truncated = self.truncated
        if len(events) > MAX_EVENTS:
            truncated = True
            polls = [i for i, e in enumerate(events) if e["kind"] == "poll"]
            room = max(0, MAX_EVENTS - (len(events) - len(polls)))
            head = room // 2
            dropped = set(polls[head:len(polls) - (room - head)])
            events = [e for i, e in enumerate(events) if i not in dropped][:MAX_EVENTS]
        return [{"seq": n, **event} for n, event in enumerate(events, start=1)], truncated
