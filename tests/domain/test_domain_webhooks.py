"""The webhook outbox, retry policy and signing schemes (pure domain, no I/O)."""

from __future__ import annotations

import pytest

from mockserver.domain.webhooks import (
    Attempt,
    Delivery,
    DeliveryState,
    Outbox,
    Outcome,
    RetryPolicy,
)
from mockserver.providers.apikley.signing import sign_kie_hmac, verify_kie_hmac
from mockserver.providers.eachlabs.signing import secret_header
from mockserver.providers.wavespeed.signing import (
    sign_standard_webhooks_v3,
    verify_standard_webhooks_v3,
)

BODY = b'{"id":"abc","status":"completed"}'
T = 1_767_225_600


def _delivery(delivery_id: str = "d1", due: float = 0.0, **policy: object) -> Delivery:
    return Delivery(
        id=delivery_id, job_id="j", provider="p", url="http://127.0.0.1:9/h", body=b"{}",
        policy=RetryPolicy(**policy), due=due,  # type: ignore[arg-type]
    )


def _attempt(delivery: Delivery, outcome: Outcome, at: float) -> Attempt:
    return Attempt(delivery.id, len(delivery.attempts) + 1, at, outcome)


# --- retry policy ------------------------------------------------------------------


def test_delay_after_each_attempt_and_the_last_delay_repeats() -> None:
    policy = RetryPolicy(attempts=5, delays_seconds=(10.0, 60.0))
    assert [policy.delay_after(n) for n in range(1, 6)] == [10.0, 60.0, 60.0, 60.0, None]
    assert RetryPolicy(attempts=1).delay_after(1) is None
    assert RetryPolicy(attempts=3, delays_seconds=()).delay_after(1) == 0.0


def test_policy_from_a_contract_retry_section() -> None:
    policy = RetryPolicy.from_contract(
        {"attempts": 4, "delays_seconds": [30, 120, 600], "timeout_seconds": 15, "provenance": "x"}
    )
    assert policy == RetryPolicy(4, (30.0, 120.0, 600.0), 15.0)
    assert RetryPolicy.from_contract({}) == RetryPolicy()


# --- outbox -------------------------------------------------------------------------


def test_due_hands_out_due_deliveries_once_oldest_first() -> None:
    outbox = Outbox()
    late = outbox.enqueue(_delivery("b", due=20))
    early = outbox.enqueue(_delivery("a", due=10))
    assert outbox.next_due() == 10
    assert outbox.due(5) == []
    assert outbox.due(20) == [early, late]
    assert early.state is DeliveryState.IN_FLIGHT
    assert outbox.due(20) == []  # in flight: not handed out twice
    assert outbox.next_due() is None
    assert not outbox.idle()


def test_failed_attempts_are_retried_on_the_mock_clock_then_given_up() -> None:
    outbox = Outbox()
    delivery = outbox.enqueue(_delivery(due=100, attempts=3, delays_seconds=(10.0, 60.0)))
    outbox.due(100)
    outbox.record(delivery, _attempt(delivery, Outcome.REJECTED, 100), now=100.5)
    assert delivery.state is DeliveryState.PENDING
    assert delivery.due == 110.5  # the delay counts from when the attempt ended
    outbox.due(110.5)
    outbox.record(delivery, _attempt(delivery, Outcome.TIMEOUT, 110.5), now=140)
    assert delivery.due == 200
    outbox.due(200)
    outbox.record(delivery, _attempt(delivery, Outcome.REFUSED, 200), now=200)
    assert delivery.state is DeliveryState.GAVE_UP
    assert [a.outcome for a in delivery.attempts] == ["rejected", "timeout", "refused"]
    assert len(outbox.log) == 3
    assert outbox.idle()
    assert delivery.to_dict()["attempts"][2]["attempt"] == 3


def test_a_success_ends_the_delivery() -> None:
    outbox = Outbox()
    delivery = outbox.enqueue(_delivery())
    outbox.due(0)
    outbox.record(delivery, _attempt(delivery, Outcome.DELIVERED, 0), now=0)
    assert delivery.state is DeliveryState.DELIVERED
    assert outbox.idle() and outbox.next_due() is None


