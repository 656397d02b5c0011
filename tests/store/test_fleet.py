"""A fleet: ``mockserver serve --store redis://... --workers N`` as real processes.

Every test here starts real worker processes on a real redis-server and
talks to them over HTTP on loopback, from many connections at once, so
requests land on every worker. What must hold across workers is what a
single process guarantees: money never over-reserved, a concurrency slot
never double-granted, each final webhook sent once, nothing lost by a
killed worker or a restart, and a clear 503 while Redis is away.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import WebhookReceiver
from fleet import Fleet
from http_api import Api, error_code

PROVIDER = "eachlabs"
#: Connections sending at once: more than the workers, so every worker is busy.
CONNECTIONS = 16


@pytest.fixture
def start_fleet(
    redis_url: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Fleet]]:
    """Factory: a fleet on the session's redis-server under this test's own prefix."""
    started: list[Fleet] = []
    prefix = "fleet-" + re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:50]

    def start(*argv: str, workers: int = 2, url: str | None = None) -> Fleet:
        fleet = Fleet("--store", url or redis_url, "--store-prefix", prefix,
                      "--workers", str(workers), "--webhook-timeout", "2", *argv)
        started.append(fleet)
        fleet.wait_for_workers(workers)
        return fleet

    yield start
    for fleet in started:
        fleet.kill_everything()


def _many(count: int, call: Callable[[httpx.Client, int], Any]) -> list[Any]:
    """``call(client, i)`` for i in range(count), from CONNECTIONS connections at once."""
    clients = [httpx.Client(trust_env=False, timeout=30) for _ in range(CONNECTIONS)]
    try:
        with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
            return list(pool.map(lambda i: call(clients[i % CONNECTIONS], i), range(count)))
    finally:
        for client in clients:
            client.close()


def _create(fleet: Fleet, key: str, webhook: str | None = None) -> Callable[[httpx.Client, int],
                                                                             httpx.Response]:
    def call(client: httpx.Client, _: int) -> httpx.Response:
        client.base_url = httpx.URL(fleet.url)
        return Api(client, PROVIDER, key).create(webhook=webhook)
    return call


def _admin(fleet: Fleet) -> httpx.Client:
    return httpx.Client(base_url=fleet.url, trust_env=False, timeout=30)


def _advance(http: httpx.Client, seconds: float) -> None:
    reply = http.post("/_mock/clock/advance", json={"seconds": seconds, "wait": True})
    assert reply.status_code == 200, reply.text


def _jobs(http: httpx.Client, key: str) -> list[dict[str, Any]]:
    """Every job of ``key``, page by page (any worker answers for the fleet)."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"key": key, "limit": "500", **({"cursor": cursor} if cursor else {})}
        page = http.get("/_mock/jobs", params=params).json()
        found.extend(page["jobs"])
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def _price(http: httpx.Client) -> Decimal:
    """What one create of the default model costs (a probe key's reservation)."""
    api = Api(http, PROVIDER, "price-probe")
    api.create_ok()
    reserved = Decimal(str(api.account()["reserved"]))
    assert reserved > 0
    return reserved


def test_1000_creates_against_a_balance_for_600_give_600_jobs_and_400_refusals(
    start_fleet: Callable[..., Fleet],
) -> None:
    fleet = start_fleet()
    with _admin(fleet) as http:
        price = _price(http)
        owner = Api(http, PROVIDER, "k-600")
        owner.set(balance=str(price * 600),
                  limits={"concurrent": 100_000, "creates_per_window": 100_000})
        answers = _many(1000, _create(fleet, "k-600"))
        codes = collections.Counter(
            "ok" if a.status_code == 200 and error_code(PROVIDER, a) is None
            else error_code(PROVIDER, a) or a.status_code for a in answers)
        assert codes == {"ok": 600, 402: 400}, codes
        jobs = _jobs(http, "k-600")
        assert len(jobs) == 600
        assert Decimal(str(owner.account()["available"])) == 0
        _advance(http, 3600)  # every job ends: reservations are charged
        account = owner.account()
        assert Decimal(str(account["balance"])) == 0
        assert Decimal(str(account["reserved"])) == 0
        pids = {int(m.group(2)) for line in fleet.errors if (m := re.search(
            r"worker (\d+) started \(pid (\d+)\)", line))}
        assert len(pids) == 2


