"""The codecs (``mockserver/store/codec.py``): decode(encode(x)) == x, field by field.

Jobs and webhook deliveries (with their attempts, signer and stale follow-up).

The jobs come from real creates of every provider through the in-process app
(plain, with a webhook, with scenarios, held over a concurrency limit, polled,
finished, failed, cancelled), so every field the domain fills is covered; a
last check asserts that across them every ``Job`` field took a non-default
value at least once (a field added to ``Job`` and forgotten by the codec shows
up here, not in production).
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from functools import partial
from typing import Any

import httpx
import pytest

from mockserver.domain.lifecycle import Job, Plan, State, WebhookTarget
from mockserver.domain.webhooks import Attempt, Delivery, DeliveryState, Outcome, RetryPolicy
from mockserver.http.state import MockState
from mockserver.providers import registry
from mockserver.store.codec import CodecError, DeliveryCodec, JobCodec
from tests.http_api import PROVIDERS, Api, advance

CODEC = JobCodec(registry.job_field_types())
FIELDS = [f.name for f in dataclasses.fields(Job)]


def _same(decoded: Job, job: Job) -> None:
    for name in FIELDS:
        want, got = getattr(job, name), getattr(decoded, name)
        assert got == want, f"{job.provider} job {job.id}: {name}: {got!r} != {want!r}"
        assert type(got) is type(want) or name in ("effects", "price", "input"), (
            f"{name}: {type(got).__name__} != {type(want).__name__}")


def _jobs(client: httpx.Client) -> list[Job]:
    state: MockState = client.app.state.mock  # type: ignore[attr-defined]
    return list(state.world.jobs())


def _non_default(jobs: list[Job]) -> set[str]:
    defaults = Job(id="", provider="", model_id="", key="", input={}, created_at=0.0,
                   plan=Plan(0.0, 0.0))
    return {name for job in jobs for name in FIELDS
            if getattr(job, name) != getattr(defaults, name)}


def _make_jobs(client: httpx.Client, provider: str, webhook: str) -> None:
    """Jobs in every shape the domain makes for ``provider``."""
    api = Api(client, provider, f"sk-codec-{provider}")
    api.set(limits={"creates_per_window": 100})
    api.create_ok()
    api.create_ok(webhook=webhook)
    api.create_ok(webhook=webhook, prefer='scenario="webhook_out_of_order"')
    failed = api.create_ok(prefer='scenario="job_failed"')
    stuck = api.create_ok(prefer='scenario="job_stuck"')
    polled = api.create_ok()
    api.poll(polled)
    api.poll(polled)
    api.poll(failed)
    assert stuck
    held_api = Api(client, provider, f"sk-codec-held-{provider}")
    held_api.set(limits={"creates_per_window": 100, "concurrent": 1, "over_limit": "queue"})
    held_api.create_ok()
    held_api.create_ok()


@pytest.mark.allow_unhandled_errors  # webhooks to a refused URL are expected to fail
def test_every_provider_job_round_trips_field_by_field(
    client: httpx.Client, refused_url: str
) -> None:
    for provider in PROVIDERS:
        _make_jobs(client, provider, refused_url)
    covered: set[str] = set()
    fresh = _jobs(client)
    for job in fresh:
        _same(CODEC.decode(CODEC.encode(job)), job)
    covered |= _non_default(fresh)  # now: the jobs are mutated by what follows
    advance(client, 15)  # some running, held ones still held
    advance(client, 3600)  # everything not stuck has ended (succeeded, failed)
    ended = _jobs(client)
    for job in ended:
        _same(CODEC.decode(CODEC.encode(job)), job)
    covered |= _non_default(ended)
    states = {job.state for job in ended}
    assert {State.SUCCEEDED, State.FAILED, State.RUNNING} <= states
    # Every Job field took a non-default value in some job (scenario jobs, held
    # jobs, polled jobs, priced and finished jobs): the codec saw every field.
    assert set(FIELDS) == covered, f"never exercised: {sorted(set(FIELDS) - covered)}"


def test_a_job_moved_by_hand_keeps_its_own_times_and_every_field() -> None:
    """updated_at/queued_since differ from created_at; a cancelled job; floats exact."""
    provider = next(iter(registry.job_field_types()))
    cls = registry.job_field_types()[provider]
    fields = cls(**{f.name: "v" for f in dataclasses.fields(cls)})
    job = Job(id="j1", provider=provider, model_id="m", key="k",
              input={"prompt": "é ü \u2028", "n": 10**30, "x": 0.1 + 0.2, "nested": [{}]},
              created_at=1.5,
              plan=Plan(0.1, 2.9, outcome=State.FAILED, polls_per_phase=3, stuck=True,
                        failure="nsfw"),
              provider_fields=fields)
    job.state = State.CANCELLED
    job.updated_at, job.queued_since, job.started_at, job.finished_at = 9.25, 4.0, 5.0, 9.25
    job.outputs = ["https://x/a.mp4"]
    job.cost = 0
    job.webhook = WebhookTarget("https://hook.test/a", secret=None)
    job.effects = {"output_expired": True, "sync_timeout": 2.5}
    job.price = {"amount": "0.40", "currency": "USD", "label": "5s"}
    job.held, job.admitted, job.size, job.polls, job.scenario = True, (3 << 32) | 7, 812, 5, "s"
    _same(CODEC.decode(CODEC.encode(job)), job)


def test_empty_collections_decode_to_the_shared_defaults() -> None:
    job = Job(id="j", provider="nobody", model_id="m", key="k", input={}, created_at=0,
              plan=Plan(1, 2))
    decoded = CODEC.decode(CODEC.encode(job))
    assert decoded.outputs == () and decoded.effects is job.effects
    assert decoded.updated_at == 0 and decoded.queued_since == 0


def test_provider_fields_without_a_registered_type_are_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Other:
        a: int = 1

    job = Job(id="j", provider="nobody", model_id="m", key="k", input={}, created_at=0,
              plan=Plan(1, 2), provider_fields=Other())
    with pytest.raises(CodecError, match="nobody"):
        CODEC.encode(job)
    assert JobCodec({"nobody": Other}).decode(JobCodec({"nobody": Other}).encode(job)) \
        .provider_fields == Other()
    with pytest.raises(CodecError):
        CODEC.decode(JobCodec({"nobody": Other}).encode(job))


@pytest.mark.parametrize("data", [b"", b"[]", b'{"v":99}', b'{"v":1}', b"\xff"])
def test_unreadable_documents_are_codec_errors(data: bytes) -> None:
    with pytest.raises(CodecError):
        CODEC.decode(data)


@pytest.mark.parametrize("value", [object(), Plan(1, 2)], ids=["object", "dataclass"])
def test_a_value_json_cannot_hold_is_a_codec_error(value: object) -> None:
    job = Job(id="j", provider="nobody", model_id="m", key="k", input={"x": value},
              created_at=0, plan=Plan(1, 2))
    with pytest.raises(CodecError, match="job j"):
        CODEC.encode(job)


def test_registration_comes_from_the_kits() -> None:
    """Every provider whose adapter keeps its own fields declares their type in its kit."""
    types: dict[str, Any] = registry.job_field_types()
    for name, cls in types.items():
        assert dataclasses.is_dataclass(cls), name
        assert registry.kit(name).job_fields is cls


# --- deliveries ------------------------------------------------------------------------

DELIVERIES = DeliveryCodec(registry.webhook_signers())
DELIVERY_FIELDS = [f.name for f in dataclasses.fields(Delivery)]


def _same_delivery(decoded: Delivery, delivery: Delivery) -> None:
    for name in DELIVERY_FIELDS:
        want, got = getattr(delivery, name), getattr(decoded, name)
        if name == "signer":
            assert (got is None) == (want is None), name
            if want is not None:  # same headers for the same timestamp
                assert got(1_700_000_000) == want(1_700_000_000)
        elif name == "then":
            assert (got is None) == (want is None), name
            if want is not None:
                _same_delivery(got, want)
        else:
            assert got == want, f"delivery {delivery.id}: {name}: {got!r} != {want!r}"
            assert type(got) is type(want), f"{name}: {type(got).__name__}"


def _round_trip(delivery: Delivery) -> Delivery:
    doc, body = DELIVERIES.encode(delivery)
    attempts = [DELIVERIES.encode_attempt(a) for a in delivery.attempts]
    return DELIVERIES.decode(doc, body, delivery.state.value, attempts)


@pytest.mark.allow_unhandled_errors  # deliveries to a refused URL fail by design
def test_every_provider_delivery_round_trips_field_by_field(
    client: httpx.Client, refused_url: str
) -> None:
    for provider in PROVIDERS:
        api = Api(client, provider, f"sk-codec-wh-{provider}")
        api.set(limits={"creates_per_window": 100})
        api.create_ok(webhook=refused_url)
        api.create_ok(webhook=refused_url, prefer='scenario="webhook_out_of_order"')
        api.create_ok(webhook=refused_url, prefer='scenario="job_failed"')
        api.create_ok(webhook=refused_url, prefer='scenario="webhook_duplicate"')
    state: MockState = client.app.state.mock  # type: ignore[attr-defined]
    advance(client, 3600)
    deliveries = state.outbox.deliveries()
    assert {d.provider for d in deliveries} == set(PROVIDERS)
    assert any(d.then is not None for d in deliveries)
    assert any(d.signer is not None for d in deliveries)
    assert any(d.attempts for d in deliveries)
    for delivery in deliveries:
        _same_delivery(_round_trip(delivery), delivery)
    advance(client, 3600)  # retries spent: given up
    for delivery in state.outbox.deliveries():
        _same_delivery(_round_trip(delivery), delivery)


def test_a_delivery_with_every_field_round_trips() -> None:
    signer = registry.webhook_signers()[0]
    body = b'{"id":"j1","status":"completed"}'
    arity = len(inspect.signature(signer).parameters) - 1  # all but the timestamp
    args = [body if i == 1 and arity == 3 else f"a{i}" for i in range(arity)]
    stale = Delivery(id="d2", job_id="j1", provider="x", url="https://h/b", body=b"\xff\x00",
                     policy=RetryPolicy(), due=3.0, kind="stale")
    delivery = Delivery(
        id="d1", job_id="j1", provider="x", url="https://h/a", body=body,
        policy=RetryPolicy(attempts=5, delays_seconds=(1.0, 2.5), timeout_seconds=3.0,
                           min_delay_seconds=0.5),
        due=2.25, headers={"Content-Type": "application/json", "X-Secret": "s"},
        state=DeliveryState.GAVE_UP,
        attempts=[Attempt("d1", 1, 2.25, Outcome.REFUSED, error="refused", duration_ms=1.5,
                          wall=1.7e9, signed_at=1_700_000_000),
                  Attempt("d1", 2, 3.5, Outcome.REJECTED, status_code=500)],
        effects=frozenset({"out_of_order", "duplicate"}),
        signer=partial(signer, *args), then=stale, dropped="bound", resend_of="d0",
        resent_as="d3")
    _same_delivery(_round_trip(delivery), delivery)


def test_an_undeclared_signer_is_refused_both_ways() -> None:
    delivery = Delivery(id="d", job_id="j", provider="x", url="u", body=b"{}",
                        policy=RetryPolicy(), due=0.0, signer=partial(_not_a_signer, "s"))
    with pytest.raises(CodecError, match="not declared"):
        DELIVERIES.encode(delivery)
    doc, body = DeliveryCodec([_not_a_signer]).encode(delivery)
    with pytest.raises(CodecError, match="not declared"):
        DELIVERIES.decode(doc, body)
    delivery.signer = lambda timestamp: {}
    with pytest.raises(CodecError, match="partial"):
        DELIVERIES.encode(delivery)


def _not_a_signer(secret: str, timestamp: int) -> dict[str, str]:
    return {"x": secret}


def test_documents_orjson_can_write_are_read_by_it_and_big_integers_stay_exact() -> None:
    small = Job(id="j", provider="p", model_id="m", key="k", input={"n": 2**63 - 1},
                created_at=0, plan=Plan(1, 2))
    big = Job(id="j", provider="p", model_id="m", key="k", input={"n": 2**64, "m": -(10**40)},
              created_at=0, plan=Plan(1, 2))
    assert CODEC.encode(small).startswith(b'{"v":1,"id":')
    assert CODEC.encode(big).startswith(b'{"v":1,"L":1,')
    assert CODEC.decode(CODEC.encode(big)).input == {"n": 2**64, "m": -(10**40)}
    assert CODEC.decode(CODEC.encode(small)).input == {"n": 2**63 - 1}
    assert CODEC.decode(CODEC.encode(big).decode()).input["n"] == 2**64  # str input too


# --- through a real Redis store ------------------------------------------------------


@pytest.mark.allow_unhandled_errors  # deliveries to a refused URL fail by design
def test_jobs_and_deliveries_round_trip_through_the_redis_store(
    client: httpx.Client, refused_url: str, redis_url: str
) -> None:
    """The codecs' documents as the store keeps them: jobs by ``create_job``/``get_job``,
    deliveries by ``enqueue``/``lease_deliveries``/``record_attempt``/``delivery``."""
    from mockserver.store import connect_redis
    from mockserver.store.interface import NewJob

    for provider in PROVIDERS:
        api = Api(client, provider, f"sk-codec-redis-{provider}")
        api.set(limits={"creates_per_window": 100})
        api.create_ok(webhook=refused_url)
        api.create_ok(webhook=refused_url, prefer='scenario="webhook_out_of_order"')
    state: MockState = client.app.state.mock  # type: ignore[attr-defined]
    advance(client, 3600)
    store = connect_redis(redis_url, prefix=f"codec-{uuid.uuid4().hex[:10]}")
    try:
        store.init_clock("manual", 1_000.0, 1.0)
        for job in _jobs(client):
            store.create_job(NewJob(job.id, job.provider, job.key, CODEC.encode(job),
                                    job.state.value, job.size, job.next_due()))
            view = store.get_job(job.id)
            assert view.job is not None
            _same(CODEC.decode(view.job.doc), job)
        deliveries = {d.id: d for d in state.outbox.deliveries() if d.state.value == "pending"
                      or d.attempts}
        for delivery in deliveries.values():
            store.enqueue(DELIVERIES.new_delivery(delivery))
        latest = max(d.due for d in deliveries.values())
        claims = store.lease_deliveries(latest, len(deliveries), 30.0)
        assert {c.id for c in claims} == set(deliveries)
        for claim in claims:
            original = deliveries[claim.id]
            assert claim.delivery is not None
            leased = DELIVERIES.decode_stored(claim.delivery)
            assert leased.state.value == "in_flight" and leased.body == original.body
            attempt = Attempt(claim.id, 1, 1_000.0, Outcome.REFUSED, error="refused")
            assert store.record_attempt(claim, DELIVERIES.encode_attempt(attempt), "retry",
                                        next_due=1_010.0)
            stored = store.delivery(claim.id)
            assert stored is not None
            now = DELIVERIES.decode_stored(stored)
            assert now.due == 1_010.0 and now.state.value == "pending"  # the store's
            assert now.attempts == [attempt]
            for name in ("id", "job_id", "provider", "url", "body", "policy", "kind", "headers",
                         "effects", "resend_of", "resent_as"):
                assert getattr(now, name) == getattr(original, name), name
            assert (now.then is None) == (original.then is None)
    finally:
        store.reset(keep_clock=False)
        store.close()