def test_watchers_hear_every_enqueue() -> None:
    outbox = Outbox()
    heard: list[str] = []
    outbox.watch(lambda d: heard.append(d.id))
    outbox.enqueue(_delivery("x"))
    outbox.enqueue(_delivery("y"))
    assert heard == ["x", "y"]


def test_finished_deliveries_are_evicted_beyond_the_bound_pending_never() -> None:
    outbox = Outbox(max_deliveries=2)
    done = outbox.enqueue(_delivery("done"))
    outbox.due(0)
    outbox.record(done, _attempt(done, Outcome.DELIVERED, 0), now=0)
    outbox.enqueue(_delivery("p1", due=5))
    outbox.enqueue(_delivery("p2", due=5))
    assert [d.id for d in outbox.deliveries()] == ["p1", "p2"]
    outbox.enqueue(_delivery("p3", due=5))  # nothing finished left to evict: keep all
    assert [d.id for d in outbox.deliveries()] == ["p1", "p2", "p3"]


def test_reset_forgets_everything() -> None:
    outbox = Outbox()
    outbox.enqueue(_delivery())
    outbox.reset()
    assert outbox.deliveries() == [] and outbox.idle()


# --- signing: known answers, computed independently with `openssl dgst` ------------------


def test_wavespeed_standard_webhooks_v3_known_answer() -> None:
    # printf 'msg_2Ylq0.1767225600.<BODY>' | openssl dgst -sha256 -hmac 'c2VjcmV0LWtleQ=='
    headers = sign_standard_webhooks_v3("msg_2Ylq0", T, BODY, "whsec_c2VjcmV0LWtleQ==")
    assert headers == {
        "webhook-id": "msg_2Ylq0",
        "webhook-timestamp": "1767225600",
        "webhook-signature":
            "v3,c9c5926960fab39518812648e1a9633b85f9fc0cbd1bdb4e94d7a4f686fc2344",
    }


def test_wavespeed_verification_rejects_tampering_and_stale_timestamps() -> None:
    secret = "whsec_c2VjcmV0LWtleQ=="
    headers = sign_standard_webhooks_v3("msg_1", T, BODY, secret)
    assert verify_standard_webhooks_v3(headers, BODY, secret, now=T + 299)
    assert not verify_standard_webhooks_v3(headers, BODY + b" ", secret, now=T)
    assert not verify_standard_webhooks_v3(headers, BODY, "whsec_other", now=T)
    assert not verify_standard_webhooks_v3(headers, BODY, secret, now=T + 301)
    assert not verify_standard_webhooks_v3({}, BODY, secret, now=T)
    upper = {k.upper(): v for k, v in headers.items()}
    assert verify_standard_webhooks_v3(upper, BODY, secret, now=T)


def test_apikley_kie_hmac_known_answer() -> None:
    # printf 'task-123.1767225600' | openssl dgst -sha256 -hmac 'kie-secret' -binary | base64
    assert sign_kie_hmac("task-123", T, "kie-secret") == {
        "X-Webhook-Timestamp": "1767225600",
        "X-Webhook-Signature": "UcVKu/wRQZw0z9v88YlI0bDBWOczOwFIuQO0nW/fZgU=",
    }


def test_kie_verifier_checks_the_signature_and_the_receivers_window() -> None:
    headers = sign_kie_hmac("task-123", T, "kie-secret")
    assert verify_kie_hmac(headers, "task-123", "kie-secret", now=T + 299)
    assert not verify_kie_hmac(headers, "task-124", "kie-secret", now=T)
    assert not verify_kie_hmac(headers, "task-123", "other", now=T)
    assert not verify_kie_hmac(headers, "task-123", "kie-secret", now=T + 301)
    assert not verify_kie_hmac({}, "task-123", "kie-secret", now=T)


def test_eachlabs_secret_is_sent_verbatim() -> None:
    assert secret_header("s3cret") == {"X-Webhook-Secret": "s3cret"}


@pytest.mark.parametrize("timestamp", [T, T + 1])
def test_signatures_change_with_the_timestamp(timestamp: int) -> None:
    one = sign_standard_webhooks_v3("m", timestamp, BODY, "whsec_k")["webhook-signature"]
    other = sign_standard_webhooks_v3("m", timestamp + 10, BODY, "whsec_k")["webhook-signature"]
    assert one != other