def test_a_concurrency_limit_of_10_is_never_exceeded(
    start_fleet: Callable[..., Fleet],
) -> None:
    fleet = start_fleet()
    with _admin(fleet) as http:
        owner = Api(http, PROVIDER, "k-ten")
        owner.set(balance=1_000_000, limits={"concurrent": 10, "creates_per_window": 100_000})
        admitted_total = 0
        for _ in range(5):
            answers = _many(60, _create(fleet, "k-ten"))
            admitted = [a for a in answers if error_code(PROVIDER, a) is None]
            refused = [a for a in answers if error_code(PROVIDER, a) == 429]
            assert len(admitted) + len(refused) == 60
            running = [j for j in _jobs(http, "k-ten")
                       if j["state"] not in ("succeeded", "failed", "cancelled")]
            # At this instant the jobs in flight are exactly the slots: never more.
            assert len(admitted) == 10 and len(running) == 10, (len(admitted), len(running))
            admitted_total += len(admitted)
            _advance(http, 3600)  # all end: the slots free
        assert admitted_total == 50


def test_1000_jobs_with_webhooks_deliver_each_final_webhook_exactly_once(
    start_fleet: Callable[..., Fleet], webhook_receiver: WebhookReceiver,
) -> None:
    fleet = start_fleet()
    with _admin(fleet) as http:
        Api(http, PROVIDER, "k-hooks").set(
            balance=1_000_000, limits={"concurrent": 100_000, "creates_per_window": 100_000})
        answers = _many(1000, _create(fleet, "k-hooks", webhook_receiver.url))
        assert all(error_code(PROVIDER, a) is None for a in answers)
        created = {Api(http, PROVIDER, "k-hooks").job_id(a) for a in answers}
        _advance(http, 3600)
        received = webhook_receiver.wait_for(1000, timeout=60)
        time.sleep(1.0)  # anything sent twice would arrive meanwhile
        ids = collections.Counter(_job_id(r.json()) for r in webhook_receiver.requests)
        assert set(ids) == created
        assert max(ids.values()) == 1 and len(received) == len(webhook_receiver.requests)


def _job_id(payload: dict[str, Any]) -> str:
    """The job an Eachlabs webhook payload is about (its ``exec_id``)."""
    return str(payload["exec_id"])


def test_kill_9_of_a_worker_in_a_burst_loses_no_job_and_no_webhook(
    start_fleet: Callable[..., Fleet], webhook_receiver: WebhookReceiver,
) -> None:
    fleet = start_fleet()
    victim = fleet.wait_for_workers(2)[0]
    with _admin(fleet) as http:
        Api(http, PROVIDER, "k-kill").set(
            balance=1_000_000, limits={"concurrent": 100_000, "creates_per_window": 100_000})
        create = _create(fleet, "k-kill", webhook_receiver.url)

        def create_or_none(client: httpx.Client, i: int) -> httpx.Response | None:
            if i == 300:
                os.kill(victim, signal.SIGKILL)  # in the middle of the burst
            try:
                return create(client, i)
            except httpx.TransportError:
                return None  # the killed worker's connection: the create may or may not exist

        answers = _many(1000, create_or_none)
        acknowledged = {Api(http, PROVIDER, "k-kill").job_id(a) for a in answers
                        if a is not None and error_code(PROVIDER, a) is None}
        assert len(acknowledged) >= 900
        fleet.wait_for_line(rf"worker 0 \(pid {victim}\) died")
        stored = {job["id"] for job in _jobs(http, "k-kill")}
        assert acknowledged <= stored  # an acknowledged create is never lost
        _advance(http, 3600)
        assert all(j["state"] == "succeeded" for j in _jobs(http, "k-kill"))
        webhook_receiver.wait_for(len(stored), timeout=60)
        time.sleep(1.0)
        ids = collections.Counter(_job_id(r.json()) for r in webhook_receiver.requests)
        assert set(ids) == stored and max(ids.values()) == 1


