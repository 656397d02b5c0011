"""The neutral operations every provider adapter calls.

:class:`MockService` is the one place where a create becomes a job: input
checked against the model contract, the job planned from the model's
estimated time and any scenario, stored in the world; where a poll advances
a job; where a cancel happens; and where a finished job becomes a webhook
delivery in the outbox. Adapters only translate wire shapes to these calls
and back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockserver import wirejson
from mockserver.domain.admission import Admission, planned_end
from mockserver.domain.clock import Clock
from mockserver.domain.errors import MockError
from mockserver.domain.lifecycle import (
    NO_EFFECTS,
    Job,
    Plan,
    State,
    Transition,
    WebhookTarget,
    advance_by_poll,
)
from mockserver.domain.uploads import UPLOADS_PATH, UploadStore
from mockserver.domain.urls import public_https_problem
from mockserver.domain.webhook_targets import WebhookTargetPolicy
from mockserver.domain.webhooks import Delivery, Outbox, RetryPolicy, WebhookMessage
from mockserver.domain.world import World

if TYPE_CHECKING:
    from mockserver.contracts import ModelContract

#: Distinct plans shared at most (see MockService.plan_for).
_PLAN_CACHE_SIZE = 256
#: Estimated seconds for a model whose document gives none.
DEFAULT_ESTIMATE_SECONDS = 35.0


@dataclass(slots=True)
class CreateRequest:
    """A create, in neutral terms, as an adapter parsed it."""

    provider: str
    key: str
    model: ModelContract
    input: dict[str, Any]
    webhook: WebhookTarget | None = None
    #: HTTP-level status the provider uses for invalid input (400 or 422).
    validation_status: int = 400
    plan_overrides: dict[str, Any] = field(default_factory=dict)
    #: Where the creator addressed the mock (see :class:`Job`).
    base_url: str = ""
    media_base_url: str = ""
    #: The scenario's effects beyond the plan (``sync_timeout``, ``webhook_*`` ...).
    effects: Mapping[str, Any] = field(default_factory=lambda: NO_EFFECTS)
    #: The adapter's own per-job record (:attr:`Job.provider_fields`).
    provider_fields: Any = None


#: Renders the webhook message for a finished job, or None when it sends none.
WebhookRenderer = Callable[[Job], WebhookMessage | None]


@dataclass
class ServiceSettings:
    """Knobs of the service that a config file or flags can set."""

    #: Progress by polls instead of by the clock when set (N polls per phase).
    polls_per_phase: int | None = None
    #: Override every model's estimated processing time (mock seconds).
    job_seconds: float | None = None
    retry_policies: dict[str, RetryPolicy] = field(default_factory=dict)
    #: Where webhook URLs may point (checked by the adapters at create).
    webhook_policy: WebhookTargetPolicy = field(default_factory=WebhookTargetPolicy)
    #: Providers whose contract says any key may read and cancel any job
    #: (``isolation.jobs: any_key``); every other provider answers another
    #: key's job as it answers an unknown id.
    shared_jobs: frozenset[str] = frozenset()


class MockService:
    """Create, read, poll and cancel jobs; turn finished jobs into webhooks."""

    def __init__(
        self,
        world: World,
        outbox: Outbox,
        settings: ServiceSettings | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.world = world
        self.outbox = outbox
        self.settings = settings or ServiceSettings()
        #: Rate limits and billing of creates; None admits everything for free.
        self.admission = admission
        #: Files uploaded before a create (WaveSpeed's media uploads).
        self.uploads = UploadStore()
        self._webhook_renderers: dict[str, WebhookRenderer] = {}
        #: Plans are frozen and most jobs of a model share one: one object for
        #: all of them (memory per stored job, and fewer objects for the GC).
        self._plans: dict[tuple[Any, int | None, tuple[tuple[str, Any], ...]], Plan] = {}
        self._stale_renderers: dict[str, WebhookRenderer] = {}
        #: Id of the job the latest create, read, poll or cancel found (None:
        #: none). The HTTP layer clears it before a handler and reads it after,
        #: to link the request's journal entry to its job (handlers are synchronous).
        self.touched: str | None = None
        world.subscribe(self._on_transition)
        world.subscribe_evictions(self._on_eviction)

    @property
    def clock(self) -> Clock:
        """The world's clock."""
        return self.world.clock

    def register_webhook_renderer(self, provider: str, renderer: WebhookRenderer) -> None:
        """Let ``provider``'s adapter say what to POST when one of its jobs ends."""
        self._webhook_renderers[provider] = renderer

    def register_stale_webhook_renderer(self, provider: str, renderer: WebhookRenderer) -> None:
        """Let ``provider``'s adapter render a finished job as it was while running.

        Scenario ``webhook_out_of_order`` delivers that stale payload after
        the final one.
        """
        self._stale_renderers[provider] = renderer

    # --- create --------------------------------------------------------
    def validate_input(
        self, model: ModelContract, payload: object, *, status: int = 400, prefix: str = ""
    ) -> dict[str, Any]:
        """Check ``payload`` against the model contract; return it with defaults applied.

        The first violation becomes a MockError naming the field (``prefix`` +
        its path) and the rule, in the provider's validation status.
        """
        errors = model.validate_input(payload)
        if errors:
            first = errors[0]
            field_name = f"{prefix}{first.path}" if first.path else prefix.rstrip(".") or None
            raise MockError(
                status,
                f"{field_name or 'input'}: {first.message}",
                field=field_name,
                rule=first.rule,
                details="; ".join(f"{prefix}{e.path}: {e.message}" for e in errors),
            )
        assert isinstance(payload, dict)  # the schema is an object schema
        for name in model.file_url_fields:
            value = payload.get(name)
            if value is None:
                continue
            if isinstance(value, str) and UPLOADS_PATH in value and self.uploads.serves(value):
                continue  # the mock's own upload URL stands for the provider's CDN URL
            problem = public_https_problem(value)
            if problem:
                raise MockError(
                    status,
                    f"{prefix}{name} {problem}",
                    field=f"{prefix}{name}",
                    rule="x-file-url",
                )
        return model.with_defaults(payload)

    def plan_for(self, model: ModelContract, overrides: Mapping[str, Any]) -> Plan:
        """The plan of a new job of ``model``."""
        estimate = self.settings.job_seconds
        if estimate is None:
            estimate = model.estimated_processing_seconds or DEFAULT_ESTIMATE_SECONDS
        polls = self.settings.polls_per_phase
        try:
            # Most creates have no overrides: () keeps their key cheap to build.
            cache_key = (estimate, polls, tuple(sorted(overrides.items())) if overrides else ())
            plan = self._plans.get(cache_key)
        except TypeError:  # an unhashable override value: no sharing
            return Plan.from_estimate(float(estimate), **{"polls_per_phase": polls, **overrides})
        if plan is None:
            plan = Plan.from_estimate(float(estimate), **{"polls_per_phase": polls, **overrides})
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[cache_key] = plan
        return plan

    def new_job(self, request: CreateRequest, job_id: str) -> Job:
        """The job ``request`` describes, created now (not stored, not admitted yet)."""
        job = Job(
            id=job_id,
            provider=request.provider,
            model_id=request.model.model_id,
            key=request.key,
            input=request.input,
            created_at=self.clock.now(),
            plan=self.plan_for(request.model, request.plan_overrides),
            base_url=request.base_url,
            media_base_url=request.media_base_url,
            webhook=request.webhook,
            effects=request.effects,
            provider_fields=request.provider_fields,
        )
        name = request.effects.get("name")
        if isinstance(name, str):
            job.scenario = name
        return job

    def create(self, request: CreateRequest, job_id: str) -> Job:
        """Store a new job for an already validated request.

        With :attr:`admission` set the create is rate-limited (429) and priced
        (402) first, in the order :mod:`mockserver.domain.admission` documents:
        auth -> forced scenario codes -> validation -> rate limit -> price ->
        create. A refused create changes nothing.
        """
        job = self.new_job(request, job_id)
        if self.admission is not None:
            self.admission.admit(
                job, request.model, soonest_end=lambda: self._soonest_end(job.provider, job.key)
            )
        self.touched = job_id
        return self.world.add(job)

    def _soonest_end(self, provider: str, key: str) -> float | None:
        """Planned end of the key's soonest-ending job in flight (for a Retry-After)."""
        ends = []
        for job_id in self._in_flight(provider, key):
            job = self.world.get(job_id)
            end = None if job is None else planned_end(job)
            if end is not None:
                ends.append(end)
        return min(ends, default=None)

    def _in_flight(self, provider: str, key: str) -> frozenset[str] | set[str]:
        """Ids of the key's jobs holding a concurrency slot."""
        assert self.admission is not None
        return self.admission.limiter.in_flight(provider, key)

    # --- read ----------------------------------------------------------
    def get(self, provider: str, job_id: str, key: str | None = None) -> Job:
        """The job, up to date; MockError(404) if this provider has no such job.

        With ``key``, another key's job is not found either (the provider's
        ``isolation.jobs``): a multi-tenant API never shows one customer's
        job to another, nor says that it exists.
        """
        job = self.world.get(job_id)
        if job is None or job.provider != provider or (
            key is not None and job.key != key and provider not in self.settings.shared_jobs
        ):
            raise MockError(404, f"prediction {job_id!r} not found", field="id", rule="exists")
        self.touched = job_id
        return job

    def poll(self, provider: str, job_id: str, key: str | None = None) -> Job:
        """Read a job as a client's poll does: counts toward poll-driven progress."""
        job = self.get(provider, job_id, key)
        transitions = advance_by_poll(job, self.clock.now())
        if transitions:
            self.world.apply(transitions)
        return job

    def cancel(self, provider: str, job_id: str, key: str | None = None) -> Job:
        """Cancel a job that has not finished; MockError(400) if it has."""
        job = self.get(provider, job_id, key)
        if job.terminal:
            raise MockError(
                400,
                f"prediction {job_id!r} already finished ({job.state}); it cannot be cancelled",
                field="id",
                rule="cancellable",
            )
        self.world.cancel(job)
        return job

    # --- job ends: money, slots, webhooks ---------------------------------
    def _on_eviction(self, job: Job) -> None:
        """An unfinished job left the bounded store: release its money and its slot."""
        if self.admission is None:
            return
        for promoted in self.admission.ended(job):
            waiting = self.world.get(promoted)
            if waiting is not None and not waiting.terminal:
                self.world.release(waiting)

    def _on_transition(self, transition: Transition) -> None:
        job = transition.job
        if not transition.after.terminal:
            return
        if self.admission is not None:
            # Any end frees the job's slot and settles (success) or releases its money.
            for promoted in self.admission.ended(job):
                waiting = self.world.get(promoted)
                if waiting is not None and not waiting.terminal:
                    self.world.release(waiting, at=transition.at)
        if transition.after is State.CANCELLED:
            return
        delivery = self.delivery_for(job, transition.at)
        if delivery is not None:
            self.outbox.enqueue(delivery)

    def delivery_for(self, job: Job, at: float) -> Delivery | None:
        """The webhook delivery announcing ``job``'s end at mock time ``at``, if it sends one."""
        renderer = self._webhook_renderers.get(job.provider)
        if renderer is None or job.webhook is None:
            return None
        message = renderer(job)
        if message is None:
            return None
        policy = self.settings.retry_policies.get(job.provider, RetryPolicy())
        # A fault scenario's webhook effects (``webhook_refused`` ...) ride in
        # job.effects; the sender honours them per delivery.
        effects = frozenset(
            str(name).removeprefix("webhook_")
            for name, on in job.effects.items()
            if str(name).startswith("webhook_") and on
        )
        delivery = Delivery(
            id=self.world.new_uuid(),
            job_id=job.id,
            provider=job.provider,
            url=message.url,
            body=message.body,
            policy=policy,
            due=at,
            headers=dict(message.headers),
            signer=message.sign,
            effects=effects,
        )
        stale_renderer = self._stale_renderers.get(job.provider)
        stale = stale_renderer(job) if "out_of_order" in effects and stale_renderer else None
        if stale is not None:
            # Sent once the final delivery is finished, so it arrives after it.
            delivery.then = Delivery(
                id=self.world.new_uuid(),
                job_id=job.id,
                provider=job.provider,
                url=stale.url,
                body=stale.body,
                policy=policy,
                due=at,
                kind="stale",
                headers=dict(stale.headers),
                signer=stale.sign,
                effects=effects - {"duplicate", "out_of_order"},
            )
        return delivery


def dumps(body: Any) -> bytes:
    """Compact JSON bytes, as the providers send them."""
    return wirejson.dumps(body)