def test_stopping_every_worker_and_starting_again_loses_nothing(
    start_fleet: Callable[..., Fleet], webhook_receiver: WebhookReceiver,
) -> None:
    first = start_fleet()
    with _admin(first) as http:
        owner = Api(http, PROVIDER, "k-restart")
        owner.set(balance=100, limits={"concurrent": 100_000, "creates_per_window": 100_000})
        ids = [owner.create_ok(webhook=webhook_receiver.url) for _ in range(20)]
        _advance(http, 1)
        before = {j["id"]: j for j in _jobs(http, "k-restart")}
        clock = http.get("/_mock/clock").json()["now"]
        money = owner.account()
    first.process.send_signal(signal.SIGTERM)
    assert first.stop()[0] == 0

    second = start_fleet()
    with _admin(second) as http:
        owner = Api(http, PROVIDER, "k-restart")
        assert http.get("/_mock/clock").json()["now"] == clock
        after = {j["id"]: j for j in _jobs(http, "k-restart")}
        assert set(after) == set(ids) == set(before)
        assert {i: j["state"] for i, j in after.items()} == {
            i: j["state"] for i, j in before.items()}
        assert owner.account() == money  # balances and reservations held
        _advance(http, 3600)
        assert {owner.status(i) for i in ids} == {"success"}  # Eachlabs's word
        webhook_receiver.wait_for(20, timeout=30)
        assert sorted(_job_id(r.json()) for r in webhook_receiver.requests) == sorted(ids)
        assert Decimal(str(owner.account()["reserved"])) == 0


def _expect_503(api: Api, job_id: str) -> None:
    """A create and a poll answer a 503 in the provider's envelope, each within seconds."""
    for reply in (api.create(), api.poll(job_id)):
        assert reply.status_code == 503, reply.text
        assert error_code(PROVIDER, reply) == 503
        assert reply.headers["retry-after"] == "1"
        assert "store is unavailable" in reply.text


def _resumes(api: Api, job_id: str) -> None:
    deadline = time.monotonic() + 15
    while api.poll(job_id).status_code != 200:
        assert time.monotonic() < deadline, "service did not resume by itself"
        time.sleep(0.2)
    api.create_ok()


@pytest.mark.parametrize("outage", ["unreachable", "restarted"])
def test_redis_away_answers_503_in_the_providers_envelope_and_service_resumes(
    start_fleet: Callable[..., Fleet], redis_server: Any, outage: str,
) -> None:
    redis_server.start()
    fleet = start_fleet(url=redis_server.url)
    with _admin(fleet) as http:
        api = Api(http, PROVIDER, "k-away")
        job_id = api.create_ok()
        if outage == "unreachable":  # accepts connections, never answers
            os.kill(redis_server.process.pid, signal.SIGSTOP)
        else:  # an operator's restart: saved, down, up again with its data
            redis_server.shutdown(save=True)
        try:
            for _ in range(4):
                started = time.monotonic()
                _expect_503(api, job_id)
                assert time.monotonic() - started < 5  # never a hang
            assert http.get("/_mock/jobs").status_code == 503
            # Not the client's mistake: queueing a scenario answered 400 here.
            assert http.post("/_mock/scenarios", json={"code": 429}).status_code == 503
        finally:
            if outage == "unreachable":
                os.kill(redis_server.process.pid, signal.SIGCONT)
            else:
                redis_server.start()  # the same port and data directory
        _resumes(api, job_id)
        assert api.status(job_id)  # the job from before the outage is still there
        assert not [line for line in fleet.errors if "Traceback" in line]
